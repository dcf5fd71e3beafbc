public import ModelplaneAPI

/// What a reflector reports to its consumer.
public enum ReflectorEvent<Object: KubernetesObject>: Sendable {
    /// A complete list: replace everything known with these (first sync, and every relist).
    case replaced([Object], resourceVersion: String)
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// A list or watch failed; the reflector retries after the delay. Reported so it is never silent.
    case failed(KubernetesError, retryingIn: Duration)
}

/// Keeps a consumer up to date with a resource the way client-go's reflector does: LIST, then
/// WATCH from the list's resourceVersion (with bookmarks, and a random server timeout), re-watch
/// from the last version seen when a watch ends, relist on 410 Gone (an HTTP status or an in-stream
/// ERROR event), and back off with jitter on errors.
public struct Reflector<Object: KubernetesObject>: Sendable {
    public var client: KubernetesClient
    /// nil: all namespaces.
    public var namespace: String?
    public var labelSelector: String?
    public var fieldSelector: String?
    /// The server ends each watch after a random number of seconds in this range.
    public var watchTimeoutSeconds: ClosedRange<Int> = 300...599
    public var backoff = Backoff()
    public var pageSize = 500
    public var clock: any Clock<Duration> = ContinuousClock()
    /// Objects the consumer already holds at a version (its own writes' answers): their watch
    /// events only advance the version, undecoded and unreported.
    public var isKnown: WatchEvents<Object>.KnownVersion?

    public init(client: KubernetesClient, namespace: String?, labelSelector: String? = nil, fieldSelector: String? = nil) {
        self.client = client
        self.namespace = namespace
        self.labelSelector = labelSelector
        self.fieldSelector = fieldSelector
    }

    /// Runs until the consumer stops iterating (or its task is cancelled).
    public func events() -> AsyncStream<ReflectorEvent<Object>> {
        AsyncStream { continuation in
            let task = Task { await run(continuation) }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private func run(_ out: AsyncStream<ReflectorEvent<Object>>.Continuation) async {
        var backoff = self.backoff
        var resourceVersion: String?
        func fail(_ error: KubernetesError) async {
            var delay = backoff.next()
            if let asked = error.retryAfter, asked > delay { delay = asked }
            out.yield(.failed(error, retryingIn: delay))
            try? await clock.sleep(for: delay)
        }

        while !Task.isCancelled {
            if resourceVersion == nil {
                do {
                    let list = try await client.listAll(
                        Object.self, namespace: namespace, options: ListOptions(labelSelector: labelSelector, fieldSelector: fieldSelector), pageSize: pageSize)
                    resourceVersion = list.resourceVersion
                    out.yield(.replaced(list.items, resourceVersion: list.resourceVersion))
                } catch {
                    if Task.isCancelled { break }
                    await fail(error)
                    continue
                }
            }

            let options = WatchOptions(
                resourceVersion: resourceVersion, timeoutSeconds: Int.random(in: watchTimeoutSeconds),
                allowWatchBookmarks: true, labelSelector: labelSelector, fieldSelector: fieldSelector
            )
            var sawEvent = false
            do {
                var events = try await client.watch(Object.self, namespace: namespace, options: options)
                if let isKnown { events = events.skippingKnown(isKnown) }
                for try await event in events {
                    sawEvent = true
                    switch event {
                    case .added(let object):
                        resourceVersion = object.metadata.resourceVersion ?? resourceVersion
                        out.yield(.added(object))
                    case .modified(let object):
                        resourceVersion = object.metadata.resourceVersion ?? resourceVersion
                        out.yield(.modified(object))
                    case .deleted(let object):
                        resourceVersion = object.metadata.resourceVersion ?? resourceVersion
                        out.yield(.deleted(object))
                    case .bookmark(let version):
                        if !version.isEmpty { resourceVersion = version }
                    case .error(let status):
                        throw KubernetesError.api(status)
                    }
                    backoff.reset()
                }
                // A clean end: the server's timeout. Re-watch from where we are; back off only if
                // the server keeps ending watches without sending anything.
                if !sawEvent, !Task.isCancelled {
                    try? await clock.sleep(for: backoff.next())
                }
            } catch {
                if Task.isCancelled { break }
                let error = error as? KubernetesError ?? .invalidResponse("\(error)")
                if error.isGone {
                    // Our version is too old: the only way back is a fresh list.
                    resourceVersion = nil
                    continue
                }
                await fail(error)
            }
        }
        out.finish()
    }
}
