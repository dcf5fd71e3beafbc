import Foundation

/// A label selector as `kubectl -l` and the API's `labelSelector` parameter write it:
/// `app=fraud,tier!=canary,env in (prod,staging),!legacy,team`.
public struct LabelSelector: Sendable, Hashable, CustomStringConvertible {
    public enum Requirement: Sendable, Hashable {
        case equals(String, String)
        case notEquals(String, String)
        case `in`(String, Set<String>)
        case notIn(String, Set<String>)
        case exists(String)
        case doesNotExist(String)
    }

    public var requirements: [Requirement]
    public let description: String

    public init(parsing text: String) throws(SelectorError) {
        description = text
        requirements = []
        for clause in try Self.clauses(text) {
            requirements.append(try Self.requirement(clause, in: text))
        }
    }

    /// `notIn` and `!=` match objects without the label, as in Kubernetes.
    public func matches(_ labels: [String: String]) -> Bool {
        requirements.allSatisfy { requirement in
            switch requirement {
            case .equals(let key, let value): labels[key] == value
            case .notEquals(let key, let value): labels[key] != value
            case .in(let key, let values): labels[key].map(values.contains) ?? false
            case .notIn(let key, let values): labels[key].map { !values.contains($0) } ?? true
            case .exists(let key): labels[key] != nil
            case .doesNotExist(let key): labels[key] == nil
            }
        }
    }

    /// Splits on commas that are not inside a `( … )` set.
    private static func clauses(_ text: String) throws(SelectorError) -> [Substring] {
        var clauses: [Substring] = []
        var depth = 0
        var start = text.startIndex
        for index in text.indices {
            switch text[index] {
            case "(": depth += 1
            case ")":
                depth -= 1
                if depth < 0 { throw SelectorError(text, "unbalanced ')'") }
            case "," where depth == 0:
                clauses.append(text[start..<index])
                start = text.index(after: index)
            default: break
            }
        }
        if depth != 0 { throw SelectorError(text, "unbalanced '('") }
        clauses.append(text[start...])
        return clauses.map { $0.trimmingCharacters(in: .whitespaces)[...] }.filter { !$0.isEmpty }
    }

    private static func requirement(_ clause: Substring, in text: String) throws(SelectorError) -> Requirement {
        func key(_ raw: Substring) throws(SelectorError) -> String {
            let key = raw.trimmingCharacters(in: .whitespaces)
            if let problem = Syntax.qualifiedNameProblem(key) { throw SelectorError(text, "invalid label key \"\(key)\": \(problem)") }
            return key
        }
        func value(_ raw: Substring) throws(SelectorError) -> String {
            let value = raw.trimmingCharacters(in: .whitespaces)
            if let problem = Syntax.labelValueProblem(value) { throw SelectorError(text, "invalid label value \"\(value)\": \(problem)") }
            return value
        }
        if clause.hasPrefix("!") { return .doesNotExist(try key(clause.dropFirst())) }
        if let range = clause.range(of: "!=") { return .notEquals(try key(clause[..<range.lowerBound]), try value(clause[range.upperBound...])) }
        if let range = clause.range(of: "==") { return .equals(try key(clause[..<range.lowerBound]), try value(clause[range.upperBound...])) }
        if let range = clause.range(of: "=") { return .equals(try key(clause[..<range.lowerBound]), try value(clause[range.upperBound...])) }
        for (word, notIn) in [(" notin ", true), (" in ", false)] {
            guard let range = clause.range(of: word) else { continue }
            let set = clause[range.upperBound...].trimmingCharacters(in: .whitespaces)
            guard set.hasPrefix("("), set.hasSuffix(")") else {
                throw SelectorError(text, "expected a set in parentheses after \"\(word.trimmingCharacters(in: .whitespaces))\"")
            }
            var values = Set<String>()
            for raw in set.dropFirst().dropLast().split(separator: ",") { values.insert(try value(raw)) }
            if values.isEmpty { throw SelectorError(text, "a set must not be empty") }
            let name = try key(clause[..<range.lowerBound])
            return notIn ? .notIn(name, values) : .in(name, values)
        }
        return .exists(try key(clause))
    }
}

/// A field selector: `metadata.name=fraud,metadata.namespace!=default`.
public struct FieldSelector: Sendable, Hashable, CustomStringConvertible {
    public struct Requirement: Sendable, Hashable {
        public var field: String
        public var value: String
        public var negated: Bool
    }

    public var requirements: [Requirement]
    public let description: String

    public init(parsing text: String) throws(SelectorError) {
        description = text
        requirements = []
        for clause in text.split(separator: ",") {
            let clause = clause.trimmingCharacters(in: .whitespaces)
            if clause.isEmpty { continue }
            let (separator, negated): (String, Bool) =
                clause.contains("!=") ? ("!=", true) : clause.contains("==") ? ("==", false) : ("=", false)
            guard let range = clause.range(of: separator) else {
                throw SelectorError(text, "\"\(clause)\": expected FIELD=VALUE, FIELD==VALUE or FIELD!=VALUE")
            }
            let field = clause[..<range.lowerBound].trimmingCharacters(in: .whitespaces)
            if field.isEmpty { throw SelectorError(text, "\"\(clause)\": missing field name") }
            requirements.append(Requirement(field: field, value: clause[range.upperBound...].trimmingCharacters(in: .whitespaces), negated: negated))
        }
    }

    /// `value(field)` reads a field of the object; a missing field matches `!=` and not `=`.
    public func matches(_ value: (String) -> String?) -> Bool {
        requirements.allSatisfy { requirement in
            (value(requirement.field) == requirement.value) != requirement.negated
        }
    }
}

public struct SelectorError: Error, Sendable, Hashable, CustomStringConvertible {
    public var selector: String
    public var problem: String

    init(_ selector: String, _ problem: String) {
        self.selector = selector
        self.problem = problem
    }

    public var description: String { "invalid selector \"\(selector)\": \(problem)" }
}
