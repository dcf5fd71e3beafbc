public import Foundation
public import HTTPClient
import Synchronization

/// The standard credential chain, in the AWS SDKs' order: environment variables
/// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`); web identity
/// (`AWS_ROLE_ARN` with `AWS_WEB_IDENTITY_TOKEN_FILE`, as EKS service accounts get them:
/// AssumeRoleWithWebIdentity at STS); then the profile (`AWS_PROFILE`, else `default`) in the
/// shared credentials file and the config file (static keys, or `role_arn` with
/// `web_identity_token_file`). Temporary credentials are cached and renewed `refreshMargin` before
/// they expire; the token file is read again for each renewal (it rotates).
public final class DefaultAWSCredentialsProvider: AWSCredentialsProvider {
    let environment: [String: String]
    let http: HTTPClient
    let refreshMargin: Duration
    private let cached = Mutex<AWSCredentials?>(nil)
    /// One renewal at a time, shared by every caller that needs it (the router asks on each
    /// request); a failure is answered again for a second without asking anew.
    private let renewal = Mutex<(task: Task<Result<AWSCredentials, AWSError>, Never>?, failed: (AWSError, ContinuousClock.Instant)?)>((nil, nil))

    public init(environment: [String: String] = ProcessInfo.processInfo.environment, http: HTTPClient, refreshMargin: Duration = .seconds(300)) {
        self.environment = environment
        self.http = http
        self.refreshMargin = refreshMargin
    }

    public func credentials() async throws(AWSError) -> AWSCredentials {
        if let current = cached.withLock({ $0 }), Self.fresh(current, margin: refreshMargin) { return current }
        let task = renewal.withLock { renewal -> Task<Result<AWSCredentials, AWSError>, Never> in
            if let (error, at) = renewal.failed, ContinuousClock.now - at < .seconds(1) {
                return Task { .failure(error) }
            }
            if let running = renewal.task { return running }
            let started = Task { [self] () -> Result<AWSCredentials, AWSError> in
                let result = await attempt()
                if case .success(let found) = result { cached.withLock { $0 = found } }
                self.renewal.withLock { renewal in
                    renewal.task = nil
                    if case .failure(let error) = result { renewal.failed = (error, ContinuousClock.now) } else { renewal.failed = nil }
                }
                return result
            }
            renewal.task = started
            return started
        }
        return try await task.value.get()
    }

    private func attempt() async -> Result<AWSCredentials, AWSError> {
        do throws(AWSError) {
            return .success(try await resolve())
        } catch {
            return .failure(error)
        }
    }

    static func fresh(_ credentials: AWSCredentials, margin: Duration) -> Bool {
        guard let expiration = credentials.expiration else { return true }
        return expiration.timeIntervalSinceNow > Double(margin.components.seconds)
    }

    private func resolve() async throws(AWSError) -> AWSCredentials {
        if let key = environment["AWS_ACCESS_KEY_ID"], !key.isEmpty {
            guard let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else {
                throw AWSError(.credentials, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")
            }
            return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 })
        }
        if let role = environment["AWS_ROLE_ARN"], !role.isEmpty, let tokenFile = environment["AWS_WEB_IDENTITY_TOKEN_FILE"], !tokenFile.isEmpty {
            return try await assumeRoleWithWebIdentity(role: role, tokenFile: tokenFile, session: environment["AWS_ROLE_SESSION_NAME"])
        }
        let profile = environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? environment["AWS_DEFAULT_PROFILE"] ?? "default"
        let home = environment["HOME"] ?? NSHomeDirectory()
        let credentialsFile = environment["AWS_SHARED_CREDENTIALS_FILE"] ?? home + "/.aws/credentials"
        let configFile = environment["AWS_CONFIG_FILE"] ?? home + "/.aws/config"
        let fromCredentials = Self.ini(credentialsFile)[profile] ?? [:]
        let fromConfig = Self.ini(configFile)[profile == "default" ? "default" : "profile \(profile)"] ?? [:]
        for section in [fromCredentials, fromConfig] {
            if let key = section["aws_access_key_id"], let secret = section["aws_secret_access_key"] {
                return AWSCredentials(accessKeyID: key, secretAccessKey: secret, sessionToken: section["aws_session_token"])
            }
        }
        if let role = fromConfig["role_arn"], let tokenFile = fromConfig["web_identity_token_file"] {
            return try await assumeRoleWithWebIdentity(role: role, tokenFile: tokenFile, session: fromConfig["role_session_name"])
        }
        throw AWSError(
            .credentials,
            "none found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or profile \"\(profile)\" in \(credentialsFile) or \(configFile)"
        )
    }

    /// STS AssumeRoleWithWebIdentity (the Query protocol; the call itself is not signed).
    private func assumeRoleWithWebIdentity(role: String, tokenFile: String, session: String?) async throws(AWSError) -> AWSCredentials {
        guard let data = FileManager.default.contents(atPath: tokenFile) else {
            throw AWSError(.credentials, "cannot read the web identity token file \(tokenFile)")
        }
        let token = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let region = environment["AWS_REGION"] ?? environment["AWS_DEFAULT_REGION"] ?? "us-east-1"
        let endpoint = AWSEndpoint.resolve(service: "sts", prefix: "sts", region: region, explicit: nil, environment: environment)
        let form: [(String, String)] = [
            ("Action", "AssumeRoleWithWebIdentity"), ("Version", "2011-06-15"), ("RoleArn", role),
            ("RoleSessionName", session ?? "modelplane-\(Int(Date().timeIntervalSince1970))"), ("WebIdentityToken", token),
        ]
        let body = form.map { "\($0.0)=\(SigV4Signer.encode($0.1, keepSlash: false))" }.joined(separator: "&")
        let response: HTTPResponse
        do {
            response = try await http.execute(
                HTTPRequest(
                    method: "POST", url: endpoint + "/", headers: ["Content-Type": "application/x-www-form-urlencoded; charset=utf-8"],
                    body: Data(body.utf8), timeout: .seconds(30)))
        } catch {
            throw AWSError(.transport, "AssumeRoleWithWebIdentity for \(role): \(error)")
        }
        let xml = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            let code = Self.element("Code", in: xml) ?? "HTTP\(response.status)"
            throw AWSError(.service(code: code, status: response.status), "AssumeRoleWithWebIdentity for \(role): \(Self.element("Message", in: xml) ?? "")")
        }
        guard let key = Self.element("AccessKeyId", in: xml), let secret = Self.element("SecretAccessKey", in: xml) else {
            throw AWSError(.protocolError, "AssumeRoleWithWebIdentity answered without credentials")
        }
        return AWSCredentials(
            accessKeyID: key, secretAccessKey: secret, sessionToken: Self.element("SessionToken", in: xml),
            expiration: Self.element("Expiration", in: xml).flatMap { try? Date($0, strategy: .iso8601) })
    }

    /// The text of the first `<name>…</name>` (STS answers are flat enough for this).
    static func element(_ name: String, in xml: String) -> String? {
        guard let open = xml.range(of: "<\(name)>"), let close = xml.range(of: "</\(name)>", range: open.upperBound..<xml.endIndex) else { return nil }
        return String(xml[open.upperBound..<close.lowerBound]).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// An INI file's sections (`[name]`) of `key = value` lines; `#` and `;` start comments.
    static func ini(_ path: String) -> [String: [String: String]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var sections: [String: [String: String]] = [:]
        var current: String?
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("["), line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
                continue
            }
            guard let current, let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            sections[current, default: [:]][key] = value
        }
        return sections
    }
}
