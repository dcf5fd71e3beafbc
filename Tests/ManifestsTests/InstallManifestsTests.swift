import Foundation
import Manifests
import ModelplaneTestSupport
import Testing

/// `manifests/install/`, the Helm chart and the Dockerfile: what a cluster administrator applies.
@Suite struct InstallManifestsTests {
    static let root = Peers.repositoryRoot
    static let helm = root + "/.peers/bin/helm"
    static let validate = root + "/.peers/bin/kubernetes-validate"
    static let chart = root + "/charts/modelplane"

    /// The chart rendered with `values` (`--set` pairs) into a temporary file.
    static func render(_ values: [String] = []) async throws -> String {
        let result = try await CommandResult.run(
            helm, ["template", "modelplane", chart, "--namespace", "modelplane-system", "--include-crds"] + values.flatMap { ["--set", $0] })
        guard result.status == 0 else { throw PeerError("helm template failed: \(result.stderr)") }
        let path = NSTemporaryDirectory() + "modelplane-chart-\(UUID().uuidString).yaml"
        try result.stdout.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static let variants: [[String]] = [
        [],
        ["leaderElection.enabled=false", "watchNamespaces={team-a,team-b}", "selector=tier=prod", "router.replicaCount=1", "router.allNamespaces=false"],
        ["gitSync.enabled=true", "gitSync.url=https://git.example.com/models.git", "gitSync.path=deploy", "gitSync.credentialsSecret=git-token"],
        ["gitSync.enabled=true", "gitSync.url=git@git.example.com:models.git", "gitSync.credentialsSecret=git-key", "metrics.service.enabled=false"],
        [
            "serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/modelplane", "sagemaker.credentialsSecret=aws-keys",
            "extraEnv[0].name=AWS_ENDPOINT_URL_SAGEMAKER", "extraEnv[0].value=https://vpce.example.com", "sagemaker.pollSeconds=30",
            "router.serviceAccount.annotations.eks\\.amazonaws\\.com/role-arn=arn:aws:iam::123456789012:role/modelplane-router",
        ],
    ]

    @Test func helmLintPasses() async throws {
        let result = try await CommandResult.run(Self.helm, ["lint", "--strict", Self.chart])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    /// Every object in manifests/install/, crds/ and the rendered chart (several value sets), for
    /// each Kubernetes version the README promises.
    @Test(arguments: ["1.29.0", "1.31.0", "1.33.0"])
    func everythingPassesKubernetesValidateStrict(version: String) async throws {
        let install = try FileManager.default.contentsOfDirectory(atPath: Self.root + "/manifests/install").filter { $0.hasSuffix(".yaml") }.sorted()
            .map { Self.root + "/manifests/install/" + $0 }
        var rendered: [String] = []
        for values in Self.variants { rendered.append(try await Self.render(values)) }
        defer { for path in rendered { try? FileManager.default.removeItem(atPath: path) } }
        let files = install + [Self.root + "/" + CRDFile.path] + rendered
        let result = try await CommandResult.run(Self.validate, ["--strict", "-k", version] + files)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let passed = result.stdout.split(separator: "\n").filter { $0.contains(" passed for resource ") }.count
        #expect(passed >= 8 + 1 + 8 + 6 + 7 + 6, "every object was checked: \(result.stdout)")
    }

    @Test func theChartCarriesTheCurrentCRDAndHardenedPods() async throws {
        let chartCRD = try String(contentsOfFile: Self.chart + "/crds/modelplane.dev_modeldeployments.yaml", encoding: .utf8)
        #expect(chartCRD == CRDFile.render(), "charts/modelplane/crds/ is stale: copy crds/ there")
        for source in await [try Self.render(), Self.root + "/manifests/install/30-deployment.yaml"] {
            let text = try String(contentsOfFile: source, encoding: .utf8)
            for required in [
                "runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "drop: [\"ALL\"]", "path: /healthz",
                "path: /readyz", "--http-address=:8080", "type: RuntimeDefault",
            ] {
                #expect(text.contains(required), "\(source) lacks \(required)")
            }
        }
        // The router: its own Deployment (two replicas, a PodDisruptionBudget), Service, and a
        // role that can only read ModelDeployments.
        let chart = try await String(contentsOfFile: try Self.render(), encoding: .utf8)
        for required in [
            "name: modelplane-router", "- router", "--listen=0.0.0.0:8080", "--all-namespaces", "kind: PodDisruptionBudget", "path: /v2/health/ready",
            "verbs: [\"get\", \"list\", \"watch\"]",
        ] {
            #expect(chart.contains(required), "the chart lacks \(required)")
        }
        // The plain manifests carry the same router, as hardened.
        let plain = try String(contentsOfFile: Self.root + "/manifests/install/50-router.yaml", encoding: .utf8)
        for required in [
            "- router", "--listen=0.0.0.0:8080", "kind: PodDisruptionBudget", "path: /v2/health/ready", "verbs: [\"get\", \"list\", \"watch\"]",
            "runAsNonRoot: true", "readOnlyRootFilesystem: true", "allowPrivilegeEscalation: false", "drop: [\"ALL\"]", "type: RuntimeDefault",
        ] {
            #expect(plain.contains(required), "manifests/install/50-router.yaml lacks \(required)")
        }
        let single = try await String(contentsOfFile: try Self.render(["router.replicaCount=1"]), encoding: .utf8)
        #expect(!single.contains("kind: PodDisruptionBudget"), "one replica cannot keep one up through a disruption")
        let without = try await String(contentsOfFile: try Self.render(["router.enabled=false"]), encoding: .utf8)
        #expect(!without.contains("modelplane-router"))
        // SageMaker deployments behind the router: it gets the same AWS credentials and endpoints,
        // and its own IRSA role.
        let aws = try await String(contentsOfFile: try Self.render(Self.variants[4]), encoding: .utf8)
        let routerPart = try #require(aws.components(separatedBy: "---").first { $0.contains("kind: Deployment") && $0.contains("- router") })
        #expect(routerPart.contains("name: aws-keys") && routerPart.contains("AWS_ENDPOINT_URL_SAGEMAKER"), "\(routerPart)")
        #expect(aws.contains("role/modelplane-router"))
        // The controller reaches every router replica through a headless Service for status.shadow.
        let standard = try await String(contentsOfFile: try Self.render([]), encoding: .utf8)
        #expect(standard.contains("--router-stats=http://modelplane-router-replicas.modelplane-system.svc:9090") && standard.contains("clusterIP: None"))
        #expect(!without.contains("--router-stats"), "no router, no figures to collect")
        let git = try await String(contentsOfFile: try Self.render(Self.variants[3]), encoding: .utf8)
        #expect(git.contains("--git-ssh-key=/etc/modelplane/git/ssh-privatekey") && git.contains("- sync"), "\(git)")
        let missing = try await CommandResult.run(Self.helm, ["template", "modelplane", Self.chart, "--set", "gitSync.enabled=true"])
        #expect(missing.status != 0 && missing.stderr.contains("gitSync.url is required"), "\(missing.stderr)")
    }
}
