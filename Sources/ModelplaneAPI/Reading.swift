extension ModelDeployment {
    /// Reads a JSON object as a ModelDeployment and checks it completely: its shape against the
    /// schema (unknown fields, types, enums, bounds) and its meaning (`validate()`). Returns the
    /// deployment when there is no problem; otherwise every problem found, each once.
    ///
    /// Fields the schema rejects are dropped before decoding, so semantic validation still runs
    /// on the rest: one pass reports everything rather than one layer at a time. The manifest
    /// reader and the API server both read through here.
    public static func read(_ value: JSONValue) -> (deployment: ModelDeployment?, problems: [FieldError]) {
        var problems: [FieldError] = []
        schema.check(value, into: &problems)
        var readable = value
        for problem in problems { readable.remove(at: problem.path) }
        guard let deployment = try? JSONValueCoding.decode(ModelDeployment.self, from: readable) else {
            if problems.isEmpty { problems.append(FieldError(.invalid, FieldPath(), "cannot be read as a ModelDeployment")) }
            return (nil, problems)
        }
        let reported = Set(problems.map(\.path))
        problems += deployment.validate().filter { !reported.contains($0.path) }
        return (problems.isEmpty ? deployment : nil, problems)
    }

    /// Checks an update through the main resource against the object it replaces. The status is
    /// not judged: the update keeps the stored one, whatever it sends. Where the spec is the
    /// stored one too (a finalizer, a label, an annotation changed), only the rest is judged: the
    /// spec passed when it was written, and, as kube-apiserver's validation ratcheting does, a
    /// field nobody changed does not fail an update for a rule that came later. Anything else is
    /// checked completely, as `read` does.
    public static func readUpdate(_ value: JSONValue, replacing stored: JSONValue) -> [FieldError] {
        var value = value
        value["status"] = nil
        guard let spec = value["spec"], spec == stored["spec"] else { return read(value).problems }
        var problems: [FieldError] = []
        unchangedSpecSchema.check(value, into: &problems)
        guard problems.isEmpty else { return problems }
        guard let metadata = try? JSONValueCoding.decode(ObjectMeta.self, from: value["metadata"] ?? .null) else {
            return [FieldError(.invalid, FieldPath("metadata"), "cannot be read as object metadata")]
        }
        validate(metadata, into: &problems)
        return problems
    }

    /// `schema` with the spec taken as it is: what `readUpdate` checks of an update that leaves
    /// the spec as stored.
    static let unchangedSpecSchema: Schema = {
        guard case .object(let object) = schema else { preconditionFailure("a ModelDeployment's schema is an object's") }
        return .object(
            ObjectSchema(
                object.description,
                properties: object.properties.map { property in
                    property.name == "spec" ? .optional("spec", .freeform(description: "")) : property
                }, rules: object.rules))
    }()

    /// Checks a status written through the status subresource: its shape against the schema,
    /// and that it reads as a `Status`. Nothing else of the object changes through /status, and
    /// it was checked completely when it was written (kube-apiserver likewise lets fields that do
    /// not change stay as they are); checking only the status keeps the controller's most
    /// frequent write cheap.
    public static func readStatus(_ status: JSONValue?) -> [FieldError] {
        guard let status, status != .null else { return [] }
        var problems: [FieldError] = []
        statusSchema.check(status, at: FieldPath("status"), into: &problems)
        if problems.isEmpty, (try? JSONValueCoding.decode(Status.self, from: status)) == nil {
            problems.append(FieldError(.invalid, FieldPath("status"), "cannot be read as a ModelDeployment status"))
        }
        return problems
    }
}
