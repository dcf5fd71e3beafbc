import Foundation

extension ModelDeployment.Spec {
    /// The part of the spec that decides what serves: model and backend. Rollout settings and the
    /// history limit change how, not what, so they do not make a new revision.
    public var servingRelevantJSON: JSONValue { .object(["model": model.directJSON, "backend": backend.directJSON]) }

    /// A short, stable hash of the serving-relevant spec, safe inside backend resource names.
    /// FNV-1a over canonical JSON, written in Kubernetes' "safe" alphabet (no vowels, no look-alike
    /// digits) as pod-template-hash is, so it never spells words.
    public var revisionHash: String { FNV1a.safeHash(servingRelevantJSON.canonicalBytes) }
}

/// FNV-1a (64-bit): a stable, fast, non-cryptographic hash — the same in every process and
/// version, unlike Swift's seeded `hashValue`. For names and shard assignment, never for security.
public enum FNV1a {
    public static func hash(_ text: String) -> UInt64 { hash(text.utf8) }

    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }

    /// Ten characters of the hash in Kubernetes' "safe" alphabet (no vowels, no look-alike digits).
    public static func safeHash(_ text: String) -> String { safeHash(text.utf8) }

    /// `safeHash` of UTF-8 bytes.
    public static func safeHash(_ bytes: some Sequence<UInt8>) -> String {
        var hash = hash(bytes)
        let alphabet = Array("bcdfghjklmnpqrstvwxz2456789")
        var out = ""
        for _ in 0..<10 {
            out.append(alphabet[Int(hash % UInt64(alphabet.count))])
            hash /= UInt64(alphabet.count)
        }
        return out
    }
}
