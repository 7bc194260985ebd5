// `stylediff-bench fewstep MODEL`: seconds per image of the few-step path (the LCM scheduler in
// 4 steps, one UNet evaluation each: the folder's unet_lcm/ or an LCM folder's UNet) against 20
// DDIM steps with classifier-free guidance (two evaluations each), interleaved round by round,
// with the model loaded once (load excluded) and with the load in every image (load included:
// the folder read again from the page cache, the UNet a request runs built on first use, as a
// one-image `stylediff generate` loads). Medians and their ratio.

import ArgumentParser
import Foundation
import Pipeline
import Schedulers
import Tensors

struct FewStepBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fewstep", abstract: "Seconds per image: LCM steps against DDIM steps with guidance, interleaved.")

    @Argument(help: "Model folder (the default layout with unet_lcm/, or an LCM folder).")
    var model: String

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "LCM steps.")
    var fastSteps = 4

    @Option(help: "DDIM steps (with classifier-free guidance).")
    var steps = 20

    @Option(help: "The prompt.")
    var prompt = "folder icon, papirus style"

    @Option(name: .customLong("decoder"), help: "Decoder of the LCM images: full (the VAE) or tiny (the folder's vae_tiny/); the DDIM images always use the VAE.")
    var decoderName = "full"

    var decoder: VAEDecoder { VAEDecoder(rawValue: decoderName) ?? .full }

    func validate() throws {
        guard VAEDecoder(rawValue: decoderName) != nil else { throw ValidationError("--decoder must be full or tiny") }
    }

    @Flag(help: "Also print where an LCM image's time goes (per kernel category, 1 thread then the last count).")
    var profile = false

    @Flag(help: "With --profile, time each GEMM shape (M x N x K; p: prepacked weights) on its own line, all of them.")
    var profileShapes = false

    struct Row: Codable {
        var threads: Int
        var ddimSeconds: Double, lcmSeconds: Double, ratio: Double
        var ddimWithLoadSeconds: Double, lcmWithLoadSeconds: Double, ratioWithLoad: Double
        /// The LCM image's parts: the denoising (prompt encoding and steps) and the VAE decode; the
        /// load alone (of what an LCM image needs: the folder, unet_lcm/ built).
        var lcmDenoiseSeconds: Double, decodeSeconds: Double, loadSeconds: Double
    }

    func run() throws {
        let loaded = try StyleDiffusionPipeline(directory: model)
        func request(_ kind: SchedulerKind) -> GenerationRequest {
            var r = GenerationRequest(prompt: prompt)
            (r.scheduler, r.steps, r.seed) = kind == .lcm ? (.lcm, fastSteps, 1) : (.ddim, steps, 1)
            r.guidanceScale = loaded.samplingDefaults.guidanceScale
            if kind == .lcm { r.decoder = decoder }
            return r
        }
        let ddim = request(.ddim), lcm = request(.lcm)
        var rows: [Row] = []
        for t in options.threadCounts {
            Parallelism.setThreadCount(t)
            var times = [[Double]](repeating: [], count: 7)
            func time(_ body: () throws -> Void) rethrows -> Double {
                let start = DispatchTime.now().uptimeNanoseconds
                try body()
                return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            }
            _ = try loaded.generate(ddim); _ = try loaded.generate(lcm)  // warm-up
            for _ in 0..<options.repeats {
                times[0].append(try time { _ = try loaded.generate(ddim) })
                times[1].append(try time { _ = try loaded.generate(lcm) })
                times[2].append(try time { _ = try StyleDiffusionPipeline(directory: model, deferModels: true).generate(ddim) })
                times[3].append(try time { _ = try StyleDiffusionPipeline(directory: model, deferModels: true).generate(lcm) })
                var latents: Tensor?
                times[4].append(try time { latents = try loaded.denoise(lcm) })
                if let latents { times[5].append(try time { _ = try loaded.decode(latents, decoder: decoder) }) }
                times[6].append(try time { _ = try StyleDiffusionPipeline(directory: model, deferModels: true).model(for: lcm) })
            }
            let m = times.map { $0.sorted()[$0.count / 2] }
            rows.append(Row(threads: t, ddimSeconds: m[0], lcmSeconds: m[1], ratio: m[0] / m[1],
                            ddimWithLoadSeconds: m[2], lcmWithLoadSeconds: m[3], ratioWithLoad: m[2] / m[3],
                            lcmDenoiseSeconds: m[4], decodeSeconds: m[5], loadSeconds: m[6]))
        }
        if profile {
            try printDenoiseAndDecodeProfile(loaded, lcm, repeats: options.repeats, gemmShapes: profileShapes,
                                             limit: profileShapes ? nil : 8)
        }
        Parallelism.setThreadCount(0)
        if options.json {
            try printJSON(rows, pretty: false)
            return
        }
        print("| threads | \(steps) DDIM steps + CFG | \(fastSteps) LCM steps | ratio | with load: DDIM | with load: LCM | ratio |")
        print("|---|---|---|---|---|---|---|")
        for r in rows {
            print(String(format: "| %d | %.3f s | %.3f s | %.1fx | %.3f s | %.3f s | %.1fx |", r.threads, r.ddimSeconds, r.lcmSeconds,
                         r.ratio, r.ddimWithLoadSeconds, r.lcmWithLoadSeconds, r.ratioWithLoad))
        }
        for r in rows {
            print(String(format: "threads %d: LCM image = %.3f s denoising (prompt + %d steps) + %.3f s decode (%@); load %.3f s",
                         r.threads, r.lcmDenoiseSeconds, fastSteps, r.decodeSeconds, decoder == .tiny ? "vae_tiny" : "VAE", r.loadSeconds))
        }
    }
}
