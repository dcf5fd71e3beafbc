import Foundation
public import ModelplaneAPI
import Synchronization

/// Records events.k8s.io/v1 Events about ModelDeployments. A repeat of the same reason and note
/// for the same object becomes a `series` update of the first event instead of a new one.
public final class EventRecorder: Sendable {
    let client: KubernetesClient
    let controller: String
    let instance: String
    private let seen = Mutex<[String: (name: String, namespace: String, count: Int32)]>([:])
    static let maxSeries = 10_000

    public init(client: KubernetesClient, controller: String = "modelplane.dev/controller", instance: String) {
        self.client = client
        self.controller = controller
        self.instance = instance
    }

    /// Best effort: a failure to record an event never fails a reconcile.
    public func record(_ md: ModelDeployment, type: Event.EventType, reason: String, action: String, note: String) async {
        await record(
            regarding: ObjectReference(
                apiVersion: ModelDeployment.apiVersion, kind: ModelDeployment.kind, namespace: md.metadata.namespace ?? "default", name: md.metadata.name,
                uid: md.metadata.uid), type: type, reason: reason, action: action, note: note)
    }

    /// An event about any object (its namespace holds the event; "default" when it has none).
    public func record(regarding: ObjectReference, type: Event.EventType, reason: String, action: String, note: String) async {
        let namespace = regarding.namespace ?? "default"
        let key = "\(regarding.uid ?? "\(regarding.kind ?? "")/\(namespace)/\(regarding.name ?? "")")/\(reason)/\(note)"
        let now = Timestamps.rfc3339Micro(Date())
        let note = note.count > 1024 ? String(note.prefix(1021)) + "..." : note
        let repeated: (name: String, namespace: String, count: Int32)? = seen.withLock { seen in
            guard var entry = seen[key] else { return nil }
            entry.count += 1
            seen[key] = entry
            return entry
        }
        if let repeated {
            let patch: JSONValue = ["series": ["count": .int(Int64(repeated.count)), "lastObservedTime": .string(now)]]
            if (try? await client.patch(Event.self, name: repeated.name, namespace: repeated.namespace, .merge(patch))) != nil { return }
        }
        let name = "\(regarding.name ?? "object")." + String(UInt64.random(in: 0...0xffff_ffff_ffff), radix: 16)
        let event = Event(
            metadata: ObjectMeta(name: name, namespace: namespace), eventTime: now, reportingController: controller, reportingInstance: instance,
            action: action, reason: reason, regarding: regarding, note: note, type: type)
        if (try? await client.createWithoutAnswer(event)) != nil {
            seen.withLock { seen in
                // Bounded: forgetting old series only means a repeat starts a new event.
                if seen.count >= Self.maxSeries { seen.removeAll(keepingCapacity: true) }
                seen[key] = (name, namespace, 1)
            }
        }
    }
}
