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
    /// What `kubectl get` shows after the name (the CRD's printer columns).
    var columns: [TableColumn]

    init(
        type: ResourceType, singular: String, shortNames: [String] = [], categories: [String] = [], columns: [TableColumn] = ServedResource.ageColumn,
        validate: @escaping @Sendable (JSONValue) -> [FieldError]
    ) {
        self.type = type
        self.singular = singular
        self.shortNames = shortNames
        self.categories = categories
        self.columns = columns
        self.validate = validate
    }

    static let ageColumn = [TableColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since creation", priority: 0)]

    /// Checked exactly as `modelplane validate` checks manifests.
    public static let modelDeployments = ServedResource(
        type: .modelDeployments, singular: ModelDeployment.singular, shortNames: ModelDeployment.shortNames, categories: ModelDeployment.categories,
        columns: CustomResourceDefinition.printerColumns.map {
            TableColumn(name: $0.name, type: $0.type, jsonPath: $0.jsonPath, description: $0.description, priority: $0.priority)
        },
        validate: { ModelDeployment.read($0).problems })

    public static let leases = ServedResource(type: .leases, singular: "lease", validate: { _ in [] })

    public static let events = ServedResource(type: .events, singular: "event", shortNames: ["ev"], validate: { _ in [] })

    public static let all: [ServedResource] = [.modelDeployments, .leases, .events]
}
