// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Modelplane",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "modelplane", targets: ["modelplane"]),
        .library(name: "ModelplaneAPI", targets: ["ModelplaneAPI"]),
        .library(name: "Manifests", targets: ["Manifests"]),
        .library(name: "HTTPClient", targets: ["HTTPClient"]),
        .library(name: "KubeClient", targets: ["KubeClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        // libcurl, as the system provides it; shim.h wraps curl's variadic setopt/getinfo for Swift.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // SQLite, as the system provides it (durable storage for the embedded API server).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // OpenSSL's libcrypto, as the system provides it: SHA-256 (the audit chain) and, later, HMAC.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // Two GNU extensions of glibc that Swift's Glibc module hides (pipe2, closefrom for
        // posix_spawn): Subprocess starts git and credential plugins with them.
        .target(name: "CSpawn"),
        .target(name: "ModelplaneAPI", swiftSettings: strict),
        .target(
            name: "Manifests",
            dependencies: ["ModelplaneAPI", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "HTTPClient",
            dependencies: ["CCurl"],
            swiftSettings: strict
        ),
        .target(
            name: "KubeClient",
            dependencies: [
                "CSpawn", "HTTPClient", "ModelplaneAPI",
                .product(name: "Yams", package: "Yams"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "ResourceStore", dependencies: ["CSQLite", "ModelplaneAPI", .product(name: "Metrics", package: "swift-metrics")], swiftSettings: strict),
        .target(
            name: "APIServer",
            dependencies: [
                "ResourceStore", "ModelplaneAPI", "Manifests", "HTTPClient", "KubeClient",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The inference router: KServe v2 over HTTP in front of the backends, following the
        // routing table the controller publishes in status.traffic.
        .target(
            name: "TrafficRouter",
            dependencies: [
                "AWS", "HTTPClient", "KubeClient", "ModelplaneAPI",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "modelplane",
            dependencies: [
                "ModelplaneAPI", "Manifests", "KubeClient", "ResourceStore", "APIServer", "Controller", "Rollout", "Triton", "AWS", "HTTPClient", "GitSync",
                "TritonBackend", "SageMakerBackend", "TrafficRouter",
                .product(name: "ArgumentParser", package: "swift-argument-parser"), .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"), .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "modelplane-bench",
            dependencies: [
                "ModelplaneAPI", "Manifests", "KubeClient", "ResourceStore", "APIServer", "HTTPClient", "Controller", "Rollout", "Triton", "TritonBackend",
                "GitSync", "ModelplaneTestSupport", "Monitoring",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The inference router against direct Triton (issue 25's targets).
        .executableTarget(
            name: "modelplane-router-bench",
            dependencies: ["ModelplaneAPI", "KubeClient", "HTTPClient", "ModelplaneTestSupport"],
            swiftSettings: strict
        ),
        // SHA-256 and HMAC-SHA256 through the system's OpenSSL.
        .target(name: "Digests", dependencies: ["COpenSSL"], swiftSettings: strict),
        // AWS: Signature Version 4.
        .target(name: "AWS", dependencies: ["Digests", "HTTPClient", "ModelplaneAPI"], swiftSettings: strict),
        // NVIDIA Triton's HTTP API (KServe v2 and the model-repository extension).
        .target(name: "Triton", dependencies: ["HTTPClient", "ModelplaneAPI"], swiftSettings: strict),
        // The rollout, pure: the ServingBackend seam, the rollout state machine, revisions, conditions.
        .target(name: "Rollout", dependencies: ["ModelplaneAPI"], swiftSettings: strict),
        // Drift and performance monitoring (issue 27), pure: the statistics, held to scipy.
        .target(name: "Monitoring", swiftSettings: strict),
        // Triton and SageMaker behind the seam, each in its own target.
        .target(name: "TritonBackend", dependencies: ["Controller", "Rollout", "Triton", "ModelplaneAPI"], swiftSettings: strict),
        .target(name: "SageMakerBackend", dependencies: ["Rollout", "AWS", "ModelplaneAPI"], swiftSettings: strict),
        // The reconciling controller: informer, work queue, leader election, the deployment
        // reconciler over the seam, audit log. It imports no vendor module.
        .target(
            name: "Controller",
            dependencies: [
                "KubeClient", "HTTPClient", "ModelplaneAPI", "Rollout", "Digests",
                .product(name: "Logging", package: "swift-log"), .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        // The Git sync: ModelDeployments from a Git branch and path, applied and pruned.
        .target(
            name: "GitSync",
            dependencies: [
                "KubeClient", "Manifests", "ModelplaneAPI", .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict),
        // Launchers for the real peers the tests run against (kmock, kubernetes-validate, ...).
        .target(
            name: "ModelplaneTestSupport", dependencies: ["AWS", "Controller", "HTTPClient", "KubeClient", "ModelplaneAPI", "Rollout", "Triton"],
            swiftSettings: strict),
        .testTarget(name: "ModelplaneAPITests", dependencies: ["ModelplaneAPI", "Manifests"], swiftSettings: strict),
        .testTarget(
            name: "ManifestsTests",
            dependencies: ["Manifests", "ModelplaneAPI", "ModelplaneTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "APIServerTests",
            dependencies: ["APIServer", "ResourceStore", "KubeClient", "HTTPClient", "ModelplaneAPI", "ModelplaneTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ControllerTests",
            dependencies: [
                "Controller", "Rollout", "TritonBackend", "SageMakerBackend", "AWS", "Digests", "Triton", "TrafficRouter", "KubeClient", "HTTPClient",
                "ModelplaneAPI",
                "ModelplaneTestSupport",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AWSTests", dependencies: ["AWS", "SageMakerBackend", "HTTPClient", "KubeClient", "Manifests", "ModelplaneAPI", "ModelplaneTestSupport"],
            swiftSettings: strict),
        .testTarget(name: "GitSyncTests", dependencies: ["GitSync", "KubeClient", "ModelplaneAPI", "ModelplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "TritonTests", dependencies: ["Triton", "HTTPClient", "ModelplaneAPI", "ModelplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "ResourceStoreTests", dependencies: ["ResourceStore", "ModelplaneAPI", "ModelplaneTestSupport"], swiftSettings: strict),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "ModelplaneAPI", "ModelplaneTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "HTTPClientTests",
            dependencies: ["HTTPClient", "ModelplaneTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "KubeClientTests",
            dependencies: ["KubeClient", "ModelplaneAPI", "HTTPClient", "ModelplaneTestSupport"],
            swiftSettings: strict
        ),
    ]
)
