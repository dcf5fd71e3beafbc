import ModelplaneAPI

/// The discovery documents kubectl reads to learn what the server serves.
enum Discovery {
    /// The Kubernetes API version this server follows (what kubectl's version skew check reads),
    /// with Modelplane's own version as build metadata, and the platform it was built for.
    static let version = JSONValue.object([
        "major": "1", "minor": "33", "gitVersion": .string("v1.33.0+modelplane-\(ModelplaneVersion.current)"), "gitCommit": "",
        "gitTreeState": "clean", "buildDate": "", "goVersion": "", "compiler": "swift", "platform": .string(ModelplaneVersion.platform),
    ]).canonicalText

    static let apiVersions = #"{"kind":"APIVersions","apiVersion":"v1","versions":["v1"],"serverAddressByClientCIDRs":[]}"#

    static func groups(_ resources: [ServedResource]) -> [(group: String, version: String)] {
        var seen: [(String, String)] = []
        for served in resources where !served.type.group.isEmpty && !seen.contains(where: { $0.0 == served.type.group }) {
            seen.append((served.type.group, served.type.version))
        }
        return seen
    }

    static func groupJSON(_ group: String, _ version: String) -> JSONValue {
        let groupVersion: JSONValue = ["groupVersion": .string("\(group)/\(version)"), "version": .string(version)]
        return ["name": .string(group), "versions": [groupVersion], "preferredVersion": groupVersion]
    }

    static func groupList(_ resources: [ServedResource]) -> String {
        let list: JSONValue = ["kind": "APIGroupList", "apiVersion": "v1", "groups": .array(groups(resources).map { groupJSON($0.group, $0.version) })]
        return list.canonicalText
    }

    static func group(_ name: String, _ resources: [ServedResource]) -> String? {
        guard let (group, version) = groups(resources).first(where: { $0.group == name }) else { return nil }
        var document = groupJSON(group, version)
        document["kind"] = "APIGroup"
        document["apiVersion"] = "v1"
        return document.canonicalText
    }

    static func resourceList(group: String, version: String, _ resources: [ServedResource]) -> String? {
        var entries: [JSONValue] = []
        if group.isEmpty, version == "v1" {
            entries.append([
                "name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get", "list"], "shortNames": ["ns"],
            ])
        }
        for served in resources where served.type.group == group && served.type.version == version {
            let type = served.type
            entries.append([
                "name": .string(type.plural), "singularName": .string(served.singular), "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
                "verbs": served.view == nil ? ["create", "delete", "get", "list", "patch", "update", "watch"] : ["get", "list", "watch"],
                "shortNames": .array(served.shortNames.map(JSONValue.string)), "categories": .array(served.categories.map(JSONValue.string)),
            ])
            if type.statusSubresource {
                entries.append([
                    "name": .string("\(type.plural)/status"), "singularName": "", "namespaced": .bool(type.namespaced), "kind": .string(type.kind),
                    "verbs": ["get", "patch", "update"],
                ])
            }
        }
        guard !entries.isEmpty else { return nil }
        let list: JSONValue = [
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": .string(group.isEmpty ? version : "\(group)/\(version)"),
            "resources": .array(entries),
        ]
        return list.canonicalText
    }
}
