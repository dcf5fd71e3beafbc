/// Decodes `Decodable` types straight from a `JSONValue`, without going through JSON text.
/// The manifest reader and the API server already hold parsed values; this halves their cost.
public struct JSONValueDecoder: Sendable {
    /// Read the API types through their direct readers (`DirectReading.swift`) where they can;
    /// off, everything goes through `Decodable` (the tests' oracle).
    var directReading = true

    public init() {}

    init(directReading: Bool) { self.directReading = directReading }

    public func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try JSONValueDecoding(value: value, codingPath: [], direct: directReading).decodeValue(type)
    }
}

struct JSONValueDecoding: Decoder {
    let value: JSONValue
    /// The path is built only when asked for (errors, nested containers): a leaf value read
    /// through here allocates no array.
    let parentPath: [any CodingKey]
    let key: (any CodingKey)?
    var codingPath: [any CodingKey] { key.map { parentPath + [$0] } ?? parentPath }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// Whether types with a direct reader are read through it.
    let direct: Bool

    init(value: JSONValue, codingPath: [any CodingKey], direct: Bool) {
        self.value = value
        self.parentPath = codingPath
        self.key = nil
        self.direct = direct
    }

    init(value: JSONValue, parent: [any CodingKey], key: any CodingKey, direct: Bool) {
        self.value = value
        self.parentPath = parent
        self.key = key
        self.direct = direct
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: JSONValue].self) }
        return KeyedDecodingContainer(Keyed(members: members, codingPath: codingPath, direct: direct))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let elements) = value else { throw mismatch([JSONValue].self) }
        return Unkeyed(elements: elements, codingPath: codingPath, direct: direct)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(value: value, codingPath: codingPath, direct: direct) }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(value.typeName)"))
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let members: [String: JSONValue]
        let codingPath: [any CodingKey]
        let direct: Bool
        var allKeys: [Key] { members.keys.compactMap(Key.init(stringValue:)) }

        func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

        func decodeNil(forKey key: Key) throws -> Bool { members[key.stringValue] ?? .null == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            guard let member = members[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
            }
            return try JSONValueDecoding(value: member, parent: codingPath, key: key, direct: direct).decodeValue(type)
        }

        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            guard let member = members[key.stringValue], member != .null else { return nil }
            return try JSONValueDecoding(value: member, parent: codingPath, key: key, direct: direct).decodeValue(type)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try JSONValueDecoding(value: members[key.stringValue] ?? .null, parent: codingPath, key: key, direct: direct).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try JSONValueDecoding(value: members[key.stringValue] ?? .null, parent: codingPath, key: key, direct: direct).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { JSONValueDecoding(value: .object(members), codingPath: codingPath, direct: direct) }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            JSONValueDecoding(value: members[key.stringValue] ?? .null, parent: codingPath, key: key, direct: direct)
        }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let elements: [JSONValue]
        let codingPath: [any CodingKey]
        let direct: Bool
        var currentIndex = 0
        var count: Int? { elements.count }
        var isAtEnd: Bool { currentIndex >= elements.count }

        struct Index: CodingKey {
            var intValue: Int?
            var stringValue: String { "[\(intValue!)]" }
            init(_ i: Int) { intValue = i }
            init?(intValue: Int) { self.intValue = intValue }
            init?(stringValue: String) { nil }
        }

        private mutating func next() throws -> JSONValueDecoding {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(JSONValue.self, .init(codingPath: codingPath, debugDescription: "unkeyed container is at end"))
            }
            defer { currentIndex += 1 }
            return JSONValueDecoding(value: elements[currentIndex], parent: codingPath, key: Index(currentIndex), direct: direct)
        }

        mutating func decodeNil() throws -> Bool {
            if !isAtEnd, elements[currentIndex] == .null {
                currentIndex += 1
                return true
            }
            return false
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> any Decoder { try next() }
    }

    struct Single: SingleValueDecodingContainer {
        let value: JSONValue
        let codingPath: [any CodingKey]
        let direct: Bool

        func decodeNil() -> Bool { value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).decodeValue(type) }
        func decode(_ type: Bool.Type) throws -> Bool { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).bool() }
        func decode(_ type: String.Type) throws -> String { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).string() }
        func decode(_ type: Double.Type) throws -> Double { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).double() }
        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
        func decode(_ type: Int.Type) throws -> Int { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: Int8.Type) throws -> Int8 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: Int16.Type) throws -> Int16 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: Int32.Type) throws -> Int32 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: Int64.Type) throws -> Int64 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: UInt.Type) throws -> UInt { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: UInt8.Type) throws -> UInt8 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: UInt16.Type) throws -> UInt16 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: UInt32.Type) throws -> UInt32 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
        func decode(_ type: UInt64.Type) throws -> UInt64 { try JSONValueDecoding(value: value, codingPath: codingPath, direct: direct).integer(type) }
    }

    /// Primitive types are read directly; `JSONValue` itself is taken as it is.
    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is JSONValue.Type: return value as! T
        case is String.Type: return try string() as! T
        case is Bool.Type: return try bool() as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is Double.Type: return try double() as! T
        case let readable as any DirectlyReadable.Type where direct:
            // nil: not the shape the type needs; Decodable below says exactly why.
            if let read = try? readable.init(direct: value) { return read as! T }
            return try T(from: self)
        default: return try T(from: self)
        }
    }

    func string() throws -> String {
        guard case .string(let s) = value else { throw mismatch(String.self) }
        return s
    }

    func bool() throws -> Bool {
        guard case .bool(let b) = value else { throw mismatch(Bool.self) }
        return b
    }

    func double() throws -> Double {
        switch value {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: throw mismatch(Double.self)
        }
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        switch value {
        case .int(let i):
            guard let exact = I(exactly: i) else { throw mismatch(type) }
            return exact
        case .double(let d):
            guard let exact = I(exactly: d) else { throw mismatch(type) }
            return exact
        default: throw mismatch(type)
        }
    }
}
