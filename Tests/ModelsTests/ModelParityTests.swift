// Parity with diffusers on the tiny fixture models written by tools/make_fixtures.py:
// max |swift - diffusers| <= 1e-4 x max(1, max |diffusers|), the difference printed.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Schedulers
import Tensors


/// NCHW (PyTorch) -> NHWC.
func nhwc(_ t: Tensor) throws -> Tensor { try t.permuted([0, 2, 3, 1]) }


@Suite struct ModelParityTests {
    @Test(arguments: ["unet_conv_int", "unet_linear_list_f16", "unet_time_cond"])
    func unetMatchesDiffusers(variant: String) throws {
        let folder = TestPaths.fixtures + "/" + variant
        let unet = try UNet2DConditionModel(directory: folder)
        let io = try SafetensorsFile(path: folder + "/io.safetensors")
        let sample = try nhwc(io.tensor("sample"))
        let context = try io.tensor("encoder_hidden_states")
        for t in [981, 1] {
            let out = try unet(sample, timesteps: [Float(t), Float(t)], context: context)
            try expectClose(out, try nhwc(io.tensor("output_t\(t)")), "\(variant) t=\(t)")
        }
    }

    /// --weights f16 on a UNet: an F32 file's output moves by the rounding of its weights (within
    /// 1e-2 of diffusers' fp32 output, relative to its largest value, and not equal to the stored
    /// weights' bytes), the same bytes at 1 and 3 threads; an F16 file's is the stored one's.
    @Test func unetWithF16PrecisionRoundsOnlyFloatFiles() throws {
        defer { Parallelism.setThreadCount(0) }
        for (variant, fromHalves) in [("unet_conv_int", false), ("unet_linear_list_f16", true)] {
            let folder = TestPaths.fixtures + "/" + variant
            let stored = try UNet2DConditionModel(directory: folder)
            let f16 = try UNet2DConditionModel(directory: folder, precision: .f16)
            let io = try SafetensorsFile(path: folder + "/io.safetensors")
            let sample = try nhwc(io.tensor("sample")), context = try io.tensor("encoder_hidden_states")
            let expected = try stored(sample, timesteps: [981, 981], context: context)
            var outputs: [Tensor] = []
            for threads in [1, 3] {
                Parallelism.setThreadCount(threads)
                outputs.append(try f16(sample, timesteps: [981, 981], context: context))
            }
            #expect(outputs[0].scalars == outputs[1].scalars, "\(variant): 1 and 3 threads differ")
            if fromHalves {
                #expect(outputs[0].scalars == expected.scalars, "\(variant): f16 of halves is not the stored weights")
            } else {
                #expect(outputs[0].scalars != expected.scalars, "\(variant): nothing was rounded")
                try expectClose(outputs[0], try nhwc(io.tensor("output_t981")), "\(variant) f16", tolerance: 1e-2)
            }
        }
    }

    /// LCM's guidance embedding (time_cond_proj_dim): the w embedding as the LCM pipelines
    /// compute it, and the UNet with it as timestep_cond.
    @Test func unetWithGuidanceEmbeddingMatchesDiffusers() throws {
        let folder = TestPaths.fixtures + "/unet_time_cond"
        let unet = try UNet2DConditionModel(directory: folder)
        let io = try SafetensorsFile(path: folder + "/io.safetensors")
        let width = try #require(unet.configuration.timeCondProjDim)
        let condition = try Tensor.guidanceScaleEmbedding(io.tensor("guidance_w").scalars, dimension: width)
        try expectClose(condition, try io.tensor("timestep_cond"), "guidance embedding")
        let sample = try nhwc(io.tensor("sample"))
        let context = try io.tensor("encoder_hidden_states")
        for t in [981, 1] {
            let out = try unet(sample, timesteps: [Float(t), Float(t)], conditioning: CrossAttentionContext(text: context),
                               timestepCondition: condition)
            try expectClose(out, try nhwc(io.tensor("output_cond_t\(t)")), "time_cond t=\(t)")
        }
        #expect(throws: ModelError.self) {
            try unet(sample, timesteps: [1, 1], conditioning: CrossAttentionContext(text: context),
                     timestepCondition: Tensor(zeros: [2, width + 1]))
        }
    }

    /// AutoencoderTiny's decoder (the encoder's tensors in the file are skipped); the latents
    /// reach the tanh clamp (|z| up to ~10).
    @Test func tinyVAEDecoderMatchesDiffusers() throws {
        let folder = TestPaths.fixtures + "/vae_tiny"
        let vae = try AutoencoderTiny(directory: folder)
        #expect(vae.upsamplingFactor == 4)
        let io = try SafetensorsFile(path: folder + "/io.safetensors")
        let decoded = try vae.decode(try nhwc(io.tensor("latent")))
        try expectClose(decoded, try nhwc(io.tensor("decoded")), "vae_tiny decode")
    }

    @Test(arguments: ["vae_attention", "vae_plain_f16"])
    func vaeMatchesDiffusers(variant: String) throws {
        let folder = TestPaths.fixtures + "/" + variant
        let vae = try AutoencoderKL(directory: folder)
        let io = try SafetensorsFile(path: folder + "/io.safetensors")
        let dist = try vae.encode(try nhwc(io.tensor("image")))
        try expectClose(dist.mean, try nhwc(io.tensor("mean")), "\(variant) encode mean")
        try expectClose(dist.logVariance, try nhwc(io.tensor("logvar")), "\(variant) encode logvar")
        let decoded = try vae.decode(try nhwc(io.tensor("latent")))
        try expectClose(decoded, try nhwc(io.tensor("decoded")), "\(variant) decode")
        // latent_dist.sample(generator=torch.Generator("cpu").manual_seed(7))
        var generator = TorchGenerator(seed: 7)
        let s = dist.mean.shape
        let noise = try generator.randnChannelsLast(batch: s[0], channels: s[3], height: s[1], width: s[2])
        try expectClose(try dist.sample(noise: noise), try nhwc(io.tensor("sample_seed7")), "\(variant) seeded sample")
    }
}
