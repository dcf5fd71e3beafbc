import Foundation
import ModelplaneAPI

/// Server-side `Table` output (`Accept: application/json;as=Table;g=meta.k8s.io;v=v1`), which is
/// how `kubectl get` shows a custom resource's printer columns.
struct TableColumn: Sendable {
    var name: String
    var type: String
    var description: String
    var priority: Int
    /// Parsed once: evaluated for every cell of every row.
    let path: JSONPathLite?

    init(name: String, type: String, jsonPath: String, description: String, priority: Int) {
        self.name = name
        self.type = type
        self.description = description
        self.priority = priority
        path = JSONPathLite(jsonPath)
    }
}

enum Table {
    static func wanted(_ request: APIRequest) -> Bool {
        (request.header("accept") ?? "").split(separator: ",").contains { $0.contains("as=Table") }
    }

    static func columnDefinitions(_ columns: [TableColumn]) -> JSONValue {
        var definitions: [JSONValue] = [
            ["name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0]
        ]
        for column in columns {
            definitions.append([
                "name": .string(column.name), "type": .string(column.type == "date" ? "date" : column.type), "format": "",
                "description": .string(column.description), "priority": .int(Int64(column.priority)),
            ])
        }
        return .array(definitions)
    }

    static func row(_ object: JSONValue, _ columns: [TableColumn], now: Date) -> JSONValue {
        var cells: [JSONValue] = [object["metadata"]?["name"] ?? ""]
        for column in columns {
            let value = column.path?.first(in: object)
            if column.type == "date" {
                cells.append(.string(value?.stringValue.flatMap { HumanAge.since($0, now: now) } ?? "<unknown>"))
            } else {
                switch value {
                case .string(let s)?: cells.append(.string(s))
                case .int(let i)?: cells.append(.int(i))
                case .bool(let b)?: cells.append(.bool(b))
                case .double(let d)?: cells.append(.double(d))
                default: cells.append(nil)
                }
            }
        }
        var metadata = object["metadata"] ?? [:]
        metadata["managedFields"] = nil
        return ["cells": .array(cells), "object": ["kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": metadata]]
    }

    static func table(rows: [JSONValue], columns: [TableColumn], resourceVersion: String, continueToken: String?) -> JSONValue {
        var metadata: JSONValue = ["resourceVersion": .string(resourceVersion)]
        if let continueToken { metadata["continue"] = .string(continueToken) }
        return ["kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata, "columnDefinitions": columnDefinitions(columns), "rows": .array(rows)]
    }
}

/// The JSONPath that printer columns use: `.a.b` and `[?(@.key=="value")]` filters.
struct JSONPathLite: Sendable {
    enum Step: Sendable {
        case member(String)
        case filter(key: String, value: String)
    }

    var steps: [Step] = []

    init?(_ path: String) {
        var rest = Substring(path)
        while !rest.isEmpty {
            if rest.hasPrefix("[?(@.") {
                guard let end = rest.range(of: ")]") else { return nil }
                let condition = rest[rest.index(rest.startIndex, offsetBy: 5)..<end.lowerBound]
                guard let equals = condition.range(of: "==") else { return nil }
                let key = String(condition[..<equals.lowerBound])
                let value = condition[equals.upperBound...].trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
                steps.append(.filter(key: key, value: value))
                rest = rest[end.upperBound...]
            } else if rest.hasPrefix(".") {
                rest = rest.dropFirst()
                // A member name ends at an unescaped '.' or '['; "\." is a dot inside the name
                // (annotation keys such as modelplane\.dev/git-commit).
                var name = ""
                while let next = rest.first, next != ".", next != "[" {
                    rest = rest.dropFirst()
                    if next == "\\", let escaped = rest.first {
                        name.append(escaped)
                        rest = rest.dropFirst()
                    } else {
                        name.append(next)
                    }
                }
                guard !name.isEmpty else { return nil }
                steps.append(.member(name))
            } else {
                return nil
            }
        }
    }

    /// The first value the path reaches, or nil.
    func first(in value: JSONValue) -> JSONValue? {
        var current: [JSONValue] = [value]
        for step in steps {
            switch step {
            case .member(let name):
                current = current.flatMap { item -> [JSONValue] in
                    if case .array(let items) = item { return items.compactMap { $0[name] } }
                    return item[name].map { [$0] } ?? []
                }
            case .filter(let key, let expected):
                current = current.flatMap { item -> [JSONValue] in
                    guard case .array(let items) = item else { return [] }
                    return items.filter { $0[key]?.stringValue == expected }
                }
            }
        }
        return current.first
    }
}
