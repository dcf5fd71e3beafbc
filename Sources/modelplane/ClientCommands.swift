import ArgumentParser
import Foundation
import KubeClient
import Manifests
import ModelplaneAPI

/// How the CLI finds the API server, the way kubectl does: `--kubeconfig`, then
/// `MODELPLANE_KUBECONFIG`, then the kubeconfig `modelplane serve` writes in its data directory.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "Path to a kubeconfig (default: $MODELPLANE_KUBECONFIG, then the one `modelplane serve` writes).")
    var kubeconfig: String?

    @Option(help: "The kubeconfig context to use.")
    var context: String?

    func client() throws -> KubernetesClient { KubernetesClient(configuration: try configuration()) }

    /// `--kubeconfig`, else `$MODELPLANE_KUBECONFIG`, else the one `modelplane serve` writes, else
    /// (in a pod, when none of those exists) the service account's in-cluster configuration.
    func configuration() throws -> KubernetesClientConfiguration {
        let environment = ProcessInfo.processInfo.environment
        let given = kubeconfig ?? environment["MODELPLANE_KUBECONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        let path = given ?? DataDirectory(path: DataDirectory.default).kubeconfig
        do {
            if given == nil, !FileManager.default.fileExists(atPath: path), environment["KUBERNETES_SERVICE_HOST"] != nil {
                return try .inCluster(environment: environment)
            }
            guard FileManager.default.fileExists(atPath: path) else {
                throw CLIError("no kubeconfig at \(path): start `modelplane serve`, or pass --kubeconfig (or set MODELPLANE_KUBECONFIG)")
            }
            return try .kubeconfig(explicitPath: path, context: context, environment: environment)
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError(plainMessage(error))
        }
    }
}

/// `-f FILE|DIR|-`, repeatable: manifests read strictly, as `modelplane validate` reads them.
struct ManifestOptions: ParsableArguments {
    @Option(name: [.customShort("f"), .customLong("filename")], help: "A file, a directory, or - for standard input. Repeatable.")
    var paths: [String] = []

    func validate() throws {
        if paths.isEmpty { throw ValidationError("give at least one -f FILE|DIR|-") }
    }

    /// The manifests; if any has a problem, prints every problem and throws.
    func read(_ consequence: String = "") throws(CLIError) -> ManifestSet {
        let set = ManifestReader().read(paths: paths)
        guard set.problems.isEmpty else {
            for problem in set.problems { FileHandle.standardError.write(Data("\(problem)\n".utf8)) }
            throw CLIError("\(set.problems.count) problem\(set.problems.count == 1 ? "" : "s") found\(consequence)")
        }
        return set
    }
}

/// One plain sentence for an error a user can cause, whatever threw it: Foundation's file errors
/// become "PATH: no such file" and the like (never `Error Domain=NSCocoaErrorDomain Code=260 …`),
/// the API client's errors what `forUser` says, anything else its own description.
func plainMessage(_ error: any Error) -> String {
    if let error = error as? CLIError { return error.description }
    if let error = error as? KubernetesError { return error.forUser }
    if let message = foundationMessage(error) { return message }
    return "\(error)"
}

/// `plainMessage` for Foundation's file and POSIX errors; nil for anything else.
func foundationMessage(_ error: any Error) -> String? {
    let ns = error as NSError
    guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return nil }
    let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    let posix = ns.domain == NSPOSIXErrorDomain ? ns : ns.userInfo[NSUnderlyingErrorKey] as? NSError
    let what: String
    switch CocoaError.Code(rawValue: ns.code) {
    case _ where ns.domain == NSPOSIXErrorDomain: what = String(cString: strerror(Int32(ns.code)))
    case .fileNoSuchFile, .fileReadNoSuchFile: what = "no such file"
    case .fileReadNoPermission, .fileWriteNoPermission: what = "permission denied"
    case .fileReadInapplicableStringEncoding, .fileReadUnknownStringEncoding: what = "not UTF-8 text"
    case .fileWriteOutOfSpace: what = "no space left on the device"
    case .fileWriteFileExists: what = "already exists"
    default:
        var isDirectory: ObjCBool = false
        if let path, FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            what = "a directory, not a file"
        } else if let posix, posix.domain == NSPOSIXErrorDomain {
            what = String(cString: strerror(Int32(posix.code)))
        } else {
            what = "cannot read or write it"
        }
    }
    return path.map { "\($0): \(what)" } ?? what
}

/// An error for the user: printed on stderr as `error: ...` (as kubectl prints its own), exit
/// code 1, once every `defer` on the way out has run (the HTTP client shut down). Commands throw
/// it; none exits on its own.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension KubernetesError {
    /// What to tell a user, with a hint where one helps.
    var forUser: String {
        if case .transport(let error) = self, error.code == .couldNotConnect {
            return "cannot reach the API server (\(error.message)): is `modelplane serve` running?"
        }
        return description
    }

    /// `forUser`, naming the ModelDeployment when it is the thing not found.
    func forUser(about name: String) -> String {
        isNotFound ? "modeldeployment.modelplane.dev \"\(name)\" not found" : forUser
    }
}

/// `--dry-run`, as kubectl takes it: `server` sends every write with `dryRun=All` (the server
/// checks it as it would a real one, conflicts included, and stores nothing); `client` only reads
/// and decides here what would happen.
enum DryRun: String, ExpressibleByArgument, CaseIterable, Sendable {
    case none, server, client

    /// What kubectl adds to the line it prints.
    var suffix: String {
        switch self {
        case .none: ""
        case .server: " (server dry run)"
        case .client: " (dry run)"
        }
    }
}

/// `modelplane apply -f FILE|DIR|-`: create or update ModelDeployments from manifests.
struct Apply: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or update ModelDeployments from manifests.",
        discussion: Help.text(
            """
            Reads manifests strictly (as `modelplane validate` does); if any is invalid, nothing is applied.
            Each object is created, or its spec, labels and annotations are replaced (except the
            annotations commands set on the live object and the manifest does not name: a pause, a
            sync pause, and a pending promote, promote --full, abort or retry unless the model version
            changes; `modelplane resume` and the sync's own annotation are how those go); prints
            NAME created|configured|unchanged, like kubectl.

            --dry-run=server sends each write with dryRun=All: the server checks it exactly as a
            real one (validation, conflicts) and answers what it would store, but stores nothing,
            and the controller never sees it. --dry-run=client only reads the live objects and
            says what applying would do. `modelplane diff -f FILE` shows the changes field by field.
            """)
    )

    @OptionGroup var manifests: ManifestOptions

    @Option(name: .customLong("dry-run"), help: "server or client: check and report, change nothing.")
    var dryRun: DryRun = .none

    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let set = try manifests.read("; nothing was applied")
        let kube = try connection.client()
        var failed = false
        for located in set.deployments {
            let desired = located.deployment
            let name = desired.metadata.name ?? ""
            do {
                print("modeldeployment.modelplane.dev/\(name) \(try await Self.apply(desired, with: kube, dryRun: dryRun))\(dryRun.suffix)")
            } catch {
                FileHandle.standardError.write(Data("error: modeldeployment.modelplane.dev/\(name): \(error.forUser)\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }

    static func apply(_ desired: ModelDeployment, with kube: KubernetesClient, dryRun: DryRun = .none) async throws(KubernetesError) -> String {
        let name = desired.metadata.name ?? ""
        for _ in 0..<3 {
            var live: ModelDeployment
            do {
                live = try await kube.get(ModelDeployment.self, name: name, namespace: desired.metadata.namespace)
            } catch  where error.isNotFound {
                if dryRun != .client { _ = try await kube.create(desired, dryRun: dryRun == .server) }
                return "created"
            }
            var updated = live
            // With the schema's defaults, as the server will store it: a manifest that leaves
            // them out is unchanged against the object it made.
            updated.spec = desired.withSchemaDefaults().spec
            updated.metadata.labels = desired.metadata.labels
            var annotations = desired.metadata.annotations ?? [:]
            for key in ModelDeployment.operationalAnnotations where annotations[key] == nil {
                // A request not yet acted on was meant for the version live now, not another one.
                if key == ModelDeployment.rolloutRequestAnnotation, updated.spec.model.version != live.spec.model.version { continue }
                annotations[key] = live.metadata.annotations?[key]
            }
            updated.metadata.annotations = annotations.isEmpty ? desired.metadata.annotations : annotations
            if updated == live { return "unchanged" }
            do {
                if dryRun != .client { _ = try await kube.update(updated, dryRun: dryRun == .server) }
                return "configured"
            } catch  where error.isConflict {
                continue  // changed under us: read it again
            }
        }
        throw .api(APIStatus(code: 409, reason: .conflict, message: "the object kept changing; try again"))
    }
}

/// `modelplane get [NAME]`: list ModelDeployments as a table, or print them as YAML or JSON.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show ModelDeployments.")

    @Argument(help: "A ModelDeployment's name (default: all in the namespace).")
    var name: String?

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Flag(name: [.customShort("A"), .customLong("all-namespaces")], help: "Across all namespaces.")
    var allNamespaces = false

    /// `-o`, as kubectl takes it.
    enum Format: ExpressibleByArgument, Equatable {
        case wide, yaml, json, name
        case jsonpath(String)

        init?(argument: String) {
            switch argument {
            case "wide": self = .wide
            case "yaml": self = .yaml
            case "json": self = .json
            case "name": self = .name
            case _ where argument.hasPrefix("jsonpath="): self = .jsonpath(String(argument.dropFirst("jsonpath=".count)))
            default: return nil
            }
        }

        static var allValueStrings: [String] { ["wide", "yaml", "json", "name", "jsonpath=TEMPLATE"] }

        var isTable: Bool { self == .wide }
    }

    @Option(
        name: .shortAndLong,
        help: "Output: wide, yaml, json, name (KIND/NAME per line) or jsonpath=TEMPLATE (kubectl's: {.items[*].metadata.name}).")
    var output: Format?

    @Flag(name: .shortAndLong, help: "After listing, watch for changes and print a row for each.")
    var watch = false

    @Flag(help: "With --watch, an EVENT column: ADDED, MODIFIED or DELETED.")
    var outputWatchEvents = false

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if name != nil, allNamespaces { throw ValidationError("a name cannot be combined with --all-namespaces") }
        if watch, let output, !output.isTable { throw ValidationError("--watch prints tables; it cannot be combined with -o yaml, json, name or jsonpath") }
        if case .jsonpath(let template)? = output {
            do {
                _ = try JSONPathTemplate(template)
            } catch {
                throw ValidationError("-o jsonpath: \(error)")
            }
        }
        if outputWatchEvents, !watch { throw ValidationError("--output-watch-events needs --watch") }
    }

    func run() async throws {
        let kube = try connection.client()
        let items: [ModelDeployment]
        let scope = allNamespaces ? nil : (namespace ?? kube.configuration.namespace)
        if watch { try await self.watch(kube, namespace: scope) }
        do {
            if let name {
                items = [try await kube.get(ModelDeployment.self, name: name, namespace: namespace)]
            } else {
                items = try await kube.listAll(ModelDeployment.self, namespace: scope).items
            }
        } catch {
            throw CLIError(error.forUser(about: name ?? ""))
        }
        switch output {
        case .name:
            for item in items { print("modeldeployment.modelplane.dev/\(item.metadata.name ?? "")") }
        case .jsonpath(let template):
            let values = try items.map { try JSONValueCoding.encode($0) }
            let input: JSONValue = name != nil ? values[0] : ["apiVersion": "v1", "kind": "List", "items": .array(values)]
            do {
                print(try JSONPathTemplate(template).render(input), terminator: "")
            } catch {
                throw CLIError("error executing jsonpath \"\(template)\": \(error)")
            }
        case .yaml, .json:
            let values = try items.map { try JSONValueCoding.encode($0) }
            let document: JSONValue = name != nil ? values[0] : ["apiVersion": "v1", "kind": "List", "items": .array(values)]
            if output == .json {
                let data = try JSONSerialization.data(
                    withJSONObject: try JSONSerialization.jsonObject(with: Data(document.canonicalText.utf8)), options: [.prettyPrinted, .sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print(YAMLWriter.render(document), terminator: "")
            }
        case .wide, nil:
            if items.isEmpty {
                FileHandle.standardError.write(
                    Data("No resources found\(allNamespaces ? "" : " in \(namespace ?? kube.configuration.namespace) namespace").\n".utf8))
                return
            }
            print(Self.table(items, wide: output == .wide, namespaces: allNamespaces, now: Date()), terminator: "")
        }
    }

    /// Aligned columns, as kubectl prints them (three spaces between columns).
    static func table(_ items: [ModelDeployment], wide: Bool, namespaces: Bool, now: Date) -> String {
        aligned([header(wide: wide, namespaces: namespaces)] + items.map { row($0, wide: wide, namespaces: namespaces, now: now) })
    }

    static func header(wide: Bool, namespaces: Bool) -> [String] {
        var header = ["NAME", "MODEL", "VERSION", "SERVING", "TRAFFIC", "BACKEND", "READY", "PHASE", "AGE"]
        if wide { header += ["REVISION", "STRATEGY", "COMMIT"] }
        if namespaces { header.insert("NAMESPACE", at: 0) }
        return header
    }

    /// One object's row. A deployment being deleted (its finalizer still at work) shows
    /// `Terminating` as its phase, as kubectl shows a pod's.
    static func row(_ md: ModelDeployment, wide: Bool, namespaces: Bool, now: Date) -> [String] {
        let phase = md.metadata.deletionTimestamp != nil ? "Terminating" : md.status?.phase?.rawValue ?? ""
        var row = [
            md.metadata.name ?? "", md.spec.model.name, md.spec.model.version, md.status?.servingVersion ?? "", md.status?.trafficSummary ?? "",
            md.status?.backend ?? "",
            md.status?.conditions?[type: "Ready"]?.status.rawValue ?? "", phase,
            md.metadata.creationTimestamp.flatMap { HumanAge.since($0, now: now) } ?? "<unknown>",
        ]
        if wide {
            row += [
                md.status?.currentRevision ?? "", (md.spec.rollout?.strategy ?? ModelDeployment.Defaults.strategy).rawValue,
                String((md.metadata.annotations?[ModelDeployment.gitCommitAnnotation] ?? "").prefix(12)),
            ]
        }
        if namespaces { row.insert(md.metadata.namespace ?? "", at: 0) }
        return row
    }

    /// `-w`: the table, then one row per change, aligned with it, until interrupted; a deleted
    /// object's row shows its last state (with `--output-watch-events`, under `DELETED`). Runs on
    /// a `Reflector`: watches resume after a timeout or restart, and a relist (after 410 Gone)
    /// prints the table anew.
    func watch(_ kube: KubernetesClient, namespace: String?) async throws -> Never {
        let wide = output == .wide
        let events = outputWatchEvents
        let header = (events ? ["EVENT"] : []) + Self.header(wide: wide, namespaces: allNamespaces)
        func row(_ event: String, _ md: ModelDeployment) -> [String] {
            (events ? [event] : []) + Self.row(md, wide: wide, namespaces: allNamespaces, now: Date())
        }
        var widths: [Int] = []
        var first = true
        let reflector = Reflector<ModelDeployment>(client: kube, namespace: namespace, fieldSelector: name.map { "metadata.name=\($0)" })
        for await event in reflector.events() {
            switch event {
            case .replaced(let items, _):
                if first, let name, items.isEmpty { throw CLIError("modeldeployment.modelplane.dev \"\(name)\" not found") }
                first = false
                let rows = [header] + items.map { row("ADDED", $0) }
                widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
                if events { widths[0] = max(widths[0], "MODIFIED".count) }
                print(aligned(rows, widths: widths), terminator: "")
            case .added(let md):
                print(aligned([row("ADDED", md)], widths: widths), terminator: "")
            case .modified(let md):
                print(aligned([row("MODIFIED", md)], widths: widths), terminator: "")
            case .deleted(let md):
                print(aligned([row("DELETED", md)], widths: widths), terminator: "")
            case .failed(let error, let delay):
                if first { throw CLIError(error.forUser) }
                FileHandle.standardError.write(Data("warning: \(error.forUser); retrying in \(delay)\n".utf8))
            }
            fflush(nil)  // all streams: a pipe reader sees each row as it happens
        }
        throw ExitCode(0)
    }
}

/// `modelplane delete NAME`.
struct Delete: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete ModelDeployments.")

    @Argument(help: "Names of the ModelDeployments to delete.")
    var names: [String] = []

    @Option(name: .shortAndLong, help: "Namespace (default: the kubeconfig context's).")
    var namespace: String?

    @Option(
        name: .customLong("dry-run"),
        help: "server (the server checks the delete, preconditions and all, and deletes nothing) or client (only checks it exists).")
    var dryRun: DryRun = .none

    @OptionGroup var connection: ConnectionOptions

    func validate() throws {
        if names.isEmpty { throw ValidationError("name at least one ModelDeployment to delete") }
    }

    func run() async throws {
        let kube = try connection.client()
        var failed = false
        for name in names {
            do {
                if dryRun == .client {
                    _ = try await kube.get(ModelDeployment.self, name: name, namespace: namespace)
                } else {
                    try await kube.delete(ModelDeployment.self, name: name, namespace: namespace, dryRun: dryRun == .server)
                }
                print("modeldeployment.modelplane.dev \"\(name)\" deleted\(dryRun.suffix)")
            } catch {
                FileHandle.standardError.write(
                    Data("error: \(error.forUser(about: name))\n".utf8))
                failed = true
            }
        }
        if failed { throw ExitCode(1) }
    }
}
