// `stylediff-bench weights MODEL [--precision f16|int8]`: what `--weights int8` (or f16)
// costs in image quality and gains in time. A fixed prompt set (the default layout: two contents
// in every style of the model, with its style presets; a Stable Diffusion folder: eight photo
// prompts) is generated with the weights as stored and at the precision, same seeds; reported
// are the PSNR of each such image against its stored twin (mean, median, min), the seconds per
// image of both (interleaved, medians), and the load times.

import ArgumentParser
import Foundation
import PNGIO
import Pipeline
import Tensors

struct WeightsBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights", abstract: "PSNR and speed of --weights int8 (or f16) against the stored weights over a fixed prompt set.")

    @Argument(help: "Model folder.")
    var model: String

    @Option(help: "The precision compared with the stored weights: int8 or f16.")
    var precision: String = "int8"

    /// --precision as parsed (validate() refuses anything else).
    var compared: WeightPrecision { WeightPrecision(rawValue: precision) ?? .int8 }

    @Option(help: "Denoising steps (DDIM with the model's guidance).")
    var steps = 20

    @Option(help: "Image width and height (default: the model's size).")
    var size: Int?

    @Option(help: "Use only the first N prompts of the set.")
    var prompts: Int?

    @Option(help: "Threads.")
    var threads = 2

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    struct Image: Codable { var prompt: String; var seed: UInt64; var psnr: Double }
    struct Report: Codable {
        var model: String; var precision: String; var steps: Int; var images: [Image]
        var meanPSNR: Double; var medianPSNR: Double; var minPSNR: Double
        var storedSeconds: Double; var otherSeconds: Double; var storedLoadSeconds: Double; var otherLoadSeconds: Double
    }

    func validate() throws {
        guard steps >= 1, threads >= 1, (prompts ?? 1) >= 1, (size ?? 8) >= 8 else {
            throw ValidationError("--steps, --threads and --prompts must be positive, --size at least 8")
        }
        guard WeightPrecision(rawValue: precision).map({ $0 != .stored }) ?? false else {
            throw ValidationError("--precision must be int8 or f16 (compared with stored), got \(precision)")
        }
    }

    /// The fixed prompt set: (prompt, style preset) pairs.
    static func promptSet(_ pipeline: StyleDiffusionPipeline) -> [(String, String?)] {
        if pipeline.layout == .stylediff {
            let presets = pipeline.stylePresets?.names ?? []
            return pipeline.styles.flatMap { style in
                ["folder icon", "red heart emoji"].map { ("\($0), \(style) style", presets.contains(style) ? style : nil) }
            }
        }
        return ["a photo of a cat on a sofa", "a mountain lake at sunrise", "portrait of an old fisherman, oil painting",
                "a red sports car in the rain", "a bowl of fruit on a wooden table", "a city street at night, neon lights",
                "a watercolor of a lighthouse", "an astronaut riding a horse"].map { ($0, nil) }
    }

    func run() throws {
        Parallelism.setThreadCount(threads)
        func time<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let start = DispatchTime.now().uptimeNanoseconds
            let value = try body()
            return (value, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        let (stored, storedLoad) = try time { try StyleDiffusionPipeline(directory: model) }
        let (other, otherLoad) = try time { try StyleDiffusionPipeline(directory: model, weights: compared) }
        var set = Self.promptSet(stored)
        if let prompts { set = Array(set.prefix(prompts)) }
        var images: [Image] = [], storedTimes: [Double] = [], otherTimes: [Double] = []
        for (index, (prompt, preset)) in set.enumerated() {
            var request = GenerationRequest(prompt: prompt)
            (request.steps, request.seed, request.stylePreset) = (steps, UInt64(index + 1), preset)
            request.guidanceScale = stored.samplingDefaults.guidanceScale
            (request.width, request.height) = (size, size)
            // Alternate which runs first, so drift on a shared machine falls on both.
            let order = index % 2 == 0 ? [stored, other] : [other, stored]
            var out: [RGBImage] = []
            for p in order {
                let (image, seconds) = try time { try p.generate(request) }
                out.append(image)
                if p === stored { storedTimes.append(seconds) } else { otherTimes.append(seconds) }
            }
            let psnr = out[0].peakSignalToNoiseRatio(to: out[1]) ?? 0
            images.append(Image(prompt: prompt, seed: request.seed, psnr: psnr))
        }
        let values = images.map(\.psnr)
        let report = Report(model: model, precision: precision, steps: steps, images: images,
                            meanPSNR: values.reduce(0, +) / Double(max(values.count, 1)), medianPSNR: median(values),
                            minPSNR: values.min() ?? 0, storedSeconds: median(storedTimes), otherSeconds: median(otherTimes),
                            storedLoadSeconds: storedLoad, otherLoadSeconds: otherLoad)
        if json {
            try printJSON(report)
            return
        }
        for image in images { print(String(format: "%6.2f dB  seed %2d  %@", image.psnr, Int(image.seed), image.prompt)) }
        print(String(format: "%@: %d images, %d DDIM steps, %d threads: PSNR %@ vs stored mean %.2f dB, median %.2f, min %.2f",
                     model, images.count, steps, threads, precision, report.meanPSNR, report.medianPSNR, report.minPSNR))
        print(String(format: "seconds per image (medians): stored %.3f, %@ %.3f (%@ / stored %.2f); load %.2f s / %.2f s",
                     report.storedSeconds, precision, report.otherSeconds, precision, report.otherSeconds / max(report.storedSeconds, 1e-9),
                     storedLoad, otherLoad))
    }
}
