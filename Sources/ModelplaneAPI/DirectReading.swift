/// Reading the API types straight from a `JSONValue`, without Codable's generic containers.
///
/// Decoding a ModelDeployment through `Decodable` costs a container box, a metadata lookup and a
/// coding key per field; the server decodes every object it validates and the controller every
/// answer and watch event, so that was a tenth of a cold start's CPU. `JSONValueDecoder` tries
/// `init(direct:)` first and falls back to `Decodable` when it returns nil, so errors (and
/// anything this reader is stricter about) keep `Decodable`'s behaviour: the direct readers
/// accept exactly what the synthesized `init(from:)` accepts (unknown members ignored, a missing
/// or null optional is nil, integers may be written as whole doubles), and
/// `DirectReadingTests` holds them to it.
protocol DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch)
}

/// The value did not have the shape a type needs; `Decodable` says where and why.
struct JSONShapeMismatch: Error {}

/// One JSON object's members, read the way synthesized `Decodable` conformances read them.
struct JSONMembers {
    let members: [String: JSONValue]

    init(_ value: JSONValue) throws(JSONShapeMismatch) {
        guard case .object(let members) = value else { throw JSONShapeMismatch() }
        self.members = members
    }

    /// Present and not null.
    private func present(_ key: String) -> JSONValue? {
        guard let value = members[key], value != .null else { return nil }
        return value
    }

    private func required(_ key: String) throws(JSONShapeMismatch) -> JSONValue {
        guard let value = present(key) else { throw JSONShapeMismatch() }
        return value
    }

    func string(_ key: String) throws(JSONShapeMismatch) -> String { try Self.string(required(key)) }
    func string(ifPresent key: String) throws(JSONShapeMismatch) -> String? { try present(key).map { (v) throws(JSONShapeMismatch) in try Self.string(v) } }
    func int64(_ key: String) throws(JSONShapeMismatch) -> Int64 { try Self.int64(required(key)) }
    func int64(ifPresent key: String) throws(JSONShapeMismatch) -> Int64? { try present(key).map { (v) throws(JSONShapeMismatch) in try Self.int64(v) } }
    func double(_ key: String) throws(JSONShapeMismatch) -> Double { try Self.double(required(key)) }
    func double(ifPresent key: String) throws(JSONShapeMismatch) -> Double? { try present(key).map { (v) throws(JSONShapeMismatch) in try Self.double(v) } }

    func bool(ifPresent key: String) throws(JSONShapeMismatch) -> Bool? {
        guard let value = present(key) else { return nil }
        guard case .bool(let b) = value else { throw JSONShapeMismatch() }
        return b
    }

    /// A `JSONValue` member: Decodable takes a present null as `.null` when the member is required.
    func value(_ key: String) throws(JSONShapeMismatch) -> JSONValue {
        guard let value = members[key] else { throw JSONShapeMismatch() }
        return value
    }

    func value(ifPresent key: String) -> JSONValue? { present(key) }

    func object<T: DirectlyReadable>(_ key: String) throws(JSONShapeMismatch) -> T { try T(direct: required(key)) }

    func object<T: DirectlyReadable>(ifPresent key: String) throws(JSONShapeMismatch) -> T? {
        guard let value = present(key) else { return nil }
        return try T(direct: value)
    }

    func rawValue<T: RawRepresentable>(_ key: String) throws(JSONShapeMismatch) -> T where T.RawValue == String {
        guard let value = T(rawValue: try string(key)) else { throw JSONShapeMismatch() }
        return value
    }

    func rawValue<T: RawRepresentable>(ifPresent key: String) throws(JSONShapeMismatch) -> T? where T.RawValue == String {
        guard let text = try string(ifPresent: key) else { return nil }
        guard let value = T(rawValue: text) else { throw JSONShapeMismatch() }
        return value
    }

    func array<T: DirectlyReadable>(_ key: String) throws(JSONShapeMismatch) -> [T] {
        try Self.array(required(key))
    }

    func array<T: DirectlyReadable>(ifPresent key: String) throws(JSONShapeMismatch) -> [T]? {
        try present(key).map { (v) throws(JSONShapeMismatch) in try Self.array(v) }
    }

    func strings(ifPresent key: String) throws(JSONShapeMismatch) -> [String]? {
        guard let value = present(key) else { return nil }
        guard case .array(let items) = value else { throw JSONShapeMismatch() }
        var strings: [String] = []
        strings.reserveCapacity(items.count)
        for item in items { strings.append(try Self.string(item)) }
        return strings
    }

    func values(ifPresent key: String) throws(JSONShapeMismatch) -> [JSONValue]? {
        guard let value = present(key) else { return nil }
        guard case .array(let items) = value else { throw JSONShapeMismatch() }
        return items
    }

    func stringMap(ifPresent key: String) throws(JSONShapeMismatch) -> [String: String]? {
        guard let value = present(key) else { return nil }
        guard case .object(let members) = value else { throw JSONShapeMismatch() }
        var map: [String: String] = [:]
        map.reserveCapacity(members.count)
        for (name, member) in members { map[name] = try Self.string(member) }
        return map
    }

    static func string(_ value: JSONValue) throws(JSONShapeMismatch) -> String {
        guard case .string(let s) = value else { throw JSONShapeMismatch() }
        return s
    }

    static func int64(_ value: JSONValue) throws(JSONShapeMismatch) -> Int64 {
        switch value {
        case .int(let i): return i
        case .double(let d):
            guard let exact = Int64(exactly: d) else { throw JSONShapeMismatch() }
            return exact
        default: throw JSONShapeMismatch()
        }
    }

    static func double(_ value: JSONValue) throws(JSONShapeMismatch) -> Double {
        switch value {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: throw JSONShapeMismatch()
        }
    }

    static func array<T: DirectlyReadable>(_ value: JSONValue) throws(JSONShapeMismatch) -> [T] {
        guard case .array(let items) = value else { throw JSONShapeMismatch() }
        var result: [T] = []
        result.reserveCapacity(items.count)
        for item in items { result.append(try T(direct: item)) }
        return result
    }
}

extension ModelDeployment: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        apiVersion = try m.string("apiVersion")
        kind = try m.string("kind")
        metadata = try m.object("metadata")
        spec = try m.object("spec")
        status = try m.object(ifPresent: "status")
    }
}

extension ObjectMeta: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            name: try m.string(ifPresent: "name"), namespace: try m.string(ifPresent: "namespace"), labels: try m.stringMap(ifPresent: "labels"),
            annotations: try m.stringMap(ifPresent: "annotations"))
        generateName = try m.string(ifPresent: "generateName")
        uid = try m.string(ifPresent: "uid")
        resourceVersion = try m.string(ifPresent: "resourceVersion")
        generation = try m.int64(ifPresent: "generation")
        creationTimestamp = try m.string(ifPresent: "creationTimestamp")
        deletionTimestamp = try m.string(ifPresent: "deletionTimestamp")
        deletionGracePeriodSeconds = try m.int64(ifPresent: "deletionGracePeriodSeconds")
        finalizers = try m.strings(ifPresent: "finalizers")
        ownerReferences = try m.array(ifPresent: "ownerReferences")
        managedFields = try m.values(ifPresent: "managedFields")
    }
}

extension OwnerReference: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            apiVersion: try m.string("apiVersion"), kind: try m.string("kind"), name: try m.string("name"), uid: try m.string("uid"),
            controller: try m.bool(ifPresent: "controller"), blockOwnerDeletion: try m.bool(ifPresent: "blockOwnerDeletion"))
    }
}

extension Condition: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            type: try m.string("type"), status: try m.rawValue("status"), observedGeneration: try m.int64(ifPresent: "observedGeneration"),
            lastTransitionTime: try m.string("lastTransitionTime"), reason: try m.string("reason"), message: try m.string("message"))
    }
}

extension ModelDeployment.Spec: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            model: try m.object("model"), backend: try m.object("backend"), rollout: try m.object(ifPresent: "rollout"),
            revisionHistoryLimit: try m.int64(ifPresent: "revisionHistoryLimit"), shadow: try m.object(ifPresent: "shadow"),
            capture: try m.object(ifPresent: "capture"))
    }
}

extension ModelDeployment.Capture: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(sampleRate: try m.double("sampleRate"), maxBytes: try m.string(ifPresent: "maxBytes"))
    }
}

extension ModelDeployment.Shadow: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            version: try m.string("version"), percent: try m.int64(ifPresent: "percent"), compare: try m.object(ifPresent: "compare"),
            uri: try m.string(ifPresent: "uri"))
    }
}

extension ModelDeployment.Shadow.Compare: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(output: try m.string(ifPresent: "output"), mode: try m.rawValue(ifPresent: "mode"), tolerance: try m.double(ifPresent: "tolerance"))
    }
}

extension ModelDeployment.CanarySpec: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(steps: try m.array("steps"), analysis: try m.object(ifPresent: "analysis"))
    }
}

extension ModelDeployment.CanaryStep: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(setWeight: try m.int64(ifPresent: "setWeight"), pause: try m.object(ifPresent: "pause"), analysis: try m.object(ifPresent: "analysis"))
    }
}

extension ModelDeployment.Pause: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(duration: try m.string(ifPresent: "duration"))
    }
}

extension ModelDeployment.CanaryStatus: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            stableVersion: try m.string("stableVersion"), stableRevision: try m.string(ifPresent: "stableRevision"),
            canaryVersion: try m.string("canaryVersion"), canaryRevision: try m.string(ifPresent: "canaryRevision"), phase: try m.rawValue("phase"),
            step: try m.int64("step"), stepStartedAt: try m.string(ifPresent: "stepStartedAt"), weight: try m.int64("weight"),
            message: try m.string(ifPresent: "message"), lastRequest: try m.string(ifPresent: "lastRequest"),
            lastRequestRefused: try m.string(ifPresent: "lastRequestRefused"), startedAt: try m.string(ifPresent: "startedAt"))
    }
}

extension ModelDeployment.ShadowStatus: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            version: try m.string("version"), since: try m.string("since"), mirrored: try m.int64("mirrored"), dropped: try m.int64("dropped"),
            compared: try m.int64("compared"), agreement: try m.double(ifPresent: "agreement"), meanAbsDiff: try m.double(ifPresent: "meanAbsDiff"),
            errors: try m.int64("errors"), latency: try m.object(ifPresent: "latency"))
    }
}

extension ModelDeployment.ShadowLatency: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            primaryP50Ms: try m.double("primaryP50Ms"), primaryP99Ms: try m.double("primaryP99Ms"), shadowP50Ms: try m.double("shadowP50Ms"),
            shadowP99Ms: try m.double("shadowP99Ms"))
    }
}

extension ModelDeployment.Model: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(name: try m.string("name"), version: try m.string("version"), uri: try m.string(ifPresent: "uri"))
    }
}

extension ModelDeployment.Backend: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(triton: try m.object(ifPresent: "triton"), sagemaker: try m.object(ifPresent: "sagemaker"))
    }
}

extension ModelDeployment.Triton: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(url: try m.string("url"), modelConfig: m.value(ifPresent: "modelConfig"))
    }
}

extension ModelDeployment.SageMaker: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            region: try m.string("region"), image: try m.string("image"), executionRoleArn: try m.string("executionRoleArn"),
            instanceType: try m.string("instanceType"), initialInstanceCount: try m.int64(ifPresent: "initialInstanceCount"),
            endpointName: try m.string(ifPresent: "endpointName"), endpointURL: try m.string(ifPresent: "endpointURL"),
            trafficRouting: try m.object(ifPresent: "trafficRouting"), rollbackAlarms: try m.strings(ifPresent: "rollbackAlarms"))
    }
}

extension ModelDeployment.SageMaker.TrafficRouting: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            type: try m.rawValue("type"), stepPercent: try m.int64(ifPresent: "stepPercent"), waitIntervalSeconds: try m.int64(ifPresent: "waitIntervalSeconds")
        )
    }
}

extension ModelDeployment.Rollout: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            strategy: try m.rawValue(ifPresent: "strategy"), canary: try m.object(ifPresent: "canary"), blueGreen: try m.object(ifPresent: "blueGreen"),
            progressDeadlineSeconds: try m.int64(ifPresent: "progressDeadlineSeconds"),
            smokeInference: m.value(ifPresent: "smokeInference"))
    }
}

extension ModelDeployment.Status: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init()
        observedGeneration = try m.int64(ifPresent: "observedGeneration")
        phase = try m.rawValue(ifPresent: "phase")
        servingVersion = try m.string(ifPresent: "servingVersion")
        currentRevision = try m.string(ifPresent: "currentRevision")
        backend = try m.string(ifPresent: "backend")
        conditions = try m.array(ifPresent: "conditions")
        revisions = try m.array(ifPresent: "revisions")
        triton = try m.object(ifPresent: "triton")
        sagemaker = try m.object(ifPresent: "sagemaker")
        switch m.value(ifPresent: "extensions") {
        case .object(let members)?: extensions = members
        case nil, .null?: break
        default: throw JSONShapeMismatch()
        }
        traffic = try m.array(ifPresent: "traffic")
        trafficSummary = try m.string(ifPresent: "trafficSummary")
        canary = try m.object(ifPresent: "canary")
        shadow = try m.object(ifPresent: "shadow")
        analysis = try m.object(ifPresent: "analysis")
    }
}

extension ModelDeployment.TrafficTarget: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(revision: try m.string(ifPresent: "revision"), version: try m.string("version"), weight: try m.int64("weight"), role: try m.rawValue("role"))
    }
}

extension ModelDeployment.Revision: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            revision: try m.int64("revision"), hash: try m.string("hash"), version: try m.string("version"), createdAt: try m.string("createdAt"),
            cause: try m.string("cause"), spec: try m.value("spec"))
    }
}

extension ModelDeployment.TritonRecord: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(url: try m.string("url"), model: try m.string("model"), origin: try m.rawValue(ifPresent: "origin"))
    }
}

extension ModelDeployment.SageMakerRecord: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            region: try m.string("region"), endpointURL: try m.string(ifPresent: "endpointURL"), endpoint: try m.string("endpoint"),
            resources: try m.array("resources"), pendingConfig: try m.string(ifPresent: "pendingConfig"),
            splitConfigs: try m.strings(ifPresent: "splitConfigs"), shadowConfigs: try m.array(ifPresent: "shadowConfigs"),
            shadowModels: try m.array(ifPresent: "shadowModels"))
    }
}

extension ModelDeployment.SageMakerResource: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(name: try m.string("name"), version: try m.string("version"))
    }
}

extension ObjectReference: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            apiVersion: try m.string(ifPresent: "apiVersion"), kind: try m.string(ifPresent: "kind"), namespace: try m.string(ifPresent: "namespace"),
            name: try m.string(ifPresent: "name"), uid: try m.string(ifPresent: "uid"), resourceVersion: try m.string(ifPresent: "resourceVersion"))
        fieldPath = try m.string(ifPresent: "fieldPath")
    }
}

extension Event: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        self.init(
            metadata: try m.object("metadata"), eventTime: try m.string("eventTime"), reportingController: try m.string("reportingController"),
            reportingInstance: try m.string("reportingInstance"), action: try m.string("action"), reason: try m.string("reason"),
            regarding: try m.object("regarding"), note: try m.string(ifPresent: "note"), type: try m.rawValue("type"))
        apiVersion = try m.string("apiVersion")
        kind = try m.string("kind")
        series = try m.object(ifPresent: "series")
        related = try m.object(ifPresent: "related")
    }
}

extension Event.Series: DirectlyReadable {
    init(direct value: JSONValue) throws(JSONShapeMismatch) {
        let m = try JSONMembers(value)
        guard let count = Int32(exactly: try m.int64("count")) else { throw JSONShapeMismatch() }
        self.init(count: count, lastObservedTime: try m.string("lastObservedTime"))
    }
}
