// `stylediff-bench pipeline MODEL`: seconds per image end to end (prompt encoding, 20 DDIM
// steps with classifier-free guidance, decoding) with the model loaded once; run beside the
// PyTorch reference sampler by tools/bench_reference.py pipeline.

import ArgumentParser
import Foundation
import PNGIO
import Pipeline
import Tensors

struct PipelineBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipeline", abstract: "Seconds per generated image (model in the default layout).")

    @Argument(help: "Model folder (default layout).")
    var model: String

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Denoising steps.")
    var steps: Int = 20

    @Option(help: "A style reference image (PNG) to condition on.")
    var styleImage: String?

    struct Result: Codable { var threads: Int; var medianSeconds: Double }
    struct Report: Codable { var model: String; var steps: Int; var results: [Result]; var peakResidentMB: Double }

    func run() throws {
        let pipeline = try StyleDiffusionPipeline(directory: model)
        var request = GenerationRequest(prompt: "folder icon, papirus style")
        request.steps = steps
        request.seed = 1
        if let styleImage { request.styleImages = [StyleReference(image: try PNGCodec.read(path: styleImage).image)] }
        var results: [Result] = []
        for t in options.threadCounts {
            Parallelism.setThreadCount(t)
            let s = try medianSeconds(repeats: options.repeats) { _ = try pipeline.generate(request) }
            results.append(Result(threads: t, medianSeconds: s))
        }
        Parallelism.setThreadCount(0)
        let report = Report(model: model, steps: steps, results: results, peakResidentMB: peakResidentMegabytes())
        if options.json {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
        } else {
            for r in results { print(String(format: "threads %d: %.4f s per image (%d steps, CFG)", r.threads, r.medianSeconds, steps)) }
        }
    }
}
