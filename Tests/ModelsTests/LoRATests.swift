// LoRA fused at load against diffusers' load_lora_weights + fuse_lora on the SD 1.x fixture
// (tools/make_fixtures.py --only lora): a PEFT file (lora_A/B, alphas from the adapter metadata,
// attention, proj_in, feed-forward and 3x3 conv targets) at scale 0.7, the older diffusers layout
// (lora.down/up, lora_linear_layer) at 1, a kohya file (per-module alphas; linear, 1x1 and 3x3
// conv, text encoder) at 1.3, and all three at 0.5: the text encoder's hidden states and the
// UNet's output (on diffusers' hidden states) within 1e-4 x max(1, max |reference|). Bad files
// are errors that name the key.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct LoRATests {
    static let folder = TestPaths.fixtures + "/lora"
    let outputs = try! SafetensorsFile(path: LoRATests.folder + "/outputs.safetensors")

    static let runs: [String: [(String, Float)]] = [
        "peft_0.7": [("lora_peft.safetensors", 0.7)], "diffusers_1.0": [("lora_diffusers.safetensors", 1)],
        "kohya_1.3": [("lora_kohya.safetensors", 1.3)],
        "all_0.5": [("lora_peft.safetensors", 0.5), ("lora_diffusers.safetensors", 0.5), ("lora_kohya.safetensors", 0.5)],
    ]

    @Test(arguments: ["peft_0.7", "diffusers_1.0", "kohya_1.3", "all_0.5"])
    func fusedModelsMatchDiffusers(run: String) throws {
        let files = try #require(Self.runs[run])
        let loras = try files.map { try LoRA(path: Self.folder + "/" + $0.0, scale: $0.1) }
        let text = try CLIPTextModel(directory: TestPaths.sd15Folder + "/text_encoder", loras: loras, component: .textEncoder)
        let unet = try UNet2DConditionModel(directory: TestPaths.sd15Folder + "/unet", loras: loras)
        let ids = try outputs.tensor("input_ids").scalars.map { Int32($0) }
        let hidden = try text([ids])
        try expectClose(hidden, try outputs.tensor(run + "/text"), "\(run) text encoder", tolerance: 1e-4)
        let sample = try outputs.tensor("unet_sample").permuted([0, 2, 3, 1])
        let eps = try unet(sample, timesteps: [601], context: try outputs.tensor(run + "/text"))
        try expectClose(eps, try outputs.tensor(run + "/unet_output").permuted([0, 2, 3, 1]), "\(run) UNet", tolerance: 1e-4)
    }

    @Test func fusingChangesTheWeightsAndScaleZeroDoesNot() throws {
        let base = try UNet2DConditionModel(directory: TestPaths.sd15Folder + "/unet")
        let zero = try UNet2DConditionModel(directory: TestPaths.sd15Folder + "/unet",
                                            loras: [LoRA(path: Self.folder + "/lora_kohya.safetensors", scale: 0)])
        let sample = try outputs.tensor("unet_sample").permuted([0, 2, 3, 1])
        let context = try outputs.tensor("kohya_1.3/text")
        let a = try base(sample, timesteps: [601], context: context), b = try zero(sample, timesteps: [601], context: context)
        #expect(a.scalars == b.scalars)
        let fused = try UNet2DConditionModel(directory: TestPaths.sd15Folder + "/unet",
                                             loras: [LoRA(path: Self.folder + "/lora_kohya.safetensors", scale: 1)])
        #expect(try fused(sample, timesteps: [601], context: context).scalars != a.scalars)
    }

    /// Writes a LoRA file of `tensors` (and `metadata`) and loads it for the fixture's UNet and
    /// text encoder; the error text.
    func loadError(_ tensors: [(String, Tensor)], metadata: [String: String] = [:]) -> String? {
        let path = NSTemporaryDirectory() + "lora-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            try SafetensorsWriter.write(tensors, to: path, metadata: metadata)
            let lora = try LoRA(path: path)
            _ = try UNet2DConditionModel(directory: TestPaths.sd15Folder + "/unet", loras: [lora])
            _ = try CLIPTextModel(directory: TestPaths.sd15Folder + "/text_encoder", loras: [lora], component: .textEncoder)
            return nil
        } catch { return "\(error)" }
    }

    @Test func badFilesAreErrorsNamingTheKey() throws {
        let q = "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q"
        let down = Tensor(zeros: [2, 32]), up = Tensor(zeros: [32, 2])
        let cases: [([(String, Tensor)], [String: String], String)] = [
            ([("unet.down_blocks.9.attentions.0.proj_in.lora_A.weight", down), ("unet.down_blocks.9.attentions.0.proj_in.lora_B.weight", up)],
             [:], "unet.down_blocks.9.attentions.0.proj_in.lora_A.weight"),
            ([(q + ".lora_A.weight", Tensor(zeros: [2, 31])), (q + ".lora_B.weight", up)], [:], q + ".lora_A.weight"),
            ([(q + ".lora_A.weight", down)], [:], q + ".lora_A.weight"),
            ([(q + ".lora_A.weight", down), (q + ".lora_B.weight", Tensor(zeros: [32, 3]))], [:], q),
            ([(q + ".lora_A.weight", down), (q + ".lora_B.weight", up), (q + ".alpha", Tensor(zeros: [2]))], [:], q + ".alpha"),
            ([("lora_te2_text_model_encoder_layers_0_mlp_fc1.lora_down.weight", down)], [:], "lora_te2_"),
            ([("lora_unet_input_blocks_1_1_proj_in.lora_down.weight", down)], [:], "lora_unet_input_blocks_1_1_proj_in"),
            ([("lora_unet_down_blocks_0_attentions_0_proj_in.hada_w1_a", down)], [:], "hada_w1_a"),
            ([("lora_te_text_model_encoder_layers_7_mlp_fc1.lora_down.weight", Tensor(zeros: [2, 16])),
              ("lora_te_text_model_encoder_layers_7_mlp_fc1.lora_up.weight", Tensor(zeros: [32, 2]))], [:], "layers_7_mlp_fc1"),
            ([("something.else", down)], [:], "something.else"),
            ([], [:], "no LoRA weights"),
            ([(q + ".lora_A.weight", down), (q + ".lora_B.weight", up)], ["lora_adapter_metadata": #"{"unet.r": 4, "unet.use_dora": true}"#], "use_dora"),
            ([(q + ".lora_A.weight", down), (q + ".lora_B.weight", up)], ["lora_adapter_metadata": "[1"], "lora_adapter_metadata"),
        ]
        for (tensors, metadata, named) in cases {
            let message = loadError(tensors, metadata: metadata)
            #expect(message?.contains(named) == true, "expected an error naming \(named), got \(message ?? "success")")
        }
        #expect(loadError([(q + ".lora_A.weight", down), (q + ".lora_B.weight", up)]) == nil)
        #expect(throws: ModelError.self) { try LoRA(path: Self.folder + "/lora_kohya.safetensors", scale: .nan) }
    }
}
