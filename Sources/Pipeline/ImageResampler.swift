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
        return try resize(centreCrop(image, width: cropWidth, height: cropHeight), width: width, height: height)
    }

    /// The centre width x height of an image at least that large (left and top offsets rounded
    /// down, as transformers' center_crop).
    public static func centreCrop(_ image: RGBImage, width: Int, height: Int) throws -> RGBImage {
        guard width <= image.width, height <= image.height else {
            throw TensorError.invalidArgument("cannot crop \(width)x\(height) from a \(image.width)x\(image.height) image")
        }
        let x0 = (image.width - width) / 2, y0 = (image.height - height) / 2
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let from = ((y0 + y) * image.width + x0) * 3
            pixels.replaceSubrange(y * width * 3..<(y + 1) * width * 3, with: image.pixels[from..<from + width * 3])
        }
        return try RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Pillow's resampling filters stylediff uses (Resample.c): the filter and its support.
    public enum Filter: Sendable {
        /// Triangle, support 1 (Image.BILINEAR).
        case bilinear
        /// Keys cubic with a = -0.5, support 2 (Image.BICUBIC; CLIPImageProcessor's resample 3).
        case bicubic

        var support: Double { self == .bilinear ? 1 : 2 }

        func callAsFunction(_ x: Double) -> Double {
            let x = abs(x)
            switch self {
            case .bilinear: return x < 1 ? 1 - x : 0
            case .bicubic:
                let a = -0.5
                if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
                if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
                return 0
            }
        }
    }

    /// Resizes to width x height with an antialiased filter (bilinear by default), bit-exact
    /// with Pillow's Image.resize: weights normalised in double, then rounded to 22-bit fixed
    /// point; one pass per axis, each rounded to 8 bits, the horizontal pass first unless the
    /// width grows while the height shrinks (then the vertical one, as Pillow orders them).
    public static func resize(_ image: RGBImage, width: Int, height: Int, filter: Filter = .bilinear) throws -> RGBImage {
        if image.width == width && image.height == height { return image }
        var pixels = image.pixels
        var current = (width: image.width, height: image.height)
        func horizontal() {  // rows: line y, position x
            guard width != current.width else { return }
            let w = current.width
            pixels = pass(pixels, lines: current.height, taps: weights(source: w, target: width, filter: filter),
                          source: { y, x in y * w + x }, destination: { y, x in y * width + x })
            current.width = width
        }
        func vertical() {  // columns: line x, position y
            guard height != current.height else { return }
            let w = current.width
            pixels = pass(pixels, lines: w, taps: weights(source: current.height, target: height, filter: filter),
                          source: { x, y in y * w + x }, destination: { x, y in y * w + x })
            current.height = height
        }
        if width > image.width && height < image.height {
            vertical()
            horizontal()
        } else {
            horizontal()
            vertical()
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

    /// For each target coordinate, the first source index and the fixed-point filter weights
    /// from there (Pillow's precompute_coeffs and normalize_coeffs_8bpc: the support widened by
    /// the shrink factor, weights rounded half away from zero).
    static func weights(source: Int, target: Int, filter: Filter = .bilinear) -> [(first: Int, weights: [Int])] {
        let scale = Double(source) / Double(target)
        let filterScale = max(1.0, scale)
        let support = filter.support * filterScale, reciprocal = 1.0 / filterScale
        return (0..<target).map { x in
            let center = (Double(x) + 0.5) * scale
            let lo = max(0, Int(center - support + 0.5))
            let hi = min(source, Int(center + support + 0.5))
            let k = (lo..<max(lo, hi)).map { i in filter((Double(i) - center + 0.5) * reciprocal) }
            let total = k.reduce(0, +)
            return (lo, k.map { w in
                let v = (total != 0 ? w / total : w) * Double(1 << precisionBits)
                return Int(v < 0 ? v - 0.5 : v + 0.5)
            })
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
