// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "stylediff",
    products: [
        .library(name: "FileAccess", targets: ["FileAccess"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "SafeTensors", targets: ["SafeTensors"]),
        .library(name: "PNGIO", targets: ["PNGIO"]),
        .library(name: "TextTokenizer", targets: ["TextTokenizer"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Schedulers", targets: ["Schedulers"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .executable(name: "stylediff", targets: ["stylediff"]),
        .executable(name: "stylediff-bench", targets: ["StyleDiffBench"]),
        .executable(name: "stylediff-fuzz", targets: ["StyleDiffFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        // MARK: C bindings (one small target per library)
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS"),
        .systemLibrary(name: "CPNG", path: "Sources/CPNG"),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto"),
        .target(
            name: "CSentencePiece",
            path: "Sources/CSentencePiece",
            linkerSettings: [.linkedLibrary("sentencepiece")]
        ),
        .target(name: "CPeakProbe", path: "Sources/CPeakProbe"),
        // Vectorised C kernels (softmax, SiLU, erf/GEGLU, group-norm statistics), one variant per
        // instruction set, all giving the same bits.
        // Optimised in debug builds too: the test suite runs every GEMM through these kernels.
        .target(name: "CKernels", path: "Sources/CKernels", cSettings: [.unsafeFlags(["-O2"])]),

        // MARK: Libraries
        .target(name: "FileAccess"),
        .target(name: "Tensors", dependencies: ["CKernels"]),
        .target(name: "SafeTensors", dependencies: ["Tensors", "CKernels"]),
        .target(name: "PNGIO", dependencies: ["CPNG", "FileAccess"]),
        .target(name: "TextTokenizer", dependencies: ["CSentencePiece", "FileAccess"]),
        .target(name: "Models", dependencies: ["Tensors", "SafeTensors", "FileAccess"]),
        .target(name: "Schedulers", dependencies: ["Tensors", "FileAccess"]),
        .target(name: "Pipeline", dependencies: ["Tensors", "Models", "Schedulers", "TextTokenizer", "PNGIO", "FileAccess"]),

        .target(
            name: "StyleDiffCommands",
            dependencies: [
                "Pipeline", "PNGIO", "Schedulers", "Tensors", "FileAccess", "Models", "SafeTensors", "TextTokenizer", "CCrypto",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        .target(
            name: "StyleDiffServer",
            dependencies: [
                "StyleDiffCommands", "Pipeline", "FileAccess", "PNGIO", "Tensors",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // Fuzz targets (tools/fuzz.sh builds stylediff-fuzz with libFuzzer; the tests replay the corpora).
        .target(
            name: "FuzzTargets",
            dependencies: ["FileAccess", "Models", "PNGIO", "Pipeline", "SafeTensors", "StyleDiffCommands", "Tensors", "TextTokenizer"]
        ),

        // MARK: Executables
        .executableTarget(name: "stylediff", dependencies: ["StyleDiffCommands", "StyleDiffServer",
                                                             .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .executableTarget(name: "StyleDiffFuzz", dependencies: ["FuzzTargets"]),
        .executableTarget(
            name: "StyleDiffBench",
            dependencies: [
                "Tensors", "Models", "SafeTensors", "Pipeline", "PNGIO", "CPeakProbe", "COpenBLAS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: Tests
        .target(name: "TestSupport", dependencies: ["Tensors", "CKernels", "Pipeline", "PNGIO", "Schedulers", "SafeTensors"], path: "Tests/TestSupport"),
        .testTarget(name: "TensorsTests", dependencies: ["TestSupport", "Tensors", "CKernels"]),
        .testTarget(name: "SafeTensorsTests", dependencies: ["TestSupport", "SafeTensors", "Tensors"]),
        // Fixtures shared by several test targets live in Tests/Fixtures (found via #filePath).
        .testTarget(name: "ModelsTests", dependencies: ["TestSupport", "Models", "Tensors", "SafeTensors", "Schedulers"]),
        .testTarget(name: "PipelineTests", dependencies: ["TestSupport", "Pipeline", "Models", "Tensors", "SafeTensors", "PNGIO", "Schedulers"]),
        .testTarget(name: "StyleDiffServerTests", dependencies: [
            "TestSupport", "StyleDiffServer", "StyleDiffCommands", "PNGIO",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
        .testTarget(name: "StyleDiffCommandsTests", dependencies: ["TestSupport", "StyleDiffCommands", "Pipeline", "PNGIO", "FileAccess", "FuzzTargets", "SafeTensors", "Tensors"]),
        .testTarget(name: "SchedulersTests", dependencies: ["TestSupport", "Schedulers", "Tensors", "SafeTensors"]),
        .testTarget(name: "PNGIOTests", dependencies: ["TestSupport", "PNGIO", "CPNG"]),
        .testTarget(
            name: "TextTokenizerTests",
            dependencies: ["TextTokenizer", "TestSupport"],
            resources: [.copy("Fixtures")]
        ),
    ],
    cxxLanguageStandard: .cxx17
)
