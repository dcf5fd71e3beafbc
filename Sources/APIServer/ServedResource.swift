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
    /// Checks what a write through the status subresource changes (the whole object with the
    /// new status when nil).
    public var validateStatus: (@Sendable (JSONValue) -> [FieldError])?
    /// Checks an update through the main resource, given the object it replaces (`validate` of
    /// the new object when nil).
    public var validateUpdate: (@Sendable (_ object: JSONValue, _ stored: JSONValue) -> [FieldError])?
    /// The objects' schema, which the OpenAPI document describes them with (nil: a view, not
    /// documented).
    public var schema: Schema?
    /// What the server requires of names (a DNS-1123 subdomain unless the kind says otherwise).
    public var namePattern = NamePattern.subdomain
    /// What `kubectl get` shows after the name (the CRD's printer columns).
    var columns: [TableColumn]
    /// Set for a read-only view of objects stored as another type (core/v1 Events over
    /// events.k8s.io/v1 ones); nil for a resource stored as itself.
    var view: View?

    /// How a view presents objects stored as `storage`.
    struct View: Sendable {
        var storage: ResourceType
        /// Stored object → the object clients see.
        var present: @Sendable (JSONValue) -> JSONValue
        /// Field-selector fields of the view → fields of the stored object, by prefix.
        var fields: [(view: String, stored: String)]

        func storedField(_ field: String) -> String {
            for (view, stored) in fields where field == view || field.hasPrefix(view + ".") {
                return stored + field.dropFirst(view.count)
            }
            return field
        }
    }

    /// The type objects are stored as.
    var storage: ResourceType { view?.storage ?? type }

    /// An object about to be written through the main resource, with the defaults its schema
    /// declares filled in (kube-apiserver's structural defaulting at admission).
    func defaulted(_ object: JSONValue) -> JSONValue {
        guard let schema else { return object }
        var object = object
        schema.applyDefaults(to: &object)
        return object
    }

    /// A stored object as clients see it.
    func present(_ object: JSONValue) -> JSONValue { view?.present(object) ?? object }

    init(
        type: ResourceType, singular: String, shortNames: [String] = [], categories: [String] = [], columns: [TableColumn] = ServedResource.ageColumn,
        schema: Schema? = nil, validate: @escaping @Sendable (JSONValue) -> [FieldError], validateStatus: (@Sendable (JSONValue) -> [FieldError])? = nil,
        validateUpdate: (@Sendable (_ object: JSONValue, _ stored: JSONValue) -> [FieldError])? = nil
    ) {
        self.type = type
        self.singular = singular
        self.shortNames = shortNames
        self.categories = categories
        self.columns = columns
        self.schema = schema
        self.validate = validate
        self.validateStatus = validateStatus
        self.validateUpdate = validateUpdate
    }

    static let ageColumn = [TableColumn(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since creation", priority: 0)]

    /// Checked exactly as `modelplane validate` checks manifests.
    public static let modelDeployments: ServedResource = {
        var served = ServedResource(
            type: .modelDeployments, singular: ModelDeployment.singular, shortNames: ModelDeployment.shortNames, categories: ModelDeployment.categories,
            columns: CustomResourceDefinition.printerColumns.map {
                TableColumn(name: $0.name, type: $0.type, jsonPath: $0.jsonPath, description: $0.description, priority: $0.priority)
            }, schema: ModelDeployment.schema,
            validate: { ModelDeployment.read($0).problems }, validateStatus: { ModelDeployment.readStatus($0["status"]) },
            validateUpdate: { ModelDeployment.readUpdate($0, replacing: $1) })
        served.namePattern = NamePattern.label
        return served
    }()

    public static let leases = ServedResource(type: .leases, singular: "lease", schema: Lease.schema, validate: Lease.problems)

    public static let events = ServedResource(type: .events, singular: "event", shortNames: ["ev"], schema: Event.schema, validate: Event.problems)

    /// The core/v1 view of events.k8s.io/v1 Events, which `kubectl describe` reads, as the
    /// Kubernetes API server converts between the two.
    public static let coreEvents: ServedResource = {
        var served = ServedResource(
            type: ResourceType(group: "", version: "v1", kind: "Event", plural: "events", namespaced: true, statusSubresource: false), singular: "event",
            shortNames: ["ev"],
            columns: [
                TableColumn(name: "Last Seen", type: "date", jsonPath: ".lastTimestamp", description: "When it last happened", priority: 0),
                TableColumn(name: "Type", type: "string", jsonPath: ".type", description: "Normal or Warning", priority: 0),
                TableColumn(name: "Reason", type: "string", jsonPath: ".reason", description: "Why", priority: 0),
                TableColumn(name: "Object", type: "string", jsonPath: ".involvedObject.name", description: "What it is about", priority: 0),
                TableColumn(name: "Message", type: "string", jsonPath: ".message", description: "What happened", priority: 0),
            ], schema: Event.coreV1Schema, validate: { _ in [] })
        served.view = View(
            storage: .events, present: Event.coreV1,
            fields: [("involvedObject", "regarding"), ("message", "note"), ("source", "reportingController"), ("reportingComponent", "reportingController")])
        return served
    }()

    public static let all: [ServedResource] = [.modelDeployments, .leases, .events, .coreEvents]
}

extension Event {
    /// An events.k8s.io/v1 Event as core/v1 shows it: `regarding` → `involvedObject`, `note` →
    /// `message`, `reportingController` → `source.component`, and the first and last times and
    /// count that older clients read, taken from `eventTime` and `series`.
    static func coreV1(_ event: JSONValue) -> JSONValue {
        var core: JSONValue = ["apiVersion": "v1", "kind": "Event", "metadata": event["metadata"] ?? [:]]
        for (from, to) in [
            ("regarding", "involvedObject"), ("related", "related"), ("note", "message"), ("reason", "reason"), ("type", "type"),
            ("action", "action"), ("eventTime", "eventTime"), ("series", "series"), ("reportingController", "reportingComponent"),
            ("reportingInstance", "reportingInstance"),
        ] {
            if let value = event[from] { core[to] = value }
        }
        if let controller = event["reportingController"] { core["source"] = ["component": controller] }
        // Second-precision timestamps: MicroTime `2006-01-02T15:04:05.000000Z` → `2006-01-02T15:04:05Z`.
        func seconds(_ value: JSONValue?) -> JSONValue? {
            guard let text = value?.stringValue, let dot = text.firstIndex(of: ".") else { return value }
            return .string(text[..<dot] + "Z")
        }
        let first = seconds(event["deprecatedFirstTimestamp"] ?? event["eventTime"])
        core["firstTimestamp"] = first
        core["lastTimestamp"] = seconds(event["deprecatedLastTimestamp"] ?? event["series"]?["lastObservedTime"]) ?? first
        core["count"] = event["deprecatedCount"] ?? event["series"]?["count"] ?? 1
        return core
    }
}
