// The inference router against direct Triton, side by side in one run (issue 25's targets):
//
//     swift build -c release --product modelplane --product modelplane-router-bench
//     .build/release/modelplane-router-bench [--seconds 10]
//
// A real tritonserver (Python backend, `OUTPUT0 = INPUT0 * VERSION`, one FP32 element per
// request), `modelplane serve` (controller, no router) and `modelplane router` alone against it,
// as in a cluster. Closed loop (8 connections, back to back) for throughput; open loop (requests
// started on a fixed schedule at half the direct maximum, latency measured from when each was
// due, so a stall is not hidden by coordinated omission) for latency. nginx, when installed, as a
// plain reverse proxy and with `mirror`, in the same run (the issue's reference). Prints a Markdown
// table.
import Foundation
import HTTPClient
import KubeClient
import ModelplaneAPI
import ModelplaneTestSupport

let arguments = CommandLine.arguments
let seconds = arguments.firstIndex(of: "--seconds").flatMap { Int(arguments[$0 + 1]) } ?? 10
let connections = 8

func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }

let body: Data = Data(#"{"inputs":[{"name":"INPUT0","shape":[1],"datatype":"FP32","data":[1.0]}]}"#.utf8)
let http = HTTPClient()

func send(_ url: String) async -> Bool {
    let request = HTTPRequest(method: "POST", url: url, headers: ["Content-Type": "application/json"], body: body, timeout: .seconds(30))
    return (try? await http.execute(request).status) == 200
}

/// Requests per second with `connections` back-to-back senders for `seconds`.
func closedLoop(_ url: String) async -> (rate: Double, errors: Int) {
    let end = ContinuousClock.now + .seconds(seconds)
    let start = ContinuousClock.now
    let (count, errors) = await withTaskGroup(of: (Int, Int).self) { group in
        for _ in 0..<connections {
            group.addTask {
                var done = 0
                var failed = 0
                while ContinuousClock.now < end {
                    if await send(url) { done += 1 } else { failed += 1 }
                }
                return (done, failed)
            }
        }
        return await group.reduce((0, 0)) { ($0.0 + $1.0, $0.1 + $1.1) }
    }
    return (Double(count) / (milliseconds(ContinuousClock.now - start) / 1000), errors)
}

/// Latencies (ms, from when each request was due) at a fixed `rate` for `seconds`.
func openLoop(_ url: String, rate: Double) async -> (p50: Double, p99: Double, errors: Int) {
    let total = Int(rate * Double(seconds))
    let interval = 1.0 / rate
    let start = ContinuousClock.now
    let (unsorted, errors) = await withTaskGroup(of: Double?.self) { group in
        for i in 0..<total {
            let due = start + .nanoseconds(Int64(Double(i) * interval * 1e9))
            let now = ContinuousClock.now
            if due > now { try? await Task.sleep(until: due, clock: .continuous) }
            group.addTask {
                let ok = await send(url)
                return ok ? milliseconds(ContinuousClock.now - due) : nil
            }
        }
        var latencies: [Double] = []
        var errors = 0
        for await latency in group {
            if let latency { latencies.append(latency) } else { errors += 1 }
        }
        return (latencies, errors)
    }
    let latencies = unsorted.sorted()
    guard !latencies.isEmpty else { return (.nan, .nan, errors) }
    return (latencies[latencies.count / 2], latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))], errors)
}

func residentMiB(_ pid: Int32, peak: Bool = false) -> Double {
    let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
    let key = peak ? "VmHWM:" : "VmRSS:"
    let line = status.split(separator: "\n").first { $0.hasPrefix(key) } ?? ""
    return (Double(line.split(whereSeparator: \.isWhitespace).dropFirst().first ?? "") ?? 0) / 1024
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
func cpuSeconds(_ pid: Int32) -> Double {
    let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
    // Fields after the command (which may hold spaces, so split after its closing parenthesis).
    let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}

func metric(_ text: String, _ prefix: String) -> Double {
    text.split(separator: "\n").filter { $0.hasPrefix(prefix) }.compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
}

// MARK: - Peers

let triton = try await TritonPeer.start(models: [TritonPeer.Model(name: "bench", versions: [1, 2, 3])])
let directory = NSTemporaryDirectory() + "modelplane-router-bench-" + UUID().uuidString
let serve = try await PeerProcess.start(
    Peers.modelplane, ["serve", "--data", directory, "--listen", "127.0.0.1:0", "--controller", "--no-router", "--resync", "3600"]
) { line in
    guard line.hasPrefix("modelplane: serving on ") else { return nil }
    return Int(line.split(separator: " ")[3].split(separator: ":").last ?? "")
}
let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
let router = try await PeerProcess.start(
    Peers.modelplane,
    [
        "router", "--kubeconfig", directory + "/kubeconfig", "--listen", "127.0.0.1:0", "--http-address", "127.0.0.1:0", "--router-shadow-queue", "256",
        "--router-shadow-concurrency", arguments.firstIndex(of: "--shadow-concurrency").map { arguments[$0 + 1] } ?? "2",
    ],
    readyPort: PeerProcess.routerLine)
_ = await router.waitForOutput { $0.contains("probes and metrics on http://127.0.0.1:") }
let metricsPort =
    router.log.split(separator: "\n").first { $0.hasPrefix("modelplane: probes and metrics on") }
    .flatMap { $0.split(separator: " ")[5].split(separator: ":").last }.flatMap { Int($0) } ?? 0
defer {
    router.stop()
    serve.stop()
    triton.stop()
    try? FileManager.default.removeItem(atPath: directory)
}

func waitFor(_ what: String, _ condition: (ModelDeployment) -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(120)
    while ContinuousClock.now < deadline {
        if let md = try? await kube.get(ModelDeployment.self, name: "bench", namespace: "default"), condition(md) { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw PeerError("bench deployment never reached: \(what)")
}

/// False on a conflict (the controller wrote meanwhile).
func written(_ md: ModelDeployment) async throws -> Bool {
    do {
        _ = try await kube.update(md)
    } catch {
        if error.isConflict { return false }
        throw error
    }
    return true
}

func change(_ body: (inout ModelDeployment) -> Void) async throws {
    for _ in 0..<10 {
        var md = try await kube.get(ModelDeployment.self, name: "bench", namespace: "default")
        body(&md)
        if try await written(md) { return }
    }
}

var md = ModelDeployment(
    name: "bench",
    spec: .init(
        model: .init(name: "bench", version: "1"), backend: .init(triton: .init(url: triton.url)),
        rollout: .init(strategy: .canary, canary: .init(steps: [.weight(10), .pause()]))))
md = try await kube.create(md)
try await waitFor("version 1 serving") { $0.status?.trafficSummary == "1:100" }
let direct = "\(triton.url)/v2/models/bench/versions/1/infer"
let routed = "http://127.0.0.1:\(router.port)/v2/models/bench/infer"
// The router has read the deployment once it routes; warm both paths.
for _ in 0..<200 {
    _ = await send(direct)
    _ = await send(routed)
}

// `--profile`: only the router's closed loop, announced with the router's pid (for `perf record -p`).
if arguments.contains("--profile") {
    FileHandle.standardOutput.write(Data("profiling: router pid \(router.pid)\n".utf8))
    let result = await closedLoop(routed)
    print(String(format: "router: %.0f req/s", result.rate))
    exit(0)
}

// MARK: - nginx, the issue's reference proxy (when installed: `apt-get install nginx-light`)

/// nginx in front of the same Triton, as a plain reverse proxy (keep-alive upstream) on one port
/// and with `mirror` copying every request to version 3 on another, as a user would set it up.
func startNginx() async throws -> (process: PeerProcess, proxy: String, mirrored: String)? {
    guard let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return nil }
    let home = directory + "/nginx"
    try FileManager.default.createDirectory(atPath: home + "/logs", withIntermediateDirectories: true)
    let (plain, mirror) = (Peers.freePort(), Peers.freePort())
    let tritonPort = URLComponents(string: triton.url)?.port ?? 8000
    let upstream = "proxy_http_version 1.1; proxy_set_header Connection \"\";"
    let config = """
        worker_processes auto;
        error_log \(home)/logs/error.log warn;
        pid \(home)/nginx.pid;
        events { worker_connections 1024; }
        http {
            access_log off;
            client_body_temp_path \(home)/body; proxy_temp_path \(home)/proxy; fastcgi_temp_path \(home)/fastcgi;
            uwsgi_temp_path \(home)/uwsgi; scgi_temp_path \(home)/scgi;
            upstream triton { server 127.0.0.1:\(tritonPort); keepalive 32; }
            server { listen 127.0.0.1:\(plain); location / { proxy_pass http://triton; \(upstream) } }
            server {
                listen 127.0.0.1:\(mirror);
                location / { mirror /mirror; mirror_request_body on; proxy_pass http://triton; \(upstream) }
                location = /mirror { internal; proxy_pass http://triton/v2/models/bench/versions/3/infer; \(upstream) }
            }
        }
        """
    try config.write(toFile: home + "/nginx.conf", atomically: true, encoding: .utf8)
    let process = try await PeerProcess.start(
        "/bin/sh", ["-c", "echo READY \(plain); exec \(nginx) -p \(home) -c \(home)/nginx.conf -g 'daemon off;'"])
    let path = "/v2/models/bench/versions/1/infer"
    let deadline = ContinuousClock.now + .seconds(10)
    while !(await send("http://127.0.0.1:\(plain)\(path)")), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    return (process, "http://127.0.0.1:\(plain)\(path)", "http://127.0.0.1:\(mirror)\(path)")
}

// MARK: - Runs

var rows: [(String, String)] = []
let directMax = await closedLoop(direct)
rows.append(("direct Triton, 8 connections, closed loop", String(format: "%.0f req/s", directMax.rate)))
let cpuBefore = cpuSeconds(router.pid)
let routerMax = await closedLoop(routed)
let routerCPU = cpuSeconds(router.pid) - cpuBefore
rows.append(
    (
        "router, one version at 100 %, 8 connections", String(format: "%.0f req/s (%.2f× direct)", routerMax.rate, routerMax.rate / directMax.rate)
    ))
rows.append(
    (
        "router CPU per request (its process, user + system)",
        String(format: "%.0f µs (%.2f cores busy)", routerCPU / (routerMax.rate * Double(seconds)) * 1e6, routerCPU / Double(seconds))
    ))
let nginx = try await startNginx()
defer { nginx?.process.stop() }
let nginxMax: (rate: Double, errors: Int)? = if let nginx { await closedLoop(nginx.proxy) } else { nil }
if let nginxMax {
    rows.append(
        (
            "nginx as a proxy (keep-alive upstream), 8 connections",
            String(format: "%.0f req/s (%.2f× direct)", nginxMax.rate, nginxMax.rate / directMax.rate)
        ))
}
let rate = (directMax.rate / 2).rounded()
let directLatency = await openLoop(direct, rate: rate)
let routerLatency = await openLoop(routed, rate: rate)
let nginxLatency: (p50: Double, p99: Double, errors: Int)? = if let nginx { await openLoop(nginx.proxy, rate: rate) } else { nil }
rows.append(
    (
        "open loop at \(Int(rate)) req/s (half the direct maximum): direct p50 / p99",
        String(format: "%.2f / %.2f ms", directLatency.p50, directLatency.p99)
    ))
rows.append(
    (
        "open loop at \(Int(rate)) req/s: router p50 / p99 (added p99)",
        String(format: "%.2f / %.2f ms (+%.2f ms)", routerLatency.p50, routerLatency.p99, routerLatency.p99 - directLatency.p99)
    ))

if let nginxLatency {
    rows.append(
        (
            "open loop at \(Int(rate)) req/s: nginx p50 / p99 (added p99)",
            String(format: "%.2f / %.2f ms (+%.2f ms)", nginxLatency.p50, nginxLatency.p99, nginxLatency.p99 - directLatency.p99)
        ))
}
if let nginx, let nginxMax {
    // nginx's `mirror`: a copy of every request to version 3, the shadow run's counterpart.
    let mirrorLatency = await openLoop(nginx.mirrored, rate: rate)
    let mirrorMax = await closedLoop(nginx.mirrored)
    rows.append(
        (
            "nginx mirror 100 %: open loop p99 / at saturation",
            String(
                format: "%.2f ms (%.2f× its no-mirror p99) / %.0f req/s (%.2f× no mirror)", mirrorLatency.p99,
                mirrorLatency.p99 / (nginxLatency?.p99 ?? .nan), mirrorMax.rate, mirrorMax.rate / nginxMax.rate)
        ))
}

// A 90/10 split: version 2 as a canary at its first step.
try await change { $0.spec.model.version = "2" }
try await waitFor("the 90/10 split") { $0.status?.trafficSummary == "1:90 2:10" }
try await Task.sleep(for: .seconds(1))
let splitMax = await closedLoop(routed)
rows.append(("router, 90/10 split, 8 connections", String(format: "%.0f req/s (%.2f× direct)", splitMax.rate, splitMax.rate / directMax.rate)))

// Back to version 1 alone, then a shadow taking a copy of every request.
try await change { $0.spec.model.version = "1" }
try await waitFor("version 1 alone") { $0.status?.trafficSummary == "1:100" && $0.status?.canary == nil }
let quiet = await openLoop(routed, rate: rate)
try await change { $0.spec.shadow = .init(version: "3") }
try await waitFor("the shadow") { $0.status?.trafficSummary == "1:100 +3 shadow" }
try await Task.sleep(for: .seconds(1))
let shadowLatency = await openLoop(routed, rate: rate)
rows.append(
    (
        "100 % shadow, open loop at \(Int(rate)) req/s: primary p99 (no shadow, same run)",
        String(format: "%.2f ms (%.2f ms, %.2f×)", shadowLatency.p99, quiet.p99, shadowLatency.p99 / quiet.p99)
    ))
let before = String(decoding: (try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(metricsPort)/metrics")).body) ?? Data(), as: UTF8.self)
let shadowMax = await closedLoop(routed)
let after = String(decoding: (try? await http.execute(HTTPRequest(url: "http://127.0.0.1:\(metricsPort)/metrics")).body) ?? Data(), as: UTF8.self)
let mirrored = metric(after, "modelplane_router_shadow_mirrored_total") - metric(before, "modelplane_router_shadow_mirrored_total")
let dropped = metric(after, "modelplane_router_shadow_dropped_total") - metric(before, "modelplane_router_shadow_dropped_total")
rows.append(
    (
        "100 % shadow at saturation, 8 connections (shed copies)",
        String(
            format: "%.0f req/s (%.2f× no-shadow; %.0f mirrored, %.0f dropped)", shadowMax.rate, shadowMax.rate / routerMax.rate, mirrored, dropped)
    ))
rows.append(
    (
        "router RSS (standalone process): now / peak",
        String(format: "%.0f / %.0f MiB", residentMiB(router.pid), residentMiB(router.pid, peak: true))
    ))
let errors = routerMax.errors + splitMax.errors + shadowMax.errors + routerLatency.errors + shadowLatency.errors + quiet.errors
rows.append(("failed requests through the router (all runs)", String(errors)))

print("| Measurement (\(seconds) s per run) | Result |")
print("|---|---|")
for (name, value) in rows { print("| \(name) | \(value) |") }
http.shutdown()
kube.shutdown()
