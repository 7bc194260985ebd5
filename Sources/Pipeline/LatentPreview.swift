// A live preview of latents during sampling. Small images (at most 256x256 pixels, e.g. the
// default model's 64 px) are previewed by the real VAE decode, which costs little there. Larger
// ones use AUTOMATIC1111's "Approx cheap" idea: one linear map from the C latent channels to RGB
// per latent pixel (no decode; microseconds at any size). A1111 ships fixed coefficients for the
// SD 1.x VAE; this fits them for whatever VAE a model has, once, by least squares on a
// calibration image of flat colour patches encoded by that VAE (its mean latents, scaled as the
// UNet sees them).
//
// Limits: the linear preview has the latent resolution (1/f of the output) and is only as good
// as the VAE is linear in colour (the shipped icon VAE is not: its fit is off by ~45/255 on
// average, against ~57 for a flat grey guess); early in sampling the latents are mostly noise,
// so either preview is too (latents with an RMS above 100 are scaled down to keep the linear
// preview in range).

import Foundation
import PNGIO
import Tensors

public struct LatentPreview: Sendable {
    /// [C][3] weights and 3 biases: rgb = latent · weights + bias, in [-1, 1].
    let weights: [[Double]]
    let bias: [Double]
    let pipeline: StyleDiffusionPipeline

    /// Outputs of at most this many pixels are previewed by the VAE decode.
    public static let decodedPixels = 256 * 256

    /// The preview of latents [1, h, w, C]: the decoded image when small, else `image(_:)`.
    public func preview(_ latents: Tensor) throws -> RGBImage {
        let f = pipeline.vaeConfiguration.downsamplingFactor
        if latents.rank == 4, latents.shape[1] * f * latents.shape[2] * f <= Self.decodedPixels {
            return try pipeline.decode(latents)
        }
        return try image(latents)
    }

    /// Side of the calibration image and of its colour patches.
    static let calibrationSide = 128, patchSide = 16

    /// Fits the map for `pipeline`'s VAE (one encode of a 128x128 image).
    public init(pipeline: StyleDiffusionPipeline) throws {
        self.pipeline = pipeline
        let side = Self.calibrationSide, patch = Self.patchSide
        // Deterministic patch colours (an LCG), including black, white and the primaries.
        var state: UInt32 = 12345
        var palette: [[UInt8]] = [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]
        while palette.count < (side / patch) * (side / patch) {
            palette.append((0..<3).map { _ in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(truncatingIfNeeded: state >> 24)
            })
        }
        var pixels = [UInt8](repeating: 0, count: side * side * 3)
        for y in 0..<side {
            for x in 0..<side {
                let colour = palette[(y / patch) * (side / patch) + x / patch]
                for c in 0..<3 { pixels[(y * side + x) * 3 + c] = colour[c] }
            }
        }
        let image = try RGBImage(width: side, height: side, pixels: pixels)
        let latents = try pipeline.scaleLatents(pipeline.vae.encode(ImageResampler.tensor(image)).mean)
        // [1, h, w, C]; each latent pixel stands for an f x f block of the image.
        let h = latents.shape[1], w = latents.shape[2], channels = latents.shape[3]
        guard h > 0, w > 0, side % h == 0, side % w == 0 else {
            throw PipelineError.invalidRequest("latent preview: the VAE maps \(side) px to \(h)x\(w) latents")
        }
        let f = side / h
        let p = latents.pointer
        let n = channels + 1
        // Normal equations (X^T X) a = X^T y for each colour, X = [latent, 1].
        var xtx = [Double](repeating: 0, count: n * n)
        var xty = [[Double]](repeating: [Double](repeating: 0, count: n), count: 3)
        for y in 0..<h {
            for x in 0..<w {
                var row = (0..<channels).map { Double(p[(y * w + x) * channels + $0]) }
                row.append(1)
                var target = [Double](repeating: 0, count: 3)
                for dy in 0..<f {
                    for dx in 0..<f {
                        for c in 0..<3 { target[c] += Double(pixels[((y * f + dy) * side + x * f + dx) * 3 + c]) }
                    }
                }
                for c in 0..<3 { target[c] = target[c] / Double(f * f) / 127.5 - 1 }
                for i in 0..<n {
                    for j in 0..<n { xtx[i * n + j] += row[i] * row[j] }
                    for c in 0..<3 { xty[c][i] += row[i] * target[c] }
                }
            }
        }
        for i in 0..<n { xtx[i * n + i] += 1e-6 }  // ridge, for a channel the VAE leaves constant
        let solutions = try xty.map { try Self.solve(xtx, $0, n: n) }
        weights = (0..<channels).map { c in (0..<3).map { solutions[$0][c] } }
        bias = (0..<3).map { solutions[$0][channels] }
    }

    /// The linear preview of latents [1, h, w, C] as an h x w image.
    public func image(_ latents: Tensor) throws -> RGBImage {
        guard latents.rank == 4, latents.shape[0] == 1, latents.shape[3] == weights.count else {
            throw TensorError.invalidShape("latent preview needs [1, h, w, \(weights.count)], got \(latents.shape)")
        }
        let h = latents.shape[1], w = latents.shape[2], channels = weights.count
        let p = latents.pointer
        var sum = 0.0
        for i in 0..<latents.count { sum += Double(p[i]) * Double(p[i]) }
        let rms = (sum / Double(max(1, latents.count))).squareRoot()
        let scale = rms.isFinite && rms > 100 ? 1 / rms : 1
        var pixels = [UInt8](repeating: 0, count: h * w * 3)
        for i in 0..<(h * w) {
            for c in 0..<3 {
                var v = bias[c]
                for k in 0..<channels { v += Double(p[i * channels + k]) * scale * weights[k][c] }
                let unit = v.isFinite ? min(max(v / 2 + 0.5, 0), 1) : 0
                pixels[i * 3 + c] = UInt8((unit * 255).rounded())
            }
        }
        return try RGBImage(width: w, height: h, pixels: pixels)
    }

    /// Solves a x = b (n x n, row-major) by Gaussian elimination with partial pivoting.
    static func solve(_ a: [Double], _ b: [Double], n: Int) throws -> [Double] {
        var m = a, v = b
        for col in 0..<n {
            guard let pivot = (col..<n).max(by: { abs(m[$0 * n + col]) < abs(m[$1 * n + col]) }), abs(m[pivot * n + col]) > 1e-12 else {
                throw PipelineError.invalidRequest("latent preview: the calibration latents are degenerate")
            }
            if pivot != col {
                for j in 0..<n { m.swapAt(pivot * n + j, col * n + j) }
                v.swapAt(pivot, col)
            }
            for row in (col + 1)..<n {
                let factor = m[row * n + col] / m[col * n + col]
                for j in col..<n { m[row * n + j] -= factor * m[col * n + j] }
                v[row] -= factor * v[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for row in stride(from: n - 1, through: 0, by: -1) {
            var s = v[row]
            for j in (row + 1)..<n { s -= m[row * n + j] * x[j] }
            x[row] = s / m[row * n + row]
        }
        return x
    }
}
