// Winograd F(2x2, 3x3): the shapes it takes match the direct reference convolution (Double
// accumulation) within 1e-4 of the output scale, odd sizes and batches included, and give the
// same bytes at 1, 2 and 4 threads; the shapes it leaves to im2col are the small ones.

import Testing
import TestSupport
@testable import Tensors

@Suite(.serialized) struct WinogradTests {
    @Test(arguments: [([1, 32, 64, 128], 128, true), ([1, 45, 47, 128], 136, false)])
    func matchesTheReferenceConvolution(shape: [Int], cout: Int, withBias: Bool) throws {
        let x = randomTensor(shape, seed: 11)
        let weight = randomTensor([cout, shape[3], 3, 3], seed: 12, range: -0.05...0.05)
        let bias = withBias ? randomTensor([cout], seed: 13) : nil
        #expect(Tensor.winogradApplies(kernel: 3, stride: 1, padding: (1, 1, 1, 1), outputPixels: shape[1] * shape[2], cin: shape[3], cout: cout))
        let fast = try x.conv2d(packedWeight: Tensor.packConvolutionWeight(weight), bias: bias, stride: 1, padding: 1)
        let reference = Reference.conv2d(x, weight: weight, bias: bias, stride: 1, padding: 1)
        #expect(fast.shape == reference.shape)
        let scale = (0..<reference.count).reduce(Float(0)) { max($0, abs(reference.pointer[$1])) }
        let worst = (0..<reference.count).reduce(Float(0)) { max($0, abs(fast.pointer[$1] - reference.pointer[$1])) }
        #expect(worst <= 1e-4 * scale, "max error \(worst) against output scale \(scale)")
    }

    @Test func sameBytesAtEveryThreadCount() throws {
        defer { Parallelism.setThreadCount(0) }
        let x = randomTensor([2, 40, 40, 128], seed: 21)
        let weight = try Tensor.packConvolutionWeight(randomTensor([256, 128, 3, 3], seed: 22, range: -0.05...0.05))
        let bias = randomTensor([256], seed: 23)
        var results: [[UInt32]] = []
        for threads in [1, 2, 4] {
            Parallelism.setThreadCount(threads)
            results.append(bytes(try x.conv2d(packedWeight: weight, bias: bias, stride: 1, padding: 1)))
        }
        #expect(results[1] == results[0] && results[2] == results[0])
    }

    @Test func smallMapsAndFewChannelsKeepIm2col() {
        let padding = (top: 1, left: 1, bottom: 1, right: 1)
        #expect(!Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 16 * 16, cin: 1280, cout: 1280))
        #expect(!Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 64 * 64, cin: 32, cout: 32))
        #expect(!Tensor.winogradApplies(kernel: 3, stride: 2, padding: padding, outputPixels: 64 * 64, cin: 320, cout: 320))
        #expect(!Tensor.winogradApplies(kernel: 1, stride: 1, padding: (0, 0, 0, 0), outputPixels: 64 * 64, cin: 320, cout: 320))
        #expect(!Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 32 * 32, cin: 128, cout: 128),
                "the default model's VAE upsampler keeps its bits")
        #expect(Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 64 * 64, cin: 320, cout: 320))
        #expect(Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 32 * 32, cin: 640, cout: 640))
        #expect(Tensor.winogradApplies(kernel: 3, stride: 1, padding: padding, outputPixels: 512 * 512, cin: 128, cout: 128))
    }
}
