// deferModels (one-image commands): the VAE and the style encoder are built when a request
// first runs them, as the UNets are (LCMParityTests.deferredUNetsBuildOnFirstUse).

import Foundation
import Models
import PNGIO
import Pipeline
import Testing
import TestSupport

@Suite struct DeferredLoadingTests {
    func request(decoder: VAEDecoder, styleImage: RGBImage? = nil) -> GenerationRequest {
        var r = GenerationRequest(prompt: "folder icon, papirus style")
        (r.steps, r.seed, r.decoder) = (3, 5, decoder)
        if let styleImage { r.styleImages = [StyleReference(image: styleImage, weight: 1)] }
        return r
    }

    /// A folder whose vae/ and style_encoder/ weights hold a tensor the model does not use fails
    /// the eager load; deferred, it makes text-only images with the tiny decoder (the bytes of
    /// the good folder loaded eagerly: neither part was built), while a full decode or a style
    /// image fails, every time, naming the tensor and the file. On the good folder deferred and
    /// eager loads give the same images for every decoder and with style images.
    @Test func vaeAndStyleEncoderBuildOnFirstUse() throws {
        let good = try TestModels.withTinyVAE(), broken = try TestModels.withTinyVAE(malformed: ["vae", "style_encoder"])
        defer { for d in [good, broken] { try? FileManager.default.removeItem(atPath: d) } }
        let style = try PNGCodec.read(path: TestPaths.defaultModelFixtures + "/image_style.png").image
        let eager = try StyleDiffusionPipeline(directory: good)
        let deferred = try StyleDiffusionPipeline(directory: good, deferModels: true)
        for r in [request(decoder: .tiny), request(decoder: .full), request(decoder: .tiny, styleImage: style)] {
            #expect(try deferred.generate(r) == eager.generate(r))
        }
        #expect(throws: ModelError.self) { try StyleDiffusionPipeline(directory: broken) }
        let partial = try StyleDiffusionPipeline(directory: broken, deferModels: true)
        #expect(partial.vaeConfiguration.latentChannels == eager.vaeConfiguration.latentChannels
            && partial.styleEmbeddingDimension == eager.styleEmbeddingDimension)
        #expect(try partial.generate(request(decoder: .tiny)) == eager.generate(request(decoder: .tiny)))
        for (r, part) in [(request(decoder: .full), "vae"), (request(decoder: .tiny, styleImage: style), "style_encoder")] {
            for _ in 0..<2 {
                do {
                    _ = try partial.generate(r)
                    Issue.record("a request that needs the malformed \(part)/ ran")
                } catch let e as ModelError {
                    #expect("\(e)".contains("bogus.weight") && "\(e)".contains(part), "\(e)")
                }
            }
        }
    }
}
