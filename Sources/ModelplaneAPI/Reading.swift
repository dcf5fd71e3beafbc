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
