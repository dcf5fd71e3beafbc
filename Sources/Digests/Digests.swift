import COpenSSL
public import Foundation

/// SHA-256 through the system's OpenSSL (the audit chain, SigV4).
public enum SHA256Digest {
    public static func bytes(_ data: some DataProtocol) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        let contiguous = Array(data)
        contiguous.withUnsafeBufferPointer { buffer in
            _ = SHA256(buffer.baseAddress, buffer.count, &digest)
        }
        return digest
    }

    public static func hex(_ data: Data) -> String { Hex.encode(bytes(data)) }

    public static func hex(_ text: String) -> String { hex(Data(text.utf8)) }
}

/// HMAC-SHA256 through the system's OpenSSL (SigV4's signing key chain).
public enum HMACSHA256 {
    public static func mac(key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { keyBuffer in
            message.withUnsafeBufferPointer { messageBuffer in
                _ = HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count), messageBuffer.baseAddress, messageBuffer.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    public static func mac(key: [UInt8], _ message: String) -> [UInt8] { mac(key: key, Array(message.utf8)) }
}

public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func encode(_ bytes: [UInt8]) -> String {
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
