public import Foundation

/// Moves between `JSONValue`, JSON text and Codable types, through our own parser, encoder and
/// decoder: Foundation's `JSONDecoder` reads each `JSONValue` inside an object (a revision's spec,
/// a model config) by trying every type in turn, which made decoding one ModelDeployment cost
/// ~0.3 ms; these are several times faster (`modelplane-bench`'s codec rows).
public enum JSONValueCoding {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        try JSONValueDecoder().decode(type, from: value)
    }

    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONValueEncoder().encode(value)
    }

    /// JSON text to a Codable value.
    public static func decode<T: Decodable>(_ type: T.Type, json: Data) throws -> T {
        try decode(type, from: JSONValue(parsing: json))
    }

    /// A Codable value as JSON text (keys sorted, no whitespace).
    public static func json<T: Encodable>(_ value: T) throws -> Data {
        Data(try encode(value).canonicalBytes)
    }
}
