// `stylediff-bench pipeline MODEL`: seconds per image end to end (prompt encoding, the
// denoising steps with classifier-free guidance, decoding) with the model loaded once, and the
// median seconds per denoising step (one batch-2 UNet evaluation and the scheduler step, timed
// between progress calls); run beside PyTorch by tools/bench_reference.py pipeline / sd.

import ArgumentParser
import Foundation
import PNGIO
import Pipeline
import Schedulers
import Tensors

struct PipelineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline", abstract: "Seconds per generated image and per denoising step (either model layout).")

    @Argument(help: "Model folder (default layout or a Stable Diffusion folder).")
    var model: String

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Denoising steps.")
    var steps: Int = 20

    @Option(help: "The prompt.")
    var prompt = "folder icon, papirus style"

    @Option(help: "Image width and height (default: the model's size).")
    var width: Int?
    @Option var height: Int?

    @Option(help: "Sampler: ddim, ddpm, euler, dpmpp, pndm, lcm or tcd (default: the model's).")
    var scheduler: String?

    @Option(help: "A style reference image (PNG) to condition on.")
    var styleImage: String?

    @Flag(help: "Also print where the time goes in one image's denoising and in its decode (per kernel category, last thread count).")
    var profile = false

    struct Result: Codable { var threads: Int; var medianSeconds: Double; var medianStepSeconds: Double }
    struct Report: Codable { var model: String; var steps: Int; var width: Int; var height: Int; var results: [Result]; var peakResidentMB: Double }

    func run() throws {
        let pipeline = try StyleDiffusionPipeline(directory: model)
        var request = GenerationRequest(prompt: prompt)
        request.steps = steps
        request.seed = 1
        (request.width, request.height) = (width, height)
        guard let kind = scheduler.map({ SchedulerKind(rawValue: $0) }) ?? pipeline.defaultScheduler else {
            throw ValidationError("unknown scheduler \(scheduler ?? "")")
        }
        request.scheduler = kind
        request.guidanceScale = pipeline.samplingDefaults.guidanceScale
        if let styleImage { request.styleImages = [StyleReference(image: try PNGCodec.read(path: styleImage).image)] }
        let size = try pipeline.imageSize(of: request)
        var results: [Result] = []
        for t in options.threadCounts {
            Parallelism.setThreadCount(t)
            var stepTimes: [Double] = []
            let s = try medianSeconds(repeats: options.repeats) {
                var last = DispatchTime.now().uptimeNanoseconds
                var run: [Double] = []
                _ = try pipeline.generate(request) { _, _ in
                    let now = DispatchTime.now().uptimeNanoseconds
                    run.append(Double(now - last) * 1e-9)
                    last = now
                    return true
                }
                stepTimes += run.dropFirst()  // the first interval also holds prompt encoding
            }
            let steady = stepTimes.sorted()
            results.append(Result(threads: t, medianSeconds: s, medianStepSeconds: steady.isEmpty ? .nan : steady[steady.count / 2]))
        }
        if profile {
            try printDenoiseAndDecodeProfile(pipeline, request, repeats: 1, gemmShapes: false, limit: nil)
        }
        Parallelism.setThreadCount(0)
        let report = Report(model: model, steps: steps, width: size.width, height: size.height, results: results,
                            peakResidentMB: peakResidentMegabytes())
        if options.json {
            try printJSON(report, pretty: false)
        } else {
            for r in results {
                print(String(format: "threads %d: %.4f s per %dx%d image (%d steps, CFG), %.4f s per step", r.threads, r.medianSeconds,
                             size.width, size.height, steps, r.medianStepSeconds))
            }
            print(String(format: "peak resident %.0f MB", report.peakResidentMB))
        }
    }
}
