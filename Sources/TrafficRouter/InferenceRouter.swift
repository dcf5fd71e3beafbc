import AWS
import Foundation
import HTTPClient
import HTTPTypes
import Hummingbird
import HummingbirdCore
public import KubeClient
import Logging
import Metrics
import ModelplaneAPI
import NIOCore
import Synchronization

private typealias Status = HTTPTypes.HTTPResponse.Status

/// The inference router: one KServe v2 (HTTP/REST) endpoint per ModelDeployment, in front of the
/// backend that serves it. It watches ModelDeployments and sends each request where the
/// deployment's `status.traffic` says (the controller publishes it; the router decides nothing).
///
/// `GET /v2/health/live`, `/v2/health/ready`, `GET /v2/models/NAME[/ready]`,
/// `POST /v2/models/NAME/infer` and `POST /v2/models/NAME/versions/V/infer` (pinned to V). NAME is
/// the deployment's name, in the router's namespace unless a `Modelplane-Namespace` header names
/// another. Answers carry `model_name` NAME, `model_version` the version that answered, the request
/// id (the body's `id`, else `X-Request-Id`, else one made here, also sent back as `X-Request-Id`),
/// and `Modelplane-Version` and `Modelplane-Revision` headers. Errors are KServe's
/// `{"error": "..."}`: an unknown deployment 404, one with nothing serving 503, a backend that
/// refuses or is down 503 at once, one that does not answer in time 504, a body over the limit 413.
///
/// Triton: a request goes to `/v2/models/MODEL/versions/V/infer`, binary tensor data
/// (`Inference-Header-Content-Length`) passed through both ways. SageMaker: InvokeEndpoint, signed
/// with SigV4, naming the production variant (`TargetVariant`) when a canary splits the endpoint;
/// binary tensors travel as Triton on SageMaker takes them (`json-header-size` in the content type).
public final class InferenceRouter: Sendable {
    public struct Configuration: Sendable {
        /// The namespace of a NAME no header qualifies.
        public var namespace = "default"
        /// The largest request body taken.
        public var maxBodyBytes = 64 << 20
        /// The largest request header section taken (and the largest single header).
        public var maxHeaderBytes = 64 << 10
        /// Connections served at once; more wait in the listen backlog until one closes.
        public var maxConnections = 1024
        /// How long a connection may sit idle (a client that stops sending mid-request included).
        public var idleTimeout: Duration = .seconds(60)
        /// How long one request may take: reading its body, then the backend's answer.
        public var upstreamTimeout: Duration = .seconds(60)
        /// Copies for shadows waiting to be sent; past it they are dropped (and counted).
        public var shadowQueue = 256
        /// Copies sent to shadows at once: what a shadow may take of the backend.
        public var shadowConcurrency = 2
        /// Where `spec.capture` samples are written (nil: nowhere; capture specs are ignored).
        public var captureDirectory: String?

        public init() {}
    }

    static let logger = Logger(label: "modelplane.router")

    let table = TrafficTable()
    let client: KubernetesClient
    let watchNamespace: String?
    let upstream: Upstream
    let configuration: Configuration
    let mirror: ShadowMirror
    let capture: CaptureWriter?
    /// Requests, errors and latency per revision, for analysis.
    let revisions: RevisionStatistics

    /// `watchNamespace`: the namespace whose deployments it serves (nil: every namespace).
    /// `shadows`: where the shadow figures go (the controller in the same process publishes them
    /// in `status.shadow`); `revisions`: where the figures per revision go (what analysis measures).
    public init(
        client: KubernetesClient, watchNamespace: String?, upstream: Upstream, configuration: Configuration = Configuration(),
        shadows: ShadowStatistics = ShadowStatistics(), revisions: RevisionStatistics = RevisionStatistics()
    ) {
        self.revisions = revisions
        self.client = client
        self.watchNamespace = watchNamespace
        self.upstream = upstream
        self.configuration = configuration
        self.mirror = ShadowMirror(
            upstream: upstream, statistics: shadows, capacity: configuration.shadowQueue, concurrency: configuration.shadowConcurrency,
            timeout: configuration.upstreamTimeout)
        self.capture = configuration.captureDirectory.map { CaptureWriter(directory: $0) }
    }

    /// Follows the deployments and serves on `host:port` until cancelled; `onListening` gets the
    /// bound port.
    public func run(host: String, port: Int, onListening: @escaping @Sendable (Int) -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.follow() }
            group.addTask { await self.mirror.run() }
            if let capture = self.capture { group.addTask { await capture.run() } }
            group.addTask { try await self.serve(host: host, port: port, onListening: onListening) }
            try await group.next()
            mirror.stop()
            capture?.stop()
            group.cancelAll()
        }
    }

    private func follow() async {
        let reflector = Reflector<ModelDeployment>(client: client, namespace: watchNamespace)
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, _):
                table.replace(items)
                for md in items { followed(md) }
            case .added(let md), .modified(let md):
                table.upsert(md)
                followed(md)
            case .deleted(let md):
                table.remove(md)
                revisions.keep(namespace: md.metadata.namespace ?? "default", name: md.metadata.name ?? "", revisions: [])
            case .failed: continue  // the reflector retries; requests use what was last seen
            }
        }
    }

    /// A deployment as the reflector last saw it: its series made, the figures of revisions it
    /// no longer routes to forgotten.
    private func followed(_ md: ModelDeployment) {
        RouterMetrics.prepare(md)
        let routed = Set((md.status?.traffic ?? []).compactMap(\.revision))
        revisions.keep(namespace: md.metadata.namespace ?? "default", name: md.metadata.name ?? "", revisions: routed)
    }

    private func serve(host: String, port: Int, onListening: @escaping @Sendable (Int) -> Void) async throws {
        let router = Router()
        router.get("v2/health/live") { _, _ in Self.json(.ok, [:]) }
        router.get("v2/health/ready") { _, _ in
            self.table.synced ? Self.json(.ok, [:]) : Self.error(.serviceUnavailable, "the router has not read the deployments yet")
        }
        router.get("v2/models/:name") { request, context in
            await self.metadata(request, name: try context.parameters.require("name"))
        }
        router.get("v2/models/:name/ready") { request, context in
            await self.ready(request, name: try context.parameters.require("name"))
        }
        router.post("v2/models/:name/infer") { request, context in
            await self.infer(request, name: try context.parameters.require("name"), pinned: nil)
        }
        router.post("v2/models/:name/versions/:version/infer") { request, context in
            await self.infer(request, name: try context.parameters.require("name"), pinned: try context.parameters.require("version"))
        }
        var logger = Logger(label: "modelplane.router")
        logger.logLevel = .warning
        let idle = configuration.idleTimeout.components
        let http1 = HTTP1Channel.Configuration(
            idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000),
            httpDecoderConfiguration: .init(
                maxHeaderFieldSize: configuration.maxHeaderBytes, maxHeaderListSize: configuration.maxHeaderBytes, maxHeaderFieldCount: 1000))
        let app = Application(
            router: router,
            server: .http1(configuration: http1),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port), serverName: "modelplane-router",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maxConnections)),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) }, logger: logger)
        try await app.run()
    }

    // MARK: - Endpoints

    /// Where a request goes: its deployment, the line of its traffic that answers, and how that
    /// version is reached on the backend.
    struct Route {
        var deployment: ModelDeployment
        var target: ModelDeployment.TrafficTarget
        var backend: Backend

        enum Backend {
            /// Triton: the version's URL, `…/v2/models/MODEL/versions/V`.
            case triton(versionURL: String)
            /// SageMaker: InvokeEndpoint on `endpoint`, naming the variant when the endpoint has
            /// several (the router does the split itself, so each revision's figures are exact).
            case sageMaker(SageMakerRuntime, endpoint: String, variant: String?)
        }
    }

    /// The route of a request for NAME (`pinned`: to that version) handed to `body`, or the error
    /// to answer instead.
    /// `split`: an inference request takes its turn of the weighted split; metadata and readiness
    /// ask the version that takes the most requests, and leave the split's turns to inferences.
    private func routed(_ request: Request, name: String, pinned: String? = nil, split: Bool = true, _ body: (Route) async -> Response) async -> Response {
        let namespace = request.headers[HTTPField.Name("Modelplane-Namespace")!] ?? configuration.namespace
        guard let md = table.deployment(namespace: namespace, name: name) else {
            return Self.error(.notFound, "no ModelDeployment \(namespace)/\(name)")
        }
        let line: ModelDeployment.TrafficTarget
        if let pinned {
            // A shadow's answers are never returned: only a line that takes requests can be pinned.
            guard let found = md.status?.traffic?.first(where: { $0.version == pinned && $0.role != .shadow }) else {
                return Self.error(.notFound, "version \(pinned) of \(name) takes no traffic")
            }
            line = found
        } else {
            guard let chosen = split ? table.choose(namespace: namespace, name: name) : table.primary(namespace: namespace, name: name) else {
                return Self.error(.serviceUnavailable, "\(name) has no version serving")
            }
            line = chosen
        }
        let backend: Route.Backend
        if let url = md.spec.backend.triton?.url {
            backend = .triton(versionURL: Self.versionURL(url, model: md.spec.model.name, version: line.version))
        } else if let sagemaker = md.spec.backend.sagemaker {
            guard let runtime = upstream.sageMaker(region: sagemaker.region, apiEndpoint: sagemaker.endpointURL) else {
                return Self.error(.serviceUnavailable, "\(name) is served by SageMaker and this router has no AWS credentials")
            }
            // The variant is named while a canary splits the endpoint, and while the endpoint may
            // still hold a canary's config (SageMaker's own weights may then differ from the table).
            let lines = (md.status?.traffic ?? []).filter { $0.role != .shadow }.count
            let splitting = lines > 1 || md.status?.sagemaker?.splitConfigs?.isEmpty == false
            backend = .sageMaker(
                runtime, endpoint: sagemaker.endpointName ?? name, variant: splitting ? ModelDeployment.SageMaker.variantName(version: line.version) : nil)
        } else {
            return Self.error(.notImplemented, "\(namespace)/\(name) names no backend the router can reach")
        }
        return await body(Route(deployment: md, target: line, backend: backend))
    }

    static func versionURL(_ url: String, model: String, version: String) -> String {
        "\(Self.base(url))/v2/models/\(Self.escape(model))/versions/\(Self.escape(version))"
    }

    private func metadata(_ request: Request, name: String) async -> Response {
        await routed(request, name: name, split: false) { route in
            let versions = JSONValue.array((route.deployment.status?.traffic ?? []).filter { $0.role != .shadow }.map { .string($0.version) })
            guard case .triton(let versionURL) = route.backend else {
                // SageMaker has no metadata call: what the deployment says.
                var response = Self.json(.ok, ["name": .string(name), "versions": versions, "platform": "sagemaker", "inputs": [], "outputs": []])
                Self.tag(&response, route.target)
                return response
            }
            switch await upstream.send("GET", versionURL, timeout: configuration.upstreamTimeout) {
            case .failure(let failure): return Self.error(failure)
            case .success(let answer):
                guard answer.status == 200, var document = try? JSONValue(parsing: answer.body) else { return Self.relay(answer) }
                document["name"] = .string(name)
                document["versions"] = versions
                var response = Self.json(.ok, document)
                Self.tag(&response, route.target)
                return response
            }
        }
    }

    private func ready(_ request: Request, name: String) async -> Response {
        await routed(request, name: name, split: false) { route in
            // SageMaker: a version the controller lists in status.traffic is InService.
            guard case .triton(let versionURL) = route.backend else { return Response(status: .ok) }
            switch await upstream.send("GET", versionURL + "/ready", timeout: configuration.upstreamTimeout) {
            case .success(let answer) where answer.status == 200: return Response(status: .ok)
            case .success: return Self.error(.serviceUnavailable, "version \(route.target.version) of \(name) is not ready")
            case .failure(let failure): return Self.error(failure)
            }
        }
    }

    private func infer(_ request: Request, name: String, pinned: String?) async -> Response {
        let started = ContinuousClock.now
        RouterMetrics.inFlight.increment()
        defer { RouterMetrics.inFlight.decrement() }
        var line: (namespace: String, name: String, target: ModelDeployment.TrafficTarget)?
        let response = await routed(request, name: name, pinned: pinned) { route in
            line = (route.deployment.metadata.namespace ?? "default", name, route.target)
            return await forward(request, name: name, route, mirrored: pinned == nil)
        }
        RouterMetrics.record(line, code: response.status.code, since: started)
        if let line {
            revisions.record(
                namespace: line.namespace, name: line.name, target: line.target, code: response.status.code,
                seconds: Double(RouterMetrics.nanoseconds(ContinuousClock.now - started)) / 1e9)
        }
        return response
    }

    /// Sends an inference request along its route and rewrites the answer.
    private func forward(_ request: Request, name: String, _ route: Route, mirrored: Bool) async -> Response {
        let target = route.target
        let body: ByteBuffer
        let limit = configuration.maxBodyBytes
        switch await Self.within(
            configuration.upstreamTimeout,
            {
                var reading = request
                return try await reading.collectBody(upTo: limit)
            })
        {
        case .some(.success(let collected)): body = collected
        case .some(.failure(let error)) where error is NIOTooManyBytesError:
            return Self.error(.contentTooLarge, "the request body is larger than \(limit) bytes")
        case .some(.failure): return Self.error(.badRequest, "the request body ended before its Content-Length")
        case nil: return Self.error(.requestTimeout, "the request body did not arrive within \(configuration.upstreamTimeout)")
        }
        let bytes = Data(buffer: body)
        // The JSON part of the body: all of it, unless binary tensors follow it.
        let headerLength = request.headers[HTTPField.Name("Inference-Header-Content-Length")!].flatMap(Int.init)
        let jsonEnd = min(headerLength ?? bytes.count, bytes.count)
        // Checked here (Triton answers malformed JSON with a 500), and sent upstream as it came:
        // the id is put in the answer, not the request.
        guard let document = try? JSONValue(parsing: Data(bytes.prefix(jsonEnd))), document.objectValue != nil else {
            return Self.error(.badRequest, "the request is not a KServe v2 inference request (a JSON object)")
        }
        let id = document["id"]?.stringValue ?? request.headers[HTTPField.Name("X-Request-Id")!] ?? UUID().uuidString.lowercased()
        let namespace = route.deployment.metadata.namespace ?? "default"
        let started = ContinuousClock.now
        let sent = await send(route, request: request, body: bytes, binaryFrom: headerLength.map { _ in jsonEnd }, id: id)
        let latency = ContinuousClock.now - started
        RouterMetrics.upstream(namespace: namespace, name: name, target: target, latency)
        switch sent {
        case .refused(let refusal):
            var response = refusal
            response.headers[HTTPField.Name("X-Request-Id")!] = id
            return response
        case .answered(let answer, let headers, let answered):
            if mirrored, case .triton = route.backend, let shadow = table.mirror(namespace: namespace, name: name), shadow.version != target.version,
                let url = route.deployment.spec.backend.triton?.url
            {
                mirror.offer(
                    ShadowJob(
                        namespace: namespace, name: name, version: shadow.version,
                        url: Self.versionURL(url, model: route.deployment.spec.model.name, version: shadow.version) + "/infer",
                        headers: headers, body: bytes, primary: answer, primaryLatency: latency,
                        compare: route.deployment.shadowCompare(version: shadow.version)))
            }
            if let capture, let spec = route.deployment.spec.capture, CaptureWriter.sampled(spec) {
                let answerEnd = min(answer.headers["Inference-Header-Content-Length"].flatMap(Int.init) ?? answer.body.count, answer.body.count)
                capture.offer(
                    namespace: namespace, name: name, capture: spec, id: id, target: answered, latency: latency, request: document,
                    requestBinary: Data(bytes.dropFirst(jsonEnd)), answer: try? JSONValue(parsing: Data(answer.body.prefix(answerEnd))),
                    answerBinary: Data(answer.body.dropFirst(answerEnd)), status: answer.status)
            }
            var response = Self.rewrite(answer, name: name, version: answered.version, id: id)
            Self.tag(&response, answered)
            response.headers[HTTPField.Name("X-Request-Id")!] = id
            return response
        }
    }

    /// Sends one inference request along its route: the backend's answer (binary outputs marked
    /// with `Inference-Header-Content-Length` whatever the backend), the headers it was sent with
    /// (a shadow copy gets the same) and the traffic line that answered; or the error to answer.
    /// `binaryFrom`: where binary tensors follow the JSON part of `body`.
    private func send(
        _ route: Route, request: Request, body: Data, binaryFrom: Int?, id: String
    ) async -> Sent {
        let contentType = request.headers[.contentType] ?? "application/json"
        switch route.backend {
        case .triton(let versionURL):
            var headers: HTTPHeaders = ["Content-Type": contentType]
            if let binaryFrom { headers.set("Inference-Header-Content-Length", String(binaryFrom)) }
            switch await upstream.send("POST", versionURL + "/infer", headers: headers, body: body, timeout: configuration.upstreamTimeout) {
            case .failure(let failure): return .refused(Self.error(failure))
            case .success(let answer): return .answered(answer, sentWith: headers, by: route.target)
            }
        case .sageMaker(let runtime, let endpoint, let variant):
            // Triton on SageMaker takes binary tensors with the JSON part's size in the content type.
            var invocation = SageMakerRuntime.Invocation(
                endpointName: endpoint, body: body,
                contentType: binaryFrom.map { "application/vnd.sagemaker-triton.binary+json;json-header-size=\($0)" } ?? contentType,
                accept: request.headers[.accept], targetVariant: variant, inferenceID: id)
            var attempt = 0
            while true {
                attempt += 1
                let signed: (url: String, headers: HTTPHeaders)
                do {
                    signed = try await runtime.signed(invocation)
                } catch {
                    // Where the chain looked (role, token file, profile) is for the operator's log.
                    Self.logger.warning("no AWS credentials for SageMaker invocations: \(error)")
                    return .refused(Self.error(.serviceUnavailable, "the router has no usable AWS credentials for SageMaker (its log says why)"))
                }
                let sent = await upstream.send("POST", signed.url, headers: signed.headers, body: body, timeout: configuration.upstreamTimeout)
                if case .success(let answer) = sent, attempt == 1, invocation.targetVariant != nil,
                    SageMakerRuntime.noSuchVariant(status: answer.status, headers: answer.headers, body: answer.body)
                {
                    // The endpoint has just moved off a canary's config (its one variant has
                    // another name): SageMaker chooses, as the table says one version serves.
                    invocation.targetVariant = nil
                    continue
                }
                return Self.answered(sent, route: route, endpoint: endpoint, sentWith: signed.headers)
            }
        }
    }

    /// SageMaker's answer to an invocation as the router passes it on.
    private static func answered(_ sent: Result<Upstream.Answer, Upstream.Failure>, route: Route, endpoint: String, sentWith headers: HTTPHeaders) -> Sent {
        switch sent {
        case .failure(let failure): return .refused(Self.error(failure))
        case .success(var answer):
            guard answer.status == 200 else {
                let refused = SageMakerRuntime.failure(status: answer.status, headers: answer.headers, body: answer.body)
                var response = Self.error(Status(code: refused.status), "SageMaker endpoint \(endpoint): \(refused.code): \(refused.message)")
                if refused.status == 429 { response.headers[.retryAfter] = "1" }
                return .refused(response)
            }
            if let type = answer.headers["Content-Type"], let size = Self.jsonHeaderSize(type) {
                answer.headers.set("Content-Type", "application/json")
                answer.headers.set("Inference-Header-Content-Length", String(size))
            }
            // The variant SageMaker says answered, when it says one this deployment has.
            let invoked = answer.headers["X-Amzn-Invoked-Production-Variant"]
            let answered =
                (route.deployment.status?.traffic ?? []).first {
                    $0.role != .shadow && invoked != nil && ModelDeployment.SageMaker.variantName(version: $0.version) == invoked
                } ?? route.target
            return .answered(answer, sentWith: headers, by: answered)
        }
    }

    enum Sent {
        case answered(Upstream.Answer, sentWith: HTTPHeaders, by: ModelDeployment.TrafficTarget)
        case refused(Response)
    }

    /// `N` of a `…;json-header-size=N` content type (Triton's binary tensors on SageMaker).
    static func jsonHeaderSize(_ contentType: String) -> Int? {
        guard let range = contentType.range(of: "json-header-size=") else { return nil }
        return Int(contentType[range.upperBound...].prefix { $0.isNumber })
    }

    /// `body`'s result, or nil when it has not finished within `limit` (it is then cancelled).
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>? {
        await withTaskGroup(of: Result<T, any Error>?.self) { group in
            group.addTask {
                do { return .success(try await body()) } catch { return .failure(error) }
            }
            group.addTask {
                try? await Task.sleep(for: limit)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    // MARK: - Answers

    /// The backend's answer with NAME, the version and the id in it (binary outputs passed through).
    static func rewrite(_ answer: Upstream.Answer, name: String, version: String, id: String) -> Response {
        let headerLength = answer.headers["Inference-Header-Content-Length"].flatMap(Int.init)
        let jsonEnd = min(headerLength ?? answer.body.count, answer.body.count)
        guard answer.status == 200, var document = try? JSONValue(parsing: Data(answer.body.prefix(jsonEnd))), document.objectValue != nil else {
            return relay(answer)
        }
        document["model_name"] = .string(name)
        document["model_version"] = .string(version)
        document["id"] = .string(id)
        let json = Data(document.canonicalText.utf8)
        var fields = HTTPFields()
        fields[.contentType] = answer.headers["Content-Type"] ?? "application/json"
        if headerLength != nil { fields[HTTPField.Name("Inference-Header-Content-Length")!] = String(json.count) }
        return Response(status: .ok, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(data: json + answer.body.dropFirst(jsonEnd))))
    }

    /// The backend's answer as it is (its errors are KServe's `{"error": ...}` already).
    static func relay(_ answer: Upstream.Answer) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = answer.headers["Content-Type"] ?? "application/json"
        if let length = answer.headers["Inference-Header-Content-Length"] { fields[HTTPField.Name("Inference-Header-Content-Length")!] = length }
        return Response(status: Status(code: answer.status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(data: answer.body)))
    }

    static func tag(_ response: inout Response, _ target: ModelDeployment.TrafficTarget) {
        response.headers[HTTPField.Name("Modelplane-Version")!] = target.version
        if let revision = target.revision { response.headers[HTTPField.Name("Modelplane-Revision")!] = revision }
    }

    fileprivate static func json(_ status: Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: value.canonicalText)))
    }

    fileprivate static func error(_ status: Status, _ message: String, id: String? = nil) -> Response {
        var response = json(status, ["error": .string(message)])
        if let id { response.headers[HTTPField.Name("X-Request-Id")!] = id }
        return response
    }

    static func error(_ failure: Upstream.Failure, id: String? = nil) -> Response {
        switch failure {
        case .timedOut: error(.gatewayTimeout, "the backend did not answer in time", id: id)
        case .unreachable(let why): error(.serviceUnavailable, "the backend cannot be reached: \(why)", id: id)
        }
    }

    static func base(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }

    static func escape(_ segment: String) -> String {
        segment.addingPercentEncoding(withAllowedCharacters: CharacterSet.urlPathAllowed.subtracting(["/"])) ?? segment
    }
}

/// The router's Prometheus metrics. Requests by namespace, deployment, revision, version, role
/// and code, and their duration (what canary analysis queries:
/// `modelplane_router_request_duration_seconds{deployment=…,revision=…}`); a request for a
/// deployment the router does not know is counted without its name, so made-up names keep no
/// series.
enum RouterMetrics {
    static let inFlight = Meter(label: "modelplane_router_requests_in_flight")

    /// The handles of one line's series, made once: making a metric looks it up in the
    /// registry (labels hashed under a lock), which every request would otherwise pay for.
    final class Handles: Sendable {
        let duration: Metrics.Timer
        let upstream: Metrics.Timer
        let counters: Mutex<[Int: Counter]>
        let labels: [(String, String)]

        init(_ labels: [(String, String)]) {
            self.labels = labels
            duration = Metrics.Timer(label: "modelplane_router_request_duration_seconds", dimensions: Array(labels.prefix(3)), preferredDisplayUnit: .seconds)
            upstream = Metrics.Timer(label: "modelplane_router_upstream_duration_seconds", dimensions: Array(labels.prefix(3)), preferredDisplayUnit: .seconds)
            counters = Mutex([:])
        }

        func requests(code: Int) -> Counter {
            counters.withLock { counters in
                if let counter = counters[code] { return counter }
                let counter = Counter(label: "modelplane_router_requests_total", dimensions: labels + [("code", String(code))])
                counters[code] = counter
                return counter
            }
        }
    }

    private static let handles = Mutex<[String: Handles]>([:])

    static func handles(_ namespace: String, _ name: String, _ target: ModelDeployment.TrafficTarget?) -> Handles {
        let key = "\(namespace)\u{0}\(name)\u{0}\(target?.revision ?? "")\u{0}\(target?.version ?? "")\u{0}\(target?.role.rawValue ?? "")"
        return handles.withLock { all in
            if let found = all[key] { return found }
            let made = Handles([
                ("namespace", namespace), ("deployment", name), ("revision", target?.revision ?? ""), ("version", target?.version ?? ""),
                ("role", target?.role.rawValue ?? ""),
            ])
            all[key] = made
            return made
        }
    }

    /// Makes the series of a deployment's traffic lines at zero before their first request: a
    /// series Prometheus first sees at 20 counts as starting there, so `rate` and
    /// `histogram_quantile` would miss a new canary's first requests.
    static func prepare(_ md: ModelDeployment) {
        let namespace = md.metadata.namespace ?? "default"
        for line in md.status?.traffic ?? [] where line.role != .shadow {
            _ = handles(namespace, md.metadata.name ?? "", line).requests(code: 200)
        }
    }

    static func record(_ line: (namespace: String, name: String, target: ModelDeployment.TrafficTarget)?, code: Int, since started: ContinuousClock.Instant) {
        let handles = handles(line?.namespace ?? "", line?.name ?? "", line?.target)
        handles.requests(code: code).increment()
        handles.duration.recordNanoseconds(nanoseconds(ContinuousClock.now - started))
    }

    /// The backend's share of a request: from sending it upstream to its whole answer.
    static func upstream(namespace: String, name: String, target: ModelDeployment.TrafficTarget, _ latency: Duration) {
        handles(namespace, name, target).upstream.recordNanoseconds(nanoseconds(latency))
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
