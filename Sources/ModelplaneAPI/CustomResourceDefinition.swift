/// Generates the apiextensions.k8s.io/v1 CustomResourceDefinition for ModelDeployment from
/// `ModelDeployment.schema`. `crds/modelplane.dev_modeldeployments.yaml` is this, rendered as YAML;
/// a test fails when the committed file and the generator disagree (`modelplane crd > FILE` fixes it).
public enum CustomResourceDefinition {
    public struct PrinterColumn: Sendable {
        public var name: String
        public var type: String
        public var jsonPath: String
        public var description: String
        public var priority: Int = 0
    }

    /// What `kubectl get` shows (priority 1 only with `-o wide`). The embedded API server's Table
    /// output reads the same list.
    public static let printerColumns: [PrinterColumn] = [
        .init(name: "Model", type: "string", jsonPath: ".spec.model.name", description: "The model's name at the backend"),
        .init(name: "Version", type: "string", jsonPath: ".spec.model.version", description: "Desired version"),
        .init(name: "Serving", type: "string", jsonPath: ".status.servingVersion", description: "Version serving now"),
        .init(name: "Traffic", type: "string", jsonPath: ".status.trafficSummary", description: "Versions taking requests, with weights (2:90 3:10 +4 shadow)"),
        .init(name: "Backend", type: "string", jsonPath: ".status.backend", description: "Serving backend"),
        .init(name: "Ready", type: "string", jsonPath: ".status.conditions[?(@.type==\"Ready\")].status", description: "Ready condition"),
        .init(name: "Phase", type: "string", jsonPath: ".status.phase", description: "Rollout phase"),
        .init(name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "Time since creation"),
        .init(name: "Revision", type: "string", jsonPath: ".status.currentRevision", description: "Current revision hash", priority: 1),
        .init(name: "Strategy", type: "string", jsonPath: ".spec.rollout.strategy", description: "Rollout strategy", priority: 1),
        .init(
            name: "Commit", type: "string", jsonPath: ".metadata.annotations.modelplane\\.dev/git-commit",
            description: "The Git commit that last changed it (synced deployments)", priority: 1),
    ]

    public static var modelDeployment: JSONValue {
        let md = ModelDeployment.self
        let columns: [JSONValue] = printerColumns.map { column in
            var fields: [String: JSONValue] = [
                "name": .string(column.name), "type": .string(column.type),
                "jsonPath": .string(column.jsonPath), "description": .string(column.description),
            ]
            if column.priority != 0 { fields["priority"] = .int(Int64(column.priority)) }
            return .object(fields)
        }
        return .object([
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": .object([
                "name": .string("\(md.plural).\(md.group)"),
                "labels": .object(["app.kubernetes.io/name": "modelplane", "app.kubernetes.io/part-of": "modelplane"]),
            ]),
            "spec": .object([
                "group": .string(md.group),
                "scope": "Namespaced",
                "names": .object([
                    "kind": .string(md.kind),
                    "listKind": .string(md.kind + "List"),
                    "plural": .string(md.plural),
                    "singular": .string(md.singular),
                    "shortNames": .array(md.shortNames.map(JSONValue.string)),
                    "categories": .array(md.categories.map(JSONValue.string)),
                ]),
                "versions": .array([
                    .object([
                        "name": .string(md.version),
                        "served": true,
                        "storage": true,
                        "subresources": .object(["status": .object([:])]),
                        "additionalPrinterColumns": .array(columns),
                        "schema": .object(["openAPIV3Schema": openAPI(md.schema, root: true)]),
                    ])
                ]),
            ]),
        ])
    }

    /// The OpenAPI v3 form of a schema, structural as apiextensions.k8s.io/v1 requires.
    /// `expandingOpaque`: also the properties of objects a CRD leaves opaque (`metadata`), for
    /// the API server's own OpenAPI document, which describes metadata as kube-apiserver does.
    public static func openAPI(_ schema: Schema, root: Bool = false, expandingOpaque: Bool = false) -> JSONValue {
        var out: [String: JSONValue] = ["description": .string(schema.description)]
        switch schema {
        case .object(let object):
            out["type"] = "object"
            if object.opaqueInCRD, !expandingOpaque { break }
            var properties: [String: JSONValue] = [:]
            for property in object.properties {
                // apiVersion/kind enums would stop a future version from being served; keep them open.
                if root, property.name == "apiVersion" || property.name == "kind" {
                    properties[property.name] = .object(["type": "string", "description": .string(property.schema.description)])
                } else {
                    var described = openAPI(property.schema, expandingOpaque: expandingOpaque)
                    if let defaultValue = property.defaultValue { described["default"] = defaultValue }
                    properties[property.name] = described
                }
            }
            out["properties"] = .object(properties)
            let required = object.properties.filter(\.required).map(\.name).filter { !root || $0 == "spec" }
            if !required.isEmpty { out["required"] = .array(required.map(JSONValue.string)) }
            if !object.rules.isEmpty {
                out["x-kubernetes-validations"] = .array(
                    object.rules.map { rule in
                        var fields: [String: JSONValue] = ["rule": .string(rule.rule), "message": .string(rule.message)]
                        if let path = rule.fieldPath { fields["fieldPath"] = .string(path) }
                        return .object(fields)
                    })
            }
        case .string(let s):
            out["type"] = "string"
            if let values = s.enumValues { out["enum"] = .array(values.map(JSONValue.string)) }
            if let pattern = s.pattern { out["pattern"] = .string(pattern) }
            if let min = s.minLength { out["minLength"] = .int(Int64(min)) }
            if let max = s.maxLength { out["maxLength"] = .int(Int64(max)) }
            if let format = s.format { out["format"] = .string(format) }
        case .integer(let i):
            out["type"] = "integer"
            out["format"] = .string(i.format)
            if let min = i.minimum { out["minimum"] = .int(min) }
            if let max = i.maximum { out["maximum"] = .int(max) }
        case .number(let n):
            out["type"] = "number"
            if let min = n.minimum { out["minimum"] = .double(min) }
            if let max = n.maximum { out["maximum"] = .double(max) }
        case .boolean:
            out["type"] = "boolean"
        case .array(let items, _, let maxItems):
            out["type"] = "array"
            out["items"] = openAPI(items, expandingOpaque: expandingOpaque)
            if let maxItems { out["maxItems"] = .int(Int64(maxItems)) }
        case .map(let values, _):
            out["type"] = "object"
            out["additionalProperties"] = openAPI(values, expandingOpaque: expandingOpaque)
        case .freeform:
            out["type"] = "object"
            out["x-kubernetes-preserve-unknown-fields"] = true
        }
        return .object(out)
    }
}
