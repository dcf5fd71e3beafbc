public import ModelplaneAPI
public import ResourceStore

/// A resource the API server serves, with what discovery says about it and how objects are checked.
public struct ServedResource: Sendable {
    public var type: ResourceType
    public var singular: String
    public var shortNames: [String]
    public var categories: [String]
    /// Checks a whole object about to be stored; no problems means valid.
    public var validate: @Sendable (JSONValue) -> [FieldError]

    public init(
        type: ResourceType, singular: String, shortNames: [String] = [], categories: [String] = [], validate: @escaping @Sendable (JSONValue) -> [FieldError]
    ) {
        self.type = type
        self.singular = singular
        self.shortNames = shortNames
        self.categories = categories
        self.validate = validate
    }

    /// Checked exactly as `modelplane validate` checks manifests.
    public static let modelDeployments = ServedResource(
        type: .modelDeployments, singular: ModelDeployment.singular, shortNames: ModelDeployment.shortNames, categories: ModelDeployment.categories,
        validate: { ModelDeployment.read($0).problems })

    public static let leases = ServedResource(type: .leases, singular: "lease", validate: { _ in [] })

    public static let events = ServedResource(type: .events, singular: "event", shortNames: ["ev"], validate: { _ in [] })

    public static let all: [ServedResource] = [.modelDeployments, .leases, .events]
}
