import ModelplaneAPI
import ResourceStore

/// OpenAPI v3 discovery (`/openapi/v3` and one document per group-version), describing the server
/// as it behaves, in the shape of kube-apiserver's own documents: each path declares its
/// `{namespace}` and `{name}` parameters; lists answer `KindList`; every operation lists the
/// status codes the server answers, errors with `Status` bodies; PATCH takes a JSON Patch (an
/// array of operations) or a JSON merge patch, nothing else (strategic merge and apply patches
/// get 415, so they are not offered); a create links to the operations on what it created.
///
/// kubectl reads it too: it finds each kind's PATCH operation by `x-kubernetes-group-version-kind`,
/// sees the `fieldValidation` parameter and then lets the server validate, sees `dryRun` for
/// `kubectl diff`, and `kubectl explain` reads the schemas.
enum OpenAPI {
    static func index(_ resources: [ServedResource]) -> String {
        var paths: [String: JSONValue] = [:]
        for served in resources {
            let key = served.type.group.isEmpty ? "api/\(served.type.version)" : "apis/\(served.type.group)/\(served.type.version)"
            paths[key] = ["serverRelativeURL": .string("/openapi/v3/\(key)")]
        }
        return JSONValue.object(["paths": .object(paths)]).canonicalText
    }

    static let meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    static func reference(_ name: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(name)")] }

    static func document(group: String, version: String, _ resources: [ServedResource]) -> String? {
        let served = resources.filter { $0.type.group == group && $0.type.version == version }
        guard !served.isEmpty else { return nil }
        var paths: [String: JSONValue] = [:]
        var schemas: [String: JSONValue] = sharedSchemas
        for resource in served {
            let document = Resource(resource)
            for (path, item) in document.paths { paths[path] = item }
            schemas[document.schemaName] = document.schema
            schemas[document.schemaName + "List"] = document.listSchema
        }
        if group.isEmpty, version == "v1" {
            for (path, item) in namespacePaths { paths[path] = item }
            schemas["io.k8s.api.core.v1.Namespace"] = namespaceSchema
            schemas["io.k8s.api.core.v1.NamespaceList"] = [
                "type": "object", "required": ["items"], "additionalProperties": false,
                "properties": [
                    "apiVersion": ["type": "string"], "kind": ["type": "string", "enum": ["NamespaceList"]],
                    "metadata": reference(meta + "ListMeta"), "items": ["type": "array", "items": reference("io.k8s.api.core.v1.Namespace")],
                ],
            ]
        }
        let document: JSONValue = [
            "openapi": "3.0.0", "info": ["title": "Modelplane", "version": .string(version)], "paths": .object(paths),
            "components": ["schemas": .object(schemas), "securitySchemes": ["BearerToken": ["type": "http", "scheme": "bearer"]]],
            "security": [["BearerToken": []]],
        ]
        return document.canonicalText
    }

    /// One resource's paths and schemas.
    struct Resource {
        let served: ServedResource
        let type: ResourceType
        let schemaName: String
        /// The operation ids' stem: `ModelplaneDevV1alpha1`, `CoordinationV1`, `CoreV1`.
        let stem: String

        init(_ served: ServedResource) {
            self.served = served
            type = served.type
            let groupWords = type.group.isEmpty ? ["core"] : type.group.replacingOccurrences(of: ".k8s.io", with: "").split(separator: ".").map(String.init)
            stem = (groupWords + [type.version]).map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            let reversed = type.group.isEmpty ? "io.k8s.api.core" : type.group.split(separator: ".").reversed().joined(separator: ".")
            schemaName = "\(reversed).\(type.version).\(type.kind)"
        }

        var gvk: JSONValue { ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind)] }

        static func parameter(_ name: String, in place: String = "query", _ schema: JSONValue, _ description: String, required: Bool = false) -> JSONValue {
            var parameter: JSONValue = ["name": .string(name), "in": .string(place), "schema": schema, "description": .string(description)]
            if required { parameter["required"] = true }
            return parameter
        }

        static let string: JSONValue = ["type": "string"]
        static let namespace = parameter(
            "namespace", in: "path", pattern(NamePattern.label), "object name and auth scope, such as for teams and projects", required: true)

        static func pattern(_ rule: (pattern: String, maxLength: Int)) -> JSONValue {
            ["type": "string", "pattern": .string(rule.pattern), "maxLength": .int(Int64(rule.maxLength))]
        }
        static let dryRun = parameter(
            "dryRun", ["type": "string", "enum": ["All"]],
            "When present, the request is checked and answered as if it had been made, and nothing is stored. The only valid value is All.")
        static let booleanText = "A boolean: false (in any case) or 0 is false; any other value, empty included, is true."
        static let fieldManager = parameter("fieldManager", string, "A name for the actor making the change (accepted, not recorded).")
        static let fieldValidation = parameter(
            "fieldValidation", ["type": "string", "enum": ["Ignore", "Warn", "Strict"]],
            "Unknown fields are always refused here, as with Strict; a field given twice keeps its last value.")

        var name: JSONValue {
            Self.parameter("name", in: "path", Self.pattern(served.namePattern), "name of the \(type.kind)", required: true)
        }

        static func json(_ schema: JSONValue) -> JSONValue { ["application/json": ["schema": schema]] }
        static let status = json(reference(meta + "Status"))

        /// Responses: `codes` with their bodies; the errors every request can meet are added.
        func responses(_ codes: [(Int, String, JSONValue?)], links: JSONValue? = nil) -> JSONValue {
            var out: [String: JSONValue] = [:]
            for (code, description, content) in codes {
                var response: JSONValue = ["description": .string(description), "content": content ?? Self.status]
                if code == 201, let links { response["links"] = links }
                out[String(code)] = response
            }
            out["401"] = ["description": "Unauthorized: no or a wrong bearer token", "content": Self.status]
            return .object(out)
        }

        func operation(_ id: String, _ action: String, _ description: String, parameters: [JSONValue] = [], body: JSONValue? = nil, responses: JSONValue)
            -> JSONValue
        {
            var op: JSONValue = [
                "operationId": .string(id), "description": .string(description), "x-kubernetes-action": .string(action),
                "x-kubernetes-group-version-kind": gvk, "responses": responses, "tags": [.string(stem.prefix(1).lowercased() + stem.dropFirst())],
            ]
            if !parameters.isEmpty { op["parameters"] = .array(parameters) }
            if let body { op["requestBody"] = body }
            return op
        }

        /// The resource's paths: every operation, or only reads for a read-only view.
        var paths: [(String, JSONValue)] {
            guard served.view != nil else { return allPaths }
            return allPaths.filter { !$0.0.hasSuffix("/status") }.map { path, item in
                var item = item
                for method in ["post", "put", "patch", "delete"] { item[method] = nil }
                return (path, item)
            }
        }

        private var allPaths: [(String, JSONValue)] {
            let kind = type.kind
            let object = reference(schemaName)
            let one = Self.json(object)
            let namespaced = type.namespaced ? "Namespaced" : ""
            let prefix = type.group.isEmpty ? "/api/\(type.version)" : "/apis/\(type.group)/\(type.version)"
            let collection = prefix + (type.namespaced ? "/namespaces/{namespace}" : "") + "/\(type.plural)"
            let scope: [JSONValue] = type.namespaced ? [Self.namespace] : []
            let writeOptions = [Self.dryRun, Self.fieldManager, Self.fieldValidation]
            let body: JSONValue = ["required": true, "content": one]
            let invalid = (422, "Invalid: the object breaks the schema or a rule; causes name each field", JSONValue?.none)
            let badRequest = (400, "BadRequest: the body is not a JSON object of this kind, or names another namespace or name", JSONValue?.none)
            let notFound = (404, "NotFound", JSONValue?.none)
            let conflict = (409, "Conflict: a stale resourceVersion or a failed precondition", JSONValue?.none)
            let tooLarge = (413, "RequestEntityTooLarge: over 3 MiB", JSONValue?.none)
            // (Create and replace also take application/yaml bodies, as kube-apiserver does; the
            // documents offer JSON, which every client sends.)
            let unsupported = (415, "UnsupportedMediaType: a content type the operation does not take", JSONValue?.none)
            // Only where the path names a namespace.
            let noNamespace = type.namespaced ? [(404, "NotFound: the namespace is not a DNS label, so none by that name exists", JSONValue?.none)] : []

            let list = operation(
                "list\(stem)\(namespaced)\(kind)", "list", "list or watch objects of kind \(kind)",
                parameters: [
                    Self.parameter("labelSelector", Self.string, "A selector to restrict the list of returned objects by their labels."),
                    Self.parameter("fieldSelector", Self.string, "A selector to restrict the list of returned objects by their fields."),
                    Self.parameter("limit", ["type": "integer", "minimum": 0], "The most items to return; a continue token fetches the rest."),
                    Self.parameter("continue", Self.string, "The token a previous page returned."),
                    Self.parameter("resourceVersion", Self.string, "For a watch, the version to start after."),
                    // Read as kube-apiserver reads a boolean parameter, which any text is.
                    Self.parameter("watch", Self.string, "Watch for changes instead of listing (a stream of WatchEvents). " + Self.booleanText),
                    Self.parameter("allowWatchBookmarks", Self.string, "Send BOOKMARK events on a watch. " + Self.booleanText),
                    Self.parameter("timeoutSeconds", ["type": "integer", "minimum": 0], "End a watch after this many seconds."),
                ],
                responses: responses(
                    [
                        (
                            200, "OK",
                            [
                                "application/json": ["schema": reference(schemaName + "List")],
                                "application/json;stream=watch": ["schema": reference(meta + "WatchEvent")],
                            ]
                        ), (400, "BadRequest: an unparsable selector, continue token or resourceVersion", nil),
                        (410, "Expired: the continue token or resourceVersion is older than the history kept", nil),
                    ] + noNamespace))
            let itemPath = collection + "/{name}"
            let links: JSONValue = .object(
                Dictionary(
                    uniqueKeysWithValues: ["read", "replace", "patch", "delete"].flatMap { verb in
                        ([""] + (type.statusSubresource && verb != "delete" ? ["Status"] : [])).map { (verb, $0) }
                    }.map { verb, suffix in
                        var parameters: JSONValue = ["name": "$response.body#/metadata/name"]
                        if type.namespaced { parameters["namespace"] = "$response.body#/metadata/namespace" }
                        let id = "\(verb)\(stem)\(namespaced)\(kind)\(suffix)"
                        return (verb.prefix(1).uppercased() + verb.dropFirst() + kind + suffix, ["operationId": .string(id), "parameters": parameters])
                    }))
            let create = operation(
                "create\(stem)\(namespaced)\(kind)", "post", "create a \(kind)", parameters: writeOptions, body: body,
                responses: responses(
                    [
                        (201, "Created (or, with dryRun, what would be created)", one), badRequest, (405, "MethodNotAllowed", nil),
                        (409, "AlreadyExists", nil), tooLarge, unsupported, invalid,
                    ] + noNamespace, links: links))
            var collectionItem: JSONValue = ["parameters": .array(scope), "get": list, "post": create]
            if !type.namespaced { collectionItem["parameters"] = nil }
            var result: [(String, JSONValue)] = [(collection, collectionItem)]
            if type.namespaced {
                result.append(
                    (
                        prefix + "/\(type.plural)",
                        [
                            "get": operation(
                                "list\(stem)\(kind)ForAllNamespaces", "list", "list or watch objects of kind \(kind) in every namespace",
                                parameters: list["parameters"]?.arrayValue ?? [],
                                responses: list["responses"].map { responses in
                                    var all = responses
                                    all["404"] = nil
                                    return all
                                } ?? [:])
                        ]
                    ))
            }

            let patchBody: JSONValue = [
                "required": true,
                "content": [
                    "application/json-patch+json": ["schema": reference(meta + "JSONPatch")],
                    "application/merge-patch+json": ["schema": ["type": "object", "description": "A JSON merge patch (RFC 7386)."]],
                ],
            ]
            func itemOperations(_ suffix: String, _ what: String) -> JSONValue {
                [
                    "parameters": .array(scope + [name]),
                    "get": operation(
                        "read\(stem)\(namespaced)\(kind)\(suffix)", "get", "read \(what) of the specified \(kind)",
                        responses: responses([(200, "OK", one), notFound])),
                    "put": operation(
                        "replace\(stem)\(namespaced)\(kind)\(suffix)", "put", "replace \(what) of the specified \(kind)", parameters: writeOptions, body: body,
                        responses: responses([(200, "OK", one), badRequest, notFound, conflict, tooLarge, unsupported, invalid])),
                    "patch": operation(
                        "patch\(stem)\(namespaced)\(kind)\(suffix)", "patch", "partially update \(what) of the specified \(kind)", parameters: writeOptions,
                        body: patchBody, responses: responses([(200, "OK", one), badRequest, notFound, conflict, tooLarge, unsupported, invalid])),
                ]
            }
            var itemPathItem = itemOperations("", "the object")
            itemPathItem["delete"] = operation(
                "delete\(stem)\(namespaced)\(kind)", "delete", "delete a \(kind)", parameters: [Self.dryRun],
                body: ["required": false, "content": Self.json(reference(meta + "DeleteOptions"))],
                responses: responses([
                    (
                        200,
                        "OK: deleted, and the object's last state; or, held by finalizers, the object marked for deletion (with dryRun, what it would delete or mark)",
                        one
                    ),
                    (202, "Accepted: held by finalizers, and DeleteOptions asked for orphanDependents: false; the object, marked for deletion", one),
                    badRequest, notFound, conflict, tooLarge, invalid,
                ]))
            result.append((itemPath, itemPathItem))
            if type.statusSubresource { result.append((itemPath + "/status", itemOperations("Status", "status"))) }
            return result
        }

        /// The kind's schema, as strict as the server: `apiVersion` and `kind`, when given, name this
        /// type only, `metadata` (ObjectMeta with this kind's name rule) is required, and no object takes a
        /// field it does not declare (the server refuses unknown fields rather than drop them).
        var schema: JSONValue {
            var schema = CustomResourceDefinition.openAPI(served.schema ?? .freeform(description: type.kind), root: true)
            schema["properties"]?["apiVersion"] = [
                "type": "string", "enum": [JSONValue.string(type.apiVersion)], "description": "The versioned schema of this object.",
            ]
            schema["properties"]?["kind"] = ["type": "string", "enum": [JSONValue.string(type.kind)], "description": "The kind of this object."]
            if schema["properties"]?["metadata"] != nil {
                var metadata = CustomResourceDefinition.openAPI(ObjectMeta.schema, expandingOpaque: true)
                metadata["properties"]?["name"] = Self.pattern(served.namePattern)
                metadata["properties"]?["namespace"] = Self.pattern(NamePattern.label)
                metadata["properties"]?["labels"]?["additionalProperties"]?["pattern"] = "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
                metadata["anyOf"] = [["required": ["name"]], ["required": ["generateName"]]]
                schema["properties"]?["metadata"] = metadata
            }
            // (`apiVersion` and `kind` may be left out of a request: the server fills them in.)
            let required = schema["properties"]?["metadata"] == nil ? [] : ["metadata"]
            schema["required"] = .array((required + (schema["required"]?.arrayValue?.compactMap(\.stringValue) ?? [])).map(JSONValue.string))
            schema = Self.closed(schema)
            // (After `closed`: the branches only narrow what the spec declares.)
            if type.kind == ModelDeployment.kind {
                // Exactly one backend, and what each makes of the model's version and uri: rules
                // the CRD states in CEL and the server checks, in the terms a JSON Schema has.
                schema["properties"]?["spec"]?["oneOf"] = [
                    [
                        "properties": [
                            "backend": ["required": ["triton"], "not": ["required": ["sagemaker"]]],
                            "model": ["properties": ["version": ["pattern": "^[1-9][0-9]{0,17}$"], "uri": ["pattern": "^(/|file:///)"]]],
                        ]
                    ],
                    [
                        "properties": [
                            "backend": ["required": ["sagemaker"], "not": ["required": ["triton"]]],
                            "model": ["properties": ["uri": ["pattern": "^s3://[^/]+/.+$"]]],
                        ]
                    ],
                ]
            }
            schema["x-kubernetes-group-version-kind"] = [gvk]
            return schema
        }

        /// Every object schema with properties, and no `x-kubernetes-preserve-unknown-fields`,
        /// takes no other field.
        static func closed(_ schema: JSONValue) -> JSONValue {
            switch schema {
            case .object(var members):
                for (key, value) in members where key != "x-kubernetes-group-version-kind" {
                    if key == "properties", case .object(let properties) = value {
                        members[key] = .object(properties.mapValues(closed))
                    } else {
                        members[key] = closed(value)
                    }
                }
                if members["properties"] != nil, members["x-kubernetes-preserve-unknown-fields"] == nil, members["additionalProperties"] == nil {
                    members["additionalProperties"] = false
                }
                return .object(members)
            case .array(let items):
                return .array(items.map(closed))
            default:
                return schema
            }
        }

        var listSchema: JSONValue {
            [
                "type": "object", "required": ["items"], "description": .string("A list of \(type.kind) objects."),
                "properties": [
                    "apiVersion": ["type": "string"], "kind": ["type": "string", "enum": [.string(type.kind + "List")]],
                    "metadata": reference(meta + "ListMeta"), "items": ["type": "array", "items": reference(schemaName)],
                ],
                "x-kubernetes-group-version-kind": [
                    ["group": .string(type.group), "version": .string(type.version), "kind": .string(type.kind + "List")]
                ],
            ]
        }
    }

    /// Namespaces are not stored: every valid name exists (kubectl only reads them), and only
    /// `default` is listed.
    static var namespacePaths: [(String, JSONValue)] {
        let gvk: JSONValue = ["group": "", "version": "v1", "kind": "Namespace"]
        let status: JSONValue = ["application/json": ["schema": reference(meta + "Status")]]
        func read(_ id: String, _ description: String, _ schema: String, notFound: Bool) -> JSONValue {
            var responses: JSONValue = [
                "200": ["description": "OK", "content": ["application/json": ["schema": reference(schema)]]],
                "401": ["description": "Unauthorized: no or a wrong bearer token", "content": status],
            ]
            if notFound { responses["404"] = ["description": "NotFound: not a valid namespace name", "content": status] }
            return [
                "get": [
                    "operationId": .string(id), "description": .string(description), "x-kubernetes-action": notFound ? "get" : "list",
                    "x-kubernetes-group-version-kind": gvk, "tags": ["coreV1"], "responses": responses,
                ]
            ]
        }
        var item = read("readCoreV1Namespace", "read the specified Namespace (every valid name exists)", "io.k8s.api.core.v1.Namespace", notFound: true)
        item["parameters"] = [
            Resource.parameter("name", in: "path", Resource.pattern(NamePattern.label), "name of the Namespace", required: true)
        ]
        return [
            ("/api/v1/namespaces", read("listCoreV1Namespace", "list Namespaces", "io.k8s.api.core.v1.NamespaceList", notFound: false)),
            ("/api/v1/namespaces/{name}", item),
        ]
    }

    static var namespaceSchema: JSONValue {
        [
            "type": "object", "additionalProperties": false, "required": ["apiVersion", "kind", "metadata"],
            "x-kubernetes-group-version-kind": [["group": "", "version": "v1", "kind": "Namespace"]],
            "properties": [
                "apiVersion": ["type": "string", "enum": ["v1"]], "kind": ["type": "string", "enum": ["Namespace"]],
                "metadata": ["type": "object", "required": ["name"], "properties": ["name": ["type": "string"]]],
                "spec": ["type": "object", "properties": ["finalizers": ["type": "array", "items": ["type": "string"]]]],
                "status": ["type": "object", "properties": ["phase": ["type": "string", "enum": ["Active", "Terminating"]]]],
            ],
        ]
    }

    /// Status, ListMeta, ObjectMeta, DeleteOptions, WatchEvent and JSON Patch, as meta/v1 defines them.
    static var sharedSchemas: [String: JSONValue] {
        let string: JSONValue = ["type": "string"]
        let integer: JSONValue = ["type": "integer", "format": "int64"]
        let cause: JSONValue = ["type": "object", "properties": ["reason": string, "message": string, "field": string]]
        return [
            meta + "Status": [
                "type": "object", "description": "Why a request failed.",
                "properties": [
                    "apiVersion": string, "kind": ["type": "string", "enum": ["Status"]], "metadata": reference(meta + "ListMeta"),
                    "status": ["type": "string", "enum": ["Success", "Failure"]], "message": string, "reason": string,
                    "details": [
                        "type": "object",
                        "properties": [
                            "name": string, "group": string, "kind": string, "uid": string, "causes": ["type": "array", "items": cause],
                            "retryAfterSeconds": ["type": "integer", "format": "int32"],
                        ],
                    ],
                    "code": ["type": "integer", "format": "int32"],
                ],
            ],
            meta + "ListMeta": [
                "type": "object",
                "properties": ["resourceVersion": string, "continue": string, "remainingItemCount": integer, "selfLink": string],
            ],
            meta + "ObjectMeta": CustomResourceDefinition.openAPI(ObjectMeta.schema, expandingOpaque: true),
            // A null member is taken as absent, as Go's decoder takes it.
            meta + "DeleteOptions": {
                var options = CustomResourceDefinition.openAPI(KubernetesAPI.deleteOptions)
                for key in options["properties"]?.objectValue?.keys ?? [:].keys {
                    options["properties"]?[key]?["nullable"] = true
                    if let values = options["properties"]?[key]?["enum"]?.arrayValue { options["properties"]?[key]?["enum"] = .array(values + [.null]) }
                }
                return Resource.closed(options)
            }(),
            meta + "WatchEvent": [
                "type": "object", "required": ["type", "object"],
                "properties": ["type": ["type": "string", "enum": ["ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"]], "object": ["type": "object"]],
            ],
            meta + "JSONPatch": [
                "type": "array", "description": "A JSON Patch (RFC 6902): a list of operations.",
                "items": [
                    "type": "object", "required": ["op", "path"],
                    "properties": [
                        "op": ["type": "string", "enum": ["add", "remove", "replace", "move", "copy", "test"]], "path": string, "from": string, "value": [:],
                    ],
                ],
            ],
        ]
    }
}
