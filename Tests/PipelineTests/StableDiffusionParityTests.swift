// Stable Diffusion folders against diffusers (tools/make_fixtures.py --only sd): tiny random
// StableDiffusionPipeline folders in the SD 1.x shape (quick_gelu, PNDM, fp16 variants, pad
// <|endoftext|>) and the SD 2.x v-prediction shape (gelu, DDIM v_prediction, per-block heads,
// linear projections, pad "!") with the real CLIP vocabulary. Components within 1e-4 x
// max(1, max |reference|) of transformers / diffusers; whole txt2img and img2img runs with
// DDIM, Euler and PNDM, non-square and default sizes, clip skip: pixels within 1/255 of
// diffusers' StableDiffusionPipeline / StableDiffusionImg2ImgPipeline with the same seed.

import Foundation
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
        #expect(sd15.styleEncoder == nil && sd15.unet.styleAdapter == nil)
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
        let eps = try p.unet(sample, timesteps: [901, 901], context: text)
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
        let latents = try p.denoise(r)
        try expectClose(latents, try Self.outputs.tensor(key + "/latents").permuted([0, 2, 3, 1]), "\(key) latents", tolerance: 1e-3)
        let image = try p.decode(latents)
        let expected = try Self.outputs.tensor(key + "/pixels").permuted([0, 2, 3, 1])
        #expect(image.width == expected.shape[2] && image.height == expected.shape[1])
        let worst = zip(image.pixels, expected.scalars).map { abs(Float($0) / 255 - $1) }.max() ?? 1
        print("\(key): max pixel difference \(worst * 255)/255")
        #expect(worst <= 1.0 / 255, "\(key): pixels differ by \(worst * 255)/255")
    }
}
