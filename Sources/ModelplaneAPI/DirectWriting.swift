/// Writing the API types straight into a `JSONValue`, the counterpart of `DirectReading.swift`:
/// `JSONValueEncoder` takes `directJSON` instead of running `encode(to:)` through its generic
/// containers. The result is what the synthesized `Encodable` conformances give (nil members
/// left out); `JSONValueEncoderTests` hold it to Foundation's `JSONEncoder`.
protocol DirectlyWritable {
    var directJSON: JSONValue { get }
}

/// One JSON object being written the way synthesized `Encodable` conformances write it.
struct JSONObjectWriter {
    private(set) var members: [String: JSONValue] = [:]

    init(capacity: Int) { members.reserveCapacity(capacity) }

    var value: JSONValue { .object(members) }

    mutating func set(_ key: String, _ value: String?) { if let value { members[key] = .string(value) } }
    mutating func set(_ key: String, _ value: Int64?) { if let value { members[key] = .int(value) } }
    mutating func set(_ key: String, _ value: Bool?) { if let value { members[key] = .bool(value) } }
    /// A number JSON cannot write (NaN, infinity) is left out rather than written as invalid JSON.
    mutating func set(_ key: String, _ value: Double?) { if let value, value.isFinite { members[key] = .double(value) } }
    mutating func set(_ key: String, _ value: JSONValue?) { if let value { members[key] = value } }
    mutating func set(_ key: String, _ value: (some DirectlyWritable)?) { if let value { members[key] = value.directJSON } }
    mutating func set<T: RawRepresentable>(_ key: String, _ value: T?) where T.RawValue == String {
        if let value { members[key] = .string(value.rawValue) }
    }
    mutating func set(_ key: String, _ value: [some DirectlyWritable]?) { if let value { members[key] = .array(value.map(\.directJSON)) } }
    mutating func set(_ key: String, _ value: [String]?) { if let value { members[key] = .array(value.map(JSONValue.string)) } }
    mutating func set(_ key: String, _ value: [JSONValue]?) { if let value { members[key] = .array(value) } }
    mutating func set(_ key: String, _ value: [String: String]?) { if let value { members[key] = .object(value.mapValues(JSONValue.string)) } }
}

extension ModelDeployment: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 5)
        o.set("apiVersion", apiVersion)
        o.set("kind", kind)
        o.set("metadata", metadata)
        o.set("spec", spec)
        o.set("status", status)
        return o.value
    }
}

extension ObjectMeta: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 8)
        o.set("name", name)
        o.set("generateName", generateName)
        o.set("namespace", namespace)
        o.set("uid", uid)
        o.set("resourceVersion", resourceVersion)
        o.set("generation", generation)
        o.set("creationTimestamp", creationTimestamp)
        o.set("deletionTimestamp", deletionTimestamp)
        o.set("deletionGracePeriodSeconds", deletionGracePeriodSeconds)
        o.set("labels", labels)
        o.set("annotations", annotations)
        o.set("finalizers", finalizers)
        o.set("ownerReferences", ownerReferences)
        o.set("managedFields", managedFields)
        return o.value
    }
}

extension OwnerReference: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 8)
        o.set("apiVersion", apiVersion)
        o.set("kind", kind)
        o.set("name", name)
        o.set("uid", uid)
        o.set("controller", controller)
        o.set("blockOwnerDeletion", blockOwnerDeletion)
        return o.value
    }
}

extension Condition: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 6)
        o.set("type", type)
        o.set("status", status)
        o.set("observedGeneration", observedGeneration)
        o.set("lastTransitionTime", lastTransitionTime)
        o.set("reason", reason)
        o.set("message", message)
        return o.value
    }
}

extension ModelDeployment.Spec: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 4)
        o.set("model", model)
        o.set("backend", backend)
        o.set("rollout", rollout)
        o.set("revisionHistoryLimit", revisionHistoryLimit)
        o.set("shadow", shadow)
        o.set("capture", capture)
        return o.value
    }
}

extension ModelDeployment.Capture: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("sampleRate", sampleRate)
        o.set("maxBytes", maxBytes)
        return o.value
    }
}

extension ModelDeployment.Shadow: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 4)
        o.set("version", version)
        o.set("percent", percent)
        o.set("compare", compare)
        o.set("uri", uri)
        return o.value
    }
}

extension ModelDeployment.Shadow.Compare: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("output", output)
        o.set("mode", mode)
        o.set("tolerance", tolerance)
        return o.value
    }
}

extension ModelDeployment.CanarySpec: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("steps", steps)
        o.set("analysis", analysis)
        return o.value
    }
}

extension ModelDeployment.CanaryStep: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 1)
        o.set("setWeight", setWeight)
        o.set("pause", pause)
        o.set("analysis", analysis)
        return o.value
    }
}

extension ModelDeployment.Pause: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 1)
        o.set("duration", duration)
        return o.value
    }
}

extension ModelDeployment.CanaryStatus: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 10)
        o.set("stableVersion", stableVersion)
        o.set("stableRevision", stableRevision)
        o.set("canaryVersion", canaryVersion)
        o.set("canaryRevision", canaryRevision)
        o.set("phase", phase)
        o.set("step", step)
        o.set("stepStartedAt", stepStartedAt)
        o.set("weight", weight)
        o.set("message", message)
        o.set("lastRequest", lastRequest)
        o.set("lastRequestRefused", lastRequestRefused)
        o.set("startedAt", startedAt)
        return o.value
    }
}

extension ModelDeployment.ShadowStatus: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 9)
        o.set("version", version)
        o.set("since", since)
        o.set("mirrored", mirrored)
        o.set("dropped", dropped)
        o.set("compared", compared)
        o.set("agreement", agreement)
        o.set("meanAbsDiff", meanAbsDiff)
        o.set("errors", errors)
        o.set("latency", latency)
        return o.value
    }
}

extension ModelDeployment.ShadowLatency: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 4)
        o.set("primaryP50Ms", primaryP50Ms)
        o.set("primaryP99Ms", primaryP99Ms)
        o.set("shadowP50Ms", shadowP50Ms)
        o.set("shadowP99Ms", shadowP99Ms)
        return o.value
    }
}

extension ModelDeployment.Model: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("name", name)
        o.set("version", version)
        o.set("uri", uri)
        return o.value
    }
}

extension ModelDeployment.Backend: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 1)
        o.set("triton", triton)
        o.set("sagemaker", sagemaker)
        return o.value
    }
}

extension ModelDeployment.Triton: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("url", url)
        o.set("modelConfig", modelConfig)
        return o.value
    }
}

extension ModelDeployment.SageMaker: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 9)
        o.set("region", region)
        o.set("image", image)
        o.set("executionRoleArn", executionRoleArn)
        o.set("instanceType", instanceType)
        o.set("initialInstanceCount", initialInstanceCount)
        o.set("endpointName", endpointName)
        o.set("endpointURL", endpointURL)
        o.set("trafficRouting", trafficRouting)
        o.set("rollbackAlarms", rollbackAlarms)
        return o.value
    }
}

extension ModelDeployment.SageMaker.TrafficRouting: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("type", type)
        o.set("stepPercent", stepPercent)
        o.set("waitIntervalSeconds", waitIntervalSeconds)
        return o.value
    }
}

extension ModelDeployment.Rollout: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("strategy", strategy)
        o.set("canary", canary)
        o.set("blueGreen", blueGreen)
        o.set("progressDeadlineSeconds", progressDeadlineSeconds)
        o.set("smokeInference", smokeInference)
        return o.value
    }
}

extension ModelDeployment.Status: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 11)
        o.set("observedGeneration", observedGeneration)
        o.set("phase", phase)
        o.set("servingVersion", servingVersion)
        o.set("currentRevision", currentRevision)
        o.set("backend", backend)
        o.set("conditions", conditions)
        o.set("revisions", revisions)
        o.set("triton", triton)
        o.set("sagemaker", sagemaker)
        o.set("extensions", extensions.map(JSONValue.object))
        o.set("traffic", traffic)
        o.set("trafficSummary", trafficSummary)
        o.set("canary", canary)
        o.set("shadow", shadow)
        o.set("analysis", analysis)
        return o.value
    }
}

extension ModelDeployment.TrafficTarget: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 4)
        o.set("revision", revision)
        o.set("version", version)
        o.set("weight", weight)
        o.set("role", role)
        return o.value
    }
}

extension ModelDeployment.Revision: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 6)
        o.set("revision", revision)
        o.set("hash", hash)
        o.set("version", version)
        o.set("createdAt", createdAt)
        o.set("cause", cause)
        o.set("spec", spec)
        return o.value
    }
}

extension ModelDeployment.TritonRecord: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 3)
        o.set("url", url)
        o.set("model", model)
        if let origin { o.set("origin", origin.rawValue) }
        return o.value
    }
}

extension ModelDeployment.SageMakerRecord: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 6)
        o.set("region", region)
        o.set("endpointURL", endpointURL)
        o.set("endpoint", endpoint)
        o.set("resources", resources)
        o.set("pendingConfig", pendingConfig)
        o.set("splitConfigs", splitConfigs)
        o.set("shadowConfigs", shadowConfigs)
        o.set("shadowModels", shadowModels)
        return o.value
    }
}

extension ModelDeployment.SageMakerResource: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("name", name)
        o.set("version", version)
        return o.value
    }
}

extension ObjectReference: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 7)
        o.set("apiVersion", apiVersion)
        o.set("kind", kind)
        o.set("namespace", namespace)
        o.set("name", name)
        o.set("uid", uid)
        o.set("resourceVersion", resourceVersion)
        o.set("fieldPath", fieldPath)
        return o.value
    }
}

extension Event: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 13)
        o.set("apiVersion", apiVersion)
        o.set("kind", kind)
        o.set("metadata", metadata)
        o.set("eventTime", eventTime)
        o.set("series", series)
        o.set("reportingController", reportingController)
        o.set("reportingInstance", reportingInstance)
        o.set("action", action)
        o.set("reason", reason)
        o.set("regarding", regarding)
        o.set("related", related)
        o.set("note", note)
        o.set("type", type)
        return o.value
    }
}

extension Event.Series: DirectlyWritable {
    var directJSON: JSONValue {
        var o = JSONObjectWriter(capacity: 2)
        o.set("count", Int64(count))
        o.set("lastObservedTime", lastObservedTime)
        return o.value
    }
}
