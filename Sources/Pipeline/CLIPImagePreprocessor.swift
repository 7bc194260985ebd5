// Port of transformers' CLIPImageProcessor (its PIL backend, image_processing_pil_clip.py) for
// IP-Adapter reference images: resize (shortest edge to `size`, the long side int(size x
// long / short); or to height x width) with Pillow's antialiased bicubic or bilinear filter,
// centre crop (top = (h - crop) / 2 rounded down), rescale by rescale_factor in double then
// float, normalise ((x - mean) / std in float). Reads a preprocessor_config.json (a Stable
// Diffusion folder's feature_extractor/) or takes diffusers' default for an image encoder
// (CLIPImageProcessor(size=S, crop_size=S) with OpenAI's mean and std).

import FileAccess
import Foundation
import PNGIO
import Tensors

public struct CLIPImagePreprocessor: Equatable, Sendable {
    /// Resize target: the shortest edge, or an exact height and width.
    public enum Size: Equatable, Sendable {
        case shortestEdge(Int)
        case exact(height: Int, width: Int)
    }

    public var resize: Size?
    public var filter: ImageResampler.Filter = .bicubic
    public var crop: (height: Int, width: Int)?
    public var rescaleFactor: Double? = 1.0 / 255
    public var mean: [Float]? = [0.48145466, 0.4578275, 0.40821073]
    public var std: [Float]? = [0.26862954, 0.26130258, 0.27577711]

    public static func == (a: Self, b: Self) -> Bool {
        a.resize == b.resize && a.filter == b.filter && a.crop?.height == b.crop?.height && a.crop?.width == b.crop?.width
            && a.rescaleFactor == b.rescaleFactor && a.mean == b.mean && a.std == b.std
    }

    /// diffusers' default for an image encoder of `imageSize` (load_ip_adapter without a
    /// feature extractor): shortest edge and centre crop `imageSize`, OpenAI's mean and std.
    public init(imageSize: Int) {
        resize = .shortestEdge(imageSize)
        crop = (imageSize, imageSize)
    }

    /// Fields of a preprocessor_config.json that do not change the pixels.
    static let ignored: Set<String> = ["image_processor_type", "feature_extractor_type", "processor_class", "do_convert_rgb",
                                       "default_to_square", "input_data_format", "data_format", "return_tensors", "device"]

    /// Reads a preprocessor_config.json; a field it cannot honour is PipelineError.invalidModel naming it.
    public init(path: String) throws {
        let file: JSONConfigFile
        do { file = try JSONConfigFile(path: path) } catch let e as ConfigurationError { throw PipelineError.invalidModel("\(e)") }
        let f = file.fields
        func fail(_ field: String) -> PipelineError {
            PipelineError.invalidModel("\(path): '\(field)' = \(file.render(f[field] ?? NSNull())) is not supported")
        }
        func flag(_ field: String) throws -> Bool {
            guard let v = f[field] else { return true }
            guard let b = JSONConfigFile.boolean(v) else { throw fail(field) }
            return b
        }
        func side(_ v: Any?) -> Int? {
            guard let v, let n = JSONConfigFile.number(v), let i = Int(exactly: n), (1...4096).contains(i) else { return nil }
            return i
        }
        for key in f.keys.sorted() where !key.hasPrefix("_") && !Self.ignored.contains(key) && ![
            "do_resize", "size", "resample", "do_center_crop", "crop_size", "do_rescale", "rescale_factor", "do_normalize",
            "image_mean", "image_std"].contains(key) {
            throw fail(key)
        }
        if try flag("do_resize") {
            let size = f["size"] ?? 224
            if let s = side(size) {
                resize = .shortestEdge(s)
            } else if let d = size as? [String: Any], d.count == 1, let s = side(d["shortest_edge"]) {
                resize = .shortestEdge(s)
            } else if let d = size as? [String: Any], d.count == 2, let h = side(d["height"]), let w = side(d["width"]) {
                resize = .exact(height: h, width: w)
            } else {
                throw fail("size")
            }
        }
        switch f["resample"].map({ JSONConfigFile.number($0) ?? -1 }) ?? 3 {
        case 3: filter = .bicubic
        case 2: filter = .bilinear
        default: throw fail("resample")
        }
        if try flag("do_center_crop") {
            let size = f["crop_size"] ?? 224
            if let s = side(size) {
                crop = (s, s)
            } else if let d = size as? [String: Any], d.count == 2, let h = side(d["height"]), let w = side(d["width"]) {
                crop = (h, w)
            } else {
                throw fail("crop_size")
            }
        }
        if try flag("do_rescale") {
            if let v = f["rescale_factor"] {
                guard let n = JSONConfigFile.number(v), n.isFinite, n > 0 else { throw fail("rescale_factor") }
                rescaleFactor = n
            }
        } else {
            rescaleFactor = nil
        }
        if try flag("do_normalize") {
            for field in ["image_mean", "image_std"] where f[field] != nil {
                let values = (f[field] as? [Any])?.compactMap { JSONConfigFile.number($0) } ?? []
                guard values.count == 3, (f[field] as? [Any])?.count == 3, values.allSatisfy({ $0.isFinite && abs($0) < 1e6 }),
                      field == "image_mean" || values.allSatisfy({ $0 > 0 }) else { throw fail(field) }
                if field == "image_mean" { mean = values.map { Float($0) } } else { std = values.map { Float($0) } }
            }
        } else {
            (mean, std) = (nil, nil)
        }
    }

    /// The output height and width for an image of `width` x `height`.
    func resizedSize(width: Int, height: Int) -> (height: Int, width: Int) {
        switch resize {
        case nil: return (height, width)
        case .exact(let h, let w): return (h, w)
        case .shortestEdge(let s):
            let short = min(width, height), long = max(width, height)
            let newLong = Int(Double(s) * Double(long) / Double(short))
            return width <= height ? (newLong, s) : (s, newLong)
        }
    }

    /// The encoder input [1, H, W, 3] of an image (H x W the crop size, or the resized size).
    public func callAsFunction(_ image: RGBImage) throws -> Tensor {
        let (h, w) = resizedSize(width: image.width, height: image.height)
        var resized = try ImageResampler.resize(image, width: w, height: h, filter: filter)
        if let crop {
            guard crop.height <= h, crop.width <= w else {
                throw PipelineError.invalidRequest("a \(image.width)x\(image.height) reference resized to \(w)x\(h) is smaller than the "
                    + "\(crop.width)x\(crop.height) crop (padding is not supported)")
            }
            resized = try ImageResampler.centreCrop(resized, width: crop.width, height: crop.height)
        }
        let (scale, mean, std) = (rescaleFactor, mean, std)
        let values = resized.pixels.enumerated().map { i, v -> Float in
            var x = scale.map { Float(Double(v) * $0) } ?? Float(v)
            if let mean, let std { x = (x - mean[i % 3]) / std[i % 3] }
            return x
        }
        return try Tensor(shape: [1, resized.height, resized.width, 3], values: values)
    }
}
