public import Foundation
public import HTTPClient
public import ModelplaneAPI
import Synchronization
import Yams

/// A credential that never prints itself.
public struct Secret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

/// How the client proves who it is (besides a TLS client certificate).
public enum Credentials: Sendable, CustomStringConvertible {
    case none
    case bearerToken(Secret)
    /// A token file re-read every minute and after a 401, because service-account tokens rotate.
    case bearerTokenFile(String)
    /// A kubeconfig exec credential plugin: run for a token, which is cached until it expires
    /// (or, without an expiry, until a 401).
    case exec(ExecPlugin)

    public var description: String {
        switch self {
        case .none: "none"
        case .bearerToken: "bearer token <redacted>"
        case .bearerTokenFile(let path): "bearer token from \(path)"
        case .exec(let plugin): "exec plugin \(plugin.command)"
        }
    }
}

/// A `users[].user.exec` section: client.authentication.k8s.io/v1 or v1beta1.
public struct ExecPlugin: Sendable, Hashable {
    public static let apiVersions = ["client.authentication.k8s.io/v1", "client.authentication.k8s.io/v1beta1"]

    public var apiVersion: String
    /// An absolute path, a name looked up on PATH, or a relative path with a slash (resolved
    /// against the kubeconfig's directory, as kubectl does).
    public var command: String
    public var args: [String]
    public var env: [String: String]
    public var installHint: String?
    /// The cluster's server and CA, passed in KUBERNETES_EXEC_INFO when `provideClusterInfo`.
    public var cluster: JSONValue?

    public init(apiVersion: String, command: String, args: [String] = [], env: [String: String] = [:], installHint: String? = nil, cluster: JSONValue? = nil) {
        self.apiVersion = apiVersion
        self.command = command
        self.args = args
        self.env = env
        self.installHint = installHint
        self.cluster = cluster
    }
}

/// Everything needed to talk to one API server as one user.
public struct KubernetesClientConfiguration: Sendable {
    /// `https://host:port`, no trailing slash.
    public var server: String
    public var tls: TLSConfiguration
    public var credentials: Credentials
    /// The namespace for namespaced calls that name none.
    public var namespace: String
    public var userAgent = "modelplane"
    /// For requests other than watches.
    public var requestTimeout: Duration = .seconds(30)
    /// A watch asks the server to end it after `timeoutSeconds`; if the server has not ended it
    /// this long after that, the client does, so a silently dead connection cannot hang a watch.
    public var watchDeadlineGrace: Duration = .seconds(30)

    public init(server: String, tls: TLSConfiguration = TLSConfiguration(), credentials: Credentials = .none, namespace: String = "default") {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.tls = tls
        self.credentials = credentials
        self.namespace = namespace
    }

    /// In a pod: the API server from the environment, the service account's token, CA and namespace.
    public static func inCluster(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        serviceAccountDirectory: String = "/var/run/secrets/kubernetes.io/serviceaccount"
    ) throws(KubernetesError) -> KubernetesClientConfiguration {
        guard let host = environment["KUBERNETES_SERVICE_HOST"], let port = environment["KUBERNETES_SERVICE_PORT"], !host.isEmpty, !port.isEmpty else {
            throw .configuration("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set")
        }
        let tokenPath = serviceAccountDirectory + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw .configuration("not running in a cluster: no service account token at \(tokenPath)")
        }
        let hostPart = host.contains(":") ? "[\(host)]" : host
        var configuration = KubernetesClientConfiguration(server: "https://\(hostPart):\(port)", credentials: .bearerTokenFile(tokenPath))
        configuration.tls.certificateAuthority = .file(serviceAccountDirectory + "/ca.crt")
        if let namespace = try? String(contentsOfFile: serviceAccountDirectory + "/namespace", encoding: .utf8) {
            let trimmed = namespace.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { configuration.namespace = trimmed }
        }
        return configuration
    }

    /// From kubeconfig files the way kubectl finds them: `explicitPath` if given, else every file in
    /// `$KUBECONFIG` (colon-separated; for each name the first file that defines it wins), else
    /// `~/.kube/config`. Relative paths in a file resolve against that file's directory.
    public static func kubeconfig(
        explicitPath: String? = nil, context: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(KubernetesError) -> KubernetesClientConfiguration {
        let paths: [String]
        if let explicitPath {
            paths = [explicitPath]
        } else if let list = environment["KUBECONFIG"], !list.isEmpty {
            paths = list.split(separator: ":").map(String.init)
        } else {
            paths = [(environment["HOME"] ?? NSHomeDirectory()) + "/.kube/config"]
        }
        var merged = KubeConfigFile.Merged()
        var readAny = false
        for path in paths {
            guard FileManager.default.fileExists(atPath: path) else {
                if explicitPath != nil { throw .configuration("kubeconfig \(path) does not exist") }
                continue
            }
            try merged.add(KubeConfigFile.load(path))
            readAny = true
        }
        guard readAny else { throw .configuration("no kubeconfig found (looked in \(paths.joined(separator: ", ")))") }
        return try merged.resolve(context: context)
    }
}

/// The kubeconfig file format (`clientcmd/api/v1`), as much of it as a client needs.
struct KubeConfigFile: Decodable {
    struct Named<T: Decodable>: Decodable {
        var name: String
        var value: T?

        enum CodingKeys: String, CodingKey { case name, cluster, user, context }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            name = try container.decode(String.self, forKey: .name)
            value =
                try container.decodeIfPresent(T.self, forKey: .cluster)
                ?? container.decodeIfPresent(T.self, forKey: .user)
                ?? container.decodeIfPresent(T.self, forKey: .context)
        }
    }

    struct Cluster: Decodable {
        var server: String?
        var certificateAuthority: String?
        var certificateAuthorityData: String?
        var insecureSkipTLSVerify: Bool?
        var tlsServerName: String?
        var proxyURL: String?

        enum CodingKeys: String, CodingKey {
            case server
            case certificateAuthority = "certificate-authority"
            case certificateAuthorityData = "certificate-authority-data"
            case insecureSkipTLSVerify = "insecure-skip-tls-verify"
            case tlsServerName = "tls-server-name"
            case proxyURL = "proxy-url"
        }
    }

    struct User: Decodable {
        var clientCertificate: String?
        var clientCertificateData: String?
        var clientKey: String?
        var clientKeyData: String?
        var token: String?
        var tokenFile: String?
        var username: String?
        var exec: Exec?
        var authProvider: PresenceMarker?

        struct Exec: Decodable {
            struct Variable: Decodable {
                var name: String
                var value: String
            }
            var apiVersion: String?
            var command: String?
            var args: [String]?
            var env: [Variable]?
            var installHint: String?
            var provideClusterInfo: Bool?
            var interactiveMode: String?
        }

        enum CodingKeys: String, CodingKey {
            case clientCertificate = "client-certificate"
            case clientCertificateData = "client-certificate-data"
            case clientKey = "client-key"
            case clientKeyData = "client-key-data"
            case token, tokenFile, username, exec
            case authProvider = "auth-provider"
        }
    }

    /// Presence marker for sections we do not interpret yet.
    struct PresenceMarker: Decodable {
        init(from decoder: any Decoder) throws {}
    }

    struct Context: Decodable {
        var cluster: String?
        var user: String?
        var namespace: String?
    }

    var clusters: [Named<Cluster>]?
    var users: [Named<User>]?
    var contexts: [Named<Context>]?
    var currentContext: String?
    /// The file's directory, for relative paths.
    var directory = ""

    enum CodingKeys: String, CodingKey {
        case clusters, users, contexts
        case currentContext = "current-context"
    }

    static func load(_ path: String) throws(KubernetesError) -> KubeConfigFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .configuration("cannot read kubeconfig \(path): \(error.localizedDescription)")
        }
        var file: KubeConfigFile
        do {
            file = try YAMLDecoder().decode(KubeConfigFile.self, from: text)
        } catch {
            throw .configuration("kubeconfig \(path) is not valid: \(error)")
        }
        file.directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return file
    }

    /// Several files merged the way kubectl merges them: the first definition of a name wins.
    struct Merged {
        var clusters: [String: (Cluster, directory: String)] = [:]
        var users: [String: (User, directory: String)] = [:]
        var contexts: [String: Context] = [:]
        var currentContext: String?

        mutating func add(_ file: KubeConfigFile) {
            for named in file.clusters ?? [] where clusters[named.name] == nil {
                clusters[named.name] = (named.value ?? Cluster(), file.directory)
            }
            for named in file.users ?? [] where users[named.name] == nil {
                users[named.name] = (named.value ?? User(), file.directory)
            }
            for named in file.contexts ?? [] where contexts[named.name] == nil {
                contexts[named.name] = named.value ?? Context()
            }
            if currentContext?.isEmpty ?? true { currentContext = file.currentContext }
        }

        func resolve(context requested: String?) throws(KubernetesError) -> KubernetesClientConfiguration {
            guard let contextName = requested ?? currentContext, !contextName.isEmpty else {
                throw .configuration("kubeconfig has no current-context; pass --context")
            }
            guard let context = contexts[contextName] else {
                throw .configuration("context \"\(contextName)\" is not in the kubeconfig")
            }
            guard let clusterName = context.cluster, let (cluster, clusterDirectory) = clusters[clusterName] else {
                throw .configuration("context \"\(contextName)\" names cluster \"\(context.cluster ?? "")\", which is not in the kubeconfig")
            }
            guard let server = cluster.server, !server.isEmpty else {
                throw .configuration("cluster \"\(clusterName)\" has no server")
            }
            if cluster.tlsServerName != nil {
                throw .configuration("cluster \"\(clusterName)\": tls-server-name is not supported yet")
            }
            if cluster.proxyURL != nil {
                throw .configuration("cluster \"\(clusterName)\": proxy-url is not supported yet")
            }
            var configuration = KubernetesClientConfiguration(server: server, namespace: context.namespace ?? "default")
            configuration.tls.insecureSkipVerify = cluster.insecureSkipTLSVerify ?? false
            configuration.tls.certificateAuthority = try pem(
                data: cluster.certificateAuthorityData, file: cluster.certificateAuthority, directory: clusterDirectory,
                what: "certificate-authority-data of cluster \"\(clusterName)\"")

            if let userName = context.user, !userName.isEmpty {
                guard let (user, userDirectory) = users[userName] else {
                    throw .configuration("context \"\(contextName)\" names user \"\(userName)\", which is not in the kubeconfig")
                }
                if user.authProvider != nil {
                    throw .configuration(
                        "user \"\(userName)\": auth-provider plugins were removed from kubectl; use an exec plugin (for example the cloud's kubelogin or get-token command)"
                    )
                }
                if user.username != nil {
                    throw .configuration("user \"\(userName)\": basic authentication was removed from Kubernetes; use a token or client certificate")
                }
                configuration.tls.clientCertificate = try pem(
                    data: user.clientCertificateData, file: user.clientCertificate, directory: userDirectory,
                    what: "client-certificate-data of user \"\(userName)\"")
                configuration.tls.clientKey = try pem(
                    data: user.clientKeyData, file: user.clientKey, directory: userDirectory, what: "client-key-data of user \"\(userName)\"")
                if (configuration.tls.clientCertificate == nil) != (configuration.tls.clientKey == nil) {
                    throw .configuration("user \"\(userName)\": a client certificate needs both a certificate and a key")
                }
                if let token = user.token, !token.isEmpty {
                    configuration.credentials = .bearerToken(Secret(token))
                } else if let tokenFile = user.tokenFile, !tokenFile.isEmpty {
                    configuration.credentials = .bearerTokenFile(Self.absolute(tokenFile, in: userDirectory))
                } else if let exec = user.exec {
                    let what = "user \"\(userName)\": exec"
                    guard let apiVersion = exec.apiVersion, ExecPlugin.apiVersions.contains(apiVersion) else {
                        throw .configuration(
                            "\(what): apiVersion must be one of \(ExecPlugin.apiVersions.joined(separator: ", ")), got \(exec.apiVersion ?? "none")")
                    }
                    guard let command = exec.command, !command.isEmpty else { throw .configuration("\(what): command is required") }
                    if apiVersion.hasSuffix("/v1"), exec.interactiveMode == nil {
                        throw .configuration("\(what): interactiveMode is required with \(apiVersion)")
                    }
                    if exec.interactiveMode == "Always" {
                        throw .configuration("\(what): interactiveMode Always needs a terminal, which a controller does not have; use IfAvailable or Never")
                    }
                    var clusterInfo: JSONValue?
                    if exec.provideClusterInfo == true {
                        var info: [String: JSONValue] = ["server": .string(server), "insecure-skip-tls-verify": .bool(configuration.tls.insecureSkipVerify)]
                        if let data = cluster.certificateAuthorityData { info["certificate-authority-data"] = .string(data) }
                        clusterInfo = .object(info)
                    }
                    configuration.credentials = .exec(
                        ExecPlugin(
                            apiVersion: apiVersion, command: command.contains("/") ? Self.absolute(command, in: userDirectory) : command, args: exec.args ?? [],
                            env: Dictionary((exec.env ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { $1 }), installHint: exec.installHint,
                            cluster: clusterInfo))
                }
            }
            return configuration
        }

        private func pem(data: String?, file: String?, directory: String, what: String) throws(KubernetesError) -> TLSConfiguration.PEM? {
            if let data, !data.isEmpty {
                guard let decoded = Data(base64Encoded: data, options: .ignoreUnknownCharacters) else {
                    // Say which field, never the value: it may be a private key.
                    throw .configuration("\(what) is not valid base64")
                }
                return .data(decoded)
            }
            if let file, !file.isEmpty { return .file(Self.absolute(file, in: directory)) }
            return nil
        }

        static func absolute(_ path: String, in directory: String) -> String {
            path.hasPrefix("/") ? path : directory + "/" + path
        }
    }
}

/// Supplies the bearer token for each request: fixed, or read from a file that may rotate.
final class TokenSource: Sendable {
    private let credentials: Credentials
    private let cached = Mutex<(token: String, readAt: ContinuousClock.Instant)?>(nil)
    static let rereadInterval: Duration = .seconds(60)
    /// Exec plugins: the token and when it expires (nil: until a 401).
    private let execCache = Mutex<(token: String, expires: Date?)?>(nil)
    /// One plugin run at a time: requests arriving meanwhile wait for its token.
    private let execRun = ExecRunner()

    init(_ credentials: Credentials) { self.credentials = credentials }

    var canRefresh: Bool {
        switch credentials {
        case .bearerTokenFile, .exec: true
        case .none, .bearerToken: false
        }
    }

    func token() async throws(KubernetesError) -> String? {
        switch credentials {
        case .none: return nil
        case .bearerToken(let secret): return secret.value
        case .bearerTokenFile(let path):
            let now = ContinuousClock.now
            if let (token, readAt) = cached.withLock({ $0 }), now - readAt < Self.rereadInterval { return token }
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw .configuration("cannot read the bearer token file \(path)")
            }
            let token = text.trimmingCharacters(in: .whitespacesAndNewlines)
            cached.withLock { $0 = (token, now) }
            return token
        case .exec(let plugin):
            // client-go renews a little before expiry, so a request never carries an expired token.
            if let (token, expires) = execCache.withLock({ $0 }), expires.map({ $0.timeIntervalSinceNow > 10 }) ?? true { return token }
            let credential = try await execRun.run(plugin)
            execCache.withLock { $0 = credential }
            return credential.token
        }
    }

    /// After a 401: the token may have rotated; read it (or run the plugin) again next time.
    func invalidate() {
        cached.withLock { $0 = nil }
        execCache.withLock { $0 = nil }
    }
}

/// Runs exec credential plugins, one run at a time.
actor ExecRunner {
    private var running: Task<(token: String, expires: Date?), any Error>?

    func run(_ plugin: ExecPlugin) async throws(KubernetesError) -> (token: String, expires: Date?) {
        let task = running ?? Task { try await Self.execute(plugin) }
        running = task
        defer { running = nil }
        do {
            return try await task.value
        } catch let error as KubernetesError {
            throw error
        } catch {
            throw .configuration("exec plugin \(plugin.command): \(error)")
        }
    }

    /// Runs the plugin with KUBERNETES_EXEC_INFO and reads the ExecCredential it prints.
    static func execute(_ plugin: ExecPlugin) async throws(KubernetesError) -> (token: String, expires: Date?) {
        let what = "exec plugin \(plugin.command)"
        let executable: String
        if plugin.command.hasPrefix("/") {
            executable = plugin.command
        } else if let found = Subprocess.find(plugin.command) {
            executable = found
        } else {
            throw .configuration("\(what) is not on PATH" + (plugin.installHint.map { ": \($0)" } ?? ""))
        }
        var spec: [String: JSONValue] = ["interactive": false]
        if let cluster = plugin.cluster { spec["cluster"] = cluster }
        let info: JSONValue = ["apiVersion": .string(plugin.apiVersion), "kind": "ExecCredential", "spec": .object(spec)]
        var environment = ProcessInfo.processInfo.environment.merging(plugin.env) { $1 }
        environment["KUBERNETES_EXEC_INFO"] = info.canonicalText
        let output: ProcessOutput
        do {
            output = try await Subprocess.run(executable, plugin.args, environment: environment, timeout: .seconds(60))
        } catch {
            throw .configuration("\(what) could not be started: \(error.localizedDescription)")
        }
        guard output.status == 0, !output.timedOut else {
            // The plugin's own words (it should say what to do); never its standard output, which
            // may hold a token, and without anything in them that looks like a credential or is a
            // secret the kubeconfig hands the plugin in its environment.
            let secrets = plugin.env.filter { name, _ in name.range(of: #"(?i)token|secret|passw|key|credential|auth"#, options: .regularExpression) != nil }
            // (Redacted before it is cut short: a secret across the cut would survive in part.)
            let said = String(
                Redaction.credentials(in: Redaction.text(String(decoding: output.stderr.prefix(65_536), as: UTF8.self), secrets: Array(secrets.values)))
                    .prefix(1024)
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            throw .configuration("\(what) " + (output.timedOut ? "timed out after 60 s" : "failed (exit \(output.status))") + (said.isEmpty ? "" : ": \(said)"))
        }
        guard let credential = try? JSONValue(parsing: output.stdout), credential["kind"]?.stringValue == "ExecCredential" else {
            throw .configuration("\(what) did not print an ExecCredential")
        }
        guard credential["apiVersion"]?.stringValue == plugin.apiVersion else {
            throw .configuration("\(what) answered with apiVersion \(credential["apiVersion"]?.stringValue ?? "none"), not \(plugin.apiVersion)")
        }
        guard let token = credential["status"]?["token"]?.stringValue, !token.isEmpty else {
            if credential["status"]?["clientCertificateData"] != nil {
                throw .configuration("\(what) returned a client certificate; only tokens from exec plugins are supported so far")
            }
            throw .configuration("\(what) returned no token")
        }
        let expires = credential["status"]?["expirationTimestamp"]?.stringValue.flatMap { try? Date($0, strategy: .iso8601) }
        return (token, expires)
    }
}
