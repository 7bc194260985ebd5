// Conv2d's Winograd filters: which calls keep them, and the same bytes kept or made per call.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct Conv2dTests {
    /// The rule: small filters (up to 1M floats) always; up to 20M floats (SD's 320-1920 ->
    /// 320-640 layers) for calls of fewer than 512 tiles; larger filters (1280 -> 1280) never.
    @Test func filtersAreKeptForSmallLayersAndFewTiles() {
        #expect(Conv2d.keepsWinogradFilters(inChannels: 256, outChannels: 256, tiles: 100_000))
        #expect(Conv2d.keepsWinogradFilters(inChannels: 320, outChannels: 320, tiles: 511))
        #expect(!Conv2d.keepsWinogradFilters(inChannels: 320, outChannels: 320, tiles: 512))
        #expect(Conv2d.keepsWinogradFilters(inChannels: 1920, outChannels: 640, tiles: 32))
        #expect(!Conv2d.keepsWinogradFilters(inChannels: 1280, outChannels: 1280, tiles: 32))
    }

    /// A 320-channel layer: a call of 32 tiles (8x8, two images) keeps the filters and runs
    /// Winograd with them; a fresh layer's call of 512 tiles (32x32) transforms them per call and
    /// keeps nothing; both the bytes of conv2d with the filters made for the call.
    @Test func keptAndPerCallFiltersGiveTheSameBytes() throws {
        let path = NSTemporaryDirectory() + "conv2d-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafetensorsWriter.write([("conv.weight", randomTensor([320, 320, 3, 3], seed: 1, range: -0.02...0.02)),
                                     ("conv.bias", randomTensor([320], seed: 2))], to: path)
        for (side, keeps) in [(8, true), (32, false)] {
            let conv = try Conv2d(try WeightStore(path: path), "conv", inChannels: 320, outChannels: 320, kernel: 3)
            let x = randomTensor([2, side, side, 320], seed: 3)
            let y = try conv(x)
            #expect(conv.winograd?.isFilled == keeps, "\(side)x\(side)")
            let expected = try x.conv2d(weight: conv.weight, kernel: 3, bias: conv.bias, stride: 1, padding: (1, 1, 1, 1),
                                        winograd: try WinogradFilters(weight: conv.weight), algorithm: .winograd)
            let same = bytes(y) == bytes(expected)
            #expect(same, "\(side)x\(side): not the Winograd bytes")
        }
    }
}
