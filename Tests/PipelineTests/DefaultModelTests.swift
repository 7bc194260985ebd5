// Parity with PyTorch on the shipped default model (Weights/default), fixtures from
// tools/make_fixtures.py --only default_model: tokenizer ids equal; text encoder, style
// encoder, UNet with style tokens and VAE within 1e-4 x max(1, max |reference|); 20-step DDIM
// pipeline latents within 1e-3 relative and pixels within 2/255 for txt2img, image style,
// blended styles, img2img, a style preset at strength 1.5 and two style images snapped to the
// presets.

import Foundation
import Testing
import TestSupport
import Models
import PNGIO
@testable import Pipeline
import SafeTensors
import Schedulers
import Tensors

struct DefaultModelFixture: Decodable {
    var cases: [String: PipelineCase]
    var token_ids: [String: [Int32]]
}


@Suite(.serialized) struct DefaultModelTests {
    static let pipeline = try! StyleDiffusionPipeline(directory: TestPaths.shippedModel)
    static let fixture = try! JSONDecoder().decode(DefaultModelFixture.self, from: Data(contentsOf: URL(fileURLWithPath: TestPaths.defaultModelFixtures + "/cases.json")))
    static let outputs = try! SafetensorsFile(path: TestPaths.defaultModelFixtures + "/outputs.safetensors")

    @Test func tokenizerIdsEqualSentencePiece() throws {
        for (prompt, ids) in Self.fixture.token_ids {
            #expect(try Self.pipeline.tokenizer.ids(prompt) == ids, "'\(prompt)'")
        }
    }

    @Test func componentsMatchPyTorch() throws {
        let p = Self.pipeline, o = Self.outputs
        let ids = Self.fixture.token_ids
        let text = try p.textEncoder([try #require(ids["folder icon, papirus style"]), try #require(ids[""])])
        try expectClose(text, try o.tensor("text_encoder"), "text encoder", tolerance: 1e-4)
        let reference = try PNGCodec.read(path: TestPaths.promptImages + "/tango-desktop.png").image
        let embedding = try #require(try p.styleEncoder).embed(ImageResampler.tensor(reference))
        try expectClose(embedding, try o.tensor("style_embedding"), "style encoder", tolerance: 1e-4)
        let unet = try p.unet
        let adapter = try #require(unet.styleAdapter)
        let style = try Tensor.concatenateFirstAxis([adapter.tokens(Tensor(zeros: embedding.shape)), adapter.tokens(embedding)])
        let latents = try o.tensor("unet_input").permuted([0, 2, 3, 1])
        let eps = try unet(latents, timesteps: [500, 500], conditioning: CrossAttentionContext(text: text, style: style, styleScale: 0.7))
        try expectClose(eps, try o.tensor("unet_output").permuted([0, 2, 3, 1]), "UNet with style", tolerance: 1e-4)
        let decoded = try p.vae.decode(latents.slicingFirstAxis(0..<1).mapElements { $0 / p.vaeConfiguration.scalingFactor })
        try expectClose(decoded, try o.tensor("vae_decoded").permuted([0, 2, 3, 1]), "VAE decode", tolerance: 1e-4)
    }

    /// A context keeps each layer's keys and values of its text and style tokens for the next
    /// evaluation (a request's steps): evaluations that reuse them give the bytes of fresh
    /// contexts, and another UNet given the same context makes its own (unet/ and unet_lcm/
    /// have the same layer names).
    @Test func contextKeysAndValuesServeOnlyTheirLayers() throws {
        let p = Self.pipeline
        let unet = try p.unet, lcm = try #require(try p.consistencyUNet)
        let text = try p.encodePrompt("folder icon, papirus style")
        let adapter = try #require(unet.styleAdapter)
        var generator = TorchGenerator(seed: 7)
        let e = try #require(p.styleEmbeddingDimension)
        let style = try adapter.tokens(Tensor(shape: [1, e], values: generator.randn(count: e)))
        let latents = try generator.randnChannelsLast(batch: 1, channels: 4, height: 16, width: 16)
        let w = try Tensor.guidanceScaleEmbedding([7], dimension: try #require(lcm.configuration.timeCondProjDim))
        func fresh() -> CrossAttentionContext { CrossAttentionContext(text: text, style: style, styleScale: 0.7) }
        let shared = fresh()
        let outputs = [try unet(latents, timesteps: [500], conditioning: shared),
                       try unet(latents, timesteps: [700], conditioning: shared),
                       try lcm(latents, timesteps: [500], conditioning: shared, timestepCondition: w)]
        let expected = [try unet(latents, timesteps: [500], conditioning: fresh()),
                        try unet(latents, timesteps: [700], conditioning: fresh()),
                        try lcm(latents, timesteps: [500], conditioning: fresh(), timestepCondition: w)]
        for (i, (a, b)) in zip(outputs, expected).enumerated() {
            let same = a.scalars == b.scalars
            #expect(same, "evaluation \(i)")
        }
        let lcmDiffers = outputs[0].scalars != outputs[2].scalars
        #expect(lcmDiffers)
    }

    /// A repeated prompt reuses its encoding (the values the text encoder gives it), the last
    /// eight are kept, no prompt is answered with another's, and clip skip is part of the key.
    @Test func promptEncodingsAreKeptPerPromptAndClipSkip() throws {
        let p = try StyleDiffusionPipeline(directory: TestPaths.shippedModel, deferModels: true)
        let prompts = (0..<10).map { "icon number \($0), papirus style" }
        let first = try prompts.map { try p.encodePrompt($0).scalars }
        #expect(p.promptEncodings.count == 8)
        for (q, f) in zip(prompts, first) {
            let direct = try p.textEncoder([p.tokenizer.ids(q)]).scalars
            #expect(f == direct, "\(q)")
        }
        for (q, f) in zip(prompts, first).reversed() {
            let again = try p.encodePrompt(q).scalars
            #expect(again == f, "\(q) again")
        }
        let skipped = try p.encodePrompt(prompts[0], clipSkip: 2).scalars
        #expect(skipped != first[0])
    }

    @Test(arguments: ["txt2img", "image_style", "blend", "img2img", "preset", "snap"])
    func pipelineMatchesReferenceSampler(name: String) throws {
        let c = try #require(Self.fixture.cases[name])
        let r = try request(c, images: TestPaths.promptImages)
        let latents = try Self.pipeline.denoise(r)
        try expectClose(latents, try Self.outputs.tensor(name + "_latents").permuted([0, 2, 3, 1]), "\(name) latents", tolerance: 1e-3)
        let image = try Self.pipeline.decode(latents)
        let expected = try PNGCodec.read(path: TestPaths.defaultModelFixtures + "/\(name).png").image
        let worst = zip(image.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }.max() ?? 255
        print("\(name): max pixel difference \(worst)/255")
        #expect(worst <= 2)
    }

    @Test func stylePresetErrorsAreRequestErrors() throws {
        var r = GenerationRequest(prompt: "folder icon, watercolour style")
        r.stylePreset = "watercolour"
        #expect(throws: PipelineError.self) { try Self.pipeline.styleEmbedding(for: r) }
        r.stylePreset = "papirus"
        let preset = try Self.pipeline.styleEmbedding(for: r)
        #expect(preset.shape == [1, try #require(try Self.pipeline.styleEncoder).configuration.embedDim] && preset.maxAbsolute > 0)
        r.styleImages = [StyleReference(image: try PNGCodec.read(path: TestPaths.promptImages + "/tango-desktop.png").image)]
        #expect(try Self.pipeline.styleEmbedding(for: r).maxAbsoluteDifference(preset) > 0, "style images take precedence")
    }
}
