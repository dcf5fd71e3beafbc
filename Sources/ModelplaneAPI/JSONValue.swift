/// An arbitrary JSON value: the free-form parts of a resource (`spec.backend.triton.modelConfig`),
/// and the untyped view of any object the manifest reader and the Kubernetes client handle.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The JSON type name, as schema errors say it ("string", "integer", ...).
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .int: "integer"
        case .double: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// A member of an object (nil for other values). Setting on a non-object makes it an object;
    /// setting nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get {
            if case .object(let members) = self { return members[key] }
            return nil
        }
        set {
            var members = objectValue ?? [:]
            members[key] = newValue
            self = .object(members)
        }
    }

    /// Whether this is `null` (without comparing whole values, as `== .null` does).
    var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// An integer, or a double with no fractional part (JSON does not tell them apart).
    public var int64Value: Int64? {
        switch self {
        case .int(let value): value
        case .double(let value) where value.rounded() == value && abs(value) < 9e15: Int64(value)
        default: nil
        }
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var objectValue: [String: JSONValue]? {
        if case .object(let o) = self { return o }
        return nil
    }
}

extension JSONValue: Codable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let b = try? container.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? container.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? container.decode(Double.self) {
            self = .double(d)
        } else if let s = try? container.decode(String.self) {
            self = .string(s)
        } else if let a = try? container.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .int(let i): try container.encode(i)
        case .double(let d): try container.encode(d)
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}

extension JSONValue {
    /// Canonical JSON text: keys sorted, no insignificant whitespace. Equal values give equal bytes,
    /// which is what revision hashing needs.
    public var canonicalText: String { String(decoding: canonicalBytes, as: UTF8.self) }

    /// `canonicalText` as UTF-8.
    public var canonicalBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        writeCanonical(into: &out)
        return out
    }

    /// `canonicalText` cut where the value at `path` (a key of nested objects, which must exist)
    /// goes: `before + (that value's canonical text) + after` is the canonical text of the value
    /// with any value there. The store encodes an object this way outside its lock, and writes
    /// its resourceVersion in between once the lock hands one out.
    public func canonicalText(splitAt path: [String]) -> (before: String, after: String)? {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        var offset: Int?
        writeCanonical(into: &out, hole: path[...], at: &offset)
        guard let offset else { return nil }
        return (String(decoding: out[..<offset], as: UTF8.self), String(decoding: out[offset...], as: UTF8.self))
    }

    /// `writeCanonical`, writing nothing for the value at `path` and noting where it goes.
    private func writeCanonical(into out: inout [UInt8], hole path: ArraySlice<String>, at offset: inout Int?) {
        guard let first = path.first, case .object(let o) = self, o[first] != nil else { return writeCanonical(into: &out) }
        out.append(UInt8(ascii: "{"))
        for (i, key) in o.keys.sorted().enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            JSONValue.writeQuoted(key, into: &out)
            out.append(UInt8(ascii: ":"))
            if key != first {
                o[key]!.writeCanonical(into: &out)
            } else if path.count == 1 {
                offset = out.count
            } else {
                o[key]!.writeCanonical(into: &out, hole: path.dropFirst(), at: &offset)
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `canonicalBytes.count`, counted without writing them (or sorting keys).
    public var canonicalByteCount: Int {
        switch self {
        case .null: return 4
        case .bool(let b): return b ? 4 : 5
        case .int(let i): return String(i).utf8.count
        case .double(let d):
            return d.isFinite && d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)).utf8.count : "\(d)".utf8.count
        case .string(let s): return JSONValue.quotedCount(s)
        case .array(let a): return a.reduce(2 + max(0, a.count - 1)) { $0 + $1.canonicalByteCount }
        case .object(let o): return o.reduce(2 + max(0, o.count - 1)) { $0 + JSONValue.quotedCount($1.key) + 1 + $1.value.canonicalByteCount }
        }
    }

    /// The length of `s` as `writeQuoted` writes it.
    static func quotedCount(_ s: String) -> Int {
        var s = s
        return s.withUTF8 { bytes in
            var count = 2 + bytes.count
            for byte in bytes where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                count += byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t") || byte >= 0x20 ? 1 : 5
            }
            return count
        }
    }

    // Written as UTF-8 bytes: appending to a String scalar by scalar costs several times more, and
    // this runs for every object the API server stores or sends.
    private func writeCanonical(into out: inout [UInt8]) {
        switch self {
        case .null: out += "null".utf8
        case .bool(let b): out += (b ? "true" : "false").utf8
        case .int(let i): out += String(i).utf8
        case .double(let d):
            if d.isFinite, d == d.rounded(), abs(d) < 1e15 { out += String(Int64(d)).utf8 } else { out += "\(d)".utf8 }
        case .string(let s): JSONValue.writeQuoted(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                v.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSONValue.writeQuoted(key, into: &out)
                out.append(UInt8(ascii: ":"))
                o[key]!.writeCanonical(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeQuoted(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            // Most strings need no escaping: copy runs between the bytes that do.
            var runStart = 0
            for (index, byte) in bytes.enumerated() where byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[runStart..<index])
                runStart = index + 1
                switch byte {
                case UInt8(ascii: "\""): out += #"\""#.utf8
                case UInt8(ascii: "\\"): out += #"\\"#.utf8
                case UInt8(ascii: "\n"): out += #"\n"#.utf8
                case UInt8(ascii: "\r"): out += #"\r"#.utf8
                case UInt8(ascii: "\t"): out += #"\t"#.utf8
                default:
                    let hex = String(byte, radix: 16)
                    out += ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8
                }
            }
            out.append(contentsOf: bytes[runStart...])
        }
        out.append(UInt8(ascii: "\""))
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(Dictionary(elements) { $1 }) }
    public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
    /// Removes the value at `path` (a missing path changes nothing).
    public mutating func remove(at path: FieldPath) {
        remove(at: path.components[...])
    }

    private mutating func remove(at components: ArraySlice<FieldPath.Component>) {
        guard let first = components.first else { return }
        let rest = components.dropFirst()
        switch (self, first) {
        case (.object(var members), .key(let key)):
            if rest.isEmpty {
                members[key] = nil
            } else {
                members[key]?.remove(at: rest)
            }
            self = .object(members)
        case (.array(var items), .index(let i)) where items.indices.contains(i):
            if rest.isEmpty {
                items.remove(at: i)
            } else {
                items[i].remove(at: rest)
            }
            self = .array(items)
        default:
            return
        }
    }
}
