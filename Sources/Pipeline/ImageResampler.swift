// Resizing RGB images to the model's resolution, and conversion between images and tensors.
//
// Filter: separable triangle (bilinear) filter whose support widens with the shrink factor,
// i.e. antialiased bilinear as PIL's Image.resize(BILINEAR) computes it; when sizes are equal
// the image is copied unchanged. Pixels map to [-1, 1] as (v / 127.5 - 1).

import Foundation
import PNGIO
import Tensors

public enum ImageResampler {
    /// Resizes to width x height with the antialiased bilinear filter.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        if image.width == width && image.height == height { return image }
        let horizontal = weights(source: image.width, target: width)
        let vertical = weights(source: image.height, target: height)
        var temp = [Double](repeating: 0, count: image.height * width * 3)
        for y in 0..<image.height {
            for (x, taps) in horizontal.enumerated() {
                for ch in 0..<3 {
                    var s = 0.0
                    for (i, w) in taps { s += w * Double(image.pixels[(y * image.width + i) * 3 + ch]) }
                    temp[(y * width + x) * 3 + ch] = s
                }
            }
        }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for (y, taps) in vertical.enumerated() {
            for x in 0..<width {
                for ch in 0..<3 {
                    var s = 0.0
                    for (i, w) in taps { s += w * temp[(i * width + x) * 3 + ch] }
                    out[(y * width + x) * 3 + ch] = UInt8(max(0, min(255, s.rounded())))
                }
            }
        }
        return try RGBImage(width: width, height: height, pixels: out)
    }

    /// Normalised triangle-filter taps for each target coordinate.
    static func weights(source: Int, target: Int) -> [[(Int, Double)]] {
        let scale = Double(source) / Double(target)
        let support = max(1.0, scale)
        return (0..<target).map { x in
            let center = (Double(x) + 0.5) * scale
            let lo = max(0, Int((center - support).rounded(.down))), hi = min(source, Int((center + support).rounded(.up)))
            var taps: [(Int, Double)] = []
            for i in lo..<hi {
                let w = max(0, 1 - abs((Double(i) + 0.5 - center) / support))
                if w > 0 { taps.append((i, w)) }
            }
            let total = taps.reduce(0) { $0 + $1.1 }
            return taps.map { ($0.0, $0.1 / total) }
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
