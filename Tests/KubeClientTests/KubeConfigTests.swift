import Foundation
import HTTPClient
import KubeClient
import ModelplaneTestSupport
import Testing

final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "modelplane-kubeconfig-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        try FileManager.default.createDirectory(atPath: (file as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

@Suite struct KubeConfigTests {
    static let config = """
        apiVersion: v1
        kind: Config
        current-context: dev
        clusters:
        - name: dev-cluster
          cluster:
            server: https://dev.example:6443/
            certificate-authority: certs/ca.crt
        - name: prod-cluster
          cluster:
            server: https://prod.example:6443
            certificate-authority-data: \(Data("PEM-CA".utf8).base64EncodedString())
            insecure-skip-tls-verify: false
        users:
        - name: dev-user
          user:
            client-certificate: certs/client.crt
            client-key: /abs/client.key
        - name: prod-user
          user:
            token: prod-token
        - name: file-user
          user:
            tokenFile: token
        contexts:
        - name: dev
          context: {cluster: dev-cluster, user: dev-user, namespace: team-a}
        - name: prod
          context: {cluster: prod-cluster, user: prod-user}
        - name: files
          context: {cluster: prod-cluster, user: file-user}
        """

    @Test func readsTheCurrentContextAndResolvesRelativePaths() throws {
        let dir = try Scratch()
        let path = try dir.write("kube/config", Self.config)
        let c = try KubernetesClientConfiguration.kubeconfig(explicitPath: path, environment: [:])
        #expect(c.server == "https://dev.example:6443")
        #expect(c.namespace == "team-a")
        #expect(c.tls.certificateAuthority == .file(dir.path + "/kube/certs/ca.crt"))
        #expect(c.tls.clientCertificate == .file(dir.path + "/kube/certs/client.crt"))
        #expect(c.tls.clientKey == .file("/abs/client.key"))
    }

    @Test func selectsAContextAndDecodesInlineData() throws {
        let dir = try Scratch()
        let path = try dir.write("config", Self.config)
        let prod = try KubernetesClientConfiguration.kubeconfig(explicitPath: path, context: "prod", environment: [:])
        #expect(prod.tls.certificateAuthority == .data(Data("PEM-CA".utf8)))
        #expect(prod.namespace == "default")
        guard case .bearerToken(let token) = prod.credentials else {
            Issue.record("expected a token")
            return
        }
        #expect(token.value == "prod-token")
        let files = try KubernetesClientConfiguration.kubeconfig(explicitPath: path, context: "files", environment: [:])
        guard case .bearerTokenFile(let tokenPath) = files.credentials else {
            Issue.record("expected a token file")
            return
        }
        #expect(tokenPath == dir.path + "/token")
    }

    @Test func mergesKUBECONFIGListsFirstDefinitionWins() throws {
        let dir = try Scratch()
        let first = try dir.write(
            "a",
            """
            current-context: ""
            clusters:
            - name: dev-cluster
              cluster: {server: "https://first:1"}
            """)
        let second = try dir.write("b", Self.config)
        let c = try KubernetesClientConfiguration.kubeconfig(environment: ["KUBECONFIG": "\(dir.path)/missing:\(first):\(second)"])
        #expect(c.server == "https://first:1")  // the cluster from the first file
        #expect(c.namespace == "team-a")  // the context (and current-context) from the second
    }

    @Test(arguments: [
        ("current-context: nope\n", "context \"nope\" is not in the kubeconfig"),
        ("current-context: dev\ncontexts: [{name: dev, context: {cluster: gone}}]\n", "names cluster \"gone\", which is not in the kubeconfig"),
        (
            "current-context: dev\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n",
            "exec: apiVersion must be one of client.authentication.k8s.io/v1, client.authentication.k8s.io/v1beta1"
        ),
        (
            "current-context: dev\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: aws}}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n",
            "interactiveMode is required"
        ),
        (
            "current-context: dev\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: aws, interactiveMode: Always}}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n",
            "interactiveMode Always needs a terminal"
        ),
        (
            "current-context: dev\nclusters: [{name: c, cluster: {server: 'https://x'}}]\nusers: [{name: u, user: {auth-provider: {name: gcp}}}]\ncontexts: [{name: dev, context: {cluster: c, user: u}}]\n",
            "auth-provider plugins were removed from kubectl"
        ),
        (
            "current-context: dev\nclusters: [{name: c, cluster: {server: 'https://x', certificate-authority-data: '!!notbase64!!'}}]\ncontexts: [{name: dev, context: {cluster: c}}]\n",
            "certificate-authority-data of cluster \"c\" is not valid base64"
        ),
        ("clusters: [}\n", "is not valid"),
    ])
    func explainsWhatIsWrong(text: String, expected: String) throws {
        let dir = try Scratch()
        let path = try dir.write("config", text)
        #expect {
            _ = try KubernetesClientConfiguration.kubeconfig(explicitPath: path, environment: [:])
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test func explicitPathMustExist() {
        #expect(throws: KubernetesError.self) {
            _ = try KubernetesClientConfiguration.kubeconfig(explicitPath: "/nonexistent/config", environment: [:])
        }
    }

    @Test func readsServiceAccountFilesInACluster() throws {
        let dir = try Scratch()
        _ = try dir.write("token", "sa-token\n")
        _ = try dir.write("ca.crt", "PEM")
        _ = try dir.write("namespace", "modelplane-system\n")
        let c = try KubernetesClientConfiguration.inCluster(
            environment: ["KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"], serviceAccountDirectory: dir.path)
        #expect(c.server == "https://10.0.0.1:443")
        #expect(c.namespace == "modelplane-system")
        #expect(c.tls.certificateAuthority == .file(dir.path + "/ca.crt"))
        guard case .bearerTokenFile(let path) = c.credentials else {
            Issue.record("expected a token file")
            return
        }
        #expect(path == dir.path + "/token")
        #expect(throws: KubernetesError.self) { _ = try KubernetesClientConfiguration.inCluster(environment: [:], serviceAccountDirectory: dir.path) }
    }
}
