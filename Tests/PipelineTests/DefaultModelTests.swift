// Parity with PyTorch on the shipped default model (Weights/default), fixtures from
// tools/make_fixtures.py --only default_model: tokenizer ids equal; text encoder, style
// encoder, UNet with style tokens and VAE within 1e-4 x max(1, max |reference|); 20-step DDIM
// pipeline latents within 1e-3 relative and pixels within 2/255 for txt2img, image style,
// blended styles, img2img, a style preset at strength 1.5 and two style images snapped to the
// presets.

import Foundation
import Testing
import Models
import PNGIO
@testable import Pipeline
import SafeTensors
import Tensors

let shippedModel = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Weights/default").path
let defaultFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/default_model").path
let promptImages = URL(fileURLWithPath: shippedModel).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Prompts/images").path

struct DefaultModelFixture: Decodable {
    var cases: [String: PipelineCase]
    var token_ids: [String: [Int32]]
}

func expectRelative(_ actual: Tensor, _ expected: Tensor, _ tolerance: Float, _ what: String) throws {
    #expect(actual.shape == expected.shape, "\(what) shape")
    let diff = try actual.maxAbsoluteDifference(expected), bound = tolerance * max(1, expected.maxAbsolute)
    print("\(what): max difference \(diff) (bound \(bound))")
    #expect(diff <= bound, "\(what): \(diff) > \(bound)")
}

@Suite(.serialized) struct DefaultModelTests {
    static let pipeline = try! StyleDiffusionPipeline(directory: shippedModel)
    static let fixture = try! JSONDecoder().decode(DefaultModelFixture.self, from: Data(contentsOf: URL(fileURLWithPath: defaultFixtures + "/cases.json")))
    static let outputs = try! SafetensorsFile(path: defaultFixtures + "/outputs.safetensors")

    @Test func tokenizerIdsEqualSentencePiece() throws {
        for (prompt, ids) in Self.fixture.token_ids {
            #expect(try Self.pipeline.tokenizer.ids(prompt) == ids, "'\(prompt)'")
        }
    }

    @Test func componentsMatchPyTorch() throws {
        let p = Self.pipeline, o = Self.outputs
        let ids = Self.fixture.token_ids
        let text = try p.textEncoder([try #require(ids["folder icon, papirus style"]), try #require(ids[""])])
        try expectRelative(text, try o.tensor("text_encoder"), 1e-4, "text encoder")
        let reference = try PNGCodec.read(path: promptImages + "/tango-desktop.png").image
        let embedding = try p.styleEncoder.embed(ImageResampler.tensor(reference))
        try expectRelative(embedding, try o.tensor("style_embedding"), 1e-4, "style encoder")
        let adapter = try #require(p.unet.styleAdapter)
        let style = try Tensor.concatenateFirstAxis([adapter.tokens(Tensor(zeros: embedding.shape)), adapter.tokens(embedding)])
        let latents = try o.tensor("unet_input").permuted([0, 2, 3, 1])
        let eps = try p.unet(latents, timesteps: [500, 500], conditioning: CrossAttentionContext(text: text, style: style, styleScale: 0.7))
        try expectRelative(eps, try o.tensor("unet_output").permuted([0, 2, 3, 1]), 1e-4, "UNet with style")
        let decoded = try p.vae.decode(latents.slicingFirstAxis(0..<1).mapElements { $0 / p.vae.configuration.scalingFactor })
        try expectRelative(decoded, try o.tensor("vae_decoded").permuted([0, 2, 3, 1]), 1e-4, "VAE decode")
    }

    @Test(arguments: ["txt2img", "image_style", "blend", "img2img", "preset", "snap"])
    func pipelineMatchesReferenceSampler(name: String) throws {
        let c = try #require(Self.fixture.cases[name])
        var r = GenerationRequest(prompt: c.prompt)
        let weights = c.style_weights ?? Array(repeating: 1, count: c.style_images?.count ?? 0)
        r.styleImages = try zip(c.style_images ?? [], weights).map {
            StyleReference(image: try PNGCodec.read(path: promptImages + "/\($0).png").image, weight: $1)
        }
        r.blend = StyleBlend(rawValue: c.blend ?? "linear")!
        r.stylePreset = c.style_preset
        r.styleStrength = c.style_strength ?? 1
        r.styleSnap = c.style_snap ?? 0
        r.seed = c.seed
        if let i = c.init_image { r.initImage = try PNGCodec.read(path: promptImages + "/\(i).png").image }
        r.strength = c.strength ?? 0.6
        let latents = try Self.pipeline.denoise(r)
        try expectRelative(latents, try Self.outputs.tensor(name + "_latents").permuted([0, 2, 3, 1]), 1e-3, "\(name) latents")
        let image = try Self.pipeline.decode(latents)
        let expected = try PNGCodec.read(path: defaultFixtures + "/\(name).png").image
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
        #expect(preset.shape == [1, Self.pipeline.styleEncoder.configuration.embedDim] && preset.maxAbsolute > 0)
        r.styleImages = [StyleReference(image: try PNGCodec.read(path: promptImages + "/tango-desktop.png").image)]
        #expect(try Self.pipeline.styleEmbedding(for: r).maxAbsoluteDifference(preset) > 0, "style images take precedence")
    }
}
