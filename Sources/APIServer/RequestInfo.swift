import Foundation

/// What a request path addresses, the way the Kubernetes API server's RequestInfo does.
enum RequestTarget: Equatable {
    case version
    case apiVersions  // /api
    case apiGroups  // /apis
    case group(String)  // /apis/GROUP
    case groupVersion(group: String, version: String)  // /apis/GROUP/VERSION or /api/v1
    case resource(ResourcePath)
    case unknown

    struct ResourcePath: Equatable {
        var group: String
        var version: String
        /// nil: across all namespaces (or a cluster-scoped resource).
        var namespace: String?
        var plural: String
        var name: String?
        var subresource: String?
    }

    init(path: String) {
        // (Split and checked as UTF-8: splitting by Character, and `contains("%")`, which resolves
        // to Foundation's NSString search, are several times slower on Linux.)
        let parts = path.utf8.split(separator: UInt8(ascii: "/")).map { bytes in
            let part = Substring(bytes)
            return bytes.contains(UInt8(ascii: "%")) ? part.removingPercentEncoding ?? String(part) : String(part)
        }
        switch parts.first {
        case "version" where parts.count == 1:
            self = .version
        case "api":
            if parts.count == 1 {
                self = .apiVersions
            } else {
                self = RequestTarget(group: "", version: parts[1], rest: Array(parts.dropFirst(2)))
            }
        case "apis":
            switch parts.count {
            case 1: self = .apiGroups
            case 2: self = .group(parts[1])
            default: self = RequestTarget(group: parts[1], version: parts[2], rest: Array(parts.dropFirst(3)))
            }
        default:
            self = .unknown
        }
    }

    private init(group: String, version: String, rest: [String]) {
        guard !rest.isEmpty else {
            self = .groupVersion(group: group, version: version)
            return
        }
        var rest = rest[...]
        var namespace: String?
        // /namespaces/NS/PLURAL/... addresses a namespaced resource; /namespaces[/NS] alone is the
        // core Namespace resource itself.
        if rest.first == "namespaces", rest.count >= 3 {
            namespace = rest[rest.startIndex + 1]
            rest = rest.dropFirst(2)
        }
        let plural = rest.removeFirst()
        let name = rest.popFirst()
        let subresource = rest.popFirst()
        guard rest.isEmpty else {
            self = .unknown
            return
        }
        self = .resource(ResourcePath(group: group, version: version, namespace: namespace, plural: plural, name: name, subresource: subresource))
    }
}
