// PNG reading and writing through libpng's simplified API (png_image_*), which reports errors
// in png_image.message instead of longjmp-ing through Swift frames.
//
// Reading: 8-bit and 16-bit grey, grey+alpha, RGB, RGBA and palette images are decoded to RGBA
// and alpha-composited on white in sRGB (out = (c a + 255 (255 - a)) / 255, rounded), giving
// RGB. The chunk structure (CRCs, IEND) is checked and the pixel count limited before any
// pixel is decoded. Writing: 8-bit RGB, text chunks spliced in before IEND, files published
// atomically (FileAccess.publish), so a failed write leaves no partial file.

import CPNG
import FileAccess
import Foundation

public enum PNGCodec {
    /// Default pixel-count limit for decoding (4096 x 4096).
    public static let defaultMaximumPixels = 4096 * 4096

    /// Decodes PNG bytes. `file` names the source in errors.
    public static func decode(_ data: [UInt8], maximumPixels: Int = defaultMaximumPixels, file: String = "<memory>") throws -> (image: RGBImage, texts: [PNGTextChunk]) {
        let chunks = try PNGChunks.parse(data, file: file)
        let (w, h) = try PNGChunks.dimensions(data, chunks, file: file)
        guard w > 0, h > 0 else { throw PNGError.corrupt(file: file, reason: "zero width or height") }
        guard w <= maximumPixels, h <= maximumPixels, w * h <= maximumPixels else {
            throw PNGError.tooLarge(file: file, width: w, height: h, limit: maximumPixels)
        }
        var image = png_image()
        image.version = cpng_image_version()
        let ok = data.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
        guard ok != 0 else { throw PNGError.decodeFailed(file: file, reason: message(&image)) }
        image.format = cpng_format_rgba()
        var rgba = [UInt8](repeating: 0, count: Int(image.width) * Int(image.height) * 4)
        let finished = rgba.withUnsafeMutableBytes {
            png_image_finish_read(&image, nil, $0.baseAddress, Int32(image.width) * 4, nil)
        }
        guard finished != 0 else {
            let reason = message(&image)
            png_image_free(&image)
            throw PNGError.decodeFailed(file: file, reason: reason)
        }
        let (width, height) = (Int(image.width), Int(image.height))
        png_image_free(&image)
        var rgb = [UInt8](repeating: 0, count: width * height * 3)
        for p in 0..<(width * height) {
            let a = Int(rgba[4 * p + 3])
            for ch in 0..<3 {
                rgb[3 * p + ch] = UInt8((Int(rgba[4 * p + ch]) * a + 255 * (255 - a) + 127) / 255)
            }
        }
        return (try RGBImage(width: width, height: height, pixels: rgb), PNGChunks.texts(data, chunks))
    }

    /// Largest PNG file read (256 MiB; a 4096 x 4096 RGBA image stored uncompressed is 64 MiB).
    public static let maximumFileBytes = 256 << 20

    /// The bytes of a PNG file: a regular file or a link to one, at most `maximumFileBytes`.
    static func fileBytes(_ path: String) throws -> [UInt8] {
        do {
            return try FileAccess.read(path, limit: maximumFileBytes)
        } catch let e as FileAccessError {
            switch e {
            case .missing: throw PNGError.cannotRead(file: path, reason: "no such file")
            case .notRegularFile(_, let kind): throw PNGError.cannotRead(file: path, reason: "not a regular file (\(kind))")
            default: throw PNGError.cannotRead(file: path, reason: "\(e)")
            }
        }
    }

    /// Reads and decodes a PNG file (symbolic links are followed).
    public static func read(path: String, maximumPixels: Int = defaultMaximumPixels) throws -> (image: RGBImage, texts: [PNGTextChunk]) {
        try decode(fileBytes(path), maximumPixels: maximumPixels, file: path)
    }

    /// Only the text chunks of a PNG file (the chunk structure is still fully checked).
    public static func readTexts(path: String) throws -> [PNGTextChunk] {
        let bytes = try fileBytes(path)
        return PNGChunks.texts(bytes, try PNGChunks.parse(bytes, file: path))
    }

    /// Encodes an RGB image with text chunks.
    public static func encode(_ img: RGBImage, texts: [PNGTextChunk] = []) throws -> [UInt8] {
        var image = png_image()
        image.version = cpng_image_version()
        image.width = UInt32(img.width)
        image.height = UInt32(img.height)
        image.format = cpng_format_rgb()
        var size = 0
        let stride = Int32(img.width * 3)
        var ok = img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, stride, nil) }
        guard ok != 0, size > 0 else { throw PNGError.encodeFailed(reason: message(&image)) }
        var out = [UInt8](repeating: 0, count: size)
        ok = out.withUnsafeMutableBytes { o in
            img.pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, stride, nil) }
        }
        guard ok != 0 else { throw PNGError.encodeFailed(reason: message(&image)) }
        out.removeLast(out.count - size)
        return texts.isEmpty ? out : try PNGChunks.splice(out, texts: texts)
    }

    /// Writes an RGB image atomically: the file appears complete or not at all. Without
    /// `replace` an existing file (also one another process creates meanwhile) is never
    /// replaced (FileAccessError.exists); with it, only a regular file (or a link to one) is.
    public static func write(_ img: RGBImage, to path: String, texts: [PNGTextChunk] = [], replace: Bool = false) throws {
        try FileAccess.publish(encode(img, texts: texts), to: path, replace: replace)
    }

    private static func message(_ image: inout png_image) -> String {
        withUnsafeBytes(of: &image.message) { raw in
            let bytes = raw.prefix { $0 != 0 }
            return bytes.isEmpty ? "unknown libpng error" : String(decoding: bytes, as: UTF8.self)
        }
    }
}
