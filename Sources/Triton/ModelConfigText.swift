public import ModelplaneAPI

/// A model's `config.pbtxt` (Triton's ModelConfig in protobuf text format) read into the JSON
/// form Triton's load API and `GET /v2/models/NAME/config` use: field names as written, enums as
/// their names, repeated fields as arrays (also when a file gives one element), map fields
/// (`parameters`, `input_map`, ...) as objects. What the controller reads when it can see the
/// model's files, instead of loading the repository's own configuration to learn it.
public enum ModelConfigText {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public var line: Int
        public var message: String
        public var description: String { "config.pbtxt:\(line): \(message)" }
    }

    /// ModelConfig's repeated fields (model_config.proto, and the messages inside it) that a file
    /// may give once without brackets: the JSON form is an array whatever the file's spelling.
    static let repeatedFields: Set<String> = [
        "input", "output", "batch_input", "batch_output", "instance_group", "model_warmup", "dims", "shape", "preferred_batch_size", "gpus",
        "profile", "secondary_devices", "step", "versions", "gpu_execution_accelerator", "cpu_execution_accelerator", "source_input",
        "graph_spec", "dim", "control_input", "control", "int32_false_true", "fp32_false_true", "bool_false_true", "state", "initial_state",
        "agents",
    ]

    /// ModelConfig's map fields: written as repeated `{ key: K value: V }` entries.
    static let mapFields: Set<String> = ["parameters", "cc_model_filenames", "metric_tags", "input_map", "output_map", "inputs", "priority_queue_policy"]

    /// Where a field's name means something else inside one message: `input` is a map of shapes
    /// in a CUDA graph spec (and its lower bound), `target_name` repeated in a batch output.
    static let mapFieldsIn: [String: Set<String>] = ["graph_spec": ["input"], "lower_bound": ["input"]]
    static let repeatedFieldsIn: [String: Set<String>] = ["batch_output": ["target_name"]]

    public static func parse(_ text: String) throws(ParseError) -> JSONValue {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        let message = try parser.message(until: nil, in: nil)
        return message
    }

    struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0
        var line = 1

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        func error(_ message: String) -> ParseError { ParseError(line: line, message: message) }

        mutating func skipSpace() {
            while index < scalars.count {
                let c = scalars[index]
                if c == "#" {
                    while index < scalars.count, scalars[index] != "\n" { index += 1 }
                } else if c == "\n" {
                    line += 1
                    index += 1
                } else if c == " " || c == "\t" || c == "\r" {
                    index += 1
                } else {
                    return
                }
            }
        }

        mutating func peek() -> Unicode.Scalar? {
            skipSpace()
            return index < scalars.count ? scalars[index] : nil
        }

        mutating func expect(_ c: Unicode.Scalar) throws(ParseError) {
            guard peek() == c else { throw error("expected '\(c)'" + (peek().map { ", found '\($0)'" } ?? " before the end")) }
            index += 1
        }

        static func isWordScalar(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c) || c == "_" || c == "." || c == "-" || c == "+"
        }

        mutating func word() throws(ParseError) -> String {
            skipSpace()
            let start = index
            while index < scalars.count, Self.isWordScalar(scalars[index]) { index += 1 }
            guard index > start else { throw error(peek().map { "unexpected '\($0)'" } ?? "unexpected end") }
            return String(String.UnicodeScalarView(scalars[start..<index]))
        }

        /// Fields up to `close` (nil: the end of the text) of a message that is the value of field
        /// `parent` (nil: the top).
        mutating func message(until close: Unicode.Scalar?, in parent: String?) throws(ParseError) -> JSONValue {
            var fields: [String: JSONValue] = [:]
            while true {
                let next = peek()
                if next == close {
                    if close != nil { index += 1 }
                    break
                }
                guard next != nil else { throw error("missing '\(close!)'") }
                let name = try word()
                var value: JSONValue
                if peek() == ":" {
                    index += 1
                    value = try self.value(of: name)
                } else if peek() == "{" || peek() == "<" || peek() == "[" {
                    value = try self.value(of: name)
                } else {
                    throw error("expected ':' or '{' after \(name)")
                }
                if peek() == ";" || peek() == "," { index += 1 }
                let list: [JSONValue]
                if case .array(let items) = value { list = items } else { list = [value] }
                let isMap = ModelConfigText.mapFieldsIn[parent ?? ""]?.contains(name) ?? ModelConfigText.mapFields.contains(name)
                let isRepeated =
                    !isMap && (ModelConfigText.repeatedFields.contains(name) || ModelConfigText.repeatedFieldsIn[parent ?? ""]?.contains(name) == true)
                if isMap {
                    var map = fields[name]?.objectValue ?? [:]
                    for entry in list {
                        guard let key = entry["key"], let key = key.stringValue ?? key.canonicalTextIfScalar else {
                            throw error("\(name): an entry without a key")
                        }
                        map[key] = entry["value"] ?? .null
                    }
                    fields[name] = .object(map)
                } else if isRepeated || value.isArray {
                    fields[name] = .array((fields[name]?.arrayValue ?? []) + list)
                } else if let earlier = fields[name] {
                    // A field given twice is a repeated one this reader does not know by name.
                    fields[name] = .array((earlier.arrayValue ?? [earlier]) + list)
                } else {
                    fields[name] = value
                }
            }
            return .object(fields)
        }

        /// The value of field `name`.
        mutating func value(of name: String) throws(ParseError) -> JSONValue {
            switch peek() {
            case "{":
                index += 1
                return try message(until: "}", in: name)
            case "<":
                index += 1
                return try message(until: ">", in: name)
            case "[":
                index += 1
                var items: [JSONValue] = []
                if peek() == "]" {
                    index += 1
                    return .array(items)
                }
                while true {
                    items.append(try value(of: name))
                    if peek() == "," {
                        index += 1
                        continue
                    }
                    try expect("]")
                    return .array(items)
                }
            case "\"", "'":
                var text = ""
                // Adjacent strings concatenate.
                while let quote = peek(), quote == "\"" || quote == "'" {
                    text += try string(quote)
                }
                return .string(text)
            default:
                let word = try word()
                if word == "true" || word == "True" || word == "t" { return .bool(true) }
                if word == "false" || word == "False" || word == "f" { return .bool(false) }
                if let int = Int64(word) { return .int(int) }
                if let double = Double(word.hasSuffix("f") || word.hasSuffix("F") ? String(word.dropLast()) : word), word.first != "-" || word.count > 1 {
                    return .double(double)
                }
                return .string(word)  // an enum value: TYPE_FP32, KIND_GPU
            }
        }

        mutating func string(_ quote: Unicode.Scalar) throws(ParseError) -> String {
            index += 1
            var text = String.UnicodeScalarView()
            while index < scalars.count {
                let c = scalars[index]
                index += 1
                if c == quote { return String(text) }
                if c == "\n" { throw error("a string runs past the end of its line") }
                guard c == "\\" else {
                    text.append(c)
                    continue
                }
                guard index < scalars.count else { break }
                let escaped = scalars[index]
                index += 1
                switch escaped {
                case "n": text.append("\n")
                case "t": text.append("\t")
                case "r": text.append("\r")
                case "a": text.append("\u{07}")
                case "b": text.append("\u{08}")
                case "f": text.append("\u{0C}")
                case "v": text.append("\u{0B}")
                case "x", "0"..."7":
                    // \xHH, or up to three octal digits.
                    let hex = escaped == "x"
                    var digits = hex ? "" : String(escaped)
                    while index < scalars.count, digits.count < (hex ? 2 : 3), scalars[index].properties.isASCIIHexDigit,
                        hex || ("0"..."7").contains(scalars[index])
                    {
                        digits.unicodeScalars.append(scalars[index])
                        index += 1
                    }
                    guard let code = UInt8(digits, radix: hex ? 16 : 8) else { throw error("a malformed escape") }
                    text.append(Unicode.Scalar(code))
                default: text.append(escaped)
                }
            }
            throw error("a string is not closed")
        }
    }
}

extension JSONValue {
    fileprivate var isArray: Bool {
        if case .array = self { return true }
        return false
    }

    /// A number or boolean map key, as text (`1`, `true`).
    fileprivate var canonicalTextIfScalar: String? {
        switch self {
        case .int, .double, .bool: canonicalText
        default: nil
        }
    }
}
