import Crypto
public import Foundation
import SwiftASN1
import X509

/// The server's own small PKI, made at first start: a CA that signs the server's certificate for
/// 127.0.0.1, ::1 and localhost. The CA's certificate goes into the kubeconfig so kubectl and the
/// CLI verify the server; its key never leaves the data directory (mode 0600).
public struct LocalCertificates: Sendable {
    public let directory: String
    public var caCertificate: String { directory + "/ca.crt" }
    public var serverCertificate: String { directory + "/server.crt" }
    public var serverKey: String { directory + "/server.key" }
    var caKey: String { directory + "/ca.key" }

    public init(directory: String) { self.directory = directory }

    /// Makes the CA and the server certificate unless both already exist.
    public func ensure(hosts: [String] = ["127.0.0.1", "::1", "localhost"], now: Date = Date()) throws {
        let files = FileManager.default
        if files.fileExists(atPath: caCertificate), files.fileExists(atPath: serverCertificate), files.fileExists(atPath: serverKey) { return }
        let caKey = P256.Signing.PrivateKey()
        let caName = try DistinguishedName { CommonName("Modelplane local CA") }
        let ca = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(caKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 10 * 365 * 86_400,
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
            },
            issuerPrivateKey: .init(caKey))

        let serverKey = P256.Signing.PrivateKey()
        var names: [GeneralName] = []
        for host in hosts {
            if let address = Self.ipAddressBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: address[...])))
            } else {
                names.append(.dnsName(host))
            }
        }
        let subjectAlternativeNames = SubjectAlternativeNames(names)
        let server = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: .init(serverKey.publicKey),
            notValidBefore: now - 3600, notValidAfter: now + 2 * 365 * 86_400,
            issuer: caName, subject: try DistinguishedName { CommonName("modelplane") }, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                subjectAlternativeNames
            },
            issuerPrivateKey: .init(caKey))

        try Self.writePrivate(self.caKey, caKey.pemRepresentation)
        try Self.writePrivate(self.serverKey, serverKey.pemRepresentation)
        try Self.write(serverCertificate, try server.serializeAsPEM().pemString + "\n" + ca.serializeAsPEM().pemString + "\n", mode: 0o644)
        try Self.write(caCertificate, try ca.serializeAsPEM().pemString + "\n", mode: 0o644)
    }

    static func ipAddressBytes(_ host: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    /// Writes a file readable by its owner only, atomically (write aside, then rename).
    public static func writePrivate(_ file: String, _ text: String) throws {
        try write(file, text, mode: 0o600)
    }

    static func write(_ file: String, _ text: String, mode: Int) throws {
        let temporary = file + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(text.utf8), attributes: [.posixPermissions: mode]) else {
            throw CertificateFileError(file: file, reason: "cannot create")
        }
        guard rename(temporary, file) == 0 else { throw CertificateFileError(file: file, reason: String(cString: strerror(errno))) }
    }
}

struct CertificateFileError: Error, CustomStringConvertible {
    var file: String
    var reason: String
    var description: String { "cannot write \(file): \(reason)" }
}
