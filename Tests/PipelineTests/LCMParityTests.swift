// Latent consistency models against diffusers (tools/make_fixtures.py --only lcm): an
// LCM-Dreamshaper-layout folder (LatentConsistencyModelPipeline, LCMScheduler, an fp16 UNet with
// time_cond_proj_dim; tokenizer, text encoder and VAE of sd15_tiny) at 4 and 2 steps, txt2img
// and img2img, one UNet evaluation per step with the guidance embedding; and sd15_tiny with
// LCMScheduler at guidance 1 (LCM-LoRA's way: no unconditional pass). Final latents within
// 1e-3 x max(1, max |reference|), pixels within 1/255.

import Foundation
import Models
import Testing
@testable import Pipeline
import SafeTensors
import Schedulers
import Tensors
import TestSupport

let lcmCases: [String: PipelineCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/lcm_cases.json") ?? Data()
    return (try? JSONDecoder().decode([String: PipelineCase].self, from: data)) ?? [:]
}()

@Suite(.serialized) struct LCMParityTests {
    static let pipelines = [
        "lcm_tiny": try! StyleDiffusionPipeline(directory: TestPaths.fixtures + "/lcm_tiny"),
        "sd15_tiny": try! StyleDiffusionPipeline(directory: TestPaths.sd15Folder),
    ]
    static let outputs = try! SafetensorsFile(path: TestPaths.fixtures + "/lcm_outputs.safetensors")

    @Test func folderLoadsWithItsScheduler() throws {
        let p = try #require(Self.pipelines["lcm_tiny"])
        #expect(p.layout == .diffusers(pipelineClass: "LatentConsistencyModelPipeline", ignored: ["feature_extractor", "safety_checker"]))
        #expect(p.defaultScheduler == .lcm)
        #expect(p.unet.configuration.timeCondProjDim == 32)
        #expect(p.schedulerConfiguration.originalInferenceSteps == 50 && p.schedulerConfiguration.timestepScaling == 10)
    }

    @Test func casesAreThere() { #expect(lcmCases.count == 4) }

    @Test(arguments: lcmCases.keys.sorted())
    func generationMatchesDiffusers(key: String) throws {
        let c = try #require(lcmCases[key])
        let p = try #require(Self.pipelines[String(key.split(separator: "/")[0])])
        var r = try request(c, images: TestPaths.fixtures)
        r.scheduler = try #require(c.scheduler.flatMap(SchedulerKind.init(rawValue:)))
        try expectDiffusersImage(p, r, key, Self.outputs)
    }

    /// A guidance-embedded UNet runs without the unconditional pass: the negative prompt has no
    /// effect, the guidance scale reaches the UNet through its embedding.
    @Test func guidanceEmbeddedRunIgnoresTheNegativePrompt() throws {
        let p = try #require(Self.pipelines["lcm_tiny"])
        var r = GenerationRequest(prompt: "a cat")
        r.scheduler = .lcm
        r.steps = 4
        r.guidanceScale = 6
        r.seed = 3
        let plain = try p.denoise(r)
        r.negativePrompt = "blurry, ugly"
        #expect(try p.denoise(r).scalars == plain.scalars)
        r.guidanceScale = 2
        #expect(try p.denoise(r).scalars != plain.scalars, "the guidance scale reaches the UNet through its embedding")
    }

    @Test func lcmRefusesTooFewOriginalSteps() throws {
        let p = try #require(Self.pipelines["lcm_tiny"])
        var r = GenerationRequest(prompt: "a cat")
        r.scheduler = .lcm
        r.steps = 51
        #expect(throws: SchedulerError.self) { try p.denoise(r) }
    }
}
