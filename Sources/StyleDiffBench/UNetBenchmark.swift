// `stylediff-bench unet`: one UNet evaluation of batch 2 (classifier-free guidance) at a
// 16x16 latent, median seconds per thread count, peak resident memory, and (with --profile)
// where the time goes. tools/bench_reference.py runs this next to PyTorch on the same weights
// and inputs and prints the ratio; tools/make_sd15_random.py creates the SD 1.5-architecture model.

import ArgumentParser
import Foundation
import Models
import SafeTensors
import Tensors

struct UNetBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unet",
        abstract: "Time one batch-2 UNet evaluation at a 16x16 latent.",
        discussion: """
            MODEL is a diffusers unet folder (config.json + safetensors). For the SD 1.5 \
            architecture, create one with: python3 tools/make_sd15_random.py --out DIR \
            (then pass DIR/unet). Inputs come from MODEL/bench_inputs.safetensors when present.
            """)

    @Argument(help: "A diffusers UNet folder.")
    var model: String

    @OptionGroup var options: BenchmarkOptions

    @Flag(help: "Print the time per operation category (at the last thread count).")
    var profile = false

    @Flag(help: "With --profile, time each GEMM shape (M x N x K; p: prepacked weights) on its own line.")
    var profileShapes = false

    @Option(help: "Write the UNet output (NCHW, F32) to this safetensors file.")
    var output: String?

    @Option(help: "Inputs (sample NCHW, encoder_hidden_states, timesteps); default MODEL/bench_inputs.safetensors, else seeded values.")
    var inputs: String?

    @Option(help: "Seeded inputs at this latent side instead (64: a 512 px Stable Diffusion step).")
    var latentSize: Int?

    @Option(help: "How the weights are held: stored, f16 or int8 (as stylediff --weights).")
    var weights: String = "stored"

    @Flag(help: "Also time each thread count with the parallel loops on Dispatch instead of the worker pool (interleaved run by run).")
    var compareDispatch = false

    struct Result: Codable {
        var threads: Int
        var medianSeconds: Double
        /// With --compare-dispatch: the same on Dispatch, timed alternately with the pool.
        var dispatchMedianSeconds: Double?
    }

    struct Report: Codable {
        var model: String
        var loadSeconds: Double
        var results: [Result]
        var peakResidentMB: Double
        var profile: [String: Double]?
    }

    func run() throws {
        let loadStart = Date()
        guard let precision = WeightPrecision(rawValue: weights) else {
            throw ValidationError("--weights must be one of \(WeightPrecision.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let unet = try UNet2DConditionModel(directory: model, precision: precision)
        let loadSeconds = Date().timeIntervalSince(loadStart)
        let c = unet.configuration
        let crossDim: Int = {
            if case .one(let d) = c.crossAttentionDim { return d }
            if case .many(let ds) = c.crossAttentionDim { return ds[0] }
            return 768
        }()
        let side = latentSize ?? 16
        var sample = Tensor(zeros: [2, side, side, c.inChannels])
        var context = Tensor(zeros: [2, 77, crossDim])
        var timesteps: [Float] = [500, 500]
        let inputs = self.inputs ?? model + "/bench_inputs.safetensors"
        if latentSize == nil && (self.inputs != nil || FileManager.default.fileExists(atPath: inputs)) {
            let f = try SafetensorsFile(path: inputs)
            sample = try f.tensor("sample").permuted([0, 2, 3, 1])
            context = try f.tensor("encoder_hidden_states")
            timesteps = try f.tensor("timesteps").scalars
        } else {
            fill(&sample, seed: 1)
            fill(&context, seed: 2)
        }
        var results: [Result] = []
        var out = sample
        for t in options.threadCounts {
            Parallelism.setThreadCount(t)
            if compareDispatch {
                let m = try interleavedMedianSeconds(repeats: options.repeats, variants: 2) { v in
                    Parallelism.usesWorkerPool = v == 0
                    out = try unet(sample, timesteps: timesteps, context: context)
                }
                Parallelism.usesWorkerPool = true
                results.append(Result(threads: t, medianSeconds: m[0], dispatchMedianSeconds: m[1]))
            } else {
                let s = try medianSeconds(repeats: options.repeats) { out = try unet(sample, timesteps: timesteps, context: context) }
                results.append(Result(threads: t, medianSeconds: s))
            }
        }
        var profileTable: [String: Double]?
        var profileCalls: [String: Int] = [:]
        if profile {
            Profiler.start(gemmShapes: profileShapes)
            let start = Date()
            _ = try unet(sample, timesteps: timesteps, context: context)
            let total = Date().timeIntervalSince(start)
            let rows = Profiler.stop()
            var table = Dictionary(uniqueKeysWithValues: rows.map { ($0.category, $0.seconds) })
            profileCalls = Dictionary(uniqueKeysWithValues: rows.map { ($0.category, $0.calls) })
            table["other (bias copies, embeddings, allocation)"] = max(0, total - rows.map(\.seconds).reduce(0, +))
            table["total"] = total
            profileTable = table
        }
        Parallelism.setThreadCount(0)
        if let output {
            try SafetensorsWriter.write([("output", try out.permuted([0, 3, 1, 2]))], to: output)
        }
        let report = Report(model: model, loadSeconds: loadSeconds, results: results,
                            peakResidentMB: peakResidentMegabytes(), profile: profileTable)
        if options.json {
            try printJSON(report)
            return
        }
        print(String(format: "model %@ (loaded in %.2f s), peak resident %.0f MB", model, loadSeconds, report.peakResidentMB))
        for r in results {
            print(String(format: "threads %d: %.4f s per batch-2 evaluation (median of %d)", r.threads, r.medianSeconds, options.repeats)
                  + (r.dispatchMedianSeconds.map { String(format: "; on Dispatch %.4f s (pool %.2fx)", $0, $0 / r.medianSeconds) } ?? ""))
        }
        if let table = profileTable, let total = table["total"] {
            print("\nwhere the time goes (threads \(options.threadCounts.last ?? 1), one evaluation):")
            for (k, v) in table.sorted(by: { $0.value > $1.value }) where k != "total" {
                var line = "  " + k.padding(toLength: 45, withPad: " ", startingAt: 0) + String(format: " %8.4f s  %5.1f%%", v, 100 * v / total)
                // "gemm MxNxK[ p]": calls and GFLOPS.
                let dims = k.split(separator: " ").dropFirst().first?.split(separator: "x").compactMap { Double($0) } ?? []
                if k.hasPrefix("gemm "), dims.count == 3, let calls = profileCalls[k], v > 0 {
                    line += String(format: "  %4d calls  %6.1f GFLOPS", calls, 2 * dims[0] * dims[1] * dims[2] * Double(calls) / v * 1e-9)
                }
                print(line)
            }
        }
    }
}

/// Peak resident memory of this process image (VmHWM; unlike ru_maxrss it is not inherited
/// from a parent across fork and exec).
func peakResidentMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}
