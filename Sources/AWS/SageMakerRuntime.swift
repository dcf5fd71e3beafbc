public import Foundation
public import HTTPClient

/// SageMaker's runtime, as the inference router calls it: `InvokeEndpoint`
/// (`POST /endpoints/NAME/invocations`), signed with SigV4 (service `sagemaker`). One attempt per
/// call: an inference is not known to be idempotent, so the caller decides about retrying.
public struct SageMakerRuntime: Sendable {
    public let region: String
    /// The runtime's base URL: `AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME`, else the deployment's API URL
    /// when it is not AWS's own (emulators serve both on one address), else `AWS_ENDPOINT_URL`,
    /// else `https://runtime.sagemaker.REGION.amazonaws.com`.
    public let endpoint: String
    let credentials: any AWSCredentialsProvider

    public init(
        region: String, apiEndpoint: String? = nil, credentials: any AWSCredentialsProvider,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.region = region
        let specific = environment["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"].flatMap { $0.isEmpty ? nil : $0 }
        // An API URL of AWS's own (a VPC endpoint of the API) does not serve the runtime; an
        // emulator's (moto, LocalStack) serves both.
        let emulator = apiEndpoint.flatMap { url in
            let host = URLComponents(string: url)?.host?.lowercased() ?? ""
            return host.hasSuffix("amazonaws.com") || host.hasSuffix("amazonaws.com.cn") || host.hasSuffix(".aws") ? nil : url
        }
        self.endpoint = AWSEndpoint.resolve(
            service: "sagemaker runtime", prefix: "runtime.sagemaker", region: region, explicit: specific ?? emulator, environment: environment)
        self.credentials = credentials
    }

    /// One InvokeEndpoint call.
    public struct Invocation: Sendable {
        public var endpointName: String
        public var body: Data
        public var contentType: String
        public var accept: String?
        /// The production variant to answer (`X-Amzn-SageMaker-Target-Variant`); nil: SageMaker
        /// chooses by the variants' weights.
        public var targetVariant: String?
        /// `X-Amzn-SageMaker-Inference-Id`: the request id, in SageMaker's data capture too.
        public var inferenceID: String?

        public init(endpointName: String, body: Data, contentType: String, accept: String? = nil, targetVariant: String? = nil, inferenceID: String? = nil) {
            self.endpointName = endpointName
            self.body = body
            self.contentType = contentType
            self.accept = accept
            self.targetVariant = targetVariant
            self.inferenceID = inferenceID
        }
    }

    /// The signed request for `invocation`: URL and headers (the body goes as it is). Throws only
    /// when there are no credentials.
    public func signed(_ invocation: Invocation, date: Date = Date()) async throws(AWSError) -> (url: String, headers: HTTPHeaders) {
        let url = "\(endpoint)/endpoints/\(invocation.endpointName)/invocations"
        var fields = [("Content-Type", invocation.contentType)]
        if let accept = invocation.accept { fields.append(("Accept", accept)) }
        if let variant = invocation.targetVariant { fields.append(("X-Amzn-SageMaker-Target-Variant", variant)) }
        // The id is capped and kept to what SageMaker takes (1-64 printable characters).
        if let id = invocation.inferenceID?.prefix(64), !id.isEmpty, id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            fields.append(("X-Amzn-SageMaker-Inference-Id", String(id)))
        }
        let signed = SigV4Signer(service: "sagemaker", region: region).sign(
            method: "POST", url: url, headers: fields, body: invocation.body, credentials: try await credentials.credentials(), date: date)
        var headers = HTTPHeaders()
        for (name, value) in signed { headers.set(name, value) }
        return (url, headers)
    }

    /// SageMaker refused an invocation because the endpoint has no variant of the name given (it
    /// has just moved to another config).
    public static func noSuchVariant(status: Int, headers: HTTPHeaders, body: Data) -> Bool {
        guard status == 400 || status == 404 else { return false }
        let refused = failure(status: status, headers: headers, body: body)
        return refused.code.hasPrefix("Validation") && refused.message.lowercased().contains("variant")
    }

    /// What an InvokeEndpoint error answer means for the caller of the router: the HTTP status to
    /// answer with and a message (SageMaker's, never a credential).
    /// - `ModelError`: the model itself answered an error; its own status (`OriginalStatusCode`)
    ///   and message are passed on.
    /// - Throttling, `ModelNotReadyException`, 5xx, an endpoint SageMaker does not know: 503 (or
    ///   429 for throttling), the endpoint cannot take the request now.
    /// - Anything else SageMaker refused (a payload too large, a bad variant): 400 with its words;
    ///   credentials SageMaker rejects: 503, since the caller can do nothing about them.
    public static func failure(status: Int, headers: HTTPHeaders, body: Data) -> (status: Int, code: String, message: String) {
        let document = try? JSONSerialization.jsonObject(with: body) as? [String: Any]
        var code = headers["x-amzn-errortype"] ?? (document?["__type"] as? String) ?? (document?["ErrorCode"] as? String) ?? ""
        if let colon = code.firstIndex(of: ":") { code = String(code[..<colon]) }
        if let hash = code.lastIndex(of: "#") { code = String(code[code.index(after: hash)...]) }
        // SageMaker's own words, never what a signature error quotes back (the signed headers), and
        // never an unparsed body.
        let message = AWSError.withoutSignedText((document?["message"] as? String) ?? (document?["Message"] as? String) ?? "HTTP \(status)")
        if code == "ValidationError" || code == "ValidationException", message.contains("not found") || message.contains("Could not find") {
            return (503, code, message)  // no such endpoint (yet): it cannot take requests
        }
        switch code {
        case "ModelError":
            let original = document?["OriginalStatusCode"] as? Int
            let text = (document?["OriginalMessage"] as? String).map { "the model answered \(original.map(String.init) ?? "an error"): \($0)" } ?? message
            return ((400...599).contains(original ?? 0) ? original! : 502, code, text)
        case "ThrottlingException", "TooManyRequestsException": return (429, code, message)
        case "ModelNotReadyException", "ServiceUnavailable", "InternalFailure", "InternalDependencyException": return (503, code, message)
        case "UnrecognizedClientException", "InvalidSignatureException", "AccessDeniedException", "ExpiredTokenException", "IncompleteSignature",
            "SignatureDoesNotMatch", "InvalidClientTokenId":
            // What SageMaker says here names the identity and the signed request: the caller of
            // the router gets the code only.
            return (503, code, "SageMaker refused the router's credentials (\(code))")
        default:
            if status == 429 { return (429, code, message) }
            if status >= 500 { return (503, code.isEmpty ? "HTTP\(status)" : code, message) }
            if status == 403 {
                return (503, code.isEmpty ? "HTTP403" : code, "SageMaker refused the router's credentials (\(code.isEmpty ? "HTTP403" : code))")
            }
            return (400, code.isEmpty ? "HTTP\(status)" : code, message)
        }
    }
}
