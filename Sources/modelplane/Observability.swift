import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import TrafficRouter

/// Prometheus metrics for everything the process emits through swift-metrics, and the probe
/// endpoints Kubernetes asks: `/healthz` (alive), `/readyz` (ready to work or to take over),
/// `/metrics` (Prometheus text format).
enum Observability {
    static let registry = PrometheusCollectorRegistry()

    /// Makes swift-metrics record into `registry`. Once per process, before any metric is made.
    static func bootstrap() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    /// Serves the endpoints on `address` (HOST:PORT; port 0 picks one) until cancelled; prints
    /// "modelplane: probes and metrics on http://HOST:PORT" once listening.
    /// `shadows`, `revisions`: a router's shadow figures and its figures per revision, served as
    /// JSON on `/shadows` and `/revisions` for a controller that runs apart from it
    /// (`--router-stats`).
    static func serve(
        address: String, shadows: ShadowStatistics? = nil, revisions: RevisionStatistics? = nil, ready: @escaping @Sendable () -> Bool
    ) async throws {
        guard let (host, port) = split(address) else { throw ValidationError("--http-address must be HOST:PORT or :PORT, got \(address)") }
        let router = Router()
        router.get("healthz") { _, _ in "ok\n" }
        router.get("readyz") { _, _ -> Response in
            let isReady = ready()
            return Response(
                status: isReady ? .ok : .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: isReady ? "ok\n" : "not ready\n")))
        }
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        if let shadows { router.get("shadows") { _, _ in json(shadows.snapshots()) } }
        if let revisions { router.get("revisions") { _, _ in json(revisions.snapshots()) } }
        var logger = Logger(label: "modelplane.probes")
        logger.logLevel = .warning
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "modelplane"),
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                FileHandle.standardOutput.write(Data("modelplane: probes and metrics on http://\(host):\(bound) (/healthz, /readyz, /metrics)\n".utf8))
            }, logger: logger)
        try await app.run()
    }

    /// "HOST:PORT", or ":PORT" for every address.
    static func split(_ address: String) -> (String, Int)? {
        guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65_535).contains(port) else {
            return nil
        }
        let host = String(address[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// A list as JSON; never an empty list that would read as "nothing counted" when it cannot be
/// written (the collector skips a router that answers otherwise for that round).
private func json(_ items: some Encodable) -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    do {
        return Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(data: try encoder.encode(items))))
    } catch {
        return Response(status: .internalServerError, body: ResponseBody(byteBuffer: ByteBuffer(string: "\(error)\n")))
    }
}
