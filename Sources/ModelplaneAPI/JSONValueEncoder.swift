/// Encodes `Encodable` values straight into a `JSONValue`, without going through JSON text and
/// back (Foundation's `JSONEncoder` then `JSONDecoder`, which reads a `JSONValue` by trying each
/// type in turn). Like `JSONEncoder`: nil optionals are left out, an object that encodes nothing
/// is `{}`, and non-finite numbers are refused.
public struct JSONValueEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValueEncoding.box(value, codingPath: [])
    }
}

/// What an encoder (or one of its containers) has written so far. Containers share it by
/// reference, so a nested container can still be written to after it was handed out.
private final class Slot {
    var node: Node = .empty
}

private final class ObjectNode {
    var members: [String: Node] = [:]
}

private final class ArrayNode {
    var elements: [Node] = []
}

private enum Node {
    case empty
    case value(JSONValue)
    case object(ObjectNode)
    case array(ArrayNode)
    /// A nested encoder's result (`superEncoder`), read when everything is done.
    case slot(Slot)

    var resolved: JSONValue {
        switch self {
        case .empty: .object([:])
        case .value(let value): value
        case .object(let object): .object(object.members.mapValues(\.resolved))
        case .array(let array): .array(array.elements.map(\.resolved))
        case .slot(let slot): slot.node.resolved
        }
    }
}

private struct JSONValueEncoding: Encoder {
    let slot: Slot
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    /// `value` as a `JSONValue`: primitives directly, anything else through its `encode(to:)`.
    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue {
        try node(value, codingPath: codingPath).resolved
    }

    static func node<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> Node {
        if let primitive = try primitive(value, codingPath: codingPath) { return .value(primitive) }
        let encoder = JSONValueEncoding(slot: Slot(), codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.slot.node
    }

    private static func primitive<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONValue? {
        switch value {
        case let value as JSONValue: return value
        case let value as String: return .string(value)
        case let value as Bool: return .bool(value)
        case let value as Int64: return .int(value)
        case let value as Int: return .int(Int64(value))
        case let value as Int32: return .int(Int64(value))
        case let value as Double: return try number(value, codingPath: codingPath)
        case let value as any DirectlyWritable: return value.directJSON
        default: return nil
        }
    }

    static func number(_ value: Double, codingPath: [any CodingKey]) throws -> JSONValue {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) cannot be written as JSON"))
        }
        return .double(value)
    }

    static func integer<I: BinaryInteger>(_ value: I, codingPath: [any CodingKey]) throws -> JSONValue {
        guard let exact = Int64(exactly: value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) does not fit in a 64-bit integer"))
        }
        return .int(exact)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let object) = slot.node { return KeyedEncodingContainer(Keyed(object: object, codingPath: codingPath)) }
        let object = ObjectNode()
        slot.node = .object(object)
        return KeyedEncodingContainer(Keyed(object: object, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let array) = slot.node { return Unkeyed(array: array, codingPath: codingPath) }
        let array = ArrayNode()
        slot.node = .array(array)
        return Unkeyed(array: array, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { Single(slot: slot, codingPath: codingPath) }

    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let object: ObjectNode
        let codingPath: [any CodingKey]

        mutating func encodeNil(forKey key: Key) { object.members[key.stringValue] = .value(.null) }
        mutating func encode(_ value: Bool, forKey key: Key) { object.members[key.stringValue] = .value(.bool(value)) }
        mutating func encode(_ value: String, forKey key: Key) { object.members[key.stringValue] = .value(.string(value)) }
        mutating func encode(_ value: Double, forKey key: Key) throws {
            object.members[key.stringValue] = .value(try number(value, codingPath: codingPath + [key]))
        }
        mutating func encode(_ value: Int64, forKey key: Key) { object.members[key.stringValue] = .value(.int(value)) }
        mutating func encode(_ value: Int, forKey key: Key) { object.members[key.stringValue] = .value(.int(Int64(value))) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            object.members[key.stringValue] = try node(value, codingPath: codingPath + [key])
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let nested = ObjectNode()
            object.members[key.stringValue] = .object(nested)
            return KeyedEncodingContainer(Keyed<NestedKey>(object: nested, codingPath: codingPath + [key]))
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let nested = ArrayNode()
            object.members[key.stringValue] = .array(nested)
            return Unkeyed(array: nested, codingPath: codingPath + [key])
        }

        mutating func superEncoder() -> any Encoder { superEncoder(named: "super", key: nil) }
        mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue, key: key) }

        private func superEncoder(named name: String, key: Key?) -> any Encoder {
            let slot = Slot()
            object.members[name] = .slot(slot)
            return JSONValueEncoding(slot: slot, codingPath: codingPath + (key.map { [$0] } ?? []))
        }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let array: ArrayNode
        let codingPath: [any CodingKey]
        var count: Int { array.elements.count }

        private var nextPath: [any CodingKey] { codingPath + [JSONValueDecoding.Unkeyed.Index(count)] }

        mutating func encodeNil() { array.elements.append(.value(.null)) }
        mutating func encode(_ value: Bool) { array.elements.append(.value(.bool(value))) }
        mutating func encode(_ value: String) { array.elements.append(.value(.string(value))) }
        mutating func encode(_ value: Double) throws { array.elements.append(.value(try number(value, codingPath: nextPath))) }
        mutating func encode(_ value: Int64) { array.elements.append(.value(.int(value))) }
        mutating func encode(_ value: Int) { array.elements.append(.value(.int(Int64(value)))) }
        mutating func encode<T: Encodable>(_ value: T) throws { array.elements.append(try node(value, codingPath: nextPath)) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let nested = ObjectNode()
            let path = nextPath
            array.elements.append(.object(nested))
            return KeyedEncodingContainer(Keyed<NestedKey>(object: nested, codingPath: path))
        }

        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let nested = ArrayNode()
            let path = nextPath
            array.elements.append(.array(nested))
            return Unkeyed(array: nested, codingPath: path)
        }

        mutating func superEncoder() -> any Encoder {
            let slot = Slot()
            let path = nextPath
            array.elements.append(.slot(slot))
            return JSONValueEncoding(slot: slot, codingPath: path)
        }
    }

    struct Single: SingleValueEncodingContainer {
        let slot: Slot
        let codingPath: [any CodingKey]

        mutating func encodeNil() { slot.node = .value(.null) }
        mutating func encode(_ value: Bool) { slot.node = .value(.bool(value)) }
        mutating func encode(_ value: String) { slot.node = .value(.string(value)) }
        mutating func encode(_ value: Double) throws { slot.node = .value(try number(value, codingPath: codingPath)) }
        mutating func encode(_ value: Float) throws { slot.node = .value(try number(Double(value), codingPath: codingPath)) }
        mutating func encode(_ value: Int) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int8) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int16) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int32) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: Int64) { slot.node = .value(.int(value)) }
        mutating func encode(_ value: UInt) throws { slot.node = .value(try integer(value, codingPath: codingPath)) }
        mutating func encode(_ value: UInt8) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt16) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt32) { slot.node = .value(.int(Int64(value))) }
        mutating func encode(_ value: UInt64) throws { slot.node = .value(try integer(value, codingPath: codingPath)) }
        mutating func encode<T: Encodable>(_ value: T) throws { slot.node = try node(value, codingPath: codingPath) }
    }
}
