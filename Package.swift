// swift-tools-version:6.0
import PackageDescription

/// Module layers, bottom up (docs/ARCHITECTURE.md draws them; `make check` holds every import
/// to a declared dependency):
/// - CLibPQ, CLinux, CCrypto, CCurl: C headers only, from Debian packages (libpq-dev, libssl-dev,
///   libcurl4-openssl-dev).
/// - Codecs: body codecs, JSONWriter, digit and white-space helpers; no dependencies.
/// - Reactor (CLinux): the epoll event loop, its TaskExecutor, LoopBound state.
/// - Postgres (CLibPQ, Reactor, Codecs): libpq client, pool, migrations.
/// - HTTP (CLinux, Reactor, Codecs): the server; knows nothing of the API.
/// - Crypto (CCrypto): SHA-256, HMAC-SHA256, constant-time comparison, secure random, base64.
/// - Outbound (CCurl, Reactor): outbound HTTP(S) through libcurl's multi-socket API on an event loop.
/// - Operations (Codecs): observability only: metrics, access and error logs, request ids.
/// - Contacts (all of the above): route table, middleware, application, handlers, SQL calls.
/// - crm (Contacts, …): the command line.
let package = Package(
    name: "crm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "crm", targets: ["crm"]),
        .library(name: "Postgres", targets: ["Postgres"]),
        .library(name: "Reactor", targets: ["Reactor"]),
        .library(name: "HTTP", targets: ["HTTP"]),
        .library(name: "Contacts", targets: ["Contacts"]),
        .library(name: "Operations", targets: ["Operations"]),
        .library(name: "Crypto", targets: ["Crypto"]),
        .library(name: "Codecs", targets: ["Codecs"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(name: "CLinux"),
        .systemLibrary(
            name: "CCrypto",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "Codecs",
            dependencies: []
        ),
        .target(
            name: "Outbound",
            dependencies: ["CCurl", "Reactor"]
        ),
        .target(
            name: "Crypto",
            dependencies: ["CCrypto"]
        ),
        .target(
            name: "Reactor",
            dependencies: [
                "CLinux",
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "HTTP",
            dependencies: ["Reactor", "CLinux", "Codecs"]
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "CLibPQ",
                "Reactor",
                "Codecs",
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "Operations",
            dependencies: ["Codecs"]
        ),
        .target(
            name: "Contacts",
            dependencies: ["HTTP", "Postgres", "Operations", "Crypto", "Reactor", "Codecs", "Outbound"]
        ),
        .executableTarget(
            name: "crm",
            dependencies: [
                "Contacts",
                "Operations",
                "HTTP",
                "Postgres",
                "Reactor",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "http-parser-fuzzer",
            dependencies: ["HTTP"],
            path: "Sources/HTTPParserFuzzer",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "contacts-fuzzer",
            dependencies: ["Codecs", "Contacts", "HTTP", "Postgres", "Reactor"],
            path: "Sources/ContactsFuzzer",
            exclude: ["corpus"]
        ),
        .executableTarget(
            name: "bench-http-server",
            dependencies: ["HTTP"],
            path: "bench/http-server"
        ),
        .target(
            name: "TestSupport",
            dependencies: ["Postgres", "CLibPQ", "Reactor"],
            path: "Tests/TestSupport"
        ),
        .testTarget(name: "ReactorTests", dependencies: ["Reactor"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "CryptoTests", dependencies: ["Crypto"]),
        .testTarget(name: "OutboundTests", dependencies: ["Outbound", "HTTP", "Reactor", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "CodecsTests", dependencies: ["Codecs"]),
        .testTarget(name: "OperationsTests", dependencies: ["Operations"]),
        .testTarget(name: "ContactsTests", dependencies: [
            "Contacts", "Crypto", "HTTP", "Outbound", "Postgres", "Operations", "Reactor", "TestSupport",
        ]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "Reactor", "TestSupport"]),
        .testTarget(name: "SchemaTests", dependencies: ["Postgres", "TestSupport"]),
    ]
)
