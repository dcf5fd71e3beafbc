public import Foundation
public import HTTPClient
public import ModelplaneAPI

/// One row of Triton's repository index (`POST /v2/repository/index`).
public struct TritonModelState: Sendable, Hashable {
    public enum State: String, Sendable {
        case ready = "READY"
        case unavailable = "UNAVAILABLE"
        case loading = "LOADING"
        case unloading = "UNLOADING"
        case unknown = ""
    }

    public var name: String
    /// nil for a model known to the repository that has no loaded version.
    public var version: String?
    public var state: State
    /// Why a version is UNAVAILABLE (Triton's own words), or empty.
    public var reason: String

    public init(name: String, version: String?, state: State, reason: String = "") {
        self.name = name
        self.version = version
        self.state = state
        self.reason = reason
    }
}

/// Why Triton refused, or could not be reached.
public struct TritonError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable {
        /// Triton could not be reached, or timed out: worth retrying.
        case unreachable
        /// Triton answered with an error (`status`, `message` as Triton said it).
        case refused
        /// The answer was not what the protocol says.
        case protocolError
    }

    public var kind: Kind
    public var status: Int
    public var message: String

    public init(_ kind: Kind, status: Int = 0, _ message: String) {
        self.kind = kind
        self.status = status
        self.message = message
    }

    public var description: String {
        switch kind {
        case .unreachable: "Triton is unreachable: \(message)"
        case .refused: "Triton refused (HTTP \(status)): \(message)"
        case .protocolError: "unexpected answer from Triton: \(message)"
        }
    }
}

/// Triton's HTTP API (KServe v2 and the model-repository extension), as much as the controller
/// uses: health, the repository index, load with a config override and uploaded files, unload,
/// per-version readiness and inference.
public struct TritonClient: Sendable {
    public let baseURL: String
    let http: HTTPClient
    let timeout: Duration

    /// `baseURL`: `http://HOST:PORT` of Triton's HTTP endpoint.
    public init(baseURL: String, http: HTTPClient, timeout: Duration = .seconds(30)) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.http = http
        self.timeout = timeout
    }

    public func isReady() async -> Bool {
        (try? await send("GET", "/v2/health/ready").status) == 200
    }

    /// Every model the repository knows, with each loaded (or failed) version's state.
    public func index() async throws(TritonError) -> [TritonModelState] {
        let response = try await send("POST", "/v2/repository/index", body: "{}")
        guard response.status == 200 else { throw Self.refusal(response) }
        guard case .array(let rows) = try Self.json(response.body) else { throw TritonError(.protocolError, "the repository index is not an array") }
        return rows.map { row in
            TritonModelState(
                name: row["name"]?.stringValue ?? "", version: row["version"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 },
                state: TritonModelState.State(rawValue: row["state"]?.stringValue ?? "") ?? .unknown, reason: row["reason"]?.stringValue ?? "")
        }
    }

    /// Loads (or reloads) `model`. `config` replaces the repository's config.pbtxt; `files`
    /// (`VERSION/FILENAME` → contents) upload the model instead of reading the repository, and
    /// need a config. Triton keeps serving what was loaded before when a load fails.
    public func load(_ model: String, config: JSONValue?, files: [String: Data] = [:]) async throws(TritonError) {
        var parameters: [String: JSONValue] = [:]
        if let config { parameters["config"] = .string(config.canonicalText) }
        for (path, contents) in files { parameters["file:\(path)"] = .string(contents.base64EncodedString()) }
        let body: JSONValue = parameters.isEmpty ? [:] : ["parameters": .object(parameters)]
        let response = try await send("POST", "/v2/repository/models/\(Self.escape(model))/load", body: body.canonicalText, timeout: .seconds(600))
        guard response.status == 200 else { throw Self.refusal(response) }
    }

    /// The configuration Triton runs `model` with, as JSON (the model must be loaded).
    public func config(_ model: String) async throws(TritonError) -> JSONValue {
        let response = try await send("GET", "/v2/models/\(Self.escape(model))/config")
        guard response.status == 200 else { throw Self.refusal(response) }
        return try Self.json(response.body)
    }

    /// Unloads every version of `model` (asynchronously: the index shows UNLOADING first).
    public func unload(_ model: String) async throws(TritonError) {
        let response = try await send("POST", "/v2/repository/models/\(Self.escape(model))/unload", body: "{}")
        guard response.status == 200 else { throw Self.refusal(response) }
    }

    /// Whether `version` of `model` is loaded and ready to answer.
    public func isReady(_ model: String, version: String) async throws(TritonError) -> Bool {
        let response = try await send("GET", "/v2/models/\(Self.escape(model))/versions/\(Self.escape(version))/ready")
        return response.status == 200
    }

    /// The versions of `model` that are loaded (its metadata's `versions`), or none when Triton does
    /// not know the model. This sees models loaded from uploaded files, which the repository index
    /// leaves out.
    public func loadedVersions(_ model: String) async throws(TritonError) -> [String] {
        let response = try await send("GET", "/v2/models/\(Self.escape(model))")
        if response.status == 400 || response.status == 404 { return [] }
        guard response.status == 200 else { throw Self.refusal(response) }
        guard case .array(let versions)? = try Self.json(response.body)["versions"] else { return [] }
        return versions.compactMap(\.stringValue)
    }

    /// A KServe v2 inference request; returns the response document.
    public func infer(_ model: String, version: String?, request: JSONValue) async throws(TritonError) -> JSONValue {
        let path = "/v2/models/\(Self.escape(model))" + (version.map { "/versions/\(Self.escape($0))" } ?? "") + "/infer"
        let response = try await send("POST", path, body: request.canonicalText)
        guard response.status == 200 else { throw Self.refusal(response) }
        return try Self.json(response.body)
    }

    // MARK: - Plumbing

    private func send(_ method: String, _ path: String, body: String? = nil, timeout: Duration? = nil) async throws(TritonError) -> HTTPResponse {
        var headers: HTTPHeaders = [:]
        if body != nil { headers.set("Content-Type", "application/json") }
        do {
            return try await http.execute(
                HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body.map { Data($0.utf8) }, timeout: timeout ?? self.timeout))
        } catch {
            throw TritonError(.unreachable, "\(method) \(path): \(error)")
        }
    }

    private static func json(_ data: Data) throws(TritonError) -> JSONValue {
        do {
            return try JSONValue(parsing: data)
        } catch {
            throw TritonError(.protocolError, "\(error)")
        }
    }

    /// Triton's errors are `{"error": "..."}`.
    private static func refusal(_ response: HTTPResponse) -> TritonError {
        let message = (try? JSONValue(parsing: response.body))?["error"]?.stringValue ?? String(decoding: response.body.prefix(1024), as: UTF8.self)
        return TritonError(.refused, status: response.status, message)
    }

    private static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? segment
    }
}
