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
        #expect(p.unetConfiguration.timeCondProjDim == 32)
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

/// The default layout's unet_lcm/: a copy of the fixture model (parts linked) with an LCM UNet
/// made from its UNet plus a guidance projection. LCM requests run it with one evaluation per
/// step; other schedulers keep unet/. With a zero projection it is the plain UNet without the
/// unconditional pass, so its latents equal the fixture model's at guidance 1 bit for bit.
@Suite struct ConsistencyUNetTests {
    /// A model folder like the fixture model with unet_lcm/ (cond_proj filled with `projection`).
    static func folder(projection: Float, extraTensor: Bool = false) throws -> String {
        try TestModels.withConsistencyUNet(projection: projection, extraTensor: extraTensor)
    }

    func request(_ scheduler: SchedulerKind, guidance: Float) -> GenerationRequest {
        var r = GenerationRequest(prompt: "folder icon, papirus style")
        (r.scheduler, r.steps, r.seed, r.guidanceScale) = (scheduler, 4, 11, guidance)
        return r
    }

    /// deferModels builds each UNet when a request first runs it: the same numbers as loading
    /// both at once; a malformed unet_lcm/ fails the eager load, but with deferral only the LCM
    /// requests (every time, naming the tensor) while DDIM requests run.
    @Test func deferredUNetsBuildOnFirstUse() throws {
        let good = try Self.folder(projection: 0.05), broken = try Self.folder(projection: 0.05, extraTensor: true)
        defer { for d in [good, broken] { try? FileManager.default.removeItem(atPath: d) } }
        let eager = try StyleDiffusionPipeline(directory: good)
        let deferred = try StyleDiffusionPipeline(directory: good, deferModels: true)
        #expect(try deferred.consistencyUNetConfiguration?.timeCondProjDim == 8 && deferred.unetConfiguration == eager.unetConfiguration)
        #expect(try deferred.denoise(request(.lcm, guidance: 7)).scalars == eager.denoise(request(.lcm, guidance: 7)).scalars)
        #expect(try deferred.denoise(request(.ddim, guidance: 7)).scalars == eager.denoise(request(.ddim, guidance: 7)).scalars)
        #expect(throws: ModelError.self) { try StyleDiffusionPipeline(directory: broken) }
        let partial = try StyleDiffusionPipeline(directory: broken, deferModels: true)
        #expect(try partial.denoise(request(.ddim, guidance: 7)).scalars == eager.denoise(request(.ddim, guidance: 7)).scalars)
        for _ in 0..<2 {
            do {
                _ = try partial.denoise(request(.lcm, guidance: 7))
                Issue.record("an LCM request on a malformed unet_lcm/ ran")
            } catch let e as ModelError {
                #expect("\(e)".contains("bogus.weight") && "\(e)".contains("unet_lcm"), "\(e)")
            }
        }
    }

    @Test func lcmRequestsRunTheConsistencyUNet() throws {
        let zero = try Self.folder(projection: 0), some = try Self.folder(projection: 0.05)
        defer { for d in [zero, some] { try? FileManager.default.removeItem(atPath: d) } }
        let base = try StyleDiffusionPipeline(directory: TestPaths.fixtureModel)
        let withZero = try StyleDiffusionPipeline(directory: zero), withSome = try StyleDiffusionPipeline(directory: some)
        #expect(try base.consistencyUNet == nil && withSome.consistencyUNet?.configuration.timeCondProjDim == 8)
        // Zero projection: the plain UNet, one conditional pass per step = the base model at guidance 1.
        #expect(try withZero.denoise(request(.lcm, guidance: 7)).scalars == base.denoise(request(.lcm, guidance: 1)).scalars)
        // A real projection: the guidance reaches the UNet, and only LCM requests use unet_lcm.
        let lcm = try withSome.denoise(request(.lcm, guidance: 7))
        #expect(lcm.scalars != (try withZero.denoise(request(.lcm, guidance: 7))).scalars)
        #expect(lcm.scalars != (try withSome.denoise(request(.lcm, guidance: 3))).scalars)
        #expect(try withSome.denoise(request(.ddim, guidance: 7)).scalars == base.denoise(request(.ddim, guidance: 7)).scalars)
    }

    @Test func aConsistencyUNetWithoutGuidanceEmbeddingIsRefused() throws {
        let dir = try Self.folder(projection: 0)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/unet_lcm")
        try FileManager.default.createSymbolicLink(atPath: dir + "/unet_lcm", withDestinationPath: TestPaths.fixtureModel + "/unet")
        #expect(throws: PipelineError.self) { try StyleDiffusionPipeline(directory: dir) }
    }
}
