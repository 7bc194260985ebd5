import CPNG

/// Encodes 8-bit RGBA pixels with libpng's simplified API (to build test inputs with alpha).
func encodeRGBA(_ pixels: [UInt8], width: Int, height: Int) throws -> [UInt8] {
    var image = png_image()
    image.version = cpng_image_version()
    image.width = UInt32(width)
    image.height = UInt32(height)
    image.format = cpng_format_rgba()
    var size = 0
    _ = pixels.withUnsafeBytes { png_image_write_to_memory(&image, nil, &size, 0, $0.baseAddress, Int32(width * 4), nil) }
    var out = [UInt8](repeating: 0, count: size)
    _ = out.withUnsafeMutableBytes { o in
        pixels.withUnsafeBytes { png_image_write_to_memory(&image, o.baseAddress, &size, 0, $0.baseAddress, Int32(width * 4), nil) }
    }
    return Array(out.prefix(size))
}
