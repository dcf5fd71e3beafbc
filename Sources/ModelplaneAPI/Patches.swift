/// RFC 7386 JSON Merge Patch: objects merge recursively, `null` deletes, everything else
/// (arrays included) replaces.
public func applyMergePatch(_ patch: JSONValue, to target: JSONValue) -> JSONValue {
    guard case .object(let members) = patch else { return patch }
    var result = target.objectValue ?? [:]
    for (key, value) in members {
        if value == .null {
            result[key] = nil
        } else {
            result[key] = applyMergePatch(value, to: result[key] ?? .null)
        }
    }
    return .object(result)
}

/// Why a JSON patch could not be applied.
public struct PatchError: Error, Sendable, Hashable, CustomStringConvertible {
    public var operation: Int
    public var message: String
    public var description: String { "JSON patch operation \(operation): \(message)" }
}

/// RFC 6902 JSON Patch. Operations apply in order to a copy; any failure (a missing path, a
/// failed `test`) leaves the target untouched and throws.
public func applyJSONPatch(_ operations: [JSONValue], to target: JSONValue) throws(PatchError) -> JSONValue {
    var document = target
    for (index, operation) in operations.enumerated() {
        func fail(_ message: String) -> PatchError { PatchError(operation: index, message: message) }
        guard let op = operation["op"]?.stringValue else { throw fail("missing \"op\"") }
        guard let pathText = operation["path"]?.stringValue else { throw fail("missing \"path\"") }
        guard let path = JSONPointer(pathText) else { throw fail("invalid JSON pointer \"\(pathText)\"") }
        func from() throws(PatchError) -> JSONPointer {
            guard let text = operation["from"]?.stringValue, let pointer = JSONPointer(text) else { throw fail("missing or invalid \"from\"") }
            return pointer
        }
        func value() throws(PatchError) -> JSONValue {
            guard let value = operation["value"] else { throw fail("missing \"value\"") }
            return value
        }
        do {
            switch op {
            case "add": try document.insert(try value(), at: path, replacing: false)
            case "replace":
                _ = try document.value(at: path)
                try document.insert(try value(), at: path, replacing: true)
            case "remove": _ = try document.remove(at: path)
            case "move":
                let source = try from()
                if path.tokens.starts(with: source.tokens), path.tokens.count > source.tokens.count { throw fail("cannot move a value into itself") }
                let moved = try document.remove(at: source)
                try document.insert(moved, at: path, replacing: false)
            case "copy": try document.insert(try document.value(at: try from()), at: path, replacing: false)
            case "test":
                guard try document.value(at: path) == (try value()) else { throw fail("test failed: the value at \(pathText) differs") }
            default: throw fail("unknown op \"\(op)\"")
            }
        } catch let error as PatchError {
            throw error
        } catch let error as JSONPointer.Missing {
            throw fail(error.description)
        } catch {
            throw fail("\(error)")
        }
    }
    return document
}

/// RFC 6901 JSON Pointer (`/spec/model/version`, `/metadata/labels/app~1name`, `/items/-`).
public struct JSONPointer: Sendable, Hashable {
    public var tokens: [String]

    public init?(_ text: String) {
        if text.isEmpty {
            tokens = []
            return
        }
        guard text.hasPrefix("/") else { return nil }
        tokens = text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }
}

extension JSONValue {
    func value(at pointer: JSONPointer) throws -> JSONValue {
        var current = self
        for token in pointer.tokens {
            switch current {
            case .object(let members):
                guard let next = members[token] else { throw JSONPointer.Missing(description: "no member \"\(token)\"") }
                current = next
            case .array(let items):
                guard let i = Int(token), items.indices.contains(i) else { throw JSONPointer.Missing(description: "no index \(token)") }
                current = items[i]
            default:
                throw JSONPointer.Missing(description: "cannot descend into a \(current.typeName) at \"\(token)\"")
            }
        }
        return current
    }

    mutating func insert(_ value: JSONValue, at pointer: JSONPointer, replacing: Bool) throws {
        guard let last = pointer.tokens.last else {
            self = value
            return
        }
        try modifyParent(of: pointer) { (parent: inout JSONValue) throws in
            switch parent {
            case .object(var members):
                members[last] = value
                parent = .object(members)
            case .array(var items):
                if last == "-", !replacing {
                    items.append(value)
                } else if let i = Int(last), replacing ? items.indices.contains(i) : (0...items.count).contains(i) {
                    if replacing { items[i] = value } else { items.insert(value, at: i) }
                } else {
                    throw JSONPointer.Missing(description: "index \(last) is out of bounds")
                }
                parent = .array(items)
            default:
                throw JSONPointer.Missing(description: "cannot add to a \(parent.typeName)")
            }
        }
    }

    mutating func remove(at pointer: JSONPointer) throws -> JSONValue {
        guard let last = pointer.tokens.last else { throw JSONPointer.Missing(description: "cannot remove the whole document") }
        var removed = JSONValue.null
        try modifyParent(of: pointer) { (parent: inout JSONValue) throws in
            switch parent {
            case .object(var members):
                guard let value = members.removeValue(forKey: last) else { throw JSONPointer.Missing(description: "no member \"\(last)\"") }
                removed = value
                parent = .object(members)
            case .array(var items):
                guard let i = Int(last), items.indices.contains(i) else { throw JSONPointer.Missing(description: "no index \(last)") }
                removed = items.remove(at: i)
                parent = .array(items)
            default:
                throw JSONPointer.Missing(description: "cannot remove from a \(parent.typeName)")
            }
        }
        return removed
    }

    private mutating func modifyParent(of pointer: JSONPointer, _ body: (inout JSONValue) throws -> Void) throws {
        try modify(Array(pointer.tokens.dropLast())[...], body)
    }

    private mutating func modify(_ tokens: ArraySlice<String>, _ body: (inout JSONValue) throws -> Void) throws {
        guard let first = tokens.first else {
            try body(&self)
            return
        }
        switch self {
        case .object(var members):
            guard var child = members[first] else { throw JSONPointer.Missing(description: "no member \"\(first)\"") }
            try child.modify(tokens.dropFirst(), body)
            members[first] = child
            self = .object(members)
        case .array(var items):
            guard let i = Int(first), items.indices.contains(i) else { throw JSONPointer.Missing(description: "no index \(first)") }
            try items[i].modify(tokens.dropFirst(), body)
            self = .array(items)
        default:
            throw JSONPointer.Missing(description: "cannot descend into a \(typeName) at \"\(first)\"")
        }
    }
}
