/// A path to a field inside a resource, printed the way Kubernetes prints it:
/// `spec.backend.sagemaker.initialInstanceCount`, `metadata.labels[app]`, `spec.items[2]`.
public struct FieldPath: Sendable, Hashable, CustomStringConvertible, Comparable {
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    public private(set) var components: [Component]

    public init(_ components: [Component] = []) { self.components = components }

    public init(_ dotted: String) {
        components = dotted.split(separator: ".").map { .key(String($0)) }
    }

    public func appending(_ key: String) -> FieldPath {
        var copy = self
        copy.components.append(.key(key))
        return copy
    }

    mutating func push(_ component: Component) { components.append(component) }

    mutating func pop() { components.removeLast() }

    public func appending(index: Int) -> FieldPath {
        var copy = self
        copy.components.append(.index(index))
        return copy
    }

    public var description: String {
        var out = ""
        for component in components {
            switch component {
            case .key(let k):
                if k.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) && !k.isEmpty {
                    if !out.isEmpty { out += "." }
                    out += k
                } else {
                    out += "[\(k)]"
                }
            case .index(let i): out += "[\(i)]"
            }
        }
        return out.isEmpty ? "<root>" : out
    }

    public static func < (lhs: FieldPath, rhs: FieldPath) -> Bool { lhs.description < rhs.description }
}

/// One problem with one field: what Kubernetes calls a `StatusCause` and kubectl prints as
/// `spec.model.version: Required value: ...`.
public struct FieldError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Kubernetes' cause types (`metav1.CauseType`), so API errors and offline validation agree.
    public enum Kind: String, Sendable, Hashable {
        case required = "FieldValueRequired"
        case invalid = "FieldValueInvalid"
        case notSupported = "FieldValueNotSupported"
        case duplicate = "FieldValueDuplicate"
        case tooLong = "FieldValueTooLong"
        case tooMany = "FieldValueTooMany"
        case typeInvalid = "FieldValueTypeInvalid"
        case unknownField = "FieldValueUnknown"
        case forbidden = "FieldValueForbidden"

        /// The phrase kubectl puts before the detail ("Required value", "Invalid value", ...).
        public var phrase: String {
            switch self {
            case .required: "Required value"
            case .invalid: "Invalid value"
            case .notSupported: "Unsupported value"
            case .duplicate: "Duplicate value"
            case .tooLong: "Too long"
            case .tooMany: "Too many"
            case .typeInvalid: "Invalid type"
            case .unknownField: "unknown field"
            case .forbidden: "Forbidden"
            }
        }
    }

    public var kind: Kind
    public var path: FieldPath
    public var detail: String

    public init(_ kind: Kind, _ path: FieldPath, _ detail: String) {
        self.kind = kind
        self.path = path
        self.detail = detail
    }

    public var description: String { "\(path): \(kind.phrase): \(detail)" }
}
