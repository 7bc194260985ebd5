// stylediff-bench: release-build benchmarks, reported against a reference measured in the
// same invocation (the machine's FMA peak, OpenBLAS's own threading).

import ArgumentParser
import Foundation
import Pipeline
import Tensors

@main
struct StyleDiffBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylediff-bench",
        abstract: "Benchmarks of the stylediff engine (build with -c release).",
        subcommands: [GEMMBenchmark.self, UNetBenchmark.self, AttentionBenchmark.self, PipelineBenchmark.self, FewStepBenchmark.self, WeightsBenchmark.self, ConvolutionBenchmark.self]
    )
}

/// Options shared by every benchmark.
struct BenchmarkOptions: ParsableArguments {
    @Option(help: "Timed repetitions per measurement; the median is reported.")
    var repeats: Int = 5

    @Option(help: "Thread counts to measure, comma-separated.")
    var threads: String = "1,2"

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1") }
        guard threadCounts.count > 0 else { throw ValidationError("--threads must list positive integers, e.g. 1,2") }
    }

    var threadCounts: [Int] {
        let parts = threads.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ ($0 ?? 0) > 0 }) else { return [] }
        return parts.compactMap { $0 }
    }
}

/// Prints `value` as JSON with sorted keys (indented unless `pretty` is false), for `--json`.
func printJSON<T: Encodable>(_ value: T, pretty: Bool = true) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
    // Identical images have an infinite PSNR (`weights --precision f16` on an F16 folder).
    encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// The median of `values` (the upper one of an even count); 0 when empty.
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    return values.sorted()[values.count / 2]
}

/// Median wall-clock seconds of each of `variants` ways to run the same work, timed in turn
/// run by run (so drift on a shared machine hits them alike) after one warm-up round.
func interleavedMedianSeconds(repeats: Int, variants: Int, _ body: (Int) throws -> Void) rethrows -> [Double] {
    var times = Array(repeating: [Double](), count: variants)
    for round in 0...repeats {
        for v in 0..<variants {
            let start = DispatchTime.now().uptimeNanoseconds
            try body(v)
            if round > 0 { times[v].append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9) }
        }
    }
    return times.map(median)
}

/// Median wall-clock seconds of `repeats` runs of `body` after one warm-up run.
func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<repeats {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
    }
    times.sort()
    return times[times.count / 2]
}

/// Where one image's time goes (`fewstep --profile`, `pipeline --profile`): `repeats` runs of its
/// denoising, then of the decode of its latents, under the Profiler (the large-block cache emptied
/// before each part, as `generate` leaves it), printed per run: the first `limit` kernel categories
/// (all of them when nil) and the time outside every category.
func printDenoiseAndDecodeProfile(_ pipeline: StyleDiffusionPipeline, _ request: GenerationRequest, repeats: Int,
                                  gemmShapes: Bool, limit: Int?) throws {
    let latents = try pipeline.denoise(request)
    let parts: [(String, () throws -> Void)] = [("denoise", { _ = try pipeline.denoise(request) }),
                                                ("decode", { _ = try pipeline.decode(latents, decoder: request.decoder) })]
    for (name, body) in parts {
        LargeBlockCache.shared.releaseAll()
        Profiler.start(gemmShapes: gemmShapes)
        var total = 0.0
        for _ in 0..<repeats {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            total += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        }
        let rows = Profiler.stop(), n = Double(repeats)
        print(String(format: "%@: %.4f s per call (threads %d)", name, total / n, Parallelism.threadCount))
        for r in rows.prefix(limit ?? rows.count) {
            print(String(format: "  %-28@ %.4f s (%d calls)", r.category, r.seconds / n, r.calls / repeats))
        }
        print(String(format: "  %-28@ %.4f s", "other", max(0, total - rows.map(\.seconds).reduce(0, +)) / n))
    }
}
