public import Foundation
import HTTPClient
public import ModelplaneAPI

/// One change on a watch.
public enum WatchEvent<Object: KubernetesObject>: Sendable {
    case added(Object)
    case modified(Object)
    case deleted(Object)
    /// The server's progress marker: only the resourceVersion to resume from.
    case bookmark(resourceVersion: String)
    /// An in-stream error; `410 Expired` means the version is too old: relist.
    case error(APIStatus)
}

/// Splits a byte stream into lines. Chunk boundaries mean nothing: a line may arrive in many
/// chunks and a chunk may hold many lines. Lines longer than `maxLineBytes` are an error, so a
/// broken server cannot make us buffer without bound.
public struct LineSplitter: Sendable {
    private var partial: [UInt8] = []
    public let maxLineBytes: Int

    public struct LineTooLong: Error, CustomStringConvertible {
        public var limit: Int
        public var description: String { "a watch event is longer than \(limit) bytes" }
    }

    public init(maxLineBytes: Int = 64 * 1024 * 1024) { self.maxLineBytes = maxLineBytes }

    /// The complete lines this chunk finishes, without their `\n` (or `\r\n`); empty lines skipped.
    public mutating func append(_ chunk: Data) throws(LineTooLong) -> [Data] {
        var lines: [Data] = []
        chunk.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.baseAddress else { return }
            var start = 0
            while start < raw.count, let found = memchr(base + start, 0x0A, raw.count - start) {
                let end = base.distance(to: UnsafeRawPointer(found))
                var line: Data
                if partial.isEmpty {
                    line = Data(bytes: base + start, count: end - start)
                } else {
                    partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<end]))
                    line = Data(partial)
                    partial.removeAll(keepingCapacity: true)
                }
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                if !line.isEmpty { lines.append(line) }
                start = end + 1
            }
            if start < raw.count { partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...])) }
        }
        if partial.count > maxLineBytes { throw LineTooLong(limit: maxLineBytes) }
        return lines
    }

    /// What remains after the stream ended: a last line without a newline, if any.
    public mutating func finish() -> Data? {
        defer { partial = [] }
        if partial.last == UInt8(ascii: "\r") { partial.removeLast() }
        return partial.isEmpty ? nil : Data(partial)
    }
}

/// The events of one watch request, decoded as they arrive. Ends when the server ends the
/// watch; throws `KubernetesError` when the connection fails or an event cannot be read.
public struct WatchEvents<Object: KubernetesObject>: AsyncSequence, Sendable {
    public typealias Element = WatchEvent<Object>
    private enum Source: Sendable {
        /// JSON lines, as a server writes them.
        case body(AsyncThrowingStream<Data, any Error>)
        /// The events as values, from a server in this process (`JSONValueTransport`).
        case values(AsyncStream<JSONValue>)
    }
    private let source: Source
    private var isKnown: KnownVersion?

    /// Whether the consumer already holds an object (namespace or "", name) at a resourceVersion.
    public typealias KnownVersion = @Sendable (_ namespace: String, _ name: String, _ resourceVersion: String) -> Bool

    init(body: AsyncThrowingStream<Data, any Error>) { source = .body(body) }
    init(values: AsyncStream<JSONValue>) { source = .values(values) }

    /// These events, except that an ADDED or MODIFIED event whose object `isKnown` at its
    /// resourceVersion comes as a bookmark at that version, without decoding the object: a
    /// controller's cache already holds what its own writes returned, and their echoes are most
    /// of its watch.
    public func skippingKnown(_ isKnown: @escaping KnownVersion) -> WatchEvents {
        var events = self
        events.isKnown = isKnown
        return events
    }

    public func makeAsyncIterator() -> Iterator {
        var iterator =
            switch source {
            case .body(let body): Iterator(body: body.makeAsyncIterator())
            case .values(let values): Iterator(values: values.makeAsyncIterator())
            }
        iterator.isKnown = isKnown
        return iterator
    }

    public struct Iterator: AsyncIteratorProtocol {
        var body: AsyncThrowingStream<Data, any Error>.AsyncIterator?
        var values: AsyncStream<JSONValue>.AsyncIterator?
        var splitter = LineSplitter()
        var pending: [Data] = []
        var ended = false
        var isKnown: KnownVersion?

        init(body: AsyncThrowingStream<Data, any Error>.AsyncIterator) { self.body = body }
        init(values: AsyncStream<JSONValue>.AsyncIterator) { self.values = values }

        public mutating func next() async throws -> WatchEvent<Object>? {
            if values != nil {
                guard let event = await values?.next() else { return nil }
                return try decode(event, line: nil)
            }
            while pending.isEmpty {
                if ended { return nil }
                var chunk: Data?
                do {
                    chunk = try await body?.next()
                } catch let error as HTTPClientError where error.code == .timedOut {
                    // Our own deadline (the watch's timeoutSeconds plus grace): the server should
                    // have ended the watch by now. Treat it as the clean end it should have been.
                    chunk = nil
                } catch {
                    throw KubernetesError.transport(error as? HTTPClientError ?? HTTPClientError(.other, "\(error)"))
                }
                if let chunk {
                    do {
                        pending = try splitter.append(chunk)
                    } catch {
                        throw KubernetesError.invalidResponse(error.description)
                    }
                } else {
                    ended = true
                    if let last = splitter.finish() { pending = [last] }
                }
            }
            return try decode(pending.removeFirst())
        }

        func decode(_ line: Data) throws(KubernetesError) -> WatchEvent<Object> {
            let event: JSONValue
            do {
                event = try JSONValue(parsing: line)
            } catch {
                let preview = String(decoding: line.prefix(200), as: UTF8.self)
                throw .invalidResponse("cannot decode watch event (\(error)): \(preview)")
            }
            return try decode(event, line: line)
        }

        /// The event, or a bookmark for one whose object the consumer `isKnown` to hold.
        func decode(_ event: JSONValue, line: Data?) throws(KubernetesError) -> WatchEvent<Object> {
            if let isKnown, event["type"] == "ADDED" || event["type"] == "MODIFIED", let metadata = event["object"]?["metadata"],
                case .string(let name)? = metadata["name"], case .string(let version)? = metadata["resourceVersion"],
                isKnown(metadata["namespace"]?.stringValue ?? "", name, version)
            {
                return .bookmark(resourceVersion: version)
            }
            return try Self.decode(event, line: line)
        }

        /// `line`: the text the event came as, if any, for the error message.
        static func decode(_ event: JSONValue, line: Data?) throws(KubernetesError) -> WatchEvent<Object> {
            do {
                let object = event["object"] ?? .null
                switch event["type"] {
                case "ADDED": return .added(try JSONValueCoding.decode(Object.self, from: object))
                case "MODIFIED": return .modified(try JSONValueCoding.decode(Object.self, from: object))
                case "DELETED": return .deleted(try JSONValueCoding.decode(Object.self, from: object))
                case "BOOKMARK":
                    let bookmark = try JSONValueCoding.decode(Bookmark.self, from: object)
                    return .bookmark(resourceVersion: bookmark.metadata?.resourceVersion ?? "")
                case "ERROR": return .error(try JSONValueCoding.decode(APIStatus.self, from: object))
                case .string(let other): throw KubernetesError.invalidResponse("unknown watch event type \"\(other)\"")
                default: throw KubernetesError.invalidResponse("watch event without a type")
                }
            } catch let error as KubernetesError {
                throw error
            } catch {
                let preview = String(decoding: (line ?? Data(event.canonicalBytes)).prefix(200), as: UTF8.self)
                throw .invalidResponse("cannot decode watch event (\(error)): \(preview)")
            }
        }
    }
}

private struct Bookmark: Decodable {
    struct Meta: Decodable { var resourceVersion: String? }
    var metadata: Meta?
}
