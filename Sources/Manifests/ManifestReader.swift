import Foundation
public import ModelplaneAPI

/// One problem in a manifest, addressed the way a compiler addresses one:
/// `FILE:LINE:COLUMN: FIELD.PATH: what is wrong and what was expected`.
public struct ManifestProblem: Error, Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var path: FieldPath?
    public var message: String

    public init(location: SourceLocation, path: FieldPath?, message: String) {
        self.location = location
        self.path = path
        self.message = message
    }

    public var description: String {
        if let path { return "\(location): \(path): \(message)" }
        return "\(location): \(message)"
    }
}

/// A ModelDeployment read from a manifest, with where it came from.
public struct LocatedDeployment: Sendable {
    public var deployment: ModelDeployment
    /// Where the document starts.
    public var location: SourceLocation
}

/// Everything read from a set of manifests: the valid resources and every problem found.
public struct ManifestSet: Sendable {
    public var deployments: [LocatedDeployment] = []
    public var problems: [ManifestProblem] = []

    public init() {}

    public mutating func merge(_ other: ManifestSet) {
        deployments += other.deployments
        problems += other.problems
    }
}

/// Reads ModelDeployment manifests: multi-document YAML (or JSON, which is YAML) from files,
/// directories (`*.yaml`, `*.yml`, `*.json`, recursively, in name order) or standard input (`-`).
///
/// Reading is strict, like `kubectl apply --validate=strict`: unknown and duplicate fields are
/// errors, types must match, and semantic validation runs on every object. Input is bounded by
/// `ManifestLimits`, so hostile documents fail fast instead of exhausting memory.
public struct ManifestReader: Sendable {
    public var limits: ManifestLimits

    public init(limits: ManifestLimits = ManifestLimits()) { self.limits = limits }

    public static let fileExtensions: Set<String> = ["yaml", "yml", "json"]

    /// Reads every path; problems with one file never hide another's.
    public func read(paths: [String]) -> ManifestSet {
        var set = ManifestSet()
        var seen: [String: SourceLocation] = [:]
        for path in paths {
            for file in expand(path, into: &set) {
                set.merge(Self.droppingDuplicates(read(file: file), seen: &seen))
            }
        }
        return set
    }

    /// Whether a file of this name is read as manifests (`*.yaml`, `*.yml`, `*.json`).
    public static func isManifestFile(_ name: String) -> Bool {
        fileExtensions.contains(name.split(separator: ".").last.map { $0.lowercased() } ?? "")
    }

    /// Reads manifests already in memory (say, the files of a Git commit), in the order given,
    /// with the same limits and checks as files on disk.
    public func read(contents: [(file: String, bytes: [UInt8])]) -> ManifestSet {
        var set = ManifestSet()
        var seen: [String: SourceLocation] = [:]
        for (file, bytes) in contents {
            guard bytes.count <= limits.maxFileBytes else {
                set.problems.append(ManifestProblem(location: SourceLocation(file: file, line: 0, column: 0), path: nil, message: Self.tooLarge(limits)))
                continue
            }
            set.merge(Self.droppingDuplicates(parse(bytes, file: file), seen: &seen))
        }
        return set
    }

    /// `set` without the deployments `seen` already has (by namespace/name), each reported.
    private static func droppingDuplicates(_ set: ManifestSet, seen: inout [String: SourceLocation]) -> ManifestSet {
        var set = set
        set.deployments = set.deployments.filter { located in
            let key = "\(located.deployment.metadata.namespace ?? ModelDeployment.Defaults.namespace)/\(located.deployment.metadata.name ?? "")"
            if let first = seen[key] {
                set.problems.append(
                    ManifestProblem(
                        location: located.location, path: FieldPath("metadata.name"), message: "duplicate ModelDeployment \(key); first defined at \(first)"))
                return false
            }
            seen[key] = located.location
            return true
        }
        return set
    }

    static func tooLarge(_ limits: ManifestLimits) -> String {
        "larger than the \(limits.maxFileBytes / (1024 * 1024)) MiB limit for one manifest file; split it"
    }

    private func expand(_ path: String, into set: inout ManifestSet) -> [String] {
        if path == "-" { return ["-"] }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            set.problems.append(ManifestProblem(location: SourceLocation(file: path, line: 0, column: 0), path: nil, message: "no such file or directory"))
            return []
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else { return [] }
        let prefix = path.hasSuffix("/") ? path : path + "/"
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard Self.isManifestFile(relative) else { continue }
            // lstat, not the enumerator's fileAttributes: those also look up the owner's user and
            // group names, reading /etc/passwd and /etc/group for every file.
            var info = stat()
            guard lstat(prefix + relative, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFREG:
                files.append(prefix + relative)
            case S_IFLNK:
                var targetIsDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: prefix + relative, isDirectory: &targetIsDirectory), !targetIsDirectory.boolValue {
                    files.append(prefix + relative)
                }
            default:
                continue
            }
        }
        return files.sorted()
    }

    /// Reads one file, or standard input when `file` is `-`.
    public func read(file: String) -> ManifestSet {
        let name = file == "-" ? "<stdin>" : file
        do {
            let bytes = try readBounded(file)
            return parse(bytes, file: name)
        } catch {
            var set = ManifestSet()
            set.problems.append(ManifestProblem(location: SourceLocation(file: name, line: 0, column: 0), path: nil, message: error.message))
            return set
        }
    }

    private struct ReadError: Error { var message: String }

    private func readBounded(_ file: String) throws(ReadError) -> [UInt8] {
        let handle: FileHandle
        if file == "-" {
            handle = FileHandle.standardInput
        } else {
            guard let h = FileHandle(forReadingAtPath: file) else { throw ReadError(message: "cannot open file for reading") }
            handle = h
        }
        defer { if file != "-" { try? handle.close() } }
        // Read one byte past the limit: enough to know it is too large without reading all of it.
        let data: Data
        do {
            data = try handle.read(upToCount: limits.maxFileBytes + 1) ?? Data()
        } catch {
            throw ReadError(message: "cannot read: \(error.localizedDescription)")
        }
        if data.count > limits.maxFileBytes {
            throw ReadError(message: Self.tooLarge(limits))
        }
        return [UInt8](data)
    }

    /// Parses manifest text already in memory.
    public func parse(_ bytes: [UInt8], file: String) -> ManifestSet {
        var set = ManifestSet()
        let documents: [YAMLNode?]
        do {
            documents = try YAMLComposer(limits: limits).documents(from: bytes)
        } catch {
            set.problems.append(
                ManifestProblem(location: SourceLocation(file: file, line: error.line, column: error.column), path: nil, message: error.message))
            return set
        }
        for case let root? in documents {
            // `---` followed by nothing (or only comments) is an empty document, not an error.
            if case .scalar("", plain: true, tag: nil) = root.content { continue }
            switch Self.listItems(root) {
            case nil: readDocument(root, file: file, into: &set)
            case .items(let items)?: for item in items { readDocument(item, file: file, into: &set) }
            case .invalid(let node)?:
                set.problems.append(
                    ManifestProblem(
                        location: SourceLocation(file: file, line: node.line, column: node.column), path: FieldPath("items"),
                        message: "expected a list of objects"))
            }
        }
        return set
    }

    /// The items of a `v1 List` (or a `ModelDeploymentList`), what `kubectl get -o yaml|json`
    /// writes for several objects: each is read as a document of its own. Nil for anything else.
    private enum ListItems {
        case items([YAMLNode])
        /// `items` is there but is not a list (a List whose objects would silently be none).
        case invalid(YAMLNode)
    }

    private static func listItems(_ root: YAMLNode) -> ListItems? {
        guard case .mapping(let pairs) = root.content else { return nil }
        func value(_ key: String) -> YAMLNode? {
            pairs.first { if case .scalar(key, _, _) = $0.key.content { true } else { false } }?.value
        }
        func text(_ key: String) -> String? {
            if case .scalar(let text, _, _)? = value(key)?.content { text } else { nil }
        }
        let isList =
            (text("apiVersion") == "v1" && text("kind") == "List")
            || (text("apiVersion") == ModelDeployment.apiVersion && text("kind") == ModelDeployment.kind + "List")
        guard isList else { return nil }
        switch value("items")?.content {
        case .sequence(let items)?: return .items(items)
        case nil, .scalar("", plain: true, tag: nil)?, .scalar("null", plain: true, tag: nil)?, .scalar("~", plain: true, tag: nil)?: return .items([])
        default: return .invalid(value("items") ?? root)
        }
    }

    public func parse(_ text: String, file: String) -> ManifestSet { parse(Array(text.utf8), file: file) }

    private func readDocument(_ root: YAMLNode, file: String, into set: inout ManifestSet) {
        let start = SourceLocation(file: file, line: root.line, column: root.column)
        let located = LocatedJSON(root)
        func location(_ path: FieldPath, preferKey: Bool = false) -> SourceLocation {
            let p = located.position(of: path, preferKey: preferKey)
            return SourceLocation(file: file, line: p.line, column: p.column)
        }
        var problems = located.errors.map {
            ManifestProblem(location: SourceLocation(file: file, line: $0.line, column: $0.column), path: $0.path, message: $0.message)
        }
        guard case .object(let members) = located.value else {
            set.problems.append(
                ManifestProblem(
                    location: start, path: nil, message: "expected a Kubernetes object (a mapping with apiVersion and kind), got \(located.value.typeName)"))
            return
        }
        let apiVersion = members["apiVersion"]?.stringValue
        let kind = members["kind"]?.stringValue
        guard apiVersion == ModelDeployment.apiVersion, kind == ModelDeployment.kind else {
            let what =
                apiVersion == nil || kind == nil
                ? "apiVersion and kind are required"
                : "unsupported object \(apiVersion!), Kind=\(kind!)"
            set.problems.append(
                ManifestProblem(
                    location: location(FieldPath(kind == nil ? "kind" : "apiVersion")), path: nil,
                    message: "\(what): Modelplane reads \(ModelDeployment.apiVersion) \(ModelDeployment.kind) objects"))
            return
        }

        let (deployment, fieldProblems) = ModelDeployment.read(located.value)
        problems += fieldProblems.map { error in
            let at = error.path.components.isEmpty ? start : location(error.path, preferKey: error.kind == .unknownField)
            return ManifestProblem(location: at, path: error.path.components.isEmpty ? nil : error.path, message: "\(error.kind.phrase): \(error.detail)")
        }
        guard problems.isEmpty, let deployment else {
            set.problems += problems.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
            return
        }
        set.deployments.append(LocatedDeployment(deployment: deployment, location: start))
    }
}
