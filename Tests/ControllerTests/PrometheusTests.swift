import Controller
import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport
import Rollout
import Testing

/// A real Prometheus (Debian's, installed by scripts/install-system-deps) scrapes
/// `modelplane serve --http-address`, and the API port itself (HTTPS with serve's CA, the bearer
/// token), and the controller's and the API server's metrics are read back through its query API:
/// the exposition is one Prometheus parses, with the names and labels the docs give.
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
        scrape_configs:
        - {job_name: modelplane, static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]}
        - job_name: modelplane-api
          scheme: https
          tls_config: {ca_file: "\(directory)/ca.crt"}
          authorization: {credentials_file: "\(directory)/token"}
          static_configs: [{targets: ["127.0.0.1:\(serve.port)"]}]
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let prometheus = try await Self.prometheus(config: config, directory: directory)
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
        // Both targets are up (the second may not have been scraped yet), and the API server's
        // own metrics came with them: the create above, by verb, resource and code.
        let creates =
            "/api/v1/query?query="
            + ("apiserver_request_total{job=\"modelplane-api\",verb=\"create\",resource=\"modeldeployments\",code=\"201\"}"
                .addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
        var health: [JSONValue?] = []
        var created: Double?
        let scraped = ContinuousClock.now + .seconds(30)
        while health != ["up", "up"] || created == nil, ContinuousClock.now < scraped {
            let targets = try await get("/api/v1/targets")
            health = targets["data"]?["activeTargets"]?.arrayValue?.map { $0["health"] } ?? []
            created = try await get(creates)["data"]?["result"]?.arrayValue?.first?["value"]?.arrayValue?.last?.stringValue.flatMap(Double.init)
            if health != ["up", "up"] || created == nil { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(health == ["up", "up"], "\(health)")
        #expect(created ?? 0 >= 1, "\(String(describing: created))")
        let names = try await get("/api/v1/label/__name__/values")
        let known = Set(names["data"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        for name in [
            "modelplane_reconcile_total", "modelplane_reconcile_duration_seconds_bucket", "modelplane_workqueue_depth",
            "apiserver_request_duration_seconds_bucket",
            "apiserver_registered_watchers", "modelplane_store_commit_duration_seconds_bucket",
        ] {
            #expect(known.contains(name), "\(known.sorted())")
        }
    }

    /// A real Prometheus with `config`, its data under `directory`, on a free port.
    static func prometheus(config: String, directory: String, port: Int = 0) async throws -> PeerProcess {
        guard let prometheusBinary = Subprocess.find("prometheus") else { throw PeerError("prometheus is missing: run scripts/setup-peers") }
        return try await PeerProcess.start(
            "/bin/sh",
            [
                "-c",
                "exec '\(prometheusBinary)' --config.file='\(config)' --storage.tsdb.path='\(directory)/prometheus-data' --web.listen-address=127.0.0.1:\(port) 2>&1",
            ]
        ) { line in
            // level=info ... msg="Listening on" address=127.0.0.1:PORT
            guard line.contains(#"msg="Listening on""#), let address = line.split(separator: "address=").last else { return nil }
            return Int(address.split(separator: ":").last ?? "")
        }
    }

    /// Analysis's `prometheus` provider against a real Prometheus: one number from a scalar or a
    /// one-series vector (the query's `+` intact), no series is no data, several series, a string
    /// or a refused query an error that says what came back, and an unreachable one an error.
    @Test func thePrometheusProviderTakesOneNumberAndSaysWhatElseCameBack() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-promql-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/prometheus.yml"
        try "global: {scrape_interval: 15s}\n".write(toFile: config, atomically: true, encoding: .utf8)
        let prometheus = try await Self.prometheus(config: config, directory: directory)
        defer {
            prometheus.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let http = HTTPClient()
        defer { http.shutdown() }
        let provider = PrometheusProvider(http: http)
        let address = "http://127.0.0.1:\(prometheus.port)"
        // (Prometheus answers 503 until its storage is open: as an error, which the provider says.)
        let ready = ContinuousClock.now + .seconds(30)
        while (try? await http.execute(HTTPRequest(url: address + "/-/ready")).status) != 200, ContinuousClock.now < ready {
            try await Task.sleep(for: .milliseconds(100))
        }
        let context = PrometheusProvider.Context(namespace: "ml-prod", deployment: "scorer", revision: "3", version: "7")
        func read(_ query: String) async -> Analysis.Reading { await provider.measure(address: address, query: query, context) }

        let first = await read("vector(0.25)")
        #expect(first == .value(0.25), "\(first)")
        #expect(await read("scalar(vector(2)) + 1") == .value(3), "a + in the query travels encoded")
        #expect(await read("vector({{revision}}) * {{version}}") == .value(21), "placeholders filled")
        #expect(await read("vector(1) > 2") == .noData("the query returned no series"))
        #expect(await read(#"count(label_replace(vector(1), "a", "x&y=#;z +w", "", "")) * 0.5"#) == .value(0.5), "& = # ; + in a string travel encoded")
        guard case .error(let several) = await read(#"label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "y", "", "")"#) else {
            Issue.record("two series are an error")
            return
        }
        #expect(several.hasPrefix("the query returned 2 series ({\"a\":\"x\"}"), "\(several)")
        #expect(await read(#""text""#) == .error("the query returned a string; it must return a scalar or a vector of one series"))
        guard case .error(let refused) = await read("rate(") else {
            Issue.record("a query Prometheus cannot parse is an error")
            return
        }
        #expect(refused.hasPrefix("Prometheus at \(address) refused the query (400): "), "\(refused)")
        guard case .error(let down) = await provider.measure(address: "http://127.0.0.1:1", query: "vector(1)", context) else {
            Issue.record("an unreachable Prometheus is an error")
            return
        }
        #expect(down.hasPrefix("Prometheus at http://127.0.0.1:1 cannot be reached"), "\(down)")
        #expect(
            PrometheusProvider.fill(
                #"up{deployment="{{deployment}}",ns="{{namespace}}"}"#, .init(namespace: "a\"b", deployment: "d", revision: "", version: ""))
                == #"up{deployment="d",ns="a\"b"}"#)
    }

    /// `modelplane router` alone (against serve's API, as in a cluster), scraped by a real
    /// Prometheus: requests by version and code, and the latency histogram canary analysis
    /// queries, read back with PromQL.
    @Test func prometheusScrapesTheRouter() async throws {
        let world = try await TritonControllerTests.World(models: [TritonControllerTests.echo])
        _ = try await world.kube.create(world.deployment("scorer", model: "echo", version: "2"))
        try await world.wait("scorer") { $0.status?.phase == .ready }
        let router = try await PeerProcess.start(
            Peers.modelplane,
            ["router", "--kubeconfig", world.directory + "/kubeconfig", "--listen", "127.0.0.1:0", "--http-address", "127.0.0.1:0"],
            readyPort: PeerProcess.routerLine)
        defer { router.stop() }
        #expect(await router.waitForOutput { $0.contains("probes and metrics on http://127.0.0.1:") })
        let metricsPort = try #require(
            router.log.split(separator: "\n").first { $0.hasPrefix("modelplane: probes and metrics on") }
                .flatMap { $0.split(separator: " ")[5].split(separator: ":").last }.flatMap { Int($0) })
        let url = "http://127.0.0.1:\(router.port)"
        try await world.waitForRouter(url)

        let config = world.directory + "/prometheus.yml"
        try """
        global: {scrape_interval: 1s, scrape_timeout: 1s}
        scrape_configs:
        - {job_name: router, static_configs: [{targets: ["127.0.0.1:\(metricsPort)"]}]}
        """.write(toFile: config, atomically: true, encoding: .utf8)
        let prometheus = try await Self.prometheus(config: config, directory: world.directory)
        defer { prometheus.stop() }
        func query(_ promql: String) async throws -> [JSONValue] {
            let path = "/api/v1/query?query=" + (promql.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")
            let answer = try JSONValue(parsing: try await world.http.execute(HTTPRequest(url: "http://127.0.0.1:\(prometheus.port)" + path)).body)
            return answer["data"]?["result"]?.arrayValue ?? []
        }
        func value(_ series: JSONValue?) -> Double? { series?["value"]?.arrayValue?.last?.stringValue.flatMap(Double.init) }
        // The router makes a traffic line's series at zero before any request, so the first
        // scrape sees 0 and a rate counts every request after it.
        let first = ContinuousClock.now + .seconds(30)
        var before: [JSONValue] = []
        while before.isEmpty, ContinuousClock.now < first {
            try await Task.sleep(for: .milliseconds(200))
            before = (try? await query(#"modelplane_router_requests_total{deployment="scorer",code="200"}"#)) ?? []
        }
        #expect(before.count == 1 && value(before.first) == 0, "\(before)")
        for x in 1...20 { #expect(try await world.infer(url, "scorer", x: Double(x)).status == 200) }
        #expect(try await world.infer(url, "nobody", x: 1).status == 404)
        var served: Double?
        var p99: Double?
        let deadline = ContinuousClock.now + .seconds(60)
        while served != 20 || !(p99?.isFinite ?? false), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            served = value(try? await query(#"sum(modelplane_router_requests_total{deployment="scorer",version="2",role="stable",code="200"})"#).first)
            // What an analysis asks: the 99th percentile of one revision, from the histogram.
            p99 = value(
                try? await query(
                    #"histogram_quantile(0.99, sum(rate(modelplane_router_request_duration_seconds_bucket{deployment="scorer",revision="1"}[1m])) by (le))"#
                ).first)
        }
        #expect(served == 20, "\(prometheus.log)")
        let buckets = try await query(#"modelplane_router_request_duration_seconds_bucket{deployment="scorer"}"#)
        #expect(p99.map { $0 > 0 && $0 < 5 } == true, "\(String(describing: p99)): \(buckets)")
        let unknown = value(try await query(#"sum(modelplane_router_requests_total{deployment="",code="404"})"#).first)
        #expect(unknown == 1)
        let upstream = try await query(#"modelplane_router_upstream_duration_seconds_count{deployment="scorer"}"#)
        #expect(value(upstream.first) == 20)
    }

    /// The API port answers kube-apiserver's probes to anyone, and /metrics only with the token.
    @Test func theAPIPortServesProbesAndMetrics() async throws {
        let directory = NSTemporaryDirectory() + "modelplane-probes-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let serve = try await PeerProcess.modelplaneServe(data: directory)
        defer { serve.stop() }
        var configuration = HTTPClientConfiguration()
        configuration.tls = TLSConfiguration(certificateAuthority: .file(directory + "/ca.crt"))
        let http = HTTPClient(configuration: configuration)
        defer { http.shutdown() }
        let base = "https://127.0.0.1:\(serve.port)"
        let token = try String(contentsOfFile: directory + "/token", encoding: .utf8)
        func get(_ path: String, token: String? = nil) async throws -> HTTPResponse {
            try await http.execute(HTTPRequest(url: base + path, headers: token.map { ["Authorization": "Bearer \($0)"] } ?? [:]))
        }
        for probe in ["/healthz", "/livez", "/readyz"] {
            let answer = try await get(probe)
            #expect(answer.status == 200 && String(decoding: answer.body, as: UTF8.self) == "ok", "\(probe)")
        }
        #expect(try await get("/metrics").status == 401)
        _ = try await get("/apis/modelplane.dev/v1alpha1/modeldeployments", token: token)
        let metrics = try await get("/metrics", token: token)
        let text = String(decoding: metrics.body, as: UTF8.self)
        #expect(metrics.status == 200 && text.contains(#"apiserver_request_total{verb="list",resource="modeldeployments",code="200"}"#), "\(text.prefix(2000))")
    }
}
