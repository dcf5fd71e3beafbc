import Foundation

/// Secrets out of what people read: errors, logs, events, status and the audit trail.
public enum Redaction {
    /// The URL with any `user:password@` (or token `@`) replaced by `***@`.
    public static func url(_ url: String) -> String { Syntax.redactingCredentials(url) }

    /// `text` with every occurrence of each secret replaced by `***`. A secret of fewer than four
    /// characters is replaced only where it stands alone (not inside a longer word or number),
    /// so a short password still never shows while the rest of the message stays readable.
    public static func text(_ text: String, secrets: [String]) -> String {
        // Longest first: a secret that contains another is replaced whole.
        secrets.filter { !$0.isEmpty }.sorted { $0.count > $1.count }.reduce(text) { text, secret in
            if secret.count >= 4 { return text.replacingOccurrences(of: secret, with: "***") }
            let pattern = "(?<![A-Za-z0-9])" + NSRegularExpression.escapedPattern(for: secret) + "(?![A-Za-z0-9])"
            return replacing(pattern, in: text)
        }
    }

    /// `text` with what looks like a credential replaced by `***`, for text from a program we do
    /// not control (an exec credential plugin's stderr): bearer tokens, JWTs, AWS access key ids,
    /// and the value of any `token`, `secret`, `password` or `key` field or assignment.
    public static func credentials(in text: String) -> String {
        credentialPatterns.reduce(text) { text, pattern in
            pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "$1***")
        }
    }

    /// Each keeps its first group and replaces the rest of the match.
    private static let credentialPatterns: [NSRegularExpression] = [
        #"((?i:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"#,
        #"()eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"#,
        #"()\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"#,
        #"((?i:[A-Za-z_-]*(?:token|secret|password|passwd|key)[A-Za-z_-]*)"?\s*[:=]\s*"?)[^\s",;}]+"#,
    ].map { try! NSRegularExpression(pattern: $0) }

    private static func replacing(_ pattern: String, in text: String) -> String {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return text }
        return expression.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text), withTemplate: "***")
    }
}
