// PNG reading and writing: round trips, alpha compositing on white, text chunks (tEXt and
// UTF-8 iTXt) with CRC-32, and clear errors for corrupt, truncated and oversized files.

import Foundation
import Testing
@testable import PNGIO

@Suite struct PNGCodecTests {
    func gradient(_ w: Int, _ h: Int) throws -> RGBImage {
        var p: [UInt8] = []
        for y in 0..<h { for x in 0..<w { p += [UInt8(x * 255 / max(w - 1, 1)), UInt8(y * 255 / max(h - 1, 1)), UInt8((x + y) % 256)] } }
        return try RGBImage(width: w, height: h, pixels: p)
    }

    @Test func roundTripWithTextChunks() throws {
        let img = try gradient(17, 9)
        let texts = [try PNGTextChunk(keyword: "parameters", text: "folder icon, papirus style\nSteps: 20, Seed: 42"),
                     try PNGTextChunk(keyword: "stylediff", text: #"{"prompt":"c\u00e6t ✓ 猫"}"#)]
        let bytes = try PNGCodec.encode(img, texts: texts)
        let (back, readTexts) = try PNGCodec.decode(bytes)
        #expect(back == img)
        #expect(readTexts == texts)
    }

    @Test func crcMatchesKnownValue() {
        // CRC-32 of "IEND" is 0xAE426082 (every PNG ends with it).
        #expect(PNGChunks.crc32(Array("IEND".utf8)) == 0xAE42_6082)
    }

    @Test func alphaIsCompositedOnWhite() throws {
        // A 2x1 RGBA image written by libpng directly: opaque red and half-transparent black.
        let rgba: [UInt8] = [255, 0, 0, 255, 0, 0, 0, 128]
        let image = try encodeRGBA(rgba, width: 2, height: 1)
        let (decoded, _) = try PNGCodec.decode(image)
        #expect(decoded.pixels == [255, 0, 0, 127, 127, 127])
    }

    @Test func atomicWriteAndFileRead() throws {
        let dir = NSTemporaryDirectory() + "png-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let img = try gradient(8, 8)
        try PNGCodec.write(img, to: dir + "/a.png", texts: [try PNGTextChunk(keyword: "k", text: "v")])
        #expect(try PNGCodec.read(path: dir + "/a.png").image == img)
        #expect(try PNGCodec.readTexts(path: dir + "/a.png") == [try PNGTextChunk(keyword: "k", text: "v")])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["a.png"])
        #expect(throws: (any Error).self) { try PNGCodec.write(img, to: dir + "/missing-folder/b.png") }
        #expect(throws: PNGError.self) { try PNGCodec.read(path: dir + "/absent.png") }
        #expect(throws: PNGError.cannotRead(file: dir, reason: "not a regular file (a folder)")) { try PNGCodec.read(path: dir) }
        #expect(throws: PNGError.cannotRead(file: "/dev/zero", reason: "not a regular file (a character device)")) {
            try PNGCodec.read(path: "/dev/zero")
        }
        // A link to a PNG reads as the PNG.
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.png", withDestinationPath: dir + "/a.png")
        #expect(try PNGCodec.read(path: dir + "/link.png").image == img)
    }

    @Test func corruptTruncatedAndOversizedFilesAreErrors() throws {
        let good = try PNGCodec.encode(try gradient(32, 32))
        #expect(throws: PNGError.notPNG(file: "<memory>")) { try PNGCodec.decode(Array("GIF89a....".utf8)) }
        #expect(throws: PNGError.notPNG(file: "<memory>")) { try PNGCodec.decode([]) }
        // Truncated anywhere, including just before IEND (which libpng alone would accept).
        for cut in [9, 20, 33, good.count / 2, good.count - 12, good.count - 1] {
            #expect(throws: PNGError.self, "cut at \(cut)") { try PNGCodec.decode(Array(good.prefix(cut))) }
        }
        // A flipped bit in the image data fails the CRC check.
        var flipped = good
        flipped[good.count / 2] ^= 0x10
        #expect(throws: PNGError.self) { try PNGCodec.decode(flipped) }
        // Oversized: refused from the header, before decoding.
        #expect(throws: PNGError.tooLarge(file: "<memory>", width: 32, height: 32, limit: 1000)) {
            try PNGCodec.decode(good, maximumPixels: 1000)
        }
        // A huge declared size with a valid CRC is rejected before libpng allocates anything.
        var huge = good
        huge.replaceSubrange(16..<24, with: [0, 1, 0, 0, 0, 1, 0, 0])
        let crc = PNGChunks.crc32(huge[12..<29])
        huge.replaceSubrange(29..<33, with: [UInt8(crc >> 24), UInt8((crc >> 16) & 0xFF), UInt8((crc >> 8) & 0xFF), UInt8(crc & 0xFF)])
        #expect(throws: PNGError.tooLarge(file: "<memory>", width: 65536, height: 65536, limit: PNGCodec.defaultMaximumPixels)) {
            try PNGCodec.decode(huge)
        }
    }

    @Test func invalidKeywordsAndImagesAreRejected() {
        #expect(throws: PNGError.self) { try PNGTextChunk(keyword: "", text: "x") }
        #expect(throws: PNGError.self) { try PNGTextChunk(keyword: String(repeating: "k", count: 80), text: "x") }
        #expect(throws: PNGError.self) { try RGBImage(width: 2, height: 2, pixels: [1, 2, 3]) }
        #expect(throws: PNGError.self) { try RGBImage(width: 0, height: 2, pixels: []) }
    }
}
