// LatentPreview: small images are previewed by the VAE decode itself; the fitted linear
// latent -> RGB map of larger ones beats a flat guess on the shipped VAE and stays in range.

import Foundation
import PNGIO
import Testing
import TestSupport
@testable import Pipeline
import Tensors

struct LatentPreviewTests {
    /// Mean absolute error (0-255) of the preview of `image`'s latents against `image`
    /// averaged over each latent pixel's block.
    func previewError(_ pipeline: StyleDiffusionPipeline, _ image: RGBImage) throws -> (error: Double, side: Int) {
        let preview = try LatentPreview(pipeline: pipeline)
        let latents = try pipeline.scaleLatents(pipeline.vae.encode(ImageResampler.tensor(image)).mean)
        let shown = try preview.image(latents)
        let f = image.width / shown.width
        var total = 0.0
        for y in 0..<shown.height {
            for x in 0..<shown.width {
                for c in 0..<3 {
                    var mean = 0.0
                    for dy in 0..<f { for dx in 0..<f { mean += Double(image.pixels[((y * f + dy) * image.width + x * f + dx) * 3 + c]) } }
                    total += abs(mean / Double(f * f) - Double(shown.pixels[(y * shown.width + x) * 3 + c]))
                }
            }
        }
        return (total / Double(shown.width * shown.height * 3), shown.width)
    }

    /// A 64x64 picture unlike the calibration patches: a diagonal colour gradient.
    var gradient: RGBImage {
        var pixels = [UInt8](repeating: 0, count: 64 * 64 * 3)
        for y in 0..<64 {
            for x in 0..<64 {
                pixels[(y * 64 + x) * 3] = UInt8(x * 4)
                pixels[(y * 64 + x) * 3 + 1] = UInt8(y * 4)
                pixels[(y * 64 + x) * 3 + 2] = UInt8(255 - (x + y) * 2)
            }
        }
        return try! RGBImage(width: 64, height: 64, pixels: pixels)
    }

    @Test func theShippedVAEsPreviewFollowsThePicture() throws {
        let pipeline = try StyleDiffusionPipeline(directory: TestPaths.shippedModel)
        let (error, side) = try previewError(pipeline, gradient)
        #expect(side == 64 / pipeline.vaeConfiguration.downsamplingFactor)
        // This VAE is far from linear in colour (a least-squares fit on the picture itself is
        // off by ~26): the fitted map must still beat a flat grey guess (~57) clearly.
        #expect(error < 48, "mean error \(error)")
    }

    @Test func smallImagesArePreviewedByTheDecode() throws {
        let pipeline = try StyleDiffusionPipeline(directory: TestPaths.shippedModel)
        let preview = try LatentPreview(pipeline: pipeline)
        let latents = try pipeline.scaleLatents(pipeline.vae.encode(ImageResampler.tensor(gradient)).mean)
        #expect(try preview.preview(latents) == (try pipeline.decode(latents)))
        let big = Tensor(zeros: [1, 128, 128, pipeline.vaeConfiguration.latentChannels])
        #expect(try preview.preview(big).width == 128, "512 px and up: the linear map at latent size")
    }

    @Test func aPreviewOfNoiseStaysInRange() throws {
        let pipeline = try StyleDiffusionPipeline(directory: TestPaths.fixtureModel)
        let preview = try LatentPreview(pipeline: pipeline)
        let c = pipeline.vaeConfiguration.latentChannels
        let noise = try Tensor(shape: [1, 8, 8, c], values: (0..<(64 * c)).map { Float(($0 * 7919) % 97) - 48 })
        let image = try preview.image(noise)
        #expect(image.width == 8 && image.height == 8)
        #expect(throws: (any Error).self) { try preview.image(Tensor(zeros: [1, 8, 8, c + 1])) }
    }
}
