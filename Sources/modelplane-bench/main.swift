// Benchmarks for the targets the issues name. Run: swift run -c release modelplane-bench
// Prints a Markdown table for the README's performance section.
import APIServer
import Controller
import Foundation
import GitSync
import HTTPClient
import KubeClient
import Logging
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import ResourceStore
import Rollout
import Synchronization
import Triton
import TritonBackend

struct Measurement {
    var name: String
    var samples: [Duration]
    var detail: String

    var median: Duration { samples.sorted()[samples.count / 2] }
    var best: Duration { samples.min()! }
}

func measure(_ name: String, iterations: Int, detail: String = "", _ body: () throws -> Void) rethrows -> Measurement {
    try body()  // warm up
    var samples: [Duration] = []
    for _ in 0..<iterations {
        let start = ContinuousClock.now
        try body()
        samples.append(ContinuousClock.now - start)
    }
    return Measurement(name: name, samples: samples, detail: detail)
}

func format(_ d: Duration) -> String {
    let ms = Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
    return ms < 1 ? String(format: "%.3f ms", ms) : String(format: "%.1f ms", ms)
}

/// A realistic manifest: Triton or SageMaker, labels, a model config.
func manifest(_ i: Int) -> String {
    if i % 4 == 3 {
        return """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata:
              name: churn-\(i)
              namespace: team-\(i % 10)
              labels: {team: risk, tier: "\(i % 3)"}
            spec:
              model:
                name: churn-\(i)
                version: "2024-11-\(i % 28 + 1)"
                uri: s3://models/churn/\(i)/model.tar.gz
              backend:
                sagemaker:
                  region: us-east-1
                  image: 763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.1-cpu-py310
                  executionRoleArn: arn:aws:iam::123456789012:role/SageMakerExecution
                  instanceType: ml.m5.large
                  initialInstanceCount: \(i % 4 + 1)
              rollout: {strategy: BlueGreen, progressDeadlineSeconds: 900}
            """
    }
    return """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata:
          name: fraud-\(i)
          namespace: team-\(i % 10)
          labels: {team: risk, app.kubernetes.io/name: fraud}
          annotations: {modelplane.dev/owner: "risk-team@example.com"}
        spec:
          model:
            name: fraud-\(i)
            version: "\(i % 9 + 1)"
            uri: /srv/models/fraud
          backend:
            triton:
              url: http://triton-\(i % 5).serving:8000
              modelConfig:
                max_batch_size: 8
                dynamic_batching: {max_queue_delay_microseconds: 100}
                instance_group: [{count: 2, kind: KIND_CPU}]
          rollout:
            strategy: Immediate
          revisionHistoryLimit: 10
        """
}

let reader = ManifestReader()
var results: [Measurement] = []

// 1,000 manifests in one multi-document file.
let stream = (0..<1000).map(manifest).joined(separator: "\n---\n")
let streamBytes = Array(stream.utf8)
results.append(
    measure("validate 1,000 manifests (one file, \(streamBytes.count / 1024) KiB)", iterations: 20) {
        let set = reader.parse(streamBytes, file: "bench.yaml")
        precondition(set.problems.isEmpty && set.deployments.count == 1000, "\(set.problems.prefix(3))")
    })

// What the controller pays per object it reads or writes: a Ready Triton deployment with one
// revision and three conditions, through each codec.
var sample = reader.parse(Array(manifest(0).utf8), file: "sample.yaml").deployments[0].deployment
sample.metadata.resourceVersion = "12345"
sample.metadata.uid = UUID().uuidString
sample.metadata.generation = 1
sample.metadata.finalizers = ["modelplane.dev/backend-cleanup"]
sample.status = ModelDeployment.Status()
sample.status?.observedGeneration = 1
sample.status?.phase = .ready
sample.status?.servingVersion = "1"
sample.status?.currentRevision = "1"
sample.status?.backend = "triton"
let sampleRevision = ModelDeployment.Revision(
    revision: 1, hash: sample.spec.revisionHash, version: "1", createdAt: "2026-11-28T00:00:00Z", cause: "created", spec: sample.spec.servingRelevantJSON)
sample.status?.revisions = [sampleRevision]
sample.status?.conditions = ["Ready", "Progressing", "Degraded"].map {
    Condition(type: $0, status: .true, observedGeneration: 1, lastTransitionTime: "2026-11-28T00:00:00Z", reason: "Serving", message: "version 1 is serving")
}
sample.status?.triton = .init(url: "http://triton-0.serving:8000", model: "fraud-0")
let sampleJSON = try JSONEncoder().encode(sample)
results.append(
    measure("codec: 1,000 Ready ModelDeployments decoded (\(sampleJSON.count) bytes each)", iterations: 5) {
        for _ in 0..<1000 { precondition(try! JSONValueCoding.decode(ModelDeployment.self, json: sampleJSON).status?.phase == .ready) }
    })
results.append(
    measure("codec: 1,000 Ready ModelDeployments encoded", iterations: 5) {
        for _ in 0..<1000 { precondition(try! JSONValueCoding.json(sample).count > 100) }
    })
results.append(
    measure("codec: 1,000 revision hashes", iterations: 5) {
        for _ in 0..<1000 { precondition(!sample.spec.revisionHash.isEmpty) }
    })

// 1,000 manifests in 1,000 files, read from disk (what `modelplane validate -f DIR` does).
let directory = NSTemporaryDirectory() + "modelplane-bench-" + UUID().uuidString
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }
for i in 0..<1000 {
    try manifest(i).write(toFile: "\(directory)/md-\(String(format: "%04d", i)).yaml", atomically: false, encoding: .utf8)
}
results.append(
    measure("validate 1,000 manifests (1,000 files in a directory)", iterations: 20) {
        let set = reader.read(paths: [directory])
        precondition(set.problems.isEmpty && set.deployments.count == 1000)
    })

// Hostile input: each must be refused, fast.
var bomb = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
for i in 1...9 { bomb += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
results.append(
    measure("refuse a billion-laughs alias bomb", iterations: 50) {
        precondition(!reader.parse(bomb, file: "bomb.yaml").problems.isEmpty)
    })
let deep = String(repeating: "[", count: 1_000_000)
results.append(
    measure("refuse 1,000,000 levels of nesting", iterations: 20) {
        precondition(!reader.parse(deep, file: "deep.yaml").problems.isEmpty)
    })
let hugePath = directory + "/huge.yaml"
try Data(repeating: UInt8(ascii: "#"), count: 64 * 1024 * 1024).write(to: URL(fileURLWithPath: hugePath))
results.append(
    measure("refuse a 64 MiB file", iterations: 20) {
        precondition(!reader.read(paths: [hugePath]).problems.isEmpty)
    })
var notUTF8 = streamBytes
notUTF8[notUTF8.count - 10] = 0xFF
results.append(
    measure("refuse invalid UTF-8 at the end of 1,000 manifests", iterations: 20) {
        precondition(!reader.parse(notUTF8, file: "bad.yaml").problems.isEmpty)
    })

// Watch streams: split and decode 10,000 events arriving in 1.5 KiB chunks.

let objectJSON = String(
    decoding: try JSONEncoder().encode(
        ModelDeployment(name: "fraud", spec: .init(model: .init(name: "fraud", version: "3"), backend: .init(triton: .init(url: "http://127.0.0.1:8000"))))),
    as: UTF8.self)
let watchText = Data(String(repeating: #"{"type":"MODIFIED","object":\#(objectJSON)}"# + "\n", count: 10_000).utf8)
results.append(
    measure("split 10,000 watch events (\(watchText.count / 1024) KiB) in 1.5 KiB chunks", iterations: 20) {
        var splitter = LineSplitter()
        var lines = 0
        var offset = 0
        while offset < watchText.count {
            lines += try! splitter.append(watchText[offset..<min(offset + 1536, watchText.count)]).count
            offset += 1536
        }
        precondition(lines == 10_000)
    })

// The resource store under the embedded API server: 10,000 ModelDeployments.
let storePath = directory + "/store.db"
let store = try ResourceStore(path: storePath)
let storeObjects: [JSONValue] = try (0..<10_000).map { i in
    try JSONValueCoding.encode(
        ModelDeployment(
            name: "md-\(i)", namespace: "team-\(i % 10)",
            spec: .init(
                model: .init(name: "fraud-\(i)", version: "\(i % 9 + 1)"),
                backend: .init(triton: .init(url: "http://triton:8000", modelConfig: ["max_batch_size": 8])))))
}
let createStart = ContinuousClock.now
for object in storeObjects {
    _ = try store.create(.modelDeployments, namespace: object["metadata"]?["namespace"]?.stringValue, object)
}
let createTotal = ContinuousClock.now - createStart
let createSeconds = Double(createTotal.components.seconds) + Double(createTotal.components.attoseconds) / 1e18
results.append(
    Measurement(name: "store: create 10,000 ModelDeployments one by one (\(Int(10_000 / createSeconds)) creates/s)", samples: [createTotal], detail: ""))
results.append(
    measure("store: list all 10,000 and encode them as JSON", iterations: 10) {
        let list = try! store.list(.modelDeployments)
        var bytes = 0
        for item in list.items { bytes += item.json.utf8.count }
        precondition(list.items.count == 10_000 && bytes > 0)
    })
results.append(
    measure("store: list one namespace (1,000 of 10,000) with a label selector", iterations: 20) {
        let filter = ObjectFilter(namespace: "team-3", labels: try! LabelSelector(parsing: "!canary"))
        precondition(try! store.list(.modelDeployments, filter: filter).items.count == 1_000)
    })
results.append(
    measure("store: reopen a database of 10,000 objects", iterations: 3) {
        precondition(try! ResourceStore(path: storePath).list(.modelDeployments, limit: 1).items.count == 1)
    })

// The embedded API server over HTTPS, through the real client: issue 3's targets.
let serverDirectory = directory + "/server"
try FileManager.default.createDirectory(atPath: serverDirectory, withIntermediateDirectories: true)
let certificates = LocalCertificates(directory: serverDirectory)
try certificates.ensure()
let serverStore = try ResourceStore(path: serverDirectory + "/store.db")
let token = "bench-token"
let api = KubernetesAPI(store: serverStore, tokens: [token])
if CommandLine.arguments.contains("--only-drift") {
    // Issue 27's detection rows alone.
    for r in driftBench() { print("| \(r.name) | \(format(r.median)) | \(format(r.best)) |") }
    exit(0)
}
if CommandLine.arguments.contains("--only-analysis") {
    // Issue 26's rows alone.
    for r in try await analysisBench(store: serverStore, api: api, token: token) { print("| \(r.name) | \(format(r.median)) | \(format(r.best)) |") }
    exit(0)
}
/// `count` creates straight through the API handler (no HTTP), names `prefix0`, `prefix1`, ...
/// in namespace `probe`; returns how long they took.
func handlerCreates(_ count: Int, prefix: String) async -> Duration {
    let start = ContinuousClock.now
    for i in 0..<count {
        let body =
            #"{"apiVersion":"modelplane.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"\#(prefix)\#(i)","namespace":"probe"},"spec":{"model":{"name":"m","version":"1"},"backend":{"triton":{"url":"http://t:8000"}}}}"#
        let request = APIRequest(
            method: "POST", path: "/apis/modelplane.dev/v1alpha1/namespaces/probe/modeldeployments", headers: ["Authorization": "Bearer \(token)"],
            body: Data(body.utf8))
        let status = api.handle(request).status
        precondition(status == 201)
    }
    return ContinuousClock.now - start
}
if CommandLine.arguments.contains("--profile-create") {
    // Only creates through the API handler, for `perf record`.
    print("20,000 creates through the handler: \(await handlerCreates(20_000, prefix: "profile-"))")
    exit(0)
}
let listening = AsyncStream<Int>.makeStream()
let serverTask = Task {
    try await HTTPAPIServer(api: api, port: 0, tls: (certificates.serverCertificate, certificates.serverKey)).run { listening.continuation.yield($0) }
}
var serverPort = 0
for await port in listening.stream {
    serverPort = port
    break
}
var clientConfiguration = KubernetesClientConfiguration(server: "https://127.0.0.1:\(serverPort)", credentials: .bearerToken(Secret(token)))
clientConfiguration.tls.certificateAuthority = .file(certificates.caCertificate)
let kube = KubernetesClient(configuration: clientConfiguration)
let rawClient = HTTPClient(configuration: HTTPClientConfiguration(tls: TLSConfiguration(certificateAuthority: .file(certificates.caCertificate))))

func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }

/// Sequential creates for 5 s from wrk, a C load generator in a process of its own, over one
/// keep-alive HTTPS connection (`-t1 -c1`): the server's rate without our Swift client's thread
/// hand-offs. nil, with a note on stderr, when wrk is not installed (`apt-get install wrk`).
@MainActor func wrkCreates() throws -> Measurement? {
    guard let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"].first(where: FileManager.default.isExecutableFile(atPath:)) else {
        FileHandle.standardError.write(Data("wrk is not installed (apt-get install wrk): no wrk creates row\n".utf8))
        return nil
    }
    let script = serverDirectory + "/creates.lua"
    try """
    local counter = 0
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = "Bearer \(token)"
    request = function()
      counter = counter + 1
      local body = '{"apiVersion":"modelplane.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"wrk-' .. counter .. '","namespace":"wrk","labels":{"team":"risk"}},"spec":{"model":{"name":"fraud","version":"1"},"backend":{"triton":{"url":"http://triton:8000"}}}}'
      return wrk.format(nil, "/apis/modelplane.dev/v1alpha1/namespaces/wrk/modeldeployments", nil, body)
    end
    done = function(summary, latency, requests)
      io.write(string.format("modelplane-bench %d %d %d %d\\n", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99)))
    end
    """.write(toFile: script, atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: wrk)
    process.arguments = ["-t1", "-c1", "-d5s", "-s", script, "https://127.0.0.1:\(serverPort)/"]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    // wrk reports refused requests ("Non-2xx or 3xx responses") and socket errors in its summary.
    guard process.terminationStatus == 0, !text.contains("Non-2xx"), !text.contains("Socket errors"),
        let line = text.split(separator: "\n").first(where: { $0.hasPrefix("modelplane-bench ") })
    else { fatalError("wrk failed:\n\(text)") }
    let numbers = line.split(separator: " ").dropFirst().compactMap { Int($0) }
    let (requests, microseconds, p50, p99) = (numbers[0], numbers[1], numbers[2], numbers[3])
    // Every answered request was a create (201): the objects are there (one more may have been in flight).
    let stored = try serverStore.list(.modelDeployments, filter: ObjectFilter(namespace: "wrk")).items.count
    precondition(stored >= requests, "wrk counted \(requests) creates, the store has \(stored)")
    return Measurement(
        name:
            "server: sequential creates from wrk (C, own process), one keep-alive HTTPS connection, 5 s (\(requests * 1_000_000 / microseconds) creates/s; p50 \(format(.microseconds(p50))), p99 \(format(.microseconds(p99))))",
        samples: [.microseconds(microseconds) / requests], detail: "")
}

// kubectl get md -A, through a kubeconfig like the one modelplane serve writes.
let kubeconfigPath = serverDirectory + "/kubeconfig"
try "\(token)\n".write(toFile: serverDirectory + "/token", atomically: true, encoding: .utf8)
try """
apiVersion: v1
kind: Config
current-context: bench
clusters: [{name: bench, cluster: {server: "https://127.0.0.1:\(serverPort)", certificate-authority: ca.crt}}]
users: [{name: bench, user: {tokenFile: token}}]
contexts: [{name: bench, context: {cluster: bench, user: bench}}]
""".write(toFile: kubeconfigPath, atomically: true, encoding: .utf8)
if CommandLine.arguments.contains("--profile-https-creates") {
    // Only typed creates over HTTPS, then ready-made ones, for `perf record`.
    for round in 0..<2 {
        var start = ContinuousClock.now
        for i in 0..<3_000 {
            _ = try await kube.create(
                ModelDeployment(
                    name: "p\(round)-\(i)", namespace: "profile",
                    spec: .init(model: .init(name: "m", version: "1"), backend: .init(triton: .init(url: "http://triton:8000")))))
        }
        print("3,000 typed creates over HTTPS: \(ContinuousClock.now - start)")
        start = ContinuousClock.now
        for i in 0..<3_000 {
            let body =
                #"{"apiVersion":"modelplane.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"r\#(round)-\#(i)","namespace":"profile"},"spec":{"model":{"name":"m","version":"1"},"backend":{"triton":{"url":"http://triton:8000"}}}}"#
            _ = try await rawClient.execute(
                HTTPRequest(
                    method: "POST", url: "https://127.0.0.1:\(serverPort)/apis/modelplane.dev/v1alpha1/namespaces/profile/modeldeployments",
                    headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: Data(body.utf8)))
        }
        print("3,000 ready-made creates over HTTPS: \(ContinuousClock.now - start)")
    }
    exit(0)
}
// `--only-controller` skips to the controller rows (for profiling them); `--only-cold-start` stops
// after the in-process cold start, `--workers N` runs the controllers with N workers, and
// `--cold-start-runs N` repeats the in-process cold start in N fresh processes (default 4).
let onlyController = CommandLine.arguments.contains("--only-controller")
// (Shared with the watcher tasks below, so not local to the block.)
let sentAt = Mutex<[String: ContinuousClock.Instant]>([:])
let latencies = Mutex<[Duration]>([])
if !onlyController {
    let httpCreateStart = ContinuousClock.now
    for i in 0..<10_000 {
        var md = ModelDeployment(
            name: "md-\(i)", namespace: "team-\(i % 10)",
            spec: .init(model: .init(name: "fraud-\(i)", version: "\(i % 9 + 1)"), backend: .init(triton: .init(url: "http://triton:8000"))))
        md.metadata.labels = ["team": "risk"]
        _ = try await kube.create(md)
    }
    let httpCreateTotal = ContinuousClock.now - httpCreateStart
    results.append(
        Measurement(
            name: "server: 10,000 sequential creates over one keep-alive HTTPS connection (\(Int(10_000 / seconds(httpCreateTotal))) creates/s)",
            samples: [httpCreateTotal], detail: ""))

    var listSamples: [Duration] = []
    for _ in 0..<10 {
        let start = ContinuousClock.now
        let response = try await rawClient.execute(
            HTTPRequest(url: "https://127.0.0.1:\(serverPort)/apis/modelplane.dev/v1alpha1/modeldeployments", headers: ["Authorization": "Bearer \(token)"]))
        precondition(response.status == 200 && response.body.count > 1_000_000)
        listSamples.append(ContinuousClock.now - start)
    }
    results.append(Measurement(name: "server: full list of 10,000 ModelDeployments over HTTPS (bytes received)", samples: listSamples, detail: ""))
    var typedListSamples: [Duration] = []
    for _ in 0..<5 {
        let start = ContinuousClock.now
        let count = try await kube.list(ModelDeployment.self, namespace: nil).items.count
        precondition(count == 10_000)
        typedListSamples.append(ContinuousClock.now - start)
    }
    results.append(Measurement(name: "server: full list of 10,000, decoded into ModelDeployment values", samples: typedListSamples, detail: ""))

    // Write-to-watcher latency: 10 watchers, 500 updates; each event's delay from just before its write.
    let watchersReady = AsyncStream<Void>.makeStream()
    let watchers = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    var seen = 0
                    let events = try await kube.watch(
                        ModelDeployment.self, namespace: "team-0", options: WatchOptions(resourceVersion: serverStore.resourceVersion, timeoutSeconds: 300))
                    watchersReady.continuation.yield()
                    for try await event in events {
                        guard case .modified(let md) = event, let label = md.metadata.labels?["bench"] else { continue }
                        let now = ContinuousClock.now
                        if let sent = sentAt.withLock({ $0[label] }) { latencies.withLock { $0.append(now - sent) } }
                        seen += 1
                        if seen == 500 { return }
                    }
                }
            }
            try await group.waitForAll()
        }
    }
    var ready = 0
    for await _ in watchersReady.stream {
        ready += 1
        if ready == 10 { break }
    }
    for i in 0..<500 {
        let label = "u\(i)"
        sentAt.withLock { $0[label] = ContinuousClock.now }
        _ = try await kube.patch(ModelDeployment.self, name: "md-\(i * 10)", namespace: "team-0", .merge(["metadata": ["labels": ["bench": .string(label)]]]))
    }
    try await watchers.value
    let sortedLatencies = latencies.withLock { $0.sorted() }
    results.append(
        Measurement(
            name: "server: write-to-watcher latency, 10 watchers x 500 writes: p50 (p99 \(format(sortedLatencies[sortedLatencies.count * 99 / 100])))",
            samples: [sortedLatencies[sortedLatencies.count / 2]], detail: ""))

    func timeKubectl(_ arguments: [String]) throws -> [Duration] {
        try (0..<3).map { _ in
            let process = Process()
            // The pinned kubectl scripts/setup-peers installs, else the one on PATH.
            let pinned = FileManager.default.currentDirectoryPath + "/.peers/bin/kubectl"
            let kubectl = FileManager.default.isExecutableFile(atPath: pinned) ? [pinned] : ["/usr/bin/env", "kubectl"]
            process.executableURL = URL(fileURLWithPath: kubectl[0])
            process.arguments = kubectl.dropFirst() + ["--kubeconfig", kubeconfigPath] + arguments
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            let start = ContinuousClock.now
            try process.run()
            process.waitUntilExit()
            precondition(process.terminationStatus == 0, "kubectl failed")
            return ContinuousClock.now - start
        }
    }
    results.append(Measurement(name: "kubectl get md -A (10,000 rows, printer columns)", samples: try timeKubectl(["get", "md", "-A"]), detail: ""))
    // kubectl pages by 500, and its client-side rate limiter (5 requests/s after a burst of 10) makes
    // 20 pages take at least 2 s whatever the server does; the same in one response:
    results.append(
        Measurement(
            name: "kubectl get md -A --chunk-size=0 (10,000 rows in one response)", samples: try timeKubectl(["get", "md", "-A", "--chunk-size=0"]), detail: "")
    )
    // Sequential creates through a lean client that sends ready-made JSON and does not decode the reply, as a
    // load generator would: the server's share of the cost.
    let rawCreateStart = ContinuousClock.now
    for i in 0..<2_000 {
        let body =
            #"{"apiVersion":"modelplane.dev/v1alpha1","kind":"ModelDeployment","metadata":{"name":"raw-\#(i)","namespace":"raw","labels":{"team":"risk"}},"spec":{"model":{"name":"fraud","version":"1"},"backend":{"triton":{"url":"http://triton:8000"}}}}"#
        let response = try await rawClient.execute(
            HTTPRequest(
                method: "POST", url: "https://127.0.0.1:\(serverPort)/apis/modelplane.dev/v1alpha1/namespaces/raw/modeldeployments",
                headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/json"], body: Data(body.utf8)))
        precondition(response.status == 201)
    }
    let rawCreateTotal = ContinuousClock.now - rawCreateStart
    results.append(
        Measurement(
            name: "server: 2,000 sequential creates, ready-made JSON, one keep-alive HTTPS connection (\(Int(2_000 / seconds(rawCreateTotal))) creates/s)",
            samples: [rawCreateTotal / 2_000], detail: ""))
    if let wrk = try wrkCreates() { results.append(wrk) }

    // Where a create's time goes: the HTTPS round trip alone, and the handler alone (no HTTP).
    let probeStart = ContinuousClock.now
    for _ in 0..<2000 {
        _ = try await rawClient.execute(HTTPRequest(url: "https://127.0.0.1:\(serverPort)/version", headers: ["Authorization": "Bearer \(token)"]))
    }
    results.append(
        Measurement(
            name: "server: GET /version round trips over HTTPS (\(Int(2000 / seconds(ContinuousClock.now - probeStart))) req/s)",
            samples: [(ContinuousClock.now - probeStart) / 2000], detail: ""))
    let handlerTime = await handlerCreates(2_000, prefix: "p")
    results.append(
        Measurement(
            name: "server: create through the API handler, no HTTP (\(Int(2000 / seconds(handlerTime))) creates/s)", samples: [handlerTime / 2000],
            detail: ""))

}

// The controller (issue 4's targets) and an in-memory Triton (held to the real one by
// TritonContractTests): 10,000 ModelDeployments created before it starts, each its own model, in
// a namespace of their own (the controller watches only that one: the server's other objects
// point at a Triton that does not exist). Twice: in process, as inside `modelplane serve`, and
// over HTTPS, as `modelplane controller` runs against any API server.
let loadTimes = Mutex<[String: ContinuousClock.Instant]>([:])
func memoryTriton(_ host: String) -> InMemoryTriton {
    InMemoryTriton(
        baseURL: "http://\(host):8000",
        repository: Dictionary(uniqueKeysWithValues: (0..<10_100).map { ("c\($0)", (versions: Set([1, 2]), broken: [Int: String]())) }),
        onLoad: { name in loadTimes.withLock { if $0[name] == nil { $0[name] = ContinuousClock.now } } })
}

/// The controller's default (`--workers`); `--workers N` here to compare others.
let benchWorkers =
    CommandLine.arguments.firstIndex(of: "--workers").flatMap { CommandLine.arguments.dropFirst($0 + 1).first.flatMap { Int($0) } }
    ?? Controller<CountingReconciler>.defaultWorkers

/// How often a cold start reports its progress on stderr (`--progress-every-ms N`; default 5 s).
let progressEvery: Duration =
    CommandLine.arguments.firstIndex(of: "--progress-every-ms").flatMap { CommandLine.arguments.dropFirst($0 + 1).first.flatMap { Int($0) } }
    .map { .milliseconds($0) } ?? .seconds(5)

/// Counts reconciles: each deployment once on a cold start, unless its own writes queue it again.
final class CountingReconciler: Reconciler {
    let inner: DeploymentReconciler
    let count = Atomic<Int>(0)
    init(inner: DeploymentReconciler) { self.inner = inner }
    func reconcile(_ key: ObjectKey) async throws(ReconcileError) -> ReconcileResult {
        count.add(1, ordering: .relaxed)
        return try await inner.reconcile(key)
    }
}

final class ReadyNames: Sendable {
    let names = Mutex<Set<String>>([])
    var count: Int { names.withLock { $0.count } }
}

/// Creates 10,000 deployments in `namespace`, starts a controller over `client` and returns once
/// all are Ready (counted from the store's own watch: a list every poll would take the store's
/// lock from the server the controller is writing to). The controller keeps running.
func coldStart(namespace: String, client: KubernetesClient, triton: InMemoryTriton) async throws -> (
    time: Duration, cpu: Double, reconciles: Int, controller: Controller<CountingReconciler>, task: Task<Void, Never>
) {
    for i in 0..<10_000 {
        let md = ModelDeployment(
            name: "c\(i)", namespace: namespace, spec: .init(model: .init(name: "c\(i)", version: "1"), backend: .init(triton: .init(url: triton.baseURL))))
        _ = try serverStore.create(.modelDeployments, namespace: namespace, try JSONValueCoding.encode(md))
    }
    let ready = ReadyNames()
    let readyWatch = try serverStore.watch(.modelDeployments, filter: ObjectFilter(namespace: namespace), from: serverStore.resourceVersion)
    let readyWatcher = Task {
        for await event in readyWatch {
            guard case .string(let name) = event.object["metadata"]?["name"] else { continue }
            let isReady = event.type != .deleted && event.object["status"]?["phase"] == "Ready"
            ready.names.withLock { if isReady { $0.insert(name) } else { $0.remove(name) } }
        }
    }
    defer { readyWatcher.cancel() }
    let backends = BackendRegistry([TritonServingBackend(triton: { _ in triton })])
    let cache = ObjectCache<ModelDeployment>.modelDeployments(backends: backends)
    let controller = Controller(
        client: client, scope: ControllerScope(namespaces: [namespace]), cache: cache,
        reconciler: CountingReconciler(
            inner: DeploymentReconciler(
                client: client, cache: cache, backends: backends, audit: nil, events: EventRecorder(client: client, instance: "bench"))),
        workers: benchWorkers, resyncPeriod: .seconds(3600))
    // A marker for `perf record -p` to start on.
    FileHandle.standardError.write(Data("controller (\(namespace)): cold start begins\n".utf8))
    let start = ContinuousClock.now
    let cpuBefore = cpuSeconds()
    let task = Task { await controller.run() }
    var lastReport = ContinuousClock.now
    while ready.count < 10_000 {
        if ContinuousClock.now - start > .seconds(300) {
            FileHandle.standardError.write(Data("controller did not converge in 300 s: \(ready.count) of 10,000 Ready\n".utf8))
            exit(1)
        }
        if ContinuousClock.now - lastReport > progressEvery {
            lastReport = ContinuousClock.now
            FileHandle.standardError.write(
                Data(
                    "controller (\(namespace)): \(ready.count) of 10,000 Ready after \(format(ContinuousClock.now - start)) (CPU \(String(format: "%.2f", cpuSeconds() - cpuBefore)) s)\n"
                        .utf8))
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    return (ContinuousClock.now - start, cpuSeconds() - cpuBefore, controller.reconciler.count.load(ordering: .relaxed), controller, task)
}

let local = try await coldStart(
    namespace: "ctl-local", client: KubernetesClient(configuration: clientConfiguration, transport: InProcessTransport(api: api)),
    triton: memoryTriton("bench-triton-local"))
local.task.cancel()
await local.task.value
if CommandLine.arguments.contains("--only-cold-start") {
    print("cold start in process: \(format(local.time)), CPU \(String(format: "%.1f", local.cpu)) s")
    exit(0)
}
results.append(
    Measurement(
        name:
            "controller in process (as in `serve`): 10,000 ModelDeployments converge from a cold start (in-memory Triton; \(local.reconciles) reconciles, CPU \(String(format: "%.1f", local.cpu)) s)",
        samples: [local.time], detail: ""))

/// The same cold start `--cold-start-runs N` more times (default 4), each in a fresh process
/// (`--only-controller --only-cold-start`): a shared host's speed drifts by a third within
/// minutes, so one run alone says little about the target.
let coldStartRuns =
    CommandLine.arguments.firstIndex(of: "--cold-start-runs").flatMap { CommandLine.arguments.dropFirst($0 + 1).first.flatMap { Int($0) } } ?? 4
if coldStartRuns > 0 {
    var samples: [Duration] = []
    var cpu: [Double] = []
    for _ in 0..<coldStartRuns {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        child.arguments = ["--only-controller", "--only-cold-start", "--workers", String(benchWorkers)]
        let output = Pipe()
        child.standardOutput = output
        child.standardError = FileHandle.nullDevice
        try child.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        child.waitUntilExit()
        // "cold start in process: 4990.2 ms, CPU 8.4 s"
        let words = text.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" })
        guard child.terminationStatus == 0, let ms = words.firstIndex(of: "ms").flatMap({ Double(words[$0 - 1]) }),
            let seconds = words.firstIndex(of: "CPU").flatMap({ Double(words[$0 + 1]) })
        else {
            FileHandle.standardError.write(Data("a fresh-process cold start failed (status \(child.terminationStatus)): \(text)\n".utf8))
            exit(1)
        }
        samples.append(.milliseconds(ms))
        cpu.append(seconds)
    }
    let sorted = samples.sorted()
    results.append(
        Measurement(
            name:
                "controller in process, the same cold start in \(coldStartRuns) fresh processes (\(format(sorted.first!))–\(format(sorted.last!)), CPU \(String(format: "%.1f", cpu.min()!))–\(String(format: "%.1f", cpu.max()!)) s)",
            samples: samples, detail: ""))
}
let remoteTriton = memoryTriton("bench-triton")
let remote = try await coldStart(namespace: "ctl", client: kube, triton: remoteTriton)
let controller = remote.controller
let controllerTask = remote.task
results.append(
    Measurement(
        name:
            "controller over HTTPS: 10,000 ModelDeployments converge from a cold start (in-memory Triton; \(remote.reconciles) reconciles, CPU \(String(format: "%.1f", remote.cpu)) s)",
        samples: [remote.time], detail: ""))

func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}
var resyncSamples: [Duration] = []
var resyncCPU: [Double] = []
for _ in 0..<3 {
    let cpuBefore = cpuSeconds()
    let start = ContinuousClock.now
    await controller.resyncAll()
    while await controller.queue.outstanding > 0 { try await Task.sleep(for: .milliseconds(5)) }
    resyncSamples.append(ContinuousClock.now - start)
    resyncCPU.append(cpuSeconds() - cpuBefore)
}
results.append(
    Measurement(
        name: "controller: steady-state resync of all 10,000 (CPU \(String(format: "%.2f", resyncCPU.sorted()[1])) s, median of 3)", samples: resyncSamples,
        detail: ""))

var applyLatencies: [Duration] = []
for i in 10_000..<10_100 {
    let md = ModelDeployment(
        name: "c\(i)", namespace: "ctl", spec: .init(model: .init(name: "c\(i)", version: "1"), backend: .init(triton: .init(url: remoteTriton.baseURL))))
    let start = ContinuousClock.now
    _ = try await kube.create(md)
    while loadTimes.withLock({ $0["c\(i)"] }) == nil { try await Task.sleep(for: .microseconds(200)) }
    applyLatencies.append(loadTimes.withLock { $0["c\(i)"]! } - start)
}
applyLatencies.sort()
results.append(
    Measurement(
        name: "controller: apply -> first backend call, 100 creates: p50 (p99 \(format(applyLatencies[98])))", samples: [applyLatencies[50]], detail: ""))
controllerTask.cancel()

var controllerRSS = "not measured (--only-controller)"
if !onlyController {
    // The controller alone, as `modelplane controller` runs in a cluster: its own process against this
    // server, reconciling the same 10,100 deployments (their Triton does not exist for it, so each
    // ends Degraded/BackendUnavailable: every object is cached, queued, reconciled and written once).
    // Its peak RSS is the number issue 4 asks for.
    controllerRSS = "not measured: build `modelplane` too (swift build -c release --product modelplane)"
    let modelplaneBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("modelplane").path
    if FileManager.default.isExecutableFile(atPath: modelplaneBinary) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: modelplaneBinary)
        process.arguments = [
            "controller", "--kubeconfig", kubeconfigPath, "--namespace", "ctl", "--no-leader-elect", "--workers", "8", "--resync", "3600",
            "--audit-log", directory + "/controller-audit.log",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        func degradedCount() throws -> Int {
            let items = try serverStore.list(.modelDeployments, filter: ObjectFilter(namespace: "ctl")).items
            return items.filter { $0.object["status"]?["phase"] == "Degraded" }.count
        }
        let started = ContinuousClock.now
        while try degradedCount() < 10_100, ContinuousClock.now - started < .seconds(300) { try await Task.sleep(for: .milliseconds(200)) }
        let reconciled = try degradedCount()
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let peak =
            status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }.map { $0.split(separator: " ").dropFirst().first.map(String.init) ?? "?" } ?? "?"
        process.terminate()
        process.waitUntilExit()
        controllerRSS = "\((Int(peak) ?? 0) / 1024) MiB after reconciling \(reconciled) of 10,100 deployments in \(format(ContinuousClock.now - started))"
    }
    print("controller process alone: peak RSS \(controllerRSS)")

    // Git sync: a repository of 1,000 manifests (the real git), synced into the server.
    let gitRepository = directory + "/git-origin"
    try FileManager.default.createDirectory(atPath: gitRepository + "/deploy", withIntermediateDirectories: true)
    func git(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", gitRepository, "-c", "user.email=bench@modelplane.dev", "-c", "user.name=bench"] + arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
    }
    func gitManifest(_ i: Int, version: Int) -> String {
        """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: git-\(i), namespace: gitops, labels: {team: t\(i % 10)}}
        spec:
          model: {name: git-\(i), version: "\(version)"}
          backend: {triton: {url: "http://127.0.0.1:8000", modelConfig: {max_batch_size: 8}}}
          rollout: {strategy: BlueGreen}
        """
    }
    try git("init", "--quiet", "--initial-branch=main")
    for i in 0..<1000 {
        try FileManager.default.createDirectory(atPath: gitRepository + "/deploy/t\(i % 10)", withIntermediateDirectories: true)
        try gitManifest(i, version: 1).write(toFile: gitRepository + "/deploy/t\(i % 10)/m\(i).yaml", atomically: false, encoding: .utf8)
    }
    try git("add", "--all")
    try git("commit", "--quiet", "-m", "1,000 deployments")
    let syncer = try GitSyncer(
        source: try GitSource(url: gitRepository, path: "deploy"), workDirectory: directory + "/git-work", client: kube,
        events: EventRecorder(client: kube, controller: "modelplane.dev/git-sync", instance: "bench"),
        logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    var syncStart = ContinuousClock.now
    var report = await syncer.sync()
    precondition(report.created.count == 1000, "\(report)")
    results.append(
        Measurement(
            name: "git sync: first sync of 1,000 manifests (fetch, read, 1,000 creates and events)", samples: [ContinuousClock.now - syncStart], detail: "")
    )
    var unchangedSamples: [Duration] = []
    for _ in 0..<3 {
        syncStart = ContinuousClock.now
        report = await syncer.sync()
        precondition(report.unchanged == 1000, "\(report)")
        unchangedSamples.append(ContinuousClock.now - syncStart)
    }
    results.append(Measurement(name: "git sync: sync of 1,000 unchanged (fetch, read, list, compare)", samples: unchangedSamples, detail: ""))
    try gitManifest(7, version: 2).write(toFile: gitRepository + "/deploy/t7/m7.yaml", atomically: false, encoding: .utf8)
    try git("commit", "--quiet", "-am", "one change")
    syncStart = ContinuousClock.now
    report = await syncer.sync()
    precondition(report.configured.count == 1, "\(report)")
    results.append(Measurement(name: "git sync: a commit changing 1 of 1,000", samples: [ContinuousClock.now - syncStart], detail: ""))

}

results += try await analysisBench(store: serverStore, api: api, token: token)
results += driftBench()

serverTask.cancel()

let cpu =
    (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
    .split(separator: "\n").first { $0.hasPrefix("model name") }?
    .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
print("Machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(ProcessInfo.processInfo.physicalMemory / (1 << 30)) GiB\n")
print("| benchmark | median | best |")
print("|---|---|---|")
for r in results { print("| \(r.name) | \(format(r.median)) | \(format(r.best)) |") }

var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
print("\nController process alone (modelplane controller, 10,100 deployments): peak RSS \(controllerRSS)")
print("\nPeak RSS of the whole run (including the 64 MiB test file the benchmark itself builds in memory): \(usage.ru_maxrss / 1024) MiB")
