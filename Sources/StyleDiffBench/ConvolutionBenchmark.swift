// `stylediff-bench conv`: 3x3 stride-1 convolutions by im2col + GEMM against Winograd F(2x2, 3x3),
// interleaved, at the shapes of the default model's VAE and tiny decoders and of Stable
// Diffusion at 512 px, with the path `conv2d` chooses by shape: the evidence for that rule.
// Both take prepacked weights; Winograd's filters are transformed once beforehand where a layer
// keeps them (`Conv2d.keepsWinogradFilters`: small filters, or larger ones at few tiles) and per
// call otherwise, as layers run.

import ArgumentParser
import Foundation
import Models
import Tensors

struct ConvolutionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conv",
        abstract: "3x3 convolutions: im2col + GEMM against Winograd per shape, and which one conv2d takes.")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Images per convolution.")
    var batch = 1

    @Flag(help: "Weights rounded to halves (kept as half panels, as an F16 file's).")
    var halves = false

    @Option(help: "Shapes as HxWxCIN:COUT, comma-separated (default: the default model's decoders and SD 1.5 at 512 px).")
    var shapes: String?

    struct Row: Codable {
        var height: Int, width: Int, inChannels: Int, outChannels: Int
        var threads: Int
        var im2colSeconds: Double
        var winogradSeconds: Double
        var speedup: Double
        var chosen: String
        var filtersKept: Bool
    }

    static let defaultShapes = [
        // Default model's VAE decoder (16x16 latent -> 64x64) and tiny decoder (width 32).
        "16x16x128:128", "32x32x128:128", "32x32x128:64", "32x32x64:64", "64x64x64:64", "64x64x64:32", "64x64x32:32",
        "16x16x32:32", "32x32x32:32",
        // Stable Diffusion 1.5 UNet at 512 px (64x64 latent), VAE decoder's middle levels.
        "64x64x320:320", "32x32x640:640", "128x128x256:256",
    ]

    func parsedShapes() throws -> [(Int, Int, Int, Int)] {
        try (shapes.map { $0.split(separator: ",").map(String.init) } ?? Self.defaultShapes).map { text in
            let parts = text.split(whereSeparator: { $0 == "x" || $0 == ":" }).map { Int($0) }
            guard parts.count == 4, let h = parts[0], let w = parts[1], let cin = parts[2], let cout = parts[3],
                  h > 0, w > 0, cin > 0, cout > 0, cin % 8 == 0, cout % 8 == 0, h * w * max(cin, cout) <= 1 << 26 else {
                throw ValidationError("--shapes: '\(text)' is not HxWxCIN:COUT with channels in multiples of 8 (at most 2^26 values)")
            }
            return (h, w, cin, cout)
        }
    }

    func run() throws {
        var rows: [Row] = []
        for (h, w, cin, cout) in try parsedShapes() {
            let x = randomTensor([batch, h, w, cin], seed: 3)
            var raw = randomTensor([cout, cin, 3, 3], seed: 4)
            if halves { raw = raw.mapElements { Float(Float16($0)) } }
            let packed = try Tensor.packConvolutionWeight(raw)
            let weight = try PackedMatrix(try packed.reshaped([cout, 9 * cin]))
            let cached = Conv2d.keepsWinogradFilters(inChannels: cin, outChannels: cout, tiles: batch * ((h + 1) / 2) * ((w + 1) / 2))
            let filters = cached ? try WinogradFilters(weight: weight) : nil  // as Conv2d keeps them
            let bias = randomTensor([cout], seed: 5)
            let chosen = Tensor.winogradApplies(kernel: 3, stride: 1, padding: (1, 1, 1, 1), outputPixels: h * w, cin: cin, cout: cout,
                                                filtersKept: cached)
            for t in options.threadCounts {
                Parallelism.setThreadCount(t)
                let s = try interleavedMedianSeconds(repeats: options.repeats, variants: 2) { v in
                    _ = try x.conv2d(weight: weight, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1),
                                     winograd: filters, algorithm: v == 0 ? .im2col : .winograd)
                }
                rows.append(Row(height: h, width: w, inChannels: cin, outChannels: cout, threads: t, im2colSeconds: s[0],
                                winogradSeconds: s[1], speedup: s[0] / s[1], chosen: chosen ? "winograd" : "im2col",
                                filtersKept: cached))
            }
        }
        Parallelism.setThreadCount(0)
        if options.json {
            try printJSON(rows)
            return
        }
        print("| shape (H x W x Cin -> Cout) | threads | im2col | Winograd | Winograd speedup | conv2d takes |")
        print("|---|---|---|---|---|---|")
        // Winograd times of filters a layer does not keep include their transform (marked *).
        for r in rows {
            print(String(format: "| %dx%dx%d -> %d | %d | %.3f ms | %.3f ms%@ | %.2fx | %@ |", r.height, r.width, r.inChannels,
                         r.outChannels, r.threads, r.im2colSeconds * 1e3, r.winogradSeconds * 1e3, r.filtersKept ? "" : " *",
                         r.speedup, r.chosen))
        }
    }
}
