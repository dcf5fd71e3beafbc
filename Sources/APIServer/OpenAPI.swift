import ModelplaneAPI

/// OpenAPI v3 discovery (`/openapi/v3` and one document per group-version), as much as kubectl
/// reads: it finds each kind's PATCH operation by `x-kubernetes-group-version-kind`, sees the
/// `fieldValidation` parameter and then lets the server validate (`fieldValidation=Strict`), and
/// it sees that PATCH takes merge and JSON patches but not strategic merge ones, as for any
/// custom resource. `kubectl explain` reads the schemas.
enum OpenAPI {
    static func index(_ resources: [ServedResource]) -> String {
        var paths: [String: JSONValue] = [:]
        for served in resources where served.view == nil {
            let key = served.type.group.isEmpty ? "api/\(served.type.version)" : "apis/\(served.type.group)/\(served.type.version)"
            paths[key] = ["serverRelativeURL": .string("/openapi/v3/\(key)")]
        }
        return JSONValue.object(["paths": .object(paths)]).canonicalText
    }

    static func document(group: String, version: String, _ resources: [ServedResource]) -> String? {
        let served = resources.filter { $0.type.group == group && $0.type.version == version && $0.view == nil }
        guard !served.isEmpty else { return nil }
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = [:]
        for resource in served {
            let type = resource.type
            let gvk: JSONValue = ["group": .string(group), "version": .string(version), "kind": .string(type.kind)]
            let schemaName = (group.split(separator: ".").reversed().joined(separator: ".")) + ".\(version).\(type.kind)"
            let reference: JSONValue = ["$ref": .string("#/components/schemas/\(schemaName)")]
            let body: JSONValue = ["content": ["application/json": ["schema": reference]]]
            let ok: JSONValue = ["200": ["description": "OK", "content": ["application/json": ["schema": reference]]]]
            let parameters: JSONValue = [
                ["name": "fieldValidation", "in": "query", "schema": ["type": "string", "enum": ["Ignore", "Warn", "Strict"]]],
                ["name": "fieldManager", "in": "query", "schema": ["type": "string"]],
                ["name": "dryRun", "in": "query", "schema": ["type": "string"]],
            ]
            func operation(_ action: String, body requestBody: JSONValue? = nil) -> JSONValue {
                var op: JSONValue = ["x-kubernetes-group-version-kind": gvk, "x-kubernetes-action": .string(action), "parameters": parameters, "responses": ok]
                if let requestBody { op["requestBody"] = requestBody }
                return op
            }
            let patchBody: JSONValue = [
                "content": [
                    "application/json-patch+json": ["schema": ["type": "object"]], "application/merge-patch+json": ["schema": ["type": "object"]],
                    "application/apply-patch+yaml": ["schema": ["type": "object"]],
                ]
            ]
            let base = "/apis/\(group)/\(version)" + (type.namespaced ? "/namespaces/{namespace}" : "") + "/\(type.plural)"
            paths[base] = ["get": operation("list"), "post": operation("post", body: body)]
            paths[base + "/{name}"] = [
                "get": operation("get"), "put": operation("put", body: body), "patch": operation("patch", body: patchBody), "delete": operation("delete"),
            ]
            if type.statusSubresource {
                paths[base + "/{name}/status"] = ["get": operation("get"), "put": operation("put", body: body), "patch": operation("patch", body: patchBody)]
            }
            var schema: JSONValue =
                type.kind == ModelDeployment.kind
                ? CustomResourceDefinition.openAPI(ModelDeployment.schema, root: true) : ["type": "object", "x-kubernetes-preserve-unknown-fields": true]
            schema["x-kubernetes-group-version-kind"] = [gvk]
            schemas[schemaName] = schema
        }
        let document: JSONValue = [
            "openapi": "3.0.0", "info": ["title": "Modelplane", "version": "v1alpha1"], "paths": .object(paths), "components": ["schemas": .object(schemas)],
        ]
        return document.canonicalText
    }
}
