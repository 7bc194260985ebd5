// TorchGenerator against torch.randn values dumped by tools/make_fixtures.py: float32
// bit-equal for every seed and shape, and across a sequence of calls on one generator.

import Foundation
import Testing
import TestSupport
import SafeTensors
@testable import Schedulers
import Tensors


@Suite struct TorchGeneratorTests {
    let file = try! SafetensorsFile(path: TestPaths.fixtures + "/rng.safetensors")

    func ulps(_ a: [Float], _ b: [Float]) -> Int {
        zip(a, b).map { abs(Int($0.bitPattern) - Int($1.bitPattern)) }.max() ?? 0
    }

    @Test(arguments: [0, 1, 42, 123_456_789, 4_294_967_303] as [UInt64])
    func randnIsBitEqualToTorch(seed: UInt64) throws {
        for shape in ["1", "15", "16", "17", "4x16x16", "2x4x16x16"] {
            let expected = try file.tensor("seed\(seed)_\(shape)").scalars
            var g = TorchGenerator(seed: seed)
            let actual = g.randn(count: expected.count)
            #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern), "seed \(seed) shape \(shape): max \(ulps(actual, expected)) ulp apart")
        }
    }

    @Test func sequenceOfCallsContinuesTheStream() throws {
        var g = TorchGenerator(seed: 7)
        for (i, shape) in ["3", "5", "20", "1", "2x4x8x8", "7"].enumerated() {
            let expected = try file.tensor("sequence\(i)_\(shape)").scalars
            let actual = g.randn(count: expected.count)
            #expect(actual.map(\.bitPattern) == expected.map(\.bitPattern), "call \(i) (\(shape)): max \(ulps(actual, expected)) ulp apart")
        }
    }

    @Test func channelsLastNoiseIsTorchNoisePermuted() throws {
        var a = TorchGenerator(seed: 42), b = TorchGenerator(seed: 42)
        let nhwc = try a.randnChannelsLast(batch: 2, channels: 4, height: 16, width: 16)
        let nchw = try Tensor(shape: [2, 4, 16, 16], values: b.randn(count: 2048))
        #expect(nhwc.shape == [2, 16, 16, 4])
        #expect(try nhwc.permuted([0, 3, 1, 2]).scalars == nchw.scalars)
        #expect(nchw.scalars == (try file.tensor("seed42_2x4x16x16").scalars))
    }
}
