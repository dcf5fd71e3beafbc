import ModelplaneAPI
import Testing

@Suite struct RedactionTests {
    @Test func everySecretGoesShortOnesOnlyWhereTheyStandAlone() {
        let text = "fatal: Authentication failed for 'https://127.0.0.1/x.git': password ab rejected; about abc-42, a.b"
        #expect(
            Redaction.text(text, secrets: ["ab", "x", "", "failed for"])
                == "fatal: Authentication *** 'https://127.0.0.1/***.git': password *** rejected; about abc-42, a.b")
        // Longest first: one that contains another goes whole.
        #expect(Redaction.text("token s3cret-s3cret", secrets: ["s3cret", "s3cret-s3cret"]) == "token ***")
    }

    @Test func whatLooksLikeACredentialGoes() {
        let text = """
            401: Authorization: Bearer abc.DEF-123 refused; basic dXNlcjpwYXNz; jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig_n-x;
            AKIAABCDEFGHIJKLMNOP; aws_secret_access_key=wJalrXUtnFEMI/K7MDENG; {"token": "t0k"}; password: hunter2; keep this
            """
        let redacted = Redaction.credentials(in: text)
        for secret in ["abc.DEF-123", "dXNlcjpwYXNz", "eyJ", "AKIA", "wJalrXUtnFEMI", "t0k", "hunter2"] { #expect(!redacted.contains(secret), "\(redacted)") }
        #expect(redacted.contains("401: Authorization: Bearer *** refused") && redacted.contains("password: ***; keep this"), "\(redacted)")
    }
}
