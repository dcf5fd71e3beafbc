/// A structural OpenAPI v3 schema, as a CustomResourceDefinition holds it.
///
/// One value serves three readers: the manifest reader checks YAML against it (unknown fields and
/// wrong types, with line and column), the CRD in `crds/` is generated from it, and the embedded API
/// server checks request bodies with it. Keeping one source means the three cannot drift apart.
public indirect enum Schema: Sendable {
    case object(ObjectSchema)
    case string(StringSchema)
    case integer(IntegerSchema)
    /// A JSON number, integral or not.
    case number(NumberSchema)
    case boolean(description: String)
    case array(items: Schema, description: String, maxItems: Int?)
    /// A map with arbitrary keys and uniformly typed values (`additionalProperties`).
    case map(values: Schema, description: String)
    /// Any JSON object; kept as-is (`x-kubernetes-preserve-unknown-fields`).
    case freeform(description: String)

    public var description: String {
        switch self {
        case .object(let o): o.description
        case .string(let s): s.description
        case .integer(let i): i.description
        case .number(let n): n.description
        case .boolean(let d), .array(_, let d, _), .map(_, let d), .freeform(let d): d
        }
    }

    /// The JSON type this schema expects, as error messages name it.
    public var typeName: String {
        switch self {
        case .object, .map, .freeform: "object"
        case .string: "string"
        case .integer: "integer"
        case .number: "number"
        case .boolean: "boolean"
        case .array: "array"
        }
    }
}

public struct ObjectSchema: Sendable {
    public struct Property: Sendable {
        public var name: String
        public var schema: Schema
        public var required: Bool
        /// The value the API server fills in when the property is missing from an object that is
        /// there (a structural CRD `default`, applied at admission as kube-apiserver does).
        public var defaultValue: JSONValue?
    }

    /// A CEL rule (`x-kubernetes-validations`) for the API server to enforce; Swift validation
    /// checks the same thing and the tests check they agree on the examples.
    public struct Rule: Sendable {
        public var rule: String
        public var message: String
        public var fieldPath: String?
    }

    public var description: String
    public var properties: [Property] {
        didSet {
            positions = Self.positions(properties)
            containsDefaults = Self.containsDefaults(properties)
        }
    }
    /// Some property, here or below, has a default (defaulting skips the subtrees without).
    public private(set) var containsDefaults: Bool
    /// Where each property is in `properties`: the API server checks every object it stores,
    /// and a linear search per member of every object was a visible share of it.
    private var positions: [String: Int]
    public var rules: [Rule]
    /// `metadata` is an opaque object in a CRD schema (the API server owns it) while the manifest
    /// reader still checks its fields; this flag leaves the properties out of the generated CRD.
    public var opaqueInCRD: Bool

    public init(_ description: String, properties: [Property], rules: [Rule] = [], opaqueInCRD: Bool = false) {
        self.description = description
        self.properties = properties
        positions = Self.positions(properties)
        containsDefaults = Self.containsDefaults(properties)
        self.rules = rules
        self.opaqueInCRD = opaqueInCRD
    }

    private static func containsDefaults(_ properties: [Property]) -> Bool {
        properties.contains { $0.defaultValue != nil || $0.schema.containsDefaults }
    }

    private static func positions(_ properties: [Property]) -> [String: Int] {
        Dictionary(properties.enumerated().map { ($0.element.name, $0.offset) }) { first, _ in first }
    }

    public func property(_ name: String) -> Property? { positions[name].map { properties[$0] } }
}

public struct StringSchema: Sendable {
    public var description: String
    public var enumValues: [String]?
    public var pattern: String?
    public var minLength: Int?
    public var maxLength: Int?
    public var format: String?

    public init(
        _ description: String, enum enumValues: [String]? = nil, pattern: String? = nil,
        minLength: Int? = nil, maxLength: Int? = nil, format: String? = nil
    ) {
        self.description = description
        self.enumValues = enumValues
        self.pattern = pattern
        self.minLength = minLength
        self.maxLength = maxLength
        self.format = format
    }
}

public struct IntegerSchema: Sendable {
    public var description: String
    public var minimum: Int64?
    public var maximum: Int64?
    public var format: String

    public init(_ description: String, minimum: Int64? = nil, maximum: Int64? = nil, format: String = "int64") {
        self.description = description
        self.minimum = minimum
        self.maximum = maximum
        self.format = format
    }
}

public struct NumberSchema: Sendable {
    public var description: String
    public var minimum: Double?
    public var maximum: Double?

    public init(_ description: String, minimum: Double? = nil, maximum: Double? = nil) {
        self.description = description
        self.minimum = minimum
        self.maximum = maximum
    }
}

extension ObjectSchema.Property {
    public static func required(_ name: String, _ schema: Schema) -> Self { .init(name: name, schema: schema, required: true) }
    public static func optional(_ name: String, _ schema: Schema) -> Self { .init(name: name, schema: schema, required: false) }
    /// An optional property the API server fills with `value` when it is missing.
    public static func optional(_ name: String, default value: JSONValue, _ schema: Schema) -> Self {
        .init(name: name, schema: schema, required: false, defaultValue: value)
    }
}

// MARK: - Defaulting

extension Schema {
    /// Some property, here or below, has a default.
    public var containsDefaults: Bool {
        switch self {
        case .object(let object): object.containsDefaults
        case .array(let items, _, _): items.containsDefaults
        case .map(let values, _): values.containsDefaults
        default: false
        }
    }

    /// Fills in the declared defaults, as kube-apiserver does for a structural CRD schema: in
    /// every object that is there (one just defaulted included), each missing property with a
    /// default gets it. Values of the wrong type are left for checking to report. Only subtrees
    /// that declare defaults are visited, and an object is copied only when it changes (the API
    /// server defaults every write). Returns whether anything was filled in.
    @discardableResult
    public func applyDefaults(to value: inout JSONValue) -> Bool {
        guard containsDefaults else { return false }
        switch (self, value) {
        case (.object(let schema), .object(let members)):
            var updates: [(String, JSONValue)] = []
            for property in schema.properties where property.defaultValue != nil || property.schema.containsDefaults {
                if var member = members[property.name] {
                    if property.schema.applyDefaults(to: &member) { updates.append((property.name, member)) }
                } else if var member = property.defaultValue {
                    property.schema.applyDefaults(to: &member)
                    updates.append((property.name, member))
                }
            }
            guard !updates.isEmpty else { return false }
            var changed = members
            for (name, member) in updates { changed[name] = member }
            value = .object(changed)
            return true
        case (.array(let items, _, _), .array(var elements)):
            var any = false
            for index in elements.indices where items.applyDefaults(to: &elements[index]) { any = true }
            if any { value = .array(elements) }
            return any
        case (.map(let values, _), .object(var members)):
            var any = false
            for key in members.keys where values.applyDefaults(to: &members[key]!) { any = true }
            if any { value = .object(members) }
            return any
        default:
            return false
        }
    }
}

// MARK: - Structural checking

extension Schema {
    /// Checks a value's shape: unknown fields, wrong types, missing required fields, enums, bounds.
    /// (Cross-field rules are `ModelDeployment.validate()`'s job.) Errors come in document order.
    public func check(_ value: JSONValue, at path: FieldPath = FieldPath(), into errors: inout [FieldError]) {
        var path = path
        check(value, path: &path, into: &errors)
    }

    /// `path` is extended and restored in place: a valid object costs no path per field (the API
    /// server checks every object written).
    private func check(_ value: JSONValue, path: inout FieldPath, into errors: inout [FieldError]) {
        switch (self, value) {
        case (.freeform, .object):
            return
        case (.object(let schema), .object(let members)):
            if members.keys.contains(where: { schema.property($0) == nil }) {
                for key in members.keys.sorted() where schema.property(key) == nil {
                    let known = schema.properties.map(\.name).joined(separator: ", ")
                    errors.append(FieldError(.unknownField, path.appending(key), "field not declared in schema (known fields: \(known))"))
                }
            }
            for property in schema.properties {
                if let member = members[property.name], !member.isNull {
                    path.push(.key(property.name))
                    property.schema.check(member, path: &path, into: &errors)
                    path.pop()
                } else if property.required {
                    errors.append(
                        FieldError(
                            .required, path.appending(property.name),
                            "\(property.name) is required (\(property.schema.typeName): \(property.schema.description))"))
                }
            }
        case (.map(let values, _), .object(let members)):
            for key in members.keys.sorted() {
                path.push(.key(key))
                values.check(members[key]!, path: &path, into: &errors)
                path.pop()
            }
        case (.array(let items, _, let maxItems), .array(let elements)):
            if let maxItems, elements.count > maxItems {
                errors.append(FieldError(.tooLong, path, "must have at most \(maxItems) items, has \(elements.count)"))
            }
            for (i, element) in elements.enumerated() {
                path.push(.index(i))
                items.check(element, path: &path, into: &errors)
                path.pop()
            }
        case (.string(let schema), .string(let s)):
            schema.check(s, at: path, into: &errors)
        case (.integer(let schema), .int(let i)):
            if let min = schema.minimum, i < min {
                errors.append(FieldError(.invalid, path, "\(i): must be greater than or equal to \(min)"))
            }
            if let max = schema.maximum, i > max {
                errors.append(FieldError(.invalid, path, "\(i): must be less than or equal to \(max)"))
            }
        case (.number(let schema), .int(let i)):
            schema.check(Double(i), at: path, into: &errors)
        case (.number(let schema), .double(let d)):
            schema.check(d, at: path, into: &errors)
        case (.boolean, .bool):
            return
        default:
            var detail = "expected \(typeName), got \(value.typeName)"
            if case .string = self, case .int(let i) = value {
                detail += " \(i) (quote it: \"\(i)\")"
            } else if case .string = self, case .double(let d) = value {
                detail += " \(d) (quote it)"
            }
            errors.append(FieldError(.typeInvalid, path, detail))
        }
    }
}

extension NumberSchema {
    func check(_ d: Double, at path: FieldPath, into errors: inout [FieldError]) {
        if let min = minimum, d < min { errors.append(FieldError(.invalid, path, "\(d): must be greater than or equal to \(min)")) }
        if let max = maximum, d > max { errors.append(FieldError(.invalid, path, "\(d): must be less than or equal to \(max)")) }
    }
}

extension StringSchema {
    func check(_ s: String, at path: FieldPath, into errors: inout [FieldError]) {
        if let allowed = enumValues, !allowed.contains(s) {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            errors.append(FieldError(.notSupported, path, "\"\(s)\": supported values: \(list)"))
            return
        }
        // Characters are counted only where the UTF-8 length leaves it open: a character is at
        // least one byte, so `count` is never above `utf8.count`.
        if let min = minLength, min == 1 ? s.isEmpty : s.count < min {
            errors.append(FieldError(min == 1 ? .required : .invalid, path, min == 1 ? "must not be empty" : "must be at least \(min) characters"))
        }
        if let max = maxLength, s.utf8.count > max, s.count > max {
            errors.append(FieldError(.tooLong, path, "may not be more than \(max) characters (has \(s.count))"))
        }
    }
}
