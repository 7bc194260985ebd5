// Stable Diffusion folders against diffusers (tools/make_fixtures.py --only sd): tiny random
// StableDiffusionPipeline folders in the SD 1.x shape (quick_gelu, PNDM, fp16 variants, pad
// <|endoftext|>) and the SD 2.x v-prediction shape (gelu, DDIM v_prediction, per-block heads,
// linear projections, pad "!") with the real CLIP vocabulary. Components within 1e-4 x
// max(1, max |reference|) of transformers / diffusers; whole txt2img and img2img runs with
// DDIM, Euler and PNDM, non-square and default sizes, clip skip: pixels within 1/255 of
// diffusers' StableDiffusionPipeline / StableDiffusionImg2ImgPipeline with the same seed.

import Foundation
import Models
import Testing
import PNGIO
@testable import Pipeline
import SafeTensors
import Schedulers
import Tensors
import TestSupport

let stableDiffusionCases: [String: PipelineCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/sd_cases.json") ?? Data()
    return (try? JSONDecoder().decode([String: PipelineCase].self, from: data)) ?? [:]
}()

/// Generates `request` and checks it against diffusers' run `key` in `outputs`: final latents
/// within 1e-3 x max(1, max |reference|), pixels (the same size) within 1/255.
func expectDiffusersImage(_ p: StyleDiffusionPipeline, _ request: GenerationRequest, _ key: String, _ outputs: SafetensorsFile,
                          sourceLocation: SourceLocation = #_sourceLocation) throws {
    let latents = try p.denoise(request)
    try expectClose(latents, try outputs.tensor(key + "/latents").permuted([0, 2, 3, 1]), "\(key) latents", tolerance: 1e-3,
                    sourceLocation: sourceLocation)
    let image = try p.decode(latents)
    let expected = try outputs.tensor(key + "/pixels").permuted([0, 2, 3, 1])
    #expect(image.width == expected.shape[2] && image.height == expected.shape[1], sourceLocation: sourceLocation)
    let worst = zip(image.pixels, expected.scalars).map { abs(Float($0) / 255 - $1) }.max() ?? 1
    print("\(key): max pixel difference \(worst * 255)/255")
    #expect(worst <= 1.0 / 255, "\(key): pixels differ by \(worst * 255)/255", sourceLocation: sourceLocation)
}

@Suite(.serialized) struct StableDiffusionParityTests {
    static let pipelines = [
        "sd15_tiny": try! StyleDiffusionPipeline(directory: TestPaths.sd15Folder),
        "sd2_tiny_v": try! StyleDiffusionPipeline(directory: TestPaths.sd2Folder),
    ]
    static let outputs = try! SafetensorsFile(path: TestPaths.fixtures + "/sd_outputs.safetensors")

    @Test func foldersLoadAsDiffusersLayout() throws {
        let sd15 = try #require(Self.pipelines["sd15_tiny"]), sd2 = try #require(Self.pipelines["sd2_tiny_v"])
        #expect(sd15.layout == .diffusers(pipelineClass: "StableDiffusionPipeline", ignored: ["feature_extractor", "safety_checker"]))
        #expect(sd15.defaultScheduler == .pndm && sd2.defaultScheduler == .ddim)
        #expect(sd15.schedulerConfiguration.predictionType == .epsilon && sd2.schedulerConfiguration.predictionType == .vPrediction)
        #expect(sd15.imageSize == 64 && sd2.imageSize == 96 && sd15.sizeMultiple == 8)
        #expect(sd15.samplingDefaults.guidanceScale == 7.5)
        #expect(try sd15.styleEncoder == nil && sd15.unet.styleAdapter == nil)
    }

    @Test(arguments: ["sd15_tiny", "sd2_tiny_v"])
    func componentsMatchDiffusers(folder: String) throws {
        let p = try #require(Self.pipelines[folder]), o = Self.outputs
        let ids = try o.tensor(folder + "/input_ids").scalars.map { Int32($0) }
        let rows = [Array(ids[0..<77]), Array(ids[77..<154])]
        #expect(try p.tokenizer.ids("a photo of an astronaut riding a horse on mars") == rows[0])
        #expect(try p.tokenizer.ids("") == rows[1], "empty prompt: begin, end, then the folder's pad")
        let text = try p.textEncoder(rows)
        try expectClose(text, try o.tensor(folder + "/text"), "\(folder) text encoder", tolerance: 1e-4)
        try expectClose(try p.textEncoder(rows, clipSkip: 2), try o.tensor(folder + "/text_clip_skip2"), "\(folder) clip skip 2", tolerance: 1e-4)
        let sample = try o.tensor(folder + "/unet_sample").permuted([0, 2, 3, 1])
        let eps = try p.unet.callAsFunction(sample, timesteps: [901, 901], context: text)
        try expectClose(eps, try o.tensor(folder + "/unet_output").permuted([0, 2, 3, 1]), "\(folder) UNet", tolerance: 1e-4)
        let decoded = try p.vae.decode(sample.slicingFirstAxis(0..<1))
        try expectClose(decoded, try o.tensor(folder + "/vae_decoded").permuted([0, 2, 3, 1]), "\(folder) VAE decode", tolerance: 1e-4)
    }

    @Test(arguments: stableDiffusionCases.keys.sorted())
    func generationMatchesDiffusers(key: String) throws {
        let c = try #require(stableDiffusionCases[key])
        let folder = String(key.split(separator: "/")[0])
        let p = try #require(Self.pipelines[folder])
        var r = try request(c, images: TestPaths.fixtures)
        r.scheduler = c.scheduler.flatMap(SchedulerKind.init(rawValue:)) ?? p.defaultScheduler
        try expectDiffusersImage(p, r, key, Self.outputs)
    }
}

let ipAdapterCases: [String: PipelineCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/sd_ip_cases.json") ?? Data()
    return (try? JSONDecoder().decode([String: PipelineCase].self, from: data)) ?? [:]
}()

/// The public IP-Adapter on the SD 1.x fixture against diffusers' load_ip_adapter
/// (tools/make_fixtures.py --only ip_adapter): CLIPImageProcessor's pixels, the CLIP image
/// encoder's image_embeds and the UNet with IP attention within 1e-4; txt2img, img2img and
/// per-block scales within 1/255.
@Suite(.serialized) struct IPAdapterParityTests {
    static let pipeline = try! StyleDiffusionPipeline(directory: TestPaths.sd15Folder, ipAdapter: TestPaths.ipAdapterFolder)
    static let outputs = try! SafetensorsFile(path: TestPaths.fixtures + "/sd_ip_outputs.safetensors")

    @Test func imageEncoderAndUNetMatchDiffusers() throws {
        let p = Self.pipeline, o = Self.outputs
        guard case .clip(let model, let preprocess) = try #require(try p.styleImageEncoder) else {
            Issue.record("the IP-Adapter's CLIP image encoder is not loaded")
            return
        }
        let style = try PNGCodec.read(path: TestPaths.fixtures + "/sd_style.png").image
        let pixels = try preprocess(style)
        try expectClose(pixels, try o.tensor("ip/pixel_values").permuted([0, 2, 3, 1]), "CLIPImageProcessor pixels", tolerance: 1e-5)
        let embeds = try model(pixels)
        try expectClose(embeds, try o.tensor("ip/image_embeds"), "image_embeds", tolerance: 1e-4)
        let unet = try p.unet
        let adapter = try #require(unet.styleAdapter)
        let text = try p.encodePrompt("a cat")
        let eps = try unet(o.tensor("ip/unet_sample").permuted([0, 2, 3, 1]), timesteps: [701],
                             conditioning: CrossAttentionContext(text: text, style: adapter.tokens(embeds), styleScale: 0.7))
        try expectClose(eps, try o.tensor("ip/unet_output").permuted([0, 2, 3, 1]), "UNet with IP attention", tolerance: 1e-4)
    }

    @Test(arguments: ipAdapterCases.keys.sorted())
    func generationMatchesDiffusers(key: String) throws {
        let c = try #require(ipAdapterCases[key])
        let p = Self.pipeline
        var r = try request(c, images: TestPaths.fixtures)
        r.scheduler = c.scheduler.flatMap(SchedulerKind.init(rawValue:)) ?? p.defaultScheduler
        try expectDiffusersImage(p, r, key, Self.outputs)
    }

    @Test func styleBlockScalesExpandAsDiffusers() throws {
        let unet = try Self.pipeline.unet
        // The fixture UNet: down_blocks.0 has one attention module, up_blocks.1 two, and the mid block one.
        #expect(try StyleBlockScales(json: #"{"up": {"block_1": [0.0, 1.0]}}"#).layerScales(for: unet)
                == ["up_blocks.1.attentions.1": 1, "up_blocks.1.attentions.0": 0])
        #expect(try StyleBlockScales(json: #"{"down": 0.5, "mid": [2]}"#).layerScales(for: unet)
                == ["down_blocks.0.attentions.0": 0.5, "mid_block.attentions.0": 2])
        #expect(try StyleBlockScales(json: #"{"up": {"block_1": 3}}"#).layerScales(for: unet)
                == ["up_blocks.1.attentions.0": 3, "up_blocks.1.attentions.1": 3])
        for bad in [#"{"up": {"block_0": 1}}"#, #"{"up": {"block_1": [1, 2, 3]}}"#, #"{"left": 1}"#, #"[1]"#, #"{"mid": [1, 2]}"#,
                    #"{"up": {"block_1": "x"}}"#, #"{"down": 1e9}"#] {
            #expect(throws: PipelineError.self, "\(bad)") { try StyleBlockScales(json: bad).layerScales(for: unet) }
        }
    }
}
