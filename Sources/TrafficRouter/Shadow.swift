import Foundation
import HTTPClient
import Metrics
public import ModelplaneAPI
import Synchronization

/// One copy of a request for the shadow version, with the primary's answer to compare with.
struct ShadowJob: Sendable {
    var namespace: String
    var name: String
    var version: String
    var url: String
    var headers: HTTPHeaders
    var body: Data
    /// The primary's answer (status 200 only are compared) and how long it took.
    var primary: Upstream.Answer
    var primaryLatency: Duration
    var compare: ModelDeployment.Shadow.Compare?

    /// The memory it holds.
    var size: Int { body.count + primary.body.count }
}

/// Copies of requests for shadow versions, sent beside production and never in its way: a
/// bounded queue (a full queue drops the copy, counted) drained by a few workers. Each answer is
/// compared with the primary's and counted in `ShadowStatistics`.
final class ShadowMirror: Sendable {
    private let stream: AsyncStream<ShadowJob>
    private let continuation: AsyncStream<ShadowJob>.Continuation
    let statistics: ShadowStatistics
    let upstream: Upstream
    let concurrency: Int
    let timeout: Duration
    /// Bytes held by queued and in-flight copies (request and primary answer), and the most
    /// allowed: a few large requests drop copies before they take the memory of many.
    private let held = Atomic<Int>(0)
    let maxHeldBytes: Int

    init(upstream: Upstream, statistics: ShadowStatistics, capacity: Int, concurrency: Int, timeout: Duration, maxHeldBytes: Int = 64 << 20) {
        (stream, continuation) = AsyncStream.makeStream(of: ShadowJob.self, bufferingPolicy: .bufferingOldest(max(1, capacity)))
        self.maxHeldBytes = maxHeldBytes
        self.upstream = upstream
        self.statistics = statistics
        self.concurrency = concurrency
        self.timeout = timeout
    }

    /// Queues a copy; a full queue drops it (production never waits for a shadow).
    func offer(_ job: ShadowJob) {
        let labels = [("namespace", job.namespace), ("deployment", job.name), ("version", job.version)]
        let size = job.size
        if held.wrappingAdd(size, ordering: .relaxed).newValue > maxHeldBytes {
            held.wrappingSubtract(size, ordering: .relaxed)
            Counter(label: "modelplane_router_shadow_dropped_total", dimensions: labels).increment()
            statistics.dropped(job)
            return
        }
        switch continuation.yield(job) {
        case .enqueued:
            Counter(label: "modelplane_router_shadow_mirrored_total", dimensions: labels).increment()
            statistics.mirrored(job)
        case .dropped:
            held.wrappingSubtract(size, ordering: .relaxed)
            Counter(label: "modelplane_router_shadow_dropped_total", dimensions: labels).increment()
            statistics.dropped(job)
        case .terminated:
            // The router is stopping: nothing is sent any more.
            held.wrappingSubtract(size, ordering: .relaxed)
        @unknown default:
            held.wrappingSubtract(size, ordering: .relaxed)
        }
    }

    /// Sends the queued copies, at most `concurrency` at once, until cancelled.
    func run() async {
        await withDiscardingTaskGroup { group in
            let slots = AsyncSemaphore(concurrency)
            for await job in stream {
                // Stopping: what is still queued is not sent.
                if Task.isCancelled {
                    held.wrappingSubtract(job.size, ordering: .relaxed)
                    continue
                }
                await slots.wait()
                group.addTask {
                    await self.send(job)
                    self.held.wrappingSubtract(job.size, ordering: .relaxed)
                    slots.signal()
                }
            }
        }
    }

    func stop() { continuation.finish() }

    private func send(_ job: ShadowJob) async {
        let started = ContinuousClock.now
        let result = await upstream.send("POST", job.url, headers: job.headers, body: job.body, timeout: timeout)
        let latency = ContinuousClock.now - started
        let labels = [("namespace", job.namespace), ("deployment", job.name), ("version", job.version)]
        switch result {
        case .success(let answer) where answer.status == 200:
            guard job.primary.status == 200 else {
                statistics.answered(job, latency: latency, comparison: nil)
                return
            }
            // Nil: the outputs could not be compared (none named so, another shape, not numbers):
            // counted as answered, not as a disagreement.
            let comparison = ShadowComparison.compare(primary: job.primary, shadow: answer, job.compare)
            if let comparison {
                Counter(label: "modelplane_router_shadow_compared_total", dimensions: labels).increment()
                if !comparison.agree { Counter(label: "modelplane_router_shadow_disagreed_total", dimensions: labels).increment() }
            }
            statistics.answered(job, latency: latency, comparison: comparison)
        default:
            Counter(label: "modelplane_router_shadow_errors_total", dimensions: labels).increment()
            statistics.failed(job)
        }
    }
}

/// A counting semaphore for tasks.
final class AsyncSemaphore: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state: Mutex<State>

    init(_ count: Int) { state = Mutex(State(free: count)) }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resume = state.withLock { state -> Bool in
                if state.free > 0 {
                    state.free -= 1
                    return true
                }
                state.waiting.append(continuation)
                return false
            }
            if resume { continuation.resume() }
        }
    }

    func signal() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}

/// How one shadow answer compares with the primary's.
struct ShadowComparison: Sendable, Equatable {
    var agree: Bool
    /// Sum of |primary − shadow| over the compared elements, and how many there were.
    var absDiff: Double
    var elements: Int

    /// Compares the output `compare.output` names (default: the primary's first) of two KServe
    /// v2 answers, JSON `data` or binary tensors; nil when they cannot be compared (the output
    /// missing from either, other sizes, not numbers).
    static func compare(primary: Upstream.Answer, shadow: Upstream.Answer, _ compare: ModelDeployment.Shadow.Compare?) -> ShadowComparison? {
        guard let ours = outputs(primary), let first = ours.first else { return nil }
        let name = compare?.output ?? first.name
        guard let a = ours.first(where: { $0.name == name }) else { return nil }
        guard let b = outputs(shadow)?.first(where: { $0.name == name }), a.values.count == b.values.count, !a.values.isEmpty else { return nil }
        var sum = 0.0
        var largest = 0.0
        var finite = true
        var counted = 0
        for (x, y) in zip(a.values, b.values) {
            let difference = abs(x - y)
            // NaN or infinity on either side: no number to add, and no agreement (a NaN compares
            // false with everything, so `max` alone would hide it).
            guard difference.isFinite else {
                finite = false
                continue
            }
            sum += difference
            counted += 1
            largest = max(largest, difference)
        }
        let agree: Bool
        switch compare?.mode ?? .absolute {
        case .absolute: agree = finite && largest <= (compare?.tolerance ?? 0)
        case .argmax:
            // Per row of the last dimension (a batch of class scores), the same winner.
            let row = max(1, a.shape.last.map(Int.init) ?? a.values.count)
            agree = stride(from: 0, to: a.values.count, by: row).allSatisfy { start in
                let end = min(start + row, a.values.count)
                return argmax(a.values[start..<end]) == argmax(b.values[start..<end])
            }
        }
        // The mean is over the elements that have a difference (NaN and infinity have none).
        return ShadowComparison(agree: agree, absDiff: sum, elements: counted)
    }

    static func argmax(_ values: ArraySlice<Double>) -> Int? {
        values.indices.max { values[$0] < values[$1] }
    }

    struct Output {
        var name: String
        var shape: [Int64]
        var values: [Double]
    }

    /// The numeric outputs of an answer: JSON `data`, or binary data after the JSON header
    /// (`binary_data_size`), for the fixed-width numeric types.
    static func outputs(_ answer: Upstream.Answer) -> [Output]? {
        let headerLength = answer.headers["Inference-Header-Content-Length"].flatMap(Int.init)
        let jsonEnd = min(headerLength ?? answer.body.count, answer.body.count)
        guard let document = try? JSONValue(parsing: Data(answer.body.prefix(jsonEnd))), case .array(let list)? = document["outputs"] else { return nil }
        var binary = answer.body.dropFirst(jsonEnd)
        var result: [Output] = []
        for output in list {
            guard let name = output["name"]?.stringValue else { continue }
            let shape: [Int64] = output["shape"]?.arrayValue?.compactMap(\.int64Value) ?? []
            if let size = output["parameters"]?["binary_data_size"]?.int64Value {
                let bytes = binary.prefix(Int(size))
                binary = binary.dropFirst(Int(size))
                result.append(Output(name: name, shape: shape, values: decode(bytes, as: output["datatype"]?.stringValue ?? "")))
            } else if case .array(let data)? = output["data"] {
                result.append(Output(name: name, shape: shape, values: flatten(data)))
            }
        }
        return result
    }

    static func flatten(_ data: [JSONValue]) -> [Double] {
        var values: [Double] = []
        values.reserveCapacity(data.count)
        for item in data {
            switch item {
            case .int(let i): values.append(Double(i))
            case .double(let d): values.append(d)
            case .bool(let b): values.append(b ? 1 : 0)
            case .array(let nested): values += flatten(nested)
            default: continue
            }
        }
        return values
    }

    static func decode(_ bytes: Data, as datatype: String) -> [Double] {
        func read<T>(_: T.Type, _ convert: (T) -> Double) -> [Double] {
            let size = MemoryLayout<T>.size
            return stride(from: 0, to: bytes.count - size + 1, by: size).map { offset in
                bytes.withUnsafeBytes { raw in convert(raw.loadUnaligned(fromByteOffset: offset, as: T.self)) }
            }
        }
        switch datatype {
        case "FP32": return read(Float.self) { Double($0) }
        case "FP64": return read(Double.self) { $0 }
        case "FP16": return read(UInt16.self) { Double(Float16(bitPattern: $0)) }
        // bfloat16: the top half of a float32.
        case "BF16": return read(UInt16.self) { Double(Float(bitPattern: UInt32($0) << 16)) }
        case "INT8": return read(Int8.self) { Double($0) }
        case "INT16": return read(Int16.self) { Double($0) }
        case "INT32": return read(Int32.self) { Double($0) }
        case "INT64": return read(Int64.self) { Double($0) }
        case "UINT8", "BOOL": return read(UInt8.self) { Double($0) }
        case "UINT16": return read(UInt16.self) { Double($0) }
        case "UINT32": return read(UInt32.self) { Double($0) }
        case "UINT64": return read(UInt64.self) { Double($0) }
        default: return []
        }
    }
}

/// The running shadow figures per deployment: what `status.shadow` publishes and what the
/// router's metrics count. They start again when the shadow version changes.
public final class ShadowStatistics: Sendable {
    struct Figures {
        var version: String
        var since: Date
        var mirrored: Int64 = 0
        var dropped: Int64 = 0
        var compared: Int64 = 0
        var agreed: Int64 = 0
        var errors: Int64 = 0
        var absDiff = 0.0
        var elements = 0
        var primary = LatencyWindow()
        var shadow = LatencyWindow()
    }

    private let figures = Mutex<[String: Figures]>([:])

    public init() {}

    static func key(_ namespace: String, _ name: String) -> String { namespace + "/" + name }

    private func update(_ job: ShadowJob, _ body: (inout Figures) -> Void) {
        figures.withLock { all in
            let key = Self.key(job.namespace, job.name)
            var entry = all[key].flatMap { $0.version == job.version ? $0 : nil } ?? Figures(version: job.version, since: Date())
            body(&entry)
            all[key] = entry
        }
    }

    func mirrored(_ job: ShadowJob) { update(job) { $0.mirrored += 1 } }
    func dropped(_ job: ShadowJob) { update(job) { $0.dropped += 1 } }
    func failed(_ job: ShadowJob) { update(job) { $0.errors += 1 } }

    func answered(_ job: ShadowJob, latency: Duration, comparison: ShadowComparison?) {
        update(job) { entry in
            entry.primary.add(job.primaryLatency)
            entry.shadow.add(latency)
            guard let comparison else { return }
            entry.compared += 1
            if comparison.agree { entry.agreed += 1 }
            entry.absDiff += comparison.absDiff
            entry.elements += comparison.elements
        }
    }

    /// Every deployment's running figures, as sums (what `status.shadow` is made of, and what a
    /// controller adds up across router replicas).
    public func snapshots() -> [ShadowSnapshot] {
        figures.withLock { all in
            all.map { key, f in
                let slash = key.firstIndex(of: "/") ?? key.endIndex
                let p = f.primary.quantiles()
                let s = f.shadow.quantiles()
                return ShadowSnapshot(
                    namespace: String(key[..<slash]), name: String(key[key.index(after: slash)...]), version: f.version, since: Timestamps.rfc3339(f.since),
                    mirrored: f.mirrored, dropped: f.dropped, compared: f.compared, agreed: f.agreed, errors: f.errors,
                    // (JSON has no infinity: an infinite difference is the largest finite one.)
                    absDiff: f.absDiff.isFinite ? f.absDiff : .greatestFiniteMagnitude,
                    elements: Int64(f.elements), answered: Int64(f.primary.count), primaryP50Ms: p?.p50, primaryP99Ms: p?.p99, shadowP50Ms: s?.p50,
                    shadowP99Ms: s?.p99)
            }.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        }
    }
}

/// One router's figures for one deployment's shadow, as sums: several routers' add up exactly
/// (counts), or near enough (latency: a p50 weighted by the answers each saw, the largest p99).
public struct ShadowSnapshot: Codable, Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var version: String
    public var since: String
    public var mirrored: Int64
    public var dropped: Int64
    public var compared: Int64
    public var agreed: Int64
    public var errors: Int64
    /// The sum of the absolute differences over `elements` compared elements.
    public var absDiff: Double
    public var elements: Int64
    /// Mirrored requests the shadow answered (the latencies' sample count, at most a window).
    public var answered: Int64
    public var primaryP50Ms: Double?
    public var primaryP99Ms: Double?
    public var shadowP50Ms: Double?
    public var shadowP99Ms: Double?

    /// `status.shadow` from the snapshots of one deployment's shadow version (nil: none).
    public static func merge(_ snapshots: [ShadowSnapshot]) -> ModelDeployment.ShadowStatus? {
        guard let first = snapshots.first else { return nil }
        let sum = { (field: KeyPath<ShadowSnapshot, Int64>) in snapshots.reduce(Int64(0)) { $0 + $1[keyPath: field] } }
        var status = ModelDeployment.ShadowStatus(
            version: first.version, since: snapshots.map(\.since).min() ?? first.since, mirrored: sum(\.mirrored), dropped: sum(\.dropped),
            compared: sum(\.compared), errors: sum(\.errors))
        if status.compared > 0 { status.agreement = Double(sum(\.agreed)) / Double(status.compared) }
        let elements = sum(\.elements)
        if elements > 0 { status.meanAbsDiff = snapshots.reduce(0) { $0 + $1.absDiff } / Double(elements) }
        let timed = snapshots.filter { $0.answered > 0 && $0.primaryP50Ms != nil && $0.shadowP50Ms != nil }
        let weight = Double(timed.reduce(Int64(0)) { $0 + $1.answered })
        if weight > 0 {
            func weighted(_ field: KeyPath<ShadowSnapshot, Double?>) -> Double {
                (timed.reduce(0.0) { $0 + ($1[keyPath: field] ?? 0) * Double($1.answered) } / weight * 1000).rounded() / 1000
            }
            status.latency = .init(
                primaryP50Ms: weighted(\.primaryP50Ms), primaryP99Ms: timed.compactMap(\.primaryP99Ms).max() ?? 0,
                shadowP50Ms: weighted(\.shadowP50Ms), shadowP99Ms: timed.compactMap(\.shadowP99Ms).max() ?? 0)
        }
        return status
    }
}

/// The latest latencies (a bounded ring), for p50 and p99 in milliseconds.
struct LatencyWindow {
    static let size = 2048
    private var samples: [Double] = []
    private var next = 0

    var count: Int { samples.count }

    mutating func add(_ duration: Duration) {
        let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        if samples.count < Self.size {
            samples.append(ms)
        } else {
            samples[next] = ms
            next = (next + 1) % Self.size
        }
    }

    func quantiles() -> (p50: Double, p99: Double)? {
        guard !samples.isEmpty else { return nil }
        let sorted = samples.sorted()
        func at(_ q: Double) -> Double { (sorted[min(sorted.count - 1, Int((q * Double(sorted.count)).rounded(.up)) - 1)] * 1000).rounded() / 1000 }
        return (at(0.5), at(0.99))
    }
}
