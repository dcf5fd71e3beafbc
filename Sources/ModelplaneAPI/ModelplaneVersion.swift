/// This build of Modelplane: what `modelplane --version` prints and the API server's `/version`
/// carries.
public enum ModelplaneVersion {
    public static let current = "0.1.0-dev"

    /// The platform this binary was built for, in Go's names as Kubernetes reports it
    /// (`linux/amd64`, `darwin/arm64`).
    public static var platform: String {
        #if os(Linux)
            let os = "linux"
        #elseif os(macOS)
            let os = "darwin"
        #else
            let os = "unknown"
        #endif
        #if arch(x86_64)
            let arch = "amd64"
        #elseif arch(arm64)
            let arch = "arm64"
        #else
            let arch = "unknown"
        #endif
        return "\(os)/\(arch)"
    }
}
