import Foundation
public import HTTPClient
public import ModelplaneAPI
import Synchronization

/// The router's running figures per revision (requests, server errors, latency), for analysis's
/// `router` provider: read in process by a controller beside it, and served on `/revisions` for
/// one apart. A revision's figures go when the deployment stops routing to it.
public final class RevisionStatistics: Sendable {
    private let figures = Mutex<[String: RequestFigures]>([:])

    public init() {}

    func record(namespace: String, name: String, target: ModelDeployment.TrafficTarget, code: Int, seconds: Double) {
        guard let revision = target.revision else { return }
        let key = namespace + "/" + name + "/" + revision
        figures.withLock { all in
            var entry =
                all[key]
                ?? RequestFigures(namespace: namespace, name: name, revision: revision, version: target.version, since: Timestamps.rfc3339(Date()))
            entry.record(seconds: seconds, error: code >= 500)
            all[key] = entry
        }
    }

    /// Forgets the revisions of a deployment that its routing table no longer names.
    func keep(namespace: String, name: String, revisions: Set<String>) {
        let prefix = namespace + "/" + name + "/"
        figures.withLock { all in
            for key in all.keys where key.hasPrefix(prefix) && !revisions.contains(String(key.dropFirst(prefix.count))) { all[key] = nil }
        }
    }

    public func snapshots() -> [RequestFigures] { figures.withLock { Array($0.values) } }

    public func figures(namespace: String, name: String, revision: String) -> RequestFigures? {
        figures.withLock { $0[namespace + "/" + name + "/" + revision] }
    }
}

/// The controller's view of routers that run apart from it (`modelplane router`, the chart's
/// Deployment): every `interval` it asks each router's probes port for its shadow figures
/// (`GET /shadows`) and its figures per revision (`GET /revisions`), and adds them up, so
/// `status.shadow` counts every replica's copies and analysis measures every replica's requests. A URL's
/// host name is resolved to all its addresses each time, so a headless Service's name reaches
/// every replica as they come and go. A router that does not answer is left out of that round.
public final class RouterStatsCollector: Sendable {
    let urls: [String]
    let http: HTTPClient
    let interval: Duration
    private let merged = Mutex<[String: [ShadowSnapshot]]>([:])
    /// By deployment revision, then by router (its URL).
    private let revisions = Mutex<[String: [String: RequestFigures]]>([:])

    public init(urls: [String], http: HTTPClient, interval: Duration = .seconds(5)) {
        self.urls = urls
        self.http = http
        self.interval = interval
    }

    /// Every replica's figures of that revision from the last round, by the router's URL.
    public func figures(namespace: String, name: String, revision: String) -> [String: RequestFigures] {
        revisions.withLock { $0[namespace + "/" + name + "/" + revision] ?? [:] }
    }

    /// Every replica's snapshot of that shadow, from the last round.
    public func snapshots(namespace: String, name: String, version: String) -> [ShadowSnapshot] {
        merged.withLock { $0[namespace + "/" + name] ?? [] }.filter { $0.version == version }
    }

    /// Collects until cancelled.
    public func run() async {
        while !Task.isCancelled {
            await collect()
            try? await Task.sleep(for: interval)
        }
    }

    /// One round: every replica's snapshots, replacing the last round's.
    func collect() async {
        var targets: [String] = []
        for url in urls { targets += await Self.expanding(url) }
        let rounds = await withTaskGroup(of: ([ShadowSnapshot], [(String, RequestFigures)]).self) { group in
            for target in targets {
                group.addTask {
                    async let shadows: [ShadowSnapshot] = self.fetch(target + "/shadows")
                    async let revisions: [RequestFigures] = self.fetch(target + "/revisions")
                    return await (shadows, revisions.map { (target, $0) })
                }
            }
            return await group.reduce(into: ([ShadowSnapshot](), [(String, RequestFigures)]())) {
                $0.0 += $1.0
                $0.1 += $1.1
            }
        }
        merged.withLock { $0 = Dictionary(grouping: rounds.0) { $0.namespace + "/" + $0.name } }
        var byRevision: [String: [String: RequestFigures]] = [:]
        for (target, figures) in rounds.1 { byRevision[figures.namespace + "/" + figures.name + "/" + figures.revision, default: [:]][target] = figures }
        revisions.withLock { $0 = byRevision }
    }

    /// A router's JSON list; empty when it does not answer.
    private func fetch<T: Decodable & Sendable>(_ url: String) async -> [T] {
        guard let response = try? await http.execute(HTTPRequest(url: url, timeout: .seconds(2))), response.status == 200 else { return [] }
        return (try? JSONDecoder().decode([T].self, from: response.body)) ?? []
    }

    /// `expand` off Swift's cooperative threads: a resolver can take its time (search domains,
    /// a slow DNS server), and a cooperative thread must never wait on it.
    static func expanding(_ url: String) async -> [String] {
        await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .utility).async { continuation.resume(returning: expand(url)) }
        }
    }

    /// `url` once per address its host resolves to (`http://10.0.0.7:9090`), or as it is when
    /// the host is an address already or does not resolve.
    static func expand(_ url: String) -> [String] {
        guard var components = URLComponents(string: url), let host = components.host, !host.isEmpty else { return [url] }
        let addresses = resolve(host)
        guard !addresses.isEmpty, addresses != [host] else { return [url] }
        return addresses.compactMap { address in
            components.host = address.contains(":") ? "[\(address)]" : address
            return components.string
        }
    }

    /// Every distinct address of `host` (IPv4 and IPv6), in the resolver's order.
    static func resolve(_ host: String) -> [String] {
        var hints = addrinfo()
        #if canImport(Glibc)
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
            hints.ai_socktype = SOCK_STREAM
        #endif
        var first: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &first) == 0, let first else { return [] }
        defer { freeaddrinfo(first) }
        var found: [String] = []
        var next: UnsafeMutablePointer<addrinfo>? = first
        while let info = next {
            var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            if getnameinfo(info.pointee.ai_addr, info.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                let address = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                if !found.contains(address) { found.append(address) }
            }
            next = info.pointee.ai_next
        }
        return found
    }
}
