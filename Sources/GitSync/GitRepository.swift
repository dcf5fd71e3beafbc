import Foundation
import KubeClient
import Manifests
import ModelplaneAPI

/// Where manifests come from: a branch of a Git repository, and a path inside it.
public struct GitSource: Sendable, Hashable {
    /// A local path, `file://`, `https://` or `ssh://` URL, or scp-like `user@host:path`.
    public var url: String
    public var branch: String
    /// A directory (read recursively) or one file, relative to the repository's root; "" is the root.
    public var path: String
    public var credentials: Credentials

    public struct Credentials: Sendable, Hashable {
        /// A file holding a token for https remotes, read again before every fetch (so a
        /// rotated token is picked up); sent as HTTP basic auth with `tokenUser`.
        public var tokenFile: String?
        public var tokenUser: String
        /// A private key for ssh remotes, and the known_hosts file to check the server against
        /// (without one, the first key seen is trusted and remembered in the work directory).
        public var sshKeyFile: String?
        public var knownHostsFile: String?

        public init(tokenFile: String? = nil, tokenUser: String = "x-access-token", sshKeyFile: String? = nil, knownHostsFile: String? = nil) {
            self.tokenFile = tokenFile
            self.tokenUser = tokenUser
            self.sshKeyFile = sshKeyFile
            self.knownHostsFile = knownHostsFile
        }
    }

    /// Checks what would otherwise reach git's command line: a URL or branch starting with `-`
    /// would be read as an option, a path with `..` could leave the repository.
    public init(url: String, branch: String = "main", path: String = "", credentials: Credentials = Credentials()) throws(GitError) {
        guard !url.isEmpty, !url.hasPrefix("-"), !url.contains("\n") else { throw GitError("invalid repository URL \"\(Redact.url(url))\"") }
        guard !branch.isEmpty, !branch.hasPrefix("-"), !branch.contains(".."), branch.allSatisfy({ !$0.isWhitespace && !"~^:?*[\\".contains($0) })
        else { throw GitError("invalid branch name \"\(branch)\"") }
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.contains("..") else { throw GitError("--path must stay inside the repository: \"\(path)\"") }
        for file in [credentials.sshKeyFile, credentials.knownHostsFile].compactMap({ $0 }) where file.contains("'") {
            throw GitError("file names with ' are not supported: \(file)")
        }
        if !Redact.secrets(in: url).isEmpty, Self.splitCredentials(url) == nil {
            throw GitError(
                "credentials in \"\(Redact.url(url))\" cannot be passed to git safely: use an https URL, or --git-token-file (https) or --git-ssh-key (ssh)")
        }
        self.url = url
        self.branch = branch
        self.path = parts.joined(separator: "/")
        self.credentials = credentials
    }

    /// The URL git is given: an http(s) URL without the user and password it carried. Those go to
    /// git as an HTTP header through its environment, which only this user can read, never on its
    /// command line, which any local user can read in /proc.
    var fetchURL: String { Self.splitCredentials(url)?.url ?? url }

    /// The user and password (or token) an http(s) URL carried, percent-decoded.
    public var urlCredentials: (user: String, password: String)? { Self.splitCredentials(url).map { ($0.user, $0.password) } }

    static func splitCredentials(_ url: String) -> (url: String, user: String, password: String)? {
        guard url.hasPrefix("https://") || url.hasPrefix("http://"), var components = URLComponents(string: url),
            components.user != nil || components.password != nil
        else { return nil }
        let user = components.user ?? ""
        let password = components.password ?? ""
        components.user = nil
        components.password = nil
        guard let stripped = components.string else { return nil }
        return (stripped, user, password)
    }

    /// The URL with any password or token in it replaced, for messages, logs and annotations.
    public var redactedURL: String { Redact.url(url) }

    /// A short, stable name for this source: the value of the sync label on what it applies,
    /// so two syncs (other repositories, branches or paths) never prune each other's objects.
    public var id: String { String(FNV1a.hash("\(redactedURL)\n\(branch)\n\(path)"), radix: 36) }

    /// "URL (branch B, path P)", redacted.
    public var description: String { "\(redactedURL) (branch \(branch)\(path.isEmpty ? "" : ", path \(path)"))" }
}

/// Why talking to Git failed, in words that never contain a secret.
public struct GitError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

enum Redact {
    static func url(_ url: String) -> String { Redaction.url(url) }

    /// The password or token a URL carries, if any.
    static func secrets(in url: String) -> [String] {
        guard let scheme = url.range(of: "://") else { return [] }
        let rest = url[scheme.upperBound...]
        let authority = rest[..<(rest.firstIndex(of: "/") ?? rest.endIndex)]
        guard let at = authority.lastIndex(of: "@") else { return [] }
        let userinfo = authority[..<at]
        if let colon = userinfo.firstIndex(of: ":") { return [String(userinfo[userinfo.index(after: colon)...])] }
        return url.hasPrefix("ssh://") ? [] : [String(userinfo)]
    }
}

/// A bare mirror of one branch, fetched with the real `git`, from which a commit's files are
/// read without a checkout (so nothing in the repository, symlinks included, touches the disk
/// outside the mirror).
struct GitMirror: Sendable {
    let source: GitSource
    let directory: String
    let git: String
    let timeout: Duration

    init(source: GitSource, directory: String, timeout: Duration = .seconds(120)) throws(GitError) {
        guard let git = Subprocess.find("git") else { throw GitError("git is not installed (it is needed to sync from Git)") }
        self.source = source
        self.directory = directory
        self.git = git
        self.timeout = timeout
    }

    /// Fetches the branch (force: a force-push replaces what we had) and returns its commit.
    func fetch() async throws(GitError) -> String {
        if !FileManager.default.fileExists(atPath: directory + "/HEAD") {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw GitError("cannot create the work directory \(directory): \(error.localizedDescription)")
            }
            _ = try await run(["init", "--quiet", "--bare", directory], what: "prepare the mirror")
        }
        let ref = "refs/heads/\(source.branch)"
        _ = try await run(
            ["--git-dir=\(directory)", "fetch", "--quiet", "--no-tags", "--prune", "--force", "--depth=1", source.fetchURL, "+\(ref):\(ref)"],
            what: "fetch \(source.description)", credentials: true)
        return try await commit()
    }

    /// The commit the branch points at in the mirror.
    func commit() async throws(GitError) -> String {
        let output = try await run(
            ["--git-dir=\(directory)", "rev-parse", "--verify", "--quiet", "refs/heads/\(source.branch)^{commit}"], what: "read the branch")
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// One file of a commit: its path in the repository, and its blob or why it cannot be read.
    struct Entry {
        var path: String
        var object: String
        var size: Int
        var symlink: Bool
    }

    /// The manifest files (by extension) under the source's path at `commit`, in path order.
    /// Throws when the path does not exist there.
    func entries(at commit: String) async throws(GitError) -> [Entry] {
        var arguments = ["--git-dir=\(directory)", "ls-tree", "-r", "-z", "-l", "--full-tree", commit]
        if !source.path.isEmpty { arguments += ["--", source.path] }
        let output = try await run(arguments, what: "list the files of \(commit)")
        var entries: [Entry] = []
        for record in output.split(separator: 0) {
            // "<mode> <type> <object> <size>\t<path>"
            guard let tab = record.firstIndex(of: UInt8(ascii: "\t")) else { continue }
            let fields = String(decoding: record[..<tab], as: UTF8.self).split(separator: " ", omittingEmptySubsequences: true)
            let path = String(decoding: record[(tab + 1)...], as: UTF8.self)
            guard fields.count == 4, fields[1] == "blob", ManifestReader.isManifestFile(path) else { continue }
            guard source.path.isEmpty || path == source.path || path.hasPrefix(source.path + "/") else { continue }
            entries.append(Entry(path: path, object: String(fields[2]), size: Int(fields[3]) ?? 0, symlink: fields[0] == "120000"))
        }
        // No manifests under an existing path is a valid (empty) desired state; a wrong path is not.
        if entries.isEmpty, !source.path.isEmpty, !(await succeeded(["--git-dir=\(directory)", "cat-file", "-e", "\(commit):\(source.path)"])) {
            throw GitError("path \"\(source.path)\" does not exist in commit \(commit)")
        }
        return entries.sorted { $0.path < $1.path }
    }

    /// The contents of `objects`, in order, read by one `git cat-file --batch`.
    func contents(_ objects: [String]) async throws(GitError) -> [[UInt8]] {
        if objects.isEmpty { return [] }
        let input = Data((objects.joined(separator: "\n") + "\n").utf8)
        let output = [UInt8](try await run(["--git-dir=\(directory)", "cat-file", "--batch"], what: "read files", input: input))
        var blobs: [[UInt8]] = []
        var index = 0
        for _ in objects {
            // "<object> <type> <size>\n<contents>\n"
            guard let newline = output[index...].firstIndex(of: UInt8(ascii: "\n")) else { throw GitError("unexpected output from git cat-file") }
            let header = String(decoding: output[index..<newline], as: UTF8.self).split(separator: " ")
            guard header.count == 3, let size = Int(header[2]), newline + 1 + size <= output.count else {
                throw GitError("unexpected output from git cat-file: \(header.joined(separator: " "))")
            }
            blobs.append(Array(output[(newline + 1)..<(newline + 1 + size)]))
            index = newline + 1 + size + 1
        }
        return blobs
    }

    private func succeeded(_ arguments: [String]) async -> Bool {
        guard let output = try? await Subprocess.run(git, arguments, environment: environment(credentials: false), timeout: timeout) else { return false }
        return output.status == 0
    }

    /// Runs git; a failure becomes a `GitError` with git's own message, secrets removed.
    @discardableResult
    private func run(_ arguments: [String], what: String, input: Data? = nil, credentials: Bool = false) async throws(GitError) -> Data {
        let environment = try environment(credentials: credentials)
        let output: ProcessOutput
        do {
            output = try await Subprocess.run(git, arguments, environment: environment, input: input, timeout: timeout)
        } catch {
            throw GitError("cannot run git: \(error.localizedDescription)")
        }
        if output.status == 0 { return output.stdout }
        var secrets = Redact.secrets(in: source.url)
        // The decoded form too (the URL carries it percent-encoded); a user alone is a token.
        if let credentials = source.urlCredentials { secrets.append(credentials.password.isEmpty ? credentials.user : credentials.password) }
        if let token = try? token() { secrets.append(token) }
        // Redacted before it is cut short: a secret across the cut would survive in part.
        let said = Redaction.text(
            String(decoding: output.stderr.prefix(65_536), as: UTF8.self).replacingOccurrences(of: source.url, with: source.redactedURL), secrets: secrets)
        var message = String(
            said.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ").prefix(4096))
        if output.timedOut { message = "timed out after \(timeout)" + (message.isEmpty ? "" : ": \(message)") }
        throw GitError("cannot \(what): \(message.isEmpty ? "git exited with \(output.status)" : message)")
    }

    /// The token, read now (it may have been rotated).
    private func token() throws(GitError) -> String? {
        guard let file = source.credentials.tokenFile else { return nil }
        guard let data = FileManager.default.contents(atPath: file) else { throw GitError("cannot read the token file \(file)") }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A controlled environment: no user or system git configuration, never a prompt, the
    /// token as an HTTP header through git's environment configuration (never on a command line
    /// another user could read), ssh in batch mode with the given key.
    private func environment(credentials: Bool) throws(GitError) -> [String: String] {
        let inherited = ProcessInfo.processInfo.environment
        var environment: [String: String] = [
            "PATH": inherited["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", "HOME": directory, "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0",
            "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_ASKPASS": "/bin/false", "SSH_ASKPASS": "/bin/false",
        ]
        for name in ["http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR", "GIT_SSL_CAINFO"] {
            if let value = inherited[name] { environment[name] = value }
        }
        guard credentials else { return environment }
        // A token file wins over credentials in the URL.
        let userAndPassword = try token().map { "\(source.credentials.tokenUser):\($0)" } ?? source.urlCredentials.map { "\($0.user):\($0.password)" }
        if let userAndPassword {
            let basic = Data(userAndPassword.utf8).base64EncodedString()
            environment["GIT_CONFIG_COUNT"] = "1"
            environment["GIT_CONFIG_KEY_0"] = "http.extraHeader"
            environment["GIT_CONFIG_VALUE_0"] = "Authorization: Basic \(basic)"
        }
        var ssh = "ssh -o BatchMode=yes -o ConnectTimeout=30"
        if let key = source.credentials.sshKeyFile { ssh += " -i '\(key)' -o IdentitiesOnly=yes" }
        if let knownHosts = source.credentials.knownHostsFile {
            ssh += " -o UserKnownHostsFile='\(knownHosts)' -o StrictHostKeyChecking=yes"
        } else {
            ssh += " -o UserKnownHostsFile='\(directory)/known_hosts' -o StrictHostKeyChecking=accept-new"
        }
        environment["GIT_SSH_COMMAND"] = ssh
        return environment
    }
}
