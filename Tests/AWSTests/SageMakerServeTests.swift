import AWS
import Foundation
import HTTPClient
import KubeClient
import Manifests
import ModelplaneAPI
import ModelplaneTestSupport
import SageMakerBackend
import Testing

/// `modelplane serve` with its controller against moto (signature verification on), configured
/// the way a user would: credentials and the endpoint URL in the standard AWS variables.
@Suite(.timeLimit(.minutes(3))) struct SageMakerServeTests {
    @Test func anExampleManifestServesOnSageMakerAndIsDeletedCleanly() async throws {
        let moto = try await SageMakerMotoTests.Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        let directory = NSTemporaryDirectory() + "modelplane-sagemaker-serve-" + UUID().uuidString
        let environment = [
            "AWS_ACCESS_KEY_ID": moto.accessKey, "AWS_SECRET_ACCESS_KEY": moto.secretKey, "AWS_ENDPOINT_URL_SAGEMAKER": moto.endpoint,
            "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        ]
        let serve = try await PeerProcess.modelplaneServe(
            data: directory, controller: true, extraArguments: ["--sagemaker-poll", "1"], environment: environment)
        defer { serve.stop() }
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))

        // The example, in the default namespace.
        let example = try String(contentsOfFile: Peers.repositoryRoot + "/manifests/examples/sagemaker-churn.yaml", encoding: .utf8)
            .replacingOccurrences(of: "namespace: ml-prod", with: "namespace: default")
        let manifest = directory + "/churn.yaml"
        try example.write(toFile: manifest, atomically: true, encoding: .utf8)
        let kubeconfig = ["--kubeconfig", directory + "/kubeconfig"]

        // Before it exists: diff plans the creation.
        let planned = try await CommandResult.run(Peers.modelplane, ["diff", "-f", manifest] + kubeconfig, environment: environment)
        #expect(planned.status == 2, "\(planned.stdout)\(planned.stderr)")
        #expect(planned.stdout.contains("sagemaker: CreateModel churn-predictor-") && planned.stdout.contains("sagemaker: CreateEndpoint churn-predictor"))

        let applied = try await CommandResult.run(Peers.modelplane, ["apply", "-f", manifest] + kubeconfig)
        #expect(applied.status == 0, "\(applied.stderr)")
        let deadline = ContinuousClock.now + .seconds(60)
        var md = try await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default")
        while md.status?.phase != .ready, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            md = try await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default")
        }
        #expect(md.status?.phase == .ready, "\(String(describing: md.status))\n\(serve.log)")
        #expect(md.status?.servingVersion == "2024-11-03")
        let name = SageMakerResources.name(md)
        #expect(md.status?.sagemaker?.resources.map(\.name) == [name])

        let client = moto.client(http)
        let observed = try await client.observe(endpoint: "churn-predictor", model: name, config: name)
        #expect(observed.endpointStatus == "InService" && observed.endpointConfigName == name && observed.instanceCount == 2)
        #expect(try await client.tag(SageMakerResources.ownerTag, of: try #require(observed.endpointArn)) == "default/churn-predictor")

        let described = try await CommandResult.run(Peers.modelplane, ["describe", "churn-predictor"] + kubeconfig)
        #expect(described.stdout.contains("Endpoint:   churn-predictor in us-east-1"), "\(described.stdout)")
        #expect(described.stdout.contains("Created:    \(name) (version 2024-11-03)"))
        #expect(described.stdout.contains("Serving") && described.stdout.contains("Creating"), "the events")

        // Unchanged: nothing to do, exit 0. A new version: the calls it would make, exit 2.
        let unchanged = try await CommandResult.run(Peers.modelplane, ["diff", "-f", manifest] + kubeconfig, environment: environment)
        #expect(unchanged.status == 0, "\(unchanged.stdout)\(unchanged.stderr)")
        #expect(unchanged.stdout.contains("sagemaker: nothing to do"))
        try example.replacingOccurrences(of: "version: \"2024-11-03\"", with: "version: \"2024-12-01\"").write(
            toFile: manifest, atomically: true, encoding: .utf8)
        let changed = try await CommandResult.run(Peers.modelplane, ["diff", "-f", manifest] + kubeconfig, environment: environment)
        #expect(changed.status == 2)
        #expect(changed.stdout.contains("sagemaker: UpdateEndpoint churn-predictor to churn-predictor-"), "\(changed.stdout)")
        #expect(changed.stdout.contains("\"Type\":\"ALL_AT_ONCE\""), "BlueGreen: the DeploymentConfig is shown")

        try await kube.delete(ModelDeployment.self, name: "churn-predictor", namespace: "default")
        let gone = ContinuousClock.now + .seconds(60)
        while (try? await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default")) != nil, ContinuousClock.now < gone {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(try await client.call(.listEndpoints)["Endpoints"]?.arrayValue?.isEmpty == true)
        #expect(try await client.describe(.describeModel, ["ModelName": .string(name)]) == nil)
        #expect(try await client.describe(.describeEndpointConfig, ["EndpointConfigName": .string(name)]) == nil)

        // The secret key is nowhere: not in the server's log, the events, the audit log.
        let events = try await kube.listAll(Event.self, namespace: "default").items
        let audit = (try? String(contentsOfFile: directory + "/audit.log", encoding: .utf8)) ?? ""
        #expect(audit.contains("CreateEndpoint"))
        for text in [serve.log, "\(events)", audit, planned.stdout + planned.stderr] { #expect(!text.contains(moto.secretKey)) }
    }

    @Test func withoutCredentialsItSaysWhatItTriedAndRecoversWhenTheyAppear() async throws {
        let moto = try await SageMakerMotoTests.Moto()
        let directory = NSTemporaryDirectory() + "modelplane-sagemaker-nocreds-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let credentialsFile = directory + "/aws-credentials"
        let environment = [
            "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_ROLE_ARN": "", "AWS_PROFILE": "", "HOME": directory,
            "AWS_SHARED_CREDENTIALS_FILE": credentialsFile, "AWS_CONFIG_FILE": directory + "/aws-config", "AWS_ENDPOINT_URL_SAGEMAKER": moto.endpoint,
        ]
        let serve = try await PeerProcess.modelplaneServe(
            data: directory, controller: true, extraArguments: ["--sagemaker-poll", "1"], environment: environment)
        defer { serve.stop() }
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        var md = try SageMakerContractTests.churn()
        md.metadata.namespace = "default"
        md.metadata.resourceVersion = nil
        _ = try await kube.create(md)

        func status(until condition: (ModelDeployment) -> Bool) async throws -> ModelDeployment {
            let deadline = ContinuousClock.now + .seconds(60)
            var current = try await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default")
            while !condition(current), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
                current = try await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default")
            }
            return current
        }
        let stuck = try await status { $0.status?.conditions?[type: "Degraded"]?.reason == "CredentialsUnavailable" }
        let message = stuck.status?.conditions?[type: "Degraded"]?.message ?? ""
        #expect(message.contains("AWS_ACCESS_KEY_ID") && message.contains(credentialsFile), "\(message)")
        #expect(stuck.status?.sagemaker == nil, "nothing was created")

        // The credentials file appears (as a mounted secret would): the next retry uses it.
        try "[default]\naws_access_key_id = \(moto.accessKey)\naws_secret_access_key = \(moto.secretKey)\n".write(
            toFile: credentialsFile, atomically: true, encoding: .utf8)
        let ready = try await status { $0.status?.phase == .ready }
        #expect(ready.status?.phase == .ready, "\(String(describing: ready.status))")
        #expect(!serve.log.contains(moto.secretKey))
    }

    /// The inference router in front of a SageMaker deployment: InvokeEndpoint signed with the
    /// standard credential chain (moto checks the signature), the answer named as the deployment
    /// and the version that answered, the request id passed to SageMaker.
    @Test func theRouterInvokesTheEndpointSignedAndSaysWhichVersionAnswered() async throws {
        let moto = try await SageMakerMotoTests.Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        let directory = NSTemporaryDirectory() + "modelplane-sagemaker-router-" + UUID().uuidString
        let environment = [
            "AWS_ACCESS_KEY_ID": moto.accessKey, "AWS_SECRET_ACCESS_KEY": moto.secretKey, "AWS_ENDPOINT_URL_SAGEMAKER": moto.endpoint,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": moto.endpoint, "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
        ]
        let serve = try await PeerProcess.modelplaneServe(
            data: directory, controller: true, extraArguments: ["--sagemaker-poll", "1"], environment: environment)
        defer { serve.stop() }
        let kube = KubernetesClient(configuration: try .kubeconfig(explicitPath: directory + "/kubeconfig"))
        var md = try SageMakerContractTests.churn()
        md.metadata.namespace = "default"
        md.metadata.resourceVersion = nil
        _ = try await kube.create(md)
        let deadline = ContinuousClock.now + .seconds(60)
        while try await kube.get(ModelDeployment.self, name: "churn-predictor", namespace: "default").status?.traffic == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        let router = try await serve.routerURL()
        while (try? await http.execute(HTTPRequest(url: router + "/v2/health/ready")).status) != 200, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }

        // What the endpoint answers (moto answers what it is told to, once per distinct request).
        let answer: JSONValue = ["model_name": "churn", "outputs": [["name": "OUTPUT0", "shape": [1], "datatype": "FP32", "data": [0.25]]]]
        let results: JSONValue = [
            "results": [["Body": .string(answer.canonicalText), "ContentType": "application/json", "InvokedProductionVariant": "primary"]]
        ]
        let queued = try await http.execute(
            HTTPRequest(
                method: "POST", url: moto.endpoint + "/moto-api/static/sagemaker/endpoint-results", headers: ["Content-Type": "application/json"],
                body: Data(results.canonicalText.utf8)))
        #expect(queued.status == 201 || queued.status == 200, "\(String(decoding: queued.body, as: UTF8.self))")

        let input: JSONValue = ["inputs": [["name": "INPUT0", "shape": [1], "datatype": "FP32", "data": [3.0]]]]
        let response = try await http.execute(
            HTTPRequest(
                method: "POST", url: router + "/v2/models/churn-predictor/infer", headers: ["Content-Type": "application/json", "X-Request-Id": "r-17"],
                body: Data(input.canonicalText.utf8)))
        #expect(response.status == 200, "\(String(decoding: response.body, as: UTF8.self))\n\(serve.log)")
        let document = try JSONValue(parsing: response.body)
        #expect(document["model_name"] == "churn-predictor" && document["model_version"] == "2024-11-03" && document["id"] == "r-17")
        #expect(document["outputs"] == answer["outputs"])
        #expect(response.headers["Modelplane-Version"] == "2024-11-03" && response.headers["X-Request-Id"] == "r-17")

        // Metadata and readiness come from the deployment (SageMaker has no metadata call).
        let metadata = try JSONValue(parsing: try await http.execute(HTTPRequest(url: router + "/v2/models/churn-predictor")).body)
        #expect(metadata["platform"] == "sagemaker" && metadata["versions"] == ["2024-11-03"])
        #expect(try await http.execute(HTTPRequest(url: router + "/v2/models/churn-predictor/ready")).status == 200)
        #expect(!serve.log.contains(moto.secretKey))
    }

    /// InvokeEndpoint's SigV4 against moto's verification: the right key is let in, a wrong one is
    /// refused, and what the router would answer says so without the key.
    @Test func invocationsAreSignedAndAWrongKeyIsSaidWithoutTheSecret() async throws {
        let moto = try await SageMakerMotoTests.Moto()
        let http = HTTPClient()
        defer { http.shutdown() }
        func invoke(secret: String) async throws -> HTTPResponse {
            let runtime = SageMakerRuntime(
                region: "us-east-1", apiEndpoint: moto.endpoint,
                credentials: StaticCredentialsProvider(AWSCredentials(accessKeyID: moto.accessKey, secretAccessKey: secret)), environment: [:])
            let body = Data(#"{"inputs":[]}"#.utf8)
            let signed = try await runtime.signed(.init(endpointName: "churn", body: body, contentType: "application/json", inferenceID: "id-1"))
            #expect(signed.url == moto.endpoint + "/endpoints/churn/invocations")
            return try await http.execute(HTTPRequest(method: "POST", url: signed.url, headers: signed.headers, body: body))
        }
        #expect(try await invoke(secret: moto.secretKey).status == 200)
        let wrongSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYWRONGKEY"
        let refused = try await invoke(secret: wrongSecret)
        #expect(refused.status == 403)
        let said = SageMakerRuntime.failure(status: refused.status, headers: refused.headers, body: refused.body)
        #expect(said.status == 503 && said.message.contains("refused the router's credentials"), "\(said)")
        #expect(!said.message.contains(wrongSecret) && !said.message.contains(moto.secretKey))

        // A signature error quotes the canonical request back (every signed header, a session
        // token among them): none of it is passed on, by the router or the controller's client.
        let quoted = """
            {"message":"The request signature we calculated does not match the signature you provided. The Canonical String for this request should have been\\n'POST\\n/endpoints/churn/invocations\\n\\nx-amz-security-token:FwoGZXIvYXdzSECRETTOKEN\\n'"}
            """
        let signature = SageMakerRuntime.failure(status: 403, headers: ["X-Amzn-ErrorType": "InvalidSignatureException"], body: Data(quoted.utf8))
        #expect(signature.status == 503 && !signature.message.contains("SECRETTOKEN"), "\(signature)")
        #expect(
            !AWSError.withoutSignedText("does not match. The Canonical String for this request should have been x-amz-security-token:SECRETTOKEN").contains(
                "SECRETTOKEN"))
        // The endpoint has no variant of that name (it just moved configs): the router asks again without one.
        #expect(
            SageMakerRuntime.noSuchVariant(
                status: 400, headers: ["X-Amzn-ErrorType": "ValidationError"],
                body: Data(#"{"message":"The variant name v-2024-11-03 is not present on endpoint churn."}"#.utf8)))
        #expect(!SageMakerRuntime.noSuchVariant(status: 400, headers: ["X-Amzn-ErrorType": "ValidationError"], body: Data(#"{"message":"bad body"}"#.utf8)))

        // SageMaker's own errors, as the router answers them.
        let modelError = SageMakerRuntime.failure(
            status: 424, headers: ["X-Amzn-ErrorType": "ModelError:http://internal.amazon.com/coral/com.amazon.sagemaker/"],
            body: Data(#"{"OriginalStatusCode":400,"OriginalMessage":"bad input shape","message":"Received client error (400)"}"#.utf8))
        #expect(modelError.status == 400 && modelError.message == "the model answered 400: bad input shape")
        let throttled = SageMakerRuntime.failure(status: 400, headers: ["X-Amzn-ErrorType": "ThrottlingException"], body: Data(#"{"message":"slow"}"#.utf8))
        #expect(throttled.status == 429)
        let missing = SageMakerRuntime.failure(
            status: 400, headers: ["X-Amzn-ErrorType": "ValidationError"], body: Data(#"{"message":"Endpoint churn of account 1 not found."}"#.utf8))
        #expect(missing.status == 503)
    }
}
