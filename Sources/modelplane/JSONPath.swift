import ModelplaneAPI

/// kubectl's `-o jsonpath=TEMPLATE`: text with `{expression}` parts, as kubectl reads them.
/// Expressions: `.field`, `['field']`, `[N]` (negative from the end), `[START:END:STEP]`, `[*]`,
/// `..field` (anywhere below), `[?(@.path == "value")]` and `!=` (also numbers and
/// `true`/`false`), `{range EXPR}…{end}`, and string literals (`{"\n"}`, `{'\t'}`). Several
/// results of one expression are printed separated by spaces; a string prints as is, anything else
/// as JSON. A path that finds nothing prints nothing, as kubectl's does by default
/// (`--allow-missing-template-keys=true`).
struct JSONPathTemplate {
    struct Problem: Error, CustomStringConvertible {
        var description: String
    }

    indirect enum Part {
        case text(String)
        case expression(String, [Step])
        case range([Step], [Part])
    }

    enum Step {
        case field(String)
        case index(Int)
        case slice(start: Int?, end: Int?, step: Int)
        case all
        case descendants(String)
        case filter(path: [Step], equal: Bool, value: JSONValue)
    }

    let parts: [Part]

    init(_ template: String) throws(Problem) {
        var tokens = try Self.tokens(template)[...]
        parts = try Self.parse(&tokens, inRange: false)
    }

    func render(_ input: JSONValue) throws(Problem) -> String {
        try Self.render(parts, input)
    }

    // MARK: - Reading the template

    private enum Token {
        case text(String)
        case braces(String)
    }

    private static func tokens(_ template: String) throws(Problem) -> [Token] {
        var tokens: [Token] = []
        var text = ""
        var index = template.startIndex
        while index < template.endIndex {
            let character = template[index]
            if character == "{" {
                if !text.isEmpty { tokens.append(.text(text)) }
                text = ""
                // To the matching `}`, skipping quoted strings.
                var end = template.index(after: index)
                var quote: Character?
                var escaped = false
                while end < template.endIndex {
                    let c = template[end]
                    if let q = quote {
                        if escaped {
                            escaped = false
                        } else if c == "\\" {
                            escaped = true
                        } else if c == q {
                            quote = nil
                        }
                    } else if c == "\"" || c == "'" {
                        quote = c
                    } else if c == "}" {
                        break
                    }
                    end = template.index(after: end)
                }
                guard end < template.endIndex else { throw Problem(description: "unclosed { in the template \"\(template)\"") }
                tokens.append(.braces(String(template[template.index(after: index)..<end]).trimmingCharacters(in: .whitespaces)))
                index = template.index(after: end)
            } else {
                text.append(character)
                index = template.index(after: index)
            }
        }
        if !text.isEmpty { tokens.append(.text(text)) }
        return tokens
    }

    private static func parse(_ tokens: inout ArraySlice<Token>, inRange: Bool) throws(Problem) -> [Part] {
        var parts: [Part] = []
        while let token = tokens.popFirst() {
            switch token {
            case .text(let text):
                parts.append(.text(text))
            case .braces("end"):
                guard inRange else { throw Problem(description: "{end} without {range}") }
                return parts
            case .braces(let inner) where inner.hasPrefix("range "):
                let steps = try path(String(inner.dropFirst(6)).trimmingCharacters(in: .whitespaces))
                parts.append(.range(steps, try parse(&tokens, inRange: true)))
            case .braces(let inner):
                if let literal = stringLiteral(inner) {
                    parts.append(.text(literal))
                } else {
                    parts.append(.expression(inner, try path(inner)))
                }
            }
        }
        if inRange { throw Problem(description: "{range} without {end}") }
        return parts
    }

    /// `"text"` or `'text'` with \n, \t, \\ and the quote escaped.
    private static func stringLiteral(_ text: String) -> String? {
        guard text.count >= 2, let first = text.first, first == "\"" || first == "'", text.last == first else { return nil }
        var out = ""
        var escaped = false
        for character in text.dropFirst().dropLast() {
            if escaped {
                switch character {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "r": out.append("\r")
                default: out.append(character)
                }
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                out.append(character)
            }
        }
        return out
    }

    private static func path(_ expression: String) throws(Problem) -> [Step] {
        var steps: [Step] = []
        var rest = Substring(expression)
        if rest.hasPrefix("$") { rest = rest.dropFirst() }
        if rest.hasPrefix("@") { rest = rest.dropFirst() }
        func name(_ text: inout Substring) -> String {
            let end = text.firstIndex { !($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") } ?? text.endIndex
            defer { text = text[end...] }
            return String(text[..<end])
        }
        while let first = rest.first {
            if rest.hasPrefix("..") {
                rest = rest.dropFirst(2)
                let field = name(&rest)
                guard !field.isEmpty else { throw Problem(description: "a name must follow .. in \"\(expression)\"") }
                steps.append(.descendants(field))
            } else if first == "." {
                rest = rest.dropFirst()
                let field = name(&rest)
                if !field.isEmpty { steps.append(.field(field)) }
            } else if first == "[" {
                guard let close = closingBracket(rest) else { throw Problem(description: "unclosed [ in \"\(expression)\"") }
                let inner = rest[rest.index(after: rest.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                rest = rest[rest.index(after: close)...]
                if inner == "*" {
                    steps.append(.all)
                } else if let index = Int(inner) {
                    steps.append(.index(index))
                } else if inner.contains(":"), let slice = slice(inner) {
                    steps.append(slice)
                } else if let literal = stringLiteral(inner) {
                    steps.append(.field(literal))
                } else if inner.hasPrefix("?(") && inner.hasSuffix(")") {
                    steps.append(try filter(String(inner.dropFirst(2).dropLast()), expression))
                } else {
                    throw Problem(description: "unsupported [\(inner)] in \"\(expression)\"")
                }
            } else {
                throw Problem(description: "unexpected \"\(rest)\" in \"\(expression)\" (paths start with .)")
            }
        }
        return steps
    }

    /// `START:END` or `START:END:STEP`, each part optional.
    private static func slice(_ text: String) -> Step? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 || parts.count == 3 else { return nil }
        func number(_ part: String) -> Int?? { part.isEmpty ? .some(nil) : Int(part).map { .some($0) } }
        guard let start = number(parts[0]), let end = number(parts[1]) else { return nil }
        let step = parts.count == 3 && !parts[2].isEmpty ? Int(parts[2]) : 1
        guard let step, step > 0 else { return nil }
        return .slice(start: start, end: end, step: step)
    }

    private static func closingBracket(_ text: Substring) -> Substring.Index? {
        var quote: Character?
        var depth = 0
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "[" {
                depth += 1
            } else if c == "]" {
                depth -= 1
                if depth == 0 { return index }
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// Where `op` first occurs outside quotes.
    private static func unquotedRange(of op: String, in text: String) -> Range<String.Index>? {
        var quote: Character?
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "\"" || c == "'" {
                quote = c
            } else if text[index...].hasPrefix(op) {
                return index..<text.index(index, offsetBy: op.count)
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// `@.path == value` or `!=`.
    private static func filter(_ text: String, _ expression: String) throws(Problem) -> Step {
        for (op, equal) in [("!=", false), ("==", true)] {
            guard let range = unquotedRange(of: op, in: text) else { continue }
            let left = text[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            let right = text[range.upperBound...].trimmingCharacters(in: .whitespaces)
            guard left.hasPrefix("@") else { break }
            let value: JSONValue
            if let literal = stringLiteral(right) {
                value = .string(literal)
            } else if let int = Int64(right) {
                value = .int(int)
            } else if let double = Double(right) {
                value = .double(double)
            } else if right == "true" || right == "false" {
                value = .bool(right == "true")
            } else {
                break
            }
            return .filter(path: try path(left), equal: equal, value: value)
        }
        throw Problem(description: "unsupported filter ?(\(text)) in \"\(expression)\" (supported: @.path == value, @.path != value)")
    }

    // MARK: - Evaluating

    private static func render(_ parts: [Part], _ input: JSONValue) throws(Problem) -> String {
        var out = ""
        for part in parts {
            switch part {
            case .text(let text):
                out += text
            case .expression(let source, let steps):
                _ = source
                out += evaluate(steps, [input]).map(text).joined(separator: " ")
            case .range(let steps, let body):
                for item in evaluate(steps, [input]) { out += try render(body, item) }
            }
        }
        return out
    }

    private static func evaluate(_ steps: [Step], _ start: [JSONValue]) -> [JSONValue] {
        var current = start
        for step in steps {
            current = current.flatMap { value -> [JSONValue] in
                switch step {
                case .field(let name):
                    return value[name].map { [$0] } ?? []
                case .index(let index):
                    guard let array = value.arrayValue else { return [] }
                    let i = index < 0 ? array.count + index : index
                    return array.indices.contains(i) ? [array[i]] : []
                case .slice(let start, let end, let step):
                    guard let array = value.arrayValue else { return [] }
                    func clamp(_ i: Int) -> Int { min(max(i < 0 ? array.count + i : i, 0), array.count) }
                    let from = clamp(start ?? 0)
                    let to = clamp(end ?? array.count)
                    return from < to ? stride(from: from, to: to, by: step).map { array[$0] } : []
                case .all:
                    if let array = value.arrayValue { return array }
                    if let object = value.objectValue { return object.keys.sorted().compactMap { object[$0] } }
                    return []
                case .descendants(let name):
                    return descendants(named: name, in: value)
                case .filter(let path, let equal, let expected):
                    guard let array = value.arrayValue else { return [] }
                    return array.filter { item in
                        let matches = evaluate(path, [item]).contains { same($0, expected) }
                        return equal ? matches : !matches
                    }
                }
            }
        }
        return current
    }

    /// Equal values; numbers by value (`1` and `1.0` are one number).
    private static func same(_ a: JSONValue, _ b: JSONValue) -> Bool {
        func number(_ value: JSONValue) -> Double? {
            switch value {
            case .int(let int): Double(int)
            case .double(let double): double
            default: nil
            }
        }
        if let x = number(a), let y = number(b) { return x == y }
        return a == b
    }

    private static func descendants(named name: String, in value: JSONValue) -> [JSONValue] {
        var found: [JSONValue] = []
        if let object = value.objectValue {
            if let hit = object[name] { found.append(hit) }
            for key in object.keys.sorted() { found += descendants(named: name, in: object[key]!) }
        } else if let array = value.arrayValue {
            for item in array { found += descendants(named: name, in: item) }
        }
        return found
    }

    private static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let string): string
        case .null: ""
        default: value.canonicalText
        }
    }
}
