import Foundation
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import Testing

@Suite struct CRDTests {
    let crdPath = repositoryRoot + "/" + CRDFile.path

    @Test func committedCRDIsWhatTheGeneratorWrites() throws {
        let committed = try String(contentsOfFile: crdPath, encoding: .utf8)
        #expect(committed == CRDFile.render(), "crds/ is stale: run `swift run modelplane crd > \(CRDFile.path)`")
    }

    /// The Kubernetes versions the README promises.
    @Test(arguments: ["1.29.0", "1.31.0", "1.33.0"])
    func crdPassesKubernetesValidate(version: String) async throws {
        let result = try await CommandResult.run(Peers.repositoryRoot + "/.peers/bin/kubernetes-validate", ["--strict", "-k", version, crdPath])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("passed for resource customresourcedefinition/modeldeployments.modelplane.dev"))
    }

    struct SchemaCheck: Decodable {
        struct Problem: Decodable {
            var path: String
            var message: String
        }
        var file: String
        var name: String?
        var errors: [Problem]
    }

    func independentCheck(_ files: [String]) async throws -> [SchemaCheck] {
        let result = try await CommandResult.run(try Peers.python, [Peers.script("crd_schema_check.py"), crdPath] + files)
        #expect(result.status == 0, "\(result.stderr)")
        return try result.stdout.split(separator: "\n").map { try JSONDecoder().decode(SchemaCheck.self, from: Data($0.utf8)) }
    }

    @Test func examplesConformToTheCRDSchema() async throws {
        let examples = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/manifests/examples").sorted().map {
            repositoryRoot + "/manifests/examples/" + $0
        }
        let checks = try await independentCheck(examples)
        #expect(checks.count == examples.count)
        for check in checks { #expect(check.errors.isEmpty, "\(check.file): \(check.errors.map(\.message))") }
    }

    /// Each broken manifest is refused by our reader and by an independent JSON Schema validator
    /// reading the generated CRD, at the same field: the two describe the same resource.
    @Test(arguments: [
        ("version: \"3\"", "version: 3", "spec.model.version"),
        ("    version: \"3\"", "    version: \"3\"\n    verison: \"4\"", "spec.model"),
        ("strategy: BlueGreen", "strategy: Rolling", "spec.rollout.strategy"),
        ("progressDeadlineSeconds: 300", "progressDeadlineSeconds: 0", "spec.rollout.progressDeadlineSeconds"),
        ("name: fraud\n", "name: -fraud\n", "spec.model.name"),
        ("revisionHistoryLimit: 10", "revisionHistoryLimit: -1", "spec.revisionHistoryLimit"),
        ("url: http://127.0.0.1:8000", "url: ftp://127.0.0.1:8000", "spec.backend.triton.url"),
    ])
    func brokenManifestsAreRefusedByBoth(original: String, replacement: String, field: String) async throws {
        let base = """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: fraud-detector}
            spec:
              model:
                name: fraud
                version: "3"
              backend:
                triton:
                  url: http://127.0.0.1:8000
              rollout:
                strategy: BlueGreen
                progressDeadlineSeconds: 300
              revisionHistoryLimit: 10
            """
        #expect(base.contains(original))
        let broken = base.replacingOccurrences(of: original, with: replacement)
        let dir = try TemporaryDirectory()
        let file = dir.path + "/broken.yaml"
        try broken.write(toFile: file, atomically: true, encoding: .utf8)

        let ours = ManifestReader().read(paths: [file]).problems
        #expect(!ours.isEmpty)
        #expect(ours.contains { $0.path?.description.hasPrefix(field) == true }, "\(ours)")

        let theirs = try await independentCheck([file]).first?.errors ?? []
        #expect(!theirs.isEmpty, "the CRD schema accepts what Modelplane refuses")
        #expect(theirs.contains { $0.path.hasPrefix(field) || field.hasPrefix($0.path) }, "\(theirs.map { "\($0.path): \($0.message)" })")
    }
}

/// The CRD's CEL rules (x-kubernetes-validations), which kube-apiserver evaluates in a cluster,
/// evaluated here by a real CEL implementation (cel-python): the examples pass them, and each
/// broken manifest fails exactly its rule, at the field where our own validation refuses it too.
@Suite struct CRDRuleTests {
    static let crdPath = repositoryRoot + "/" + CRDFile.path

    static func evaluate(_ files: [String]) async throws -> [String: [String]] {
        let python = Peers.repositoryRoot + "/.peers/cel/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python) else { throw PeerError("\(python) is missing: run scripts/setup-peers") }
        let result = try await CommandResult.run(python, [Peers.script("crd_cel_check.py"), crdPath] + files)
        guard result.status == 0 else { throw PeerError("crd_cel_check.py: \(result.stderr)") }
        return try JSONDecoder().decode([String: [String]].self, from: Data(result.stdout.utf8))
    }

    @Test func theExamplesPassEveryRule() async throws {
        let examples = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/manifests/examples").sorted().map {
            repositoryRoot + "/manifests/examples/" + $0
        }
        let failed = try await Self.evaluate(examples)
        #expect(failed.count == examples.count)
        for (file, messages) in failed { #expect(messages.isEmpty, "\(file): \(messages)") }
    }

    static let triton = """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: a}
        spec:
          model: {name: m, version: "3"}
          backend:
            triton: {url: "http://127.0.0.1:8000"}
        """
    static let sagemaker = """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: a}
        spec:
          model: {name: m, version: v1, uri: "s3://models/m/v1/model.tar.gz"}
          backend:
            sagemaker:
              region: us-east-1
              image: 123456789012.dkr.ecr.us-east-1.amazonaws.com/m:1
              executionRoleArn: arn:aws:iam::123456789012:role/SageMaker
              instanceType: ml.m5.large
              trafficRouting: {type: Canary, stepPercent: 10}
          rollout: {strategy: BlueGreen}
        """

    static let canary = """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: a}
        spec:
          model: {name: m, version: "3"}
          backend:
            triton: {url: "http://127.0.0.1:8000"}
          rollout:
            strategy: Canary
            canary: {steps: [{setWeight: 10}, {pause: {duration: 30s}}]}
          shadow:
            version: "4"
            compare: {mode: absolute, tolerance: 0.01}
        """

    static let analysed = """
        apiVersion: modelplane.dev/v1alpha1
        kind: ModelDeployment
        metadata: {name: a}
        spec:
          model: {name: m, version: "3"}
          backend:
            triton: {url: "http://127.0.0.1:8000"}
          rollout:
            strategy: Canary
            canary:
              steps: [{analysis: {shadow: {minRequests: 100, minAgreement: 0.95}}}, {setWeight: 10}, {analysis: {metrics: [errors], count: 3}}]
              analysis:
                interval: 10s
                metrics:
                  - {name: errors, router: errorRate, minRequests: 20, max: 0.01}
                  - {name: p99, prometheus: {address: "http://127.0.0.1:9090", query: "up"}, max: 0.25}
        """

    @Test(arguments: [
        (
            analysed, "router: errorRate, minRequests: 20", "router: errorRate, minRequests: 20, webhook: {url: \"http://h\"}",
            "spec.rollout.canary.analysis.metrics: each metric has exactly one of router, prometheus, webhook"
        ),
        (
            analysed, "name: p99, prometheus", "name: p99, minRequests: 5, prometheus",
            "spec.rollout.canary.analysis.metrics: minRequests applies only to router metrics"
        ),
        (analysed, "max: 0.25}", "max: 0.25, min: 0.5}", "spec.rollout.canary.analysis.metrics: a metric's min must not be above its max"),
        (analysed, "name: p99", "name: errors", "spec.rollout.canary.analysis.metrics: metric names must be unique"),
        (
            analysed, "metrics: [errors], count: 3", "metrics: [latency], count: 3",
            "spec.rollout.canary.steps: an analysis step names metrics of canary.analysis.metrics"
        ),
        (
            analysed, "metrics: [errors], count: 3", "metrics: [errors, errors], count: 3",
            "spec.rollout.canary.steps: an analysis step names each metric once, and at least one"
        ),
        (
            analysed, "{analysis: {metrics: [errors], count: 3}}", "{analysis: {metrics: [errors], shadow: {minRequests: 1, minAgreement: 1}}}",
            "spec.rollout.canary.steps: an analysis step is exactly one of metrics, shadow"
        ),
        (triton, "version: \"3\"", "version: \"v3\"", "spec.model.version: Triton model versions are positive integers"),
        (
            triton, "triton: {url: \"http://127.0.0.1:8000\"}", "triton: {url: \"http://127.0.0.1:8000\"}\n    sagemaker: {region: us-east-1}",
            "spec.backend: exactly one of triton, sagemaker must be set"
        ),
        (sagemaker, "uri: \"s3://models/m/v1/model.tar.gz\"", "uri: \"/srv/m\"", "spec.model.uri: for SageMaker, model.uri is an s3:// URL"),
        (
            sagemaker, "{type: Canary, stepPercent: 10}", "{type: AllAtOnce, stepPercent: 10}",
            "spec.backend.sagemaker.trafficRouting.stepPercent: stepPercent is required for Canary and Linear, and not allowed for AllAtOnce"
        ),
        (
            sagemaker, "{type: Canary, stepPercent: 10}", "{type: Linear}",
            "spec.backend.sagemaker.trafficRouting.stepPercent: stepPercent is required for Canary and Linear, and not allowed for AllAtOnce"
        ),
        (
            sagemaker, "rollout: {strategy: BlueGreen}", "rollout: {strategy: Immediate}",
            "spec.backend.sagemaker: trafficRouting and rollbackAlarms apply only when rollout.strategy is BlueGreen"
        ),
        (
            canary, "strategy: Canary", "strategy: BlueGreen",
            "spec.rollout.canary: canary applies only when rollout.strategy is Canary"
        ),
        (canary, "version: \"4\"", "version: \"3\"", "spec.shadow.version: the shadow version must differ from model.version"),
        (canary, "version: \"4\"", "version: \"v4\"", "spec.shadow.version: Triton model versions are positive integers"),
        (
            canary, "mode: absolute, tolerance", "mode: argmax, tolerance",
            "spec.shadow.compare.tolerance: tolerance applies only to mode absolute"
        ),
        (
            sagemaker, "rollout: {strategy: BlueGreen}", "shadow: {version: v0}\n  rollout: {strategy: BlueGreen}",
            "spec.shadow.uri: SageMaker needs the shadow version's artifact to make its Model"
        ),
        (
            sagemaker, "rollout: {strategy: BlueGreen}",
            "shadow: {version: v0, uri: \"s3://models/m/v0/model.tar.gz\", compare: {mode: argmax}}\n  rollout: {strategy: BlueGreen}",
            "spec.shadow.compare: SageMaker does not return the shadow's answers, so none are compared"
        ),
        (canary, "version: \"4\"", "version: \"4\"\n    uri: /models/m", "spec.shadow.uri: Triton loads the shadow version from the model's repository"),
    ])
    func eachBrokenManifestFailsItsRuleAndOurValidation(base: String, original: String, replacement: String, expected: String) async throws {
        #expect(base.contains(original))
        let dir = try TemporaryDirectory()
        let good = dir.path + "/good.yaml"
        let broken = dir.path + "/broken.yaml"
        try base.write(toFile: good, atomically: true, encoding: .utf8)
        try base.replacingOccurrences(of: original, with: replacement).write(toFile: broken, atomically: true, encoding: .utf8)
        let failed = try await Self.evaluate([good, broken])
        #expect(failed[good] == [], "the base passes: \(failed[good] ?? [])")
        #expect(failed[broken] == [expected])
        // Our own validation refuses it at the same field.
        let field = String(expected.prefix { $0 != ":" })
        let ours = ManifestReader().read(paths: [broken]).problems
        #expect(ours.contains { $0.path?.description.hasPrefix(field) == true || field.hasPrefix($0.path?.description ?? "-") }, "\(ours)")
        #expect(ManifestReader().read(paths: [good]).problems.isEmpty)
    }
}

@Suite struct ValidateCommandTests {
    @Test func passesTheExamples() async throws {
        let result = try await CommandResult.run(Peers.modelplane, ["validate", "-f", "manifests/examples"], directory: repositoryRoot)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("modeldeployment.modelplane.dev/fraud-detector valid"))
        #expect(result.stderr.isEmpty)
    }

    @Test func printsOneLinePerProblemAndFails() async throws {
        let broken = """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: Bad_Name}
            spec:
              model: {name: fraud, version: 3}
              backend: {}
            """
        let result = try await CommandResult.run(Peers.modelplane, ["validate", "-f", "-"], stdin: broken)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(
            result.stderr == """
                <stdin>:5:33: spec.model.version: Invalid type: expected string, got integer 3 (quote it: "3")
                1 problem found

                """)
    }

    @Test func reportsSemanticProblemsWithPositions() async throws {
        let broken = """
            apiVersion: modelplane.dev/v1alpha1
            kind: ModelDeployment
            metadata: {name: Bad_Name}
            spec:
              model: {name: fraud, version: "3"}
              backend: {}
            """
        let result = try await CommandResult.run(Peers.modelplane, ["validate", "-f", "-"], stdin: broken)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("<stdin>:3:18: metadata.name: Invalid value: \"Bad_Name\""))
        #expect(lines[1] == "<stdin>:6:12: spec.backend: Required value: exactly one of triton, sagemaker must be set")
    }

    @Test func refusesAnEmptyInputAndMissingFlags() async throws {
        let empty = try await CommandResult.run(Peers.modelplane, ["validate", "-f", "-"], stdin: "# nothing here\n")
        #expect(empty.status == 1)
        #expect(empty.stderr.contains("no ModelDeployment manifests found"))
        let none = try await CommandResult.run(Peers.modelplane, ["validate"])
        #expect(none.status != 0)
        #expect(none.stderr.contains("give at least one -f"))
    }

    @Test func crdCommandPrintsTheCommittedCRD() async throws {
        let result = try await CommandResult.run(Peers.modelplane, ["crd"])
        #expect(result.status == 0)
        #expect(result.stdout == CRDFile.render())
    }
}
