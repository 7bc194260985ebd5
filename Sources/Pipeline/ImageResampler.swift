// Resizing RGB images to the model's resolution, and conversion between images and tensors.
//
// Filter: separable triangle (bilinear) filter whose support widens with the shrink factor,
// antialiased bilinear exactly as Pillow's Image.resize(BILINEAR) computes it for 8-bit RGB
// (tested bit-exact against PIL-made fixtures); when sizes are equal the image is copied
// unchanged. Pixels map to [-1, 1] as (v / 127.5 - 1).

import Foundation
import PNGIO
import Tensors

public enum ImageResampler {
    /// Fixed-point precision of the filter weights (Pillow's PRECISION_BITS for 8-bit images).
    static let precisionBits = 32 - 8 - 2

    /// Resizes to width x height with the antialiased bilinear filter, bit-exact with Pillow's
    /// Image.resize(BILINEAR): weights normalised in double, then rounded to 22-bit fixed point;
    /// the horizontal pass first, rounded to 8 bits, then the vertical pass.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        if image.width == width && image.height == height { return image }
        var pixels = image.pixels
        var current = (width: image.width, height: image.height)
        if width != image.width {
            let taps = weights(source: image.width, target: width)
            var out = [UInt8](repeating: 0, count: current.height * width * 3)
            for y in 0..<current.height {
                for (x, (first, k)) in taps.enumerated() {
                    for ch in 0..<3 {
                        var sum = 1 << (precisionBits - 1)
                        for (j, w) in k.enumerated() { sum += Int(pixels[(y * current.width + first + j) * 3 + ch]) * w }
                        out[(y * width + x) * 3 + ch] = clip8(sum)
                    }
                }
            }
            pixels = out
            current.width = width
        }
        if height != image.height {
            let taps = weights(source: image.height, target: height)
            var out = [UInt8](repeating: 0, count: height * width * 3)
            for (y, (first, k)) in taps.enumerated() {
                for x in 0..<width {
                    for ch in 0..<3 {
                        var sum = 1 << (precisionBits - 1)
                        for (j, w) in k.enumerated() { sum += Int(pixels[((first + j) * width + x) * 3 + ch]) * w }
                        out[(y * width + x) * 3 + ch] = clip8(sum)
                    }
                }
            }
            pixels = out
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    /// A fixed-point sum back to 8 bits (Pillow's clip8).
    static func clip8(_ sum: Int) -> UInt8 {
        if sum >= (255 << precisionBits) + (1 << precisionBits) - 1 { return 255 }
        if sum <= 0 { return 0 }
        return UInt8(min(255, sum >> precisionBits))
    }

    /// For each target coordinate, the first source index and the fixed-point triangle-filter
    /// weights from there (Pillow's precompute_coeffs and normalize_coeffs_8bpc).
    static func weights(source: Int, target: Int) -> [(Int, [Int])] {
        let scale = Double(source) / Double(target)
        let filterScale = max(1.0, scale)
        let support = filterScale  // the bilinear filter's support is 1
        return (0..<target).map { x in
            let center = (Double(x) + 0.5) * scale
            let lo = max(0, Int(center - support + 0.5))
            let hi = min(source, Int(center + support + 0.5))
            var k: [Double] = []
            var total = 0.0
            for i in lo..<max(lo, hi) {
                let w = max(0, 1 - abs((Double(i) - center + 0.5) / filterScale))
                k.append(w)
                total += w
            }
            let fixed = k.map { w -> Int in
                let normalised = total != 0 ? w / total : w
                return Int(normalised * Double(1 << precisionBits) + (normalised < 0 ? -0.5 : 0.5))
            }
            return (lo, fixed)
        }
    }

    /// image -> [1, H, W, 3] in [-1, 1].
    public static func tensor(_ image: RGBImage) throws -> Tensor {
        try Tensor(shape: [1, image.height, image.width, 3], values: image.pixels.map { Float($0) / 127.5 - 1 })
    }

    /// [1, H, W, 3] in [-1, 1] -> image, as diffusers' postprocess does:
    /// round(clamp(x / 2 + 0.5, 0, 1) * 255).
    public static func image(_ tensor: Tensor) throws -> RGBImage {
        guard tensor.rank == 4, tensor.shape[0] == 1, tensor.shape[3] == 3 else {
            throw TensorError.invalidShape("image tensor must be [1, H, W, 3], got \(tensor.shape)")
        }
        let p = tensor.pointer
        for i in 0..<tensor.count where !p[i].isFinite {
            throw PipelineError.nonFinite("the decoded image holds \(p[i]) at element \(i) of \(tensor.shape)")
        }
        let pixels = (0..<tensor.count).map { i -> UInt8 in
            let v = min(max(p[i] / 2 + 0.5, 0), 1)
            return UInt8((v * 255).rounded(.toNearestOrEven))
        }
        return try RGBImage(width: tensor.shape[2], height: tensor.shape[1], pixels: pixels)
    }
}
