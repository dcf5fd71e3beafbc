import ModelplaneAPI

/// Turns composed YAML into JSON values, remembering where each field came from so that errors
/// found later (by the schema or by validation) can point at a line and column.
struct LocatedJSON {
    var value: JSONValue
    /// The position of each field's value, and of each mapping key (so "unknown field" points at it).
    var positions: [FieldPath: (line: Int, column: Int)]
    var keyPositions: [FieldPath: (line: Int, column: Int)]
    var errors: [(path: FieldPath, line: Int, column: Int, message: String)]

    init(_ root: YAMLNode) {
        positions = [:]
        keyPositions = [:]
        errors = []
        value = .null
        value = convert(root, at: FieldPath())
    }

    /// The best position for a path: its key, its value, or the nearest ancestor's.
    func position(of path: FieldPath, preferKey: Bool) -> (line: Int, column: Int)? {
        var components = path.components
        if preferKey, let p = keyPositions[path] { return p }
        while true {
            let current = FieldPath(components)
            if let p = positions[current] { return p }
            if components.isEmpty { return nil }
            components.removeLast()
        }
    }

    private mutating func convert(_ node: YAMLNode, at path: FieldPath) -> JSONValue {
        positions[path] = (node.line, node.column)
        switch node.content {
        case .scalar(let text, let plain, let tag):
            return Self.resolve(text, plain: plain, tag: tag)
        case .sequence(let items):
            return .array(items.enumerated().map { convert($1, at: path.appending(index: $0)) })
        case .mapping(let pairs):
            var members: [String: JSONValue] = [:]
            for (key, value) in pairs {
                guard case .scalar(let name, _, _) = key.content else {
                    errors.append((path, key.line, key.column, "mapping keys must be strings"))
                    continue
                }
                let childPath = path.appending(name)
                if members[name] != nil {
                    errors.append((childPath, key.line, key.column, "duplicate field \"\(name)\""))
                    continue
                }
                keyPositions[childPath] = (key.line, key.column)
                members[name] = convert(value, at: childPath)
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
        guard let first = text.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || first == UInt8(ascii: ".") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else {
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
            let d = Double(text) {
            return .double(d)
        }
        return .string(text)
    }
}
