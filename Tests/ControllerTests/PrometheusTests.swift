import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

/// A real Prometheus (Debian's, installed by scripts/install-system-deps) scrapes
/// `modelplane serve --http-address`, and the controller's metrics are read back through its
/// query API: the exposition is one Prometheus parses, with the names and labels the docs give.
@Suite(.timeLimit(.minutes(3))) struct PrometheusTests {
    @Test func prometheusScrapesServeAndAnswersWithTheControllersMetrics() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-prometheus-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let serve = try await PeerProcess.modelplaneServe(data: directory, controller: true, extraArguments: ["--http-address", "127.0.0.1:0"])
        defer { serve.stop() }
        #expect(await serve.waitForOutput { $0.contains("probes and metrics on http://127.0.0.1:") })
        let metricsPort = try #require(
            serve.log.split(separator: "\n").first { $0.hasPrefix("modelplane: probes and metrics on") }
                .flatMap { $0.split(separator: " ")[5].split(separator: ":").last }.flatMap { Int($0) })

        // A deployment whose Triton is unreachable: reconciled, and retried, with transient errors.
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        _ = try await kube.create(
            ModelDeployment(name: "a", spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://127.0.0.1:9")))))

        let config = directory + "/prometheus.yml"
        try """
        global: {scrape_interval: 1s, scrape_timeout: 1s}
        scrape_configs: [{job_name: modelplane, static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]}]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        guard let prometheusBinary = Subprocess.find("prometheus") else { throw PeerError("prometheus is missing: run scripts/setup-peers") }
        let prometheus = try await PeerProcess.start(
            "/bin/sh",
            [
                "-c",
                "exec '\(prometheusBinary)' --config.file='\(config)' --storage.tsdb.path='\(directory)/prometheus-data' --web.listen-address=127.0.0.1:0 2>&1",
            ]
        ) { line in
            // level=info ... msg="Listening on" address=127.0.0.1:PORT
            guard line.contains(#"msg="Listening on""#), let address = line.split(separator: "address=").last else { return nil }
            return Int(address.split(separator: ":").last ?? "")
        }
        defer { prometheus.stop() }

        let http = HTTPClient()
        defer { http.shutdown() }
        func get(_ path: String) async throws -> JSONValue {
            try JSONValue(parsing: try await http.execute(HTTPRequest(url: "http://127.0.0.1:\(prometheus.port)" + path)).body)
        }

        // Read back through PromQL until the scrapes have seen the reconciles.
        let query = "sum by (outcome) (modelplane_reconcile_total)"
        let path = "/api/v1/query?query=" + (query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        var outcomes: [String: Double] = [:]
        let deadline = ContinuousClock.now + .seconds(60)
        while outcomes["transient_error"] ?? 0 < 1, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            guard let answer = try? await get(path) else { continue }
            #expect(answer["status"] == "success", "\(answer)")
            for series in answer["data"]?["result"]?.arrayValue ?? [] {
                if let outcome = series["metric"]?["outcome"]?.stringValue, let value = series["value"]?.arrayValue?.last?.stringValue.flatMap(Double.init) {
                    outcomes[outcome] = value
                }
            }
        }
        #expect((outcomes["transient_error"] ?? 0) >= 1, "\(outcomes)\n\(prometheus.log)")
        // The target is up, and the queue and duration metrics came with it.
        let targets = try await get("/api/v1/targets")
        #expect(targets["data"]?["activeTargets"]?.arrayValue?.first?["health"] == "up", "\(targets)")
        let names = try await get("/api/v1/label/__name__/values")
        let known = Set(names["data"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for name in ["modelplane_reconcile_total", "modelplane_reconcile_duration_seconds_bucket", "modelplane_workqueue_depth"] {
            #expect(known.contains(name), "\(known.sorted())")
        }
    }
}
