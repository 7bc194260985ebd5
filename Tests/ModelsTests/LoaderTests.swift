// The strict loader: a missing, renamed, reshaped or extra tensor, and unsupported or
// malformed configuration fields, are errors naming the tensor or field.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct LoaderTests {
    let folder = NSTemporaryDirectory() + "loader-\(UUID().uuidString)"

    /// A copy of a fixture model with its weights edited and its config patched.
    func variant(_ fixture: String, edit: (inout [(String, Tensor)]) throws -> Void = { _ in },
                 config patch: [String: Any] = [:]) throws -> String {
        let source = TestPaths.fixtures + "/" + fixture
        let dir = folder + "/" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let file = try SafetensorsFile(path: source + "/diffusion_pytorch_model.safetensors")
        var tensors = try file.names.map { ($0, try file.tensor($0)) }
        try edit(&tensors)
        try SafetensorsWriter.write(tensors, to: dir + "/diffusion_pytorch_model.safetensors")
        var config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: source + "/config.json"))) as! [String: Any]
        for (k, v) in patch { config[k] = v }
        try JSONSerialization.data(withJSONObject: config).write(to: URL(fileURLWithPath: dir + "/config.json"))
        return dir
    }

    func cleanup() { try? FileManager.default.removeItem(atPath: folder) }

    @Test func tensorEditsAreErrors() throws {
        defer { cleanup() }
        let name = "decoder.mid_block.attentions.0.to_q.weight"
        let removed = try variant("vae_attention") { $0.removeAll { $0.0 == name } }
        #expect(throws: ModelError.missingTensor(file: removed + "/diffusion_pytorch_model.safetensors", tensor: name, expectedShape: [32, 32])) {
            try AutoencoderKL(directory: removed)
        }
        let renamed = try variant("vae_attention") { ts in
            ts = ts.map { ($0.0 == name ? "decoder.mid_block.attentions.0.query.weight" : $0.0, $0.1) }
        }
        #expect(throws: ModelError.missingTensor(file: renamed + "/diffusion_pytorch_model.safetensors", tensor: name, expectedShape: [32, 32])) {
            try AutoencoderKL(directory: renamed)
        }
        let reshaped = try variant("vae_attention") { ts in
            ts = try ts.map { ($0.0, $0.0 == name ? try $0.1.reshaped([16, 64]) : $0.1) }
        }
        #expect(throws: ModelError.tensorShapeMismatch(file: reshaped + "/diffusion_pytorch_model.safetensors", tensor: name, expected: [32, 32], actual: [16, 64])) {
            try AutoencoderKL(directory: reshaped)
        }
        let extra = try variant("vae_attention") { $0.append(("decoder.extra.weight", Tensor(zeros: [3]))) }
        #expect(throws: ModelError.unexpectedTensors(file: extra + "/diffusion_pytorch_model.safetensors", tensors: ["decoder.extra.weight"])) {
            try AutoencoderKL(directory: extra)
        }
        let unetMissing = try variant("unet_conv_int") { $0.removeAll { $0.0 == "up_blocks.1.attentions.1.proj_out.bias" } }
        #expect(throws: ModelError.self) { try UNet2DConditionModel(directory: unetMissing) }
    }

    @Test func configurationErrorsNameTheField() throws {
        defer { cleanup() }
        let shift = try variant("unet_conv_int", config: ["resnet_time_scale_shift": "scale_shift"])
        #expect(throws: ModelError.unsupportedConfiguration(file: shift + "/config.json", field: "resnet_time_scale_shift", value: "\"scale_shift\"")) {
            try UNet2DConditionModel(directory: shift)
        }
        let unknown = try variant("unet_conv_int", config: ["fancy_new_option": 3])
        #expect(throws: ModelError.unsupportedConfiguration(file: unknown + "/config.json", field: "fancy_new_option", value: "3")) {
            try UNet2DConditionModel(directory: unknown)
        }
        let block = try variant("unet_conv_int", config: ["down_block_types": ["SimpleCrossAttnDownBlock2D", "DownBlock2D"]])
        #expect(throws: ModelError.unsupportedConfiguration(file: block + "/config.json", field: "down_block_types", value: "\"SimpleCrossAttnDownBlock2D\"")) {
            try UNet2DConditionModel(directory: block)
        }
        let heads = try variant("unet_conv_int", config: ["attention_head_dim": [4, 4, 4]])
        #expect(throws: ModelError.invalidConfiguration(file: heads + "/config.json", reason: "'attention_head_dim' has 3 entries for 2 blocks")) {
            try UNet2DConditionModel(directory: heads)
        }
        let wrongType = try variant("unet_conv_int", config: ["block_out_channels": "wide"])
        #expect(throws: ModelError.self) { try UNet2DConditionModel(directory: wrongType) }
        let latents = try variant("vae_attention", config: ["latents_mean": [0.1, 0.2, 0.3, 0.4]])
        #expect(throws: ModelError.unsupportedConfiguration(file: latents + "/config.json", field: "latents_mean", value: "[0.1,0.2,0.3,0.4]")) {
            try AutoencoderKL(directory: latents)
        }
        #expect(throws: ModelError.missingFile(path: folder + "/absent")) { try AutoencoderKL(directory: folder + "/absent") }
    }

    @Test func badInputsAreErrors() throws {
        let unet = try UNet2DConditionModel(directory: TestPaths.fixtures + "/unet_conv_int")
        let context = Tensor(zeros: [1, 7, 24])
        #expect(throws: ModelError.self) { try unet(Tensor(zeros: [1, 15, 16, 4]), timesteps: [1], context: context) }
        #expect(throws: ModelError.self) { try unet(Tensor(zeros: [1, 16, 16, 3]), timesteps: [1], context: context) }
        #expect(throws: ModelError.self) { try unet(Tensor(zeros: [1, 16, 16, 4]), timesteps: [1, 2], context: context) }
        #expect(throws: (any Error).self) { try unet(Tensor(zeros: [1, 16, 16, 4]), timesteps: [1], context: Tensor(zeros: [1, 7, 23])) }
        let vae = try AutoencoderKL(directory: TestPaths.fixtures + "/vae_attention")
        #expect(throws: ModelError.self) { try vae.encode(Tensor(zeros: [1, 30, 32, 3])) }
        #expect(throws: ModelError.self) { try vae.decode(Tensor(zeros: [1, 8, 8, 3])) }
    }

    /// Style presets: every tensor a vector of embed_dim finite values; unknown names are an
    /// error listing the known ones.
    @Test func stylePresets() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { cleanup() }
        let path = folder + "/presets.safetensors"
        try SafetensorsWriter.write([("papirus", Tensor(shape: [4], repeating: 0.5)), ("noto", Tensor(shape: [4], repeating: -1))], to: path)
        let presets = try StylePresets(path: path, embedDim: 4)
        #expect(presets.names == ["noto", "papirus"])
        #expect(try presets.embedding("noto").shape == [1, 4] && presets.embedding("noto").scalars == [-1, -1, -1, -1])
        #expect(throws: ModelError.self) { try presets.embedding("breeze") }
        // snap: softmax over -|e - p|^2 / (t * s), s = 4 * 1.5^2 = 9 the squared distance between the two
        let atPapirus = try presets.snap([0.5, 0.5, 0.5, 0.5], temperature: 1)
        let w = 1 / (1 + exp(-1.0)), expected = Float(w * 0.5 + (1 - w) * -1.0)
        #expect(atPapirus.allSatisfy { abs($0 - expected) < 1e-6 }, "\(atPapirus) vs \(expected)")
        #expect(try presets.snap([0.2, 0.1, 0.3, 0.2], temperature: 0.01) == [0.5, 0.5, 0.5, 0.5], "low temperature: the nearest")
        #expect(try presets.snap([-0.9, -1, -1, -1.1], temperature: 1e4).allSatisfy { abs($0 + 0.25) < 1e-3 }, "high: the mean")
        #expect(throws: ModelError.self) { try presets.snap([0, 0, 0], temperature: 1) }
        #expect(throws: ModelError.self) { try presets.snap([0, 0, 0, 0], temperature: 0) }
        try SafetensorsWriter.write([("noto", Tensor(shape: [4], repeating: -1))], to: path)
        #expect(throws: ModelError.tensorShapeMismatch(file: path, tensor: "noto", expected: [5], actual: [4])) {
            try StylePresets(path: path, embedDim: 5)
        }
        try SafetensorsWriter.write([("bad", Tensor(shape: [4], repeating: .nan))], to: path)
        #expect(throws: ModelError.self) { try StylePresets(path: path, embedDim: 4) }
        try SafetensorsWriter.write([], to: path)
        #expect(throws: ModelError.self) { try StylePresets(path: path, embedDim: 4) }
    }

    /// style_encoder/config.json: `strides` is optional (all 2), else one 1 or 2 per convolution.
    @Test func styleEncoderStrides() throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { cleanup() }
        let path = folder + "/config.json"
        func write(_ extra: String) throws {
            try Data("{\"channels\": [8, 16], \"groups\": 4, \"embed_dim\": 32, \"tokens\": 4, \"cross_attention_dim\": 32\(extra)}".utf8)
                .write(to: URL(fileURLWithPath: path))
        }
        try write("")
        #expect(try StyleEncoderConfiguration.load(path: path).convolutionStrides == [2, 2])
        try write(", \"strides\": [1, 2]")
        #expect(try StyleEncoderConfiguration.load(path: path).convolutionStrides == [1, 2])
        try write(", \"strides\": [1]")
        #expect(throws: ModelError.invalidConfiguration(file: path, reason: "strides [1] must give 1 or 2 for each of the 2 convolutions")) {
            try StyleEncoderConfiguration.load(path: path)
        }
        try write(", \"strides\": [3, 2]")
        #expect(throws: ModelError.self) { try StyleEncoderConfiguration.load(path: path) }
    }

    /// stable-diffusion-v1-5's text encoder file layout: "text_model." prefixed names and an I64
    /// position_ids buffer. It loads and computes what the plain layout does; a wrong buffer is
    /// an error naming it.
    @Test func textEncoderWithPrefixAndPositionIDs() throws {
        defer { cleanup() }
        let source = TestPaths.sd15Folder + "/text_encoder"
        let original = try CLIPTextModel(directory: source)
        let file = try SafetensorsFile(path: source + "/model.fp16.safetensors")
        let tensors = try file.names.map { ("text_model." + $0, try file.tensor($0)) }
        for (ids, loads) in [((0..<77).map { Int64($0) }, true), ((0..<77).reversed().map { Int64($0) }, false)] {
            let dir = folder + "/" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: source + "/config.json", toPath: dir + "/config.json")
            try SafetensorsWriter.write(tensors, to: dir + "/model.safetensors", integers: [("text_model.embeddings.position_ids", ids, [1, 77])])
            if loads {
                let model = try CLIPTextModel(directory: dir)
                let row: [Int32] = [49406, 320, 1125, 539, 49407] + Array(repeating: 49407, count: 72)
                #expect(bytes(try model([row])) == bytes(try original([row])))
            } else {
                #expect(throws: ModelError.invalidConfiguration(file: dir + "/model.safetensors",
                                                                reason: "text_model.embeddings.position_ids must be 0...76 in order")) {
                    try CLIPTextModel(directory: dir)
                }
            }
        }
    }
}
