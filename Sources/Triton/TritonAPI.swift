public import Foundation
public import ModelplaneAPI

/// What the controller needs from a Triton server. `TritonClient` speaks to a real one;
/// `InMemoryTriton` (in the test support) stands in where Triton itself is not the subject (the
/// controller benchmark), and `TritonContractTests` run the same scenario against both.
public protocol TritonAPI: Sendable {
    var baseURL: String { get }
    func index() async throws(TritonError) -> [TritonModelState]
    func load(_ model: String, config: JSONValue?, files: [String: Data]) async throws(TritonError)
    func config(_ model: String) async throws(TritonError) -> JSONValue
    func unload(_ model: String) async throws(TritonError)
    func isReady(_ model: String, version: String) async throws(TritonError) -> Bool
    func loadedVersions(_ model: String) async throws(TritonError) -> [String]
    func infer(_ model: String, version: String?, request: JSONValue) async throws(TritonError) -> JSONValue
}

extension TritonClient: TritonAPI {}

extension TritonAPI {
    /// `model`'s rows from `index`; for a model the index does not list (Triton leaves out models
    /// loaded from uploaded files), its loaded versions as READY rows.
    public func rows(of model: String, in index: [TritonModelState]) async throws(TritonError) -> [TritonModelState] {
        let rows = index.filter { $0.name == model }
        if !rows.isEmpty { return rows }
        return try await loadedVersions(model).map { TritonModelState(name: model, version: $0, state: .ready) }
    }
}
