// An 8-bit RGB image, rows top to bottom, pixels interleaved R, G, B.

import Foundation

public struct RGBImage: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// width * height * 3 bytes.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) throws {
        guard width > 0, height > 0, pixels.count == width * height * 3 else {
            throw PNGError.invalidImage(reason: "\(width)x\(height) RGB needs \(max(0, width * height * 3)) bytes, got \(pixels.count)")
        }
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A solid-colour image.
    public init(width: Int, height: Int, red: UInt8, green: UInt8, blue: UInt8) throws {
        var p = [UInt8](repeating: 0, count: max(0, width * height * 3))
        for i in stride(from: 0, to: p.count, by: 3) { p[i] = red; p[i + 1] = green; p[i + 2] = blue }
        try self.init(width: width, height: height, pixels: p)
    }
}

extension RGBImage {
    /// Peak signal-to-noise ratio against `other` in dB (peak 255): 10 log10(255^2 / MSE) over
    /// every channel; infinity for identical pixels, nil when the sizes differ.
    public func peakSignalToNoiseRatio(to other: RGBImage) -> Double? {
        guard width == other.width, height == other.height else { return nil }
        var squares = 0.0
        for (a, b) in zip(pixels, other.pixels) {
            let d = Double(a) - Double(b)
            squares += d * d
        }
        let mse = squares / Double(pixels.count)
        return mse == 0 ? .infinity : 10 * log10(255 * 255 / mse)
    }
}
