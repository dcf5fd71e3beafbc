
import Foundation

/// Moves between `JSONValue` and Codable types through JSON text.
public enum JSONValueCoding {
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue) throws -> T {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "+Inf", negativeInfinity: "-Inf", nan: "NaN")
        return try JSONDecoder().decode(T.self, from: encoder.encode(value))
    }

    public static func encode<T: Encodable>(_ value: T) throws -> JSONValue {
        try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }
}
