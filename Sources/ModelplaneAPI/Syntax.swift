/// Syntax rules for names and identifiers, as Kubernetes, Triton and AWS define them. Each returns
/// nil when the value is fine, or what is wrong with it in words a user can act on.
public enum Syntax {
    static func isAlnum(_ c: Unicode.Scalar) -> Bool { isLowerAlnum(c) || ("A"..."Z").contains(c) }
    static func isLowerAlnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
    static func isDigit(_ c: Unicode.Scalar) -> Bool { ("0"..."9").contains(c) }

    static let dns1123LabelPattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"

    /// RFC 1123 label: what Kubernetes requires of namespaces and what we require of deployment
    /// names (they become backend resource names, which are short).
    static func dns1123LabelProblem(_ s: String) -> String? {
        let scalars = Array(s.unicodeScalars)
        if scalars.isEmpty { return "must not be empty" }
        if scalars.count > 63 { return "must be no more than 63 characters" }
        let ok = scalars.allSatisfy { isLowerAlnum($0) || $0 == "-" }
        if !ok || !isLowerAlnum(scalars.first!) || !isLowerAlnum(scalars.last!) {
            return
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (regex '\(dns1123LabelPattern)')"
        }
        return nil
    }

    /// A letter, digit, '.', '_' or '-': what metric names and a Secret's keys are made of.
    static func isNameByte(_ byte: UInt8) -> Bool {
        (48...57).contains(byte) || (65...90).contains(byte) || (97...122).contains(byte) || byte == 46 || byte == 95 || byte == 45
    }

    static func dns1123SubdomainProblem(_ s: String) -> String? {
        if s.isEmpty { return "must not be empty" }
        if s.count > 253 { return "must be no more than 253 characters" }
        for label in s.split(separator: ".", omittingEmptySubsequences: false) where dns1123LabelProblem(String(label)) != nil {
            return
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        }
        return nil
    }

    /// Label and annotation keys: an optional DNS subdomain prefix and '/', then a name of at most
    /// 63 characters of alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric.
    static func qualifiedNameProblem(_ s: String) -> String? {
        var name = Substring(s)
        if let slash = s.firstIndex(of: "/") {
            if let problem = dns1123SubdomainProblem(String(s[..<slash])) { return "prefix: \(problem)" }
            name = s[s.index(after: slash)...]
        }
        if name.isEmpty { return "name part must not be empty" }
        if name.count > 63 { return "name part must be no more than 63 characters" }
        return nameCharsProblem(name)
    }

    static func labelValueProblem(_ s: String) -> String? {
        if s.isEmpty { return nil }
        if s.count > 63 { return "must be no more than 63 characters" }
        return nameCharsProblem(Substring(s))
    }

    private static func nameCharsProblem(_ s: Substring) -> String? {
        let scalars = Array(s.unicodeScalars)
        let ok = scalars.allSatisfy { isAlnum($0) || "-_.".unicodeScalars.contains($0) }
        if !ok || !isAlnum(scalars.first!) || !isAlnum(scalars.last!) {
            return "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        }
        return nil
    }

    static let modelNamePattern = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"

    /// Triton model names are directory names in the model repository.
    static func modelNameProblem(_ s: String) -> String? {
        let scalars = Array(s.unicodeScalars)
        if scalars.isEmpty { return "the model's name at the backend must not be empty" }
        if scalars.count > ModelDeployment.Limits.modelNameMaxLength {
            return "must be no more than \(ModelDeployment.Limits.modelNameMaxLength) characters"
        }
        if !isAlnum(scalars[0]) || !scalars.allSatisfy({ isAlnum($0) || "_.-".unicodeScalars.contains($0) }) {
            return "must start with a letter or digit and contain only letters, digits, '_', '.' and '-' (regex '\(modelNamePattern)')"
        }
        return nil
    }

    static func isPositiveInteger(_ s: String) -> Bool {
        let scalars = Array(s.unicodeScalars)
        return !scalars.isEmpty && scalars.count <= 18 && scalars[0] != "0" && scalars.allSatisfy(isDigit)
    }

    /// An http(s) URL with a host and no credentials, query or fragment.
    static func httpURLProblem(_ s: String) -> String? {
        if s.isEmpty { return "the backend's URL must not be empty" }
        guard let schemeEnd = s.firstRange(of: "://") else { return "must be an absolute http:// or https:// URL" }
        let scheme = s[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "http" || scheme == "https" else { return "scheme must be http or https" }
        let rest = s[schemeEnd.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if authority.utf8.contains(UInt8(ascii: "@")) { return "must not contain credentials (user:password@); Modelplane never stores secrets in specs" }
        if rest.utf8.contains(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { return "must not have a query or fragment" }
        if authority.isEmpty || authority.hasPrefix(":") { return "must name a host" }
        if authority.contains(where: { $0.isWhitespace }) { return "must not contain whitespace" }
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            let port = authority[authority.index(after: colon)...]
            guard let n = Int(port), (1...65_535).contains(n) else { return "port must be a number between 1 and 65535" }
        }
        return nil
    }

    /// The URL with any `user:password@` replaced by `***@`, fit for error messages.
    static func redactingCredentials(_ url: String) -> String {
        guard let schemeEnd = url.firstRange(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@") else { return url }
        return String(url[..<schemeEnd.upperBound]) + "***" + String(rest[at...])
    }

    static func s3URIProblem(_ s: String) -> String? {
        guard s.hasPrefix("s3://") else { return "for SageMaker, an s3://BUCKET/KEY URL of the model.tar.gz" }
        let rest = s.dropFirst(5)
        guard let slash = rest.firstIndex(of: "/"), slash != rest.startIndex, rest.index(after: slash) != rest.endIndex else {
            return "must name a bucket and a key: s3://BUCKET/KEY"
        }
        return nil
    }

    static let awsRegionPattern = "^[a-z]{2}(-[a-z]+)+-[0-9]+$"

    static func awsRegionProblem(_ s: String) -> String? {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        let ok =
            parts.count >= 3
            && parts.first!.count == 2 && parts.first!.unicodeScalars.allSatisfy { ("a"..."z").contains($0) }
            && parts.dropFirst().dropLast().allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy { ("a"..."z").contains($0) } }
            && !parts.last!.isEmpty && parts.last!.unicodeScalars.allSatisfy(isDigit)
        return ok ? nil : "must be an AWS region such as us-east-1"
    }

    static let iamRoleARNPattern = "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[a-zA-Z_0-9+=,.@/-]+$"

    static func iamRoleARNProblem(_ s: String) -> String? {
        let fields = s.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        let ok =
            fields.count == 6 && fields[0] == "arn" && fields[1].hasPrefix("aws") && fields[2] == "iam"
            && fields[3].isEmpty && fields[4].count == 12 && fields[4].unicodeScalars.allSatisfy(isDigit)
            && fields[5].hasPrefix("role/") && fields[5].count > 5 && s.count <= 2048
            && fields[5].unicodeScalars.allSatisfy { isAlnum($0) || "_+=,.@/-".unicodeScalars.contains($0) }
        return ok ? nil : "must be an IAM role ARN such as arn:aws:iam::123456789012:role/SageMakerRole"
    }

    static let instanceTypePattern = "^ml\\.[a-z0-9]+\\.[a-z0-9]+$"

    static func instanceTypeProblem(_ s: String) -> String? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        let ok = parts.count == 3 && parts[0] == "ml" && parts.dropFirst().allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy(isLowerAlnum) }
        return ok ? nil : "must be a SageMaker instance type such as ml.m5.large"
    }

    static let sageMakerNamePattern = "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"

    static func sageMakerNameProblem(_ s: String) -> String? {
        let scalars = Array(s.unicodeScalars)
        let ok =
            !scalars.isEmpty && scalars.count <= 63 && isAlnum(scalars.first!) && isAlnum(scalars.last!)
            && scalars.allSatisfy { isAlnum($0) || $0 == "-" }
        return ok ? nil : "must be 1 to 63 letters, digits and '-', starting and ending with a letter or digit"
    }

    static let durationPattern = "^([0-9]+(ms|s|m|h))+$"

    /// A Go-style duration without fractions or signs, as Argo Rollouts takes for pauses: `30s`,
    /// `5m`, `1h30m`, `250ms`. Nil when it is not one (or longer than a year).
    static func duration(_ s: String) -> Duration? {
        var total: Int64 = 0
        var number: Int64?
        var scalars = s.unicodeScalars[...]
        guard !scalars.isEmpty else { return nil }
        while let c = scalars.first {
            if isDigit(c) {
                let digit = Int64(c.value - 48)
                let (times, overflow) = (number ?? 0).multipliedReportingOverflow(by: 10)
                if overflow || times > Int64.max - digit { return nil }
                number = times + digit
                scalars = scalars.dropFirst()
                continue
            }
            guard let value = number else { return nil }
            let unit: Int64
            if scalars.starts(with: "ms".unicodeScalars) {
                unit = 1
                scalars = scalars.dropFirst(2)
            } else {
                switch c {
                case "s": unit = 1_000
                case "m": unit = 60_000
                case "h": unit = 3_600_000
                default: return nil
                }
                scalars = scalars.dropFirst()
            }
            let (part, overflow) = value.multipliedReportingOverflow(by: unit)
            if overflow || part > 366 * 86_400_000 - total { return nil }
            total += part
            number = nil
        }
        return number == nil ? .milliseconds(total) : nil
    }

    /// A size in bytes as Kubernetes quantities write it: `1048576`, `512Ki`, `64Mi`, `2Gi`, `1M`.
    /// Nil when it is not one, or not above zero.
    public static func bytes(_ s: String) -> Int64? {
        let units: [(String, Int64)] = [
            ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("k", 1_000), ("M", 1_000_000), ("G", 1_000_000_000),
        ]
        for (suffix, scale) in units where s.hasSuffix(suffix) {
            guard let value = Int64(s.dropLast(suffix.count)), value > 0 else { return nil }
            let (total, overflow) = value.multipliedReportingOverflow(by: scale)
            return overflow ? nil : total
        }
        return Int64(s).flatMap { $0 > 0 ? $0 : nil }
    }
}
