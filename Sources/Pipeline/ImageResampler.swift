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

    /// An image brought to width x height for img2img: resized, after a centre crop to the
    /// target's aspect ratio with `.crop` (the crop rounded to whole pixels).
    public static func fit(_ image: RGBImage, width: Int, height: Int, mode: ImageFit) throws -> RGBImage {
        guard mode == .crop, image.width * height != image.height * width else {
            return try resize(image, width: width, height: height)
        }
        var cropWidth = image.width, cropHeight = image.height
        if image.width * height > image.height * width {  // wider than the target
            cropWidth = max(1, min(image.width, Int((Double(image.height) * Double(width) / Double(height)).rounded())))
        } else {
            cropHeight = max(1, min(image.height, Int((Double(image.width) * Double(height) / Double(width)).rounded())))
        }
        let x0 = (image.width - cropWidth) / 2, y0 = (image.height - cropHeight) / 2
        var pixels = [UInt8](repeating: 0, count: cropWidth * cropHeight * 3)
        for y in 0..<cropHeight {
            let from = ((y0 + y) * image.width + x0) * 3
            pixels.replaceSubrange(y * cropWidth * 3..<(y + 1) * cropWidth * 3, with: image.pixels[from..<from + cropWidth * 3])
        }
        return try resize(RGBImage(width: cropWidth, height: cropHeight, pixels: pixels), width: width, height: height)
    }

    /// Resizes to width x height with the antialiased bilinear filter, bit-exact with Pillow's
    /// Image.resize(BILINEAR): weights normalised in double, then rounded to 22-bit fixed point;
    /// the horizontal pass first, rounded to 8 bits, then the vertical pass.
    public static func resize(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        if image.width == width && image.height == height { return image }
        var pixels = image.pixels
        if width != image.width {  // rows: line y, position x
            pixels = pass(pixels, lines: image.height, taps: weights(source: image.width, target: width),
                          source: { y, x in y * image.width + x }, destination: { y, x in y * width + x })
        }
        if height != image.height {  // columns: line x, position y
            pixels = pass(pixels, lines: width, taps: weights(source: image.height, target: height),
                          source: { x, y in y * width + x }, destination: { x, y in y * width + x })
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    /// One separable pass over `lines` rows or columns: output pixel `position` of a line is the
    /// fixed-point sum of its taps over the input line, back to 8 bits as Pillow's clip8 does.
    /// `source` / `destination` give a pixel's index from (line, position).
    static func pass(_ pixels: [UInt8], lines: Int, taps: [(first: Int, weights: [Int])],
                     source: (Int, Int) -> Int, destination: (Int, Int) -> Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: lines * taps.count * 3)
        for line in 0..<lines {
            for (position, (first, weights)) in taps.enumerated() {
                for ch in 0..<3 {
                    var sum = 1 << (precisionBits - 1)
                    for (j, w) in weights.enumerated() { sum += Int(pixels[source(line, first + j) * 3 + ch]) * w }
                    out[destination(line, position) * 3 + ch] = sum >= 256 << precisionBits ? 255 : sum <= 0 ? 0 : UInt8(sum >> precisionBits)
                }
            }
        }
        return out
    }

    /// For each target coordinate, the first source index and the fixed-point triangle-filter
    /// weights from there (Pillow's precompute_coeffs and normalize_coeffs_8bpc; the bilinear
    /// filter's support is 1, widened by the shrink factor).
    static func weights(source: Int, target: Int) -> [(first: Int, weights: [Int])] {
        let scale = Double(source) / Double(target)
        let filterScale = max(1.0, scale)
        return (0..<target).map { x in
            let center = (Double(x) + 0.5) * scale
            let lo = max(0, Int(center - filterScale + 0.5))
            let hi = min(source, Int(center + filterScale + 0.5))
            let k = (lo..<max(lo, hi)).map { i in max(0, 1 - abs((Double(i) - center + 0.5) / filterScale)) }
            let total = k.reduce(0, +)
            return (lo, k.map { Int((total != 0 ? $0 / total : $0) * Double(1 << precisionBits) + 0.5) })
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
        try tensor.requireFinite("the decoded image")
        let p = tensor.pointer
        let pixels = (0..<tensor.count).map { i -> UInt8 in
            let v = min(max(p[i] / 2 + 0.5, 0), 1)
            return UInt8((v * 255).rounded(.toNearestOrEven))
        }
        return try RGBImage(width: tensor.shape[2], height: tensor.shape[1], pixels: pixels)
    }
}
