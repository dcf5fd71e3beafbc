public import ModelplaneAPI

/// Turns composed YAML into JSON values, keeping the YAML tree so that errors found later (by the
/// schema or by validation) can point at a line and column.
struct LocatedJSON {
    var value: JSONValue
    var errors: [(path: FieldPath, line: Int, column: Int, message: String)]
    private let root: YAMLNode

    init(_ root: YAMLNode) {
        self.root = root
        errors = []
        value = .null
        value = convert(root, at: FieldPath())
    }

    /// The best position for a path: its key (when asked and present), its value, or the nearest
    /// ancestor's. Found by walking the YAML tree, so only errors pay for positions.
    func position(of path: FieldPath, preferKey: Bool) -> (line: Int, column: Int) {
        var node = root
        for (depth, component) in path.components.enumerated() {
            let isLast = depth == path.components.count - 1
            switch (component, node.content) {
            case (.key(let name), .mapping(let pairs)):
                guard let pair = pairs.last(where: { if case .scalar(name, _, _) = $0.key.content { true } else { false } }) else {
                    return (node.line, node.column)
                }
                if isLast, preferKey { return (pair.key.line, pair.key.column) }
                node = pair.value
            case (.index(let i), .sequence(let items)) where items.indices.contains(i):
                node = items[i]
            default:
                return (node.line, node.column)
            }
        }
        return (node.line, node.column)
    }

    private mutating func convert(_ node: YAMLNode, at path: FieldPath) -> JSONValue {
        switch node.content {
        case .scalar(let text, let plain, let tag):
            return Self.resolve(text, plain: plain, tag: tag)
        case .sequence(let items):
            var elements: [JSONValue] = []
            elements.reserveCapacity(items.count)
            for (i, item) in items.enumerated() { elements.append(convert(item, at: path.appending(index: i))) }
            return .array(elements)
        case .mapping(let pairs):
            var members: [String: JSONValue] = [:]
            members.reserveCapacity(pairs.count)
            for (key, value) in pairs {
                guard case .scalar(let name, _, _) = key.content else {
                    errors.append((path, key.line, key.column, "mapping keys must be strings"))
                    continue
                }
                if members[name] != nil {
                    errors.append((path.appending(name), key.line, key.column, "duplicate field \"\(name)\""))
                    continue
                }
                members[name] = convert(value, at: path.appending(name))
            }
            return .object(members)
        }
    }

    /// Resolves a scalar the way kubectl's YAML reader (go-yaml v2, YAML 1.1) does, so a manifest
    /// means the same thing here and in a cluster: `yes`/`on` are booleans, `3` is an integer.
    static func resolve(_ text: String, plain: Bool, tag: String?) -> JSONValue {
        switch tag {
        case "tag:yaml.org,2002:str": return .string(text)
        case "tag:yaml.org,2002:null": return .null
        default: break
        }
        guard plain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .bool(true)
        case "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        guard let first = text.utf8.first,
            first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first)
        else {
            return .string(text)
        }
        let unsigned = text.hasPrefix("+") || text.hasPrefix("-") ? text.dropFirst() : Substring(text)
        if unsigned.hasPrefix("0x"), let v = Int64(unsigned.dropFirst(2), radix: 16) {
            return .int(text.hasPrefix("-") ? -v : v)
        }
        if unsigned.hasPrefix("0o"), let v = Int64(unsigned.dropFirst(2), radix: 8) {
            return .int(text.hasPrefix("-") ? -v : v)
        }
        if unsigned.allSatisfy(\.isASCII), unsigned.allSatisfy(\.isNumber), !unsigned.isEmpty {
            if let v = Int64(text.hasPrefix("+") ? String(text.dropFirst()) : text) { return .int(v) }
            if let d = Double(text) { return .double(d) }
        }
        if unsigned.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }),
            unsigned.allSatisfy({ $0.isASCII && ($0.isNumber || "._eE+-".contains($0)) }),
            let d = Double(text)
        {
            return .double(d)
        }
        return .string(text)
    }
}

/// One YAML document read as a JSON value, bounded as manifests are (size, depth, what aliases
/// repeat): what the API server makes of an `application/yaml` request body.
public enum YAMLBody {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var column: Int
        public var message: String
        public var description: String { line > 0 ? "line \(line), column \(column): \(message)" : message }
    }

    public static func value(_ bytes: [UInt8], limits: ManifestLimits = ManifestLimits()) throws(Problem) -> JSONValue {
        guard bytes.count <= limits.maxFileBytes else { throw Problem(line: 0, column: 0, message: ManifestReader.tooLarge(limits)) }
        let documents: [YAMLNode?]
        do {
            documents = try YAMLComposer(limits: limits).documents(from: bytes)
        } catch {
            throw Problem(line: error.line, column: error.column, message: error.message)
        }
        let roots = documents.compactMap { $0 }
        guard roots.count == 1, let root = roots.first else {
            throw Problem(line: 0, column: 0, message: "expected one YAML document, found \(roots.count)")
        }
        let located = LocatedJSON(root)
        if let error = located.errors.first { throw Problem(line: error.line, column: error.column, message: "\(error.path): \(error.message)") }
        return located.value
    }
}
