// The CLI on Stable Diffusion folders (the tiny diffusers fixtures): non-square sizes, the
// folder's own scheduler, clip skip, img2img of a photo of another shape, and the same bytes
// from generate at 1 and 2 threads, replay, batch and the library; errors for unsupported
// pipeline classes, a missing vocabulary and sizes the model cannot make.

import Foundation
import Testing
import TestSupport
import Pipeline
import PNGIO
import SafeTensors
import Schedulers
import Tensors
import Models
@testable import StyleDiffCommands

/// The text of a PNG's chunk with `keyword`.
func text(_ chunks: [PNGTextChunk], _ keyword: String) -> String? { chunks.first { $0.keyword == keyword }?.text }

@Suite(.serialized) struct StableDiffusionCLITests {
    let sd15 = TestPaths.sd15Folder, sd2 = TestPaths.sd2Folder

    @Test func generateIsTheLibraryImageAtAnyThreadCountAndReplays() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["generate", "a photo of an astronaut riding a horse on mars", "--negative", "blurry, lowres", "--width", "96",
                    "--height", "64", "--steps", "6", "--guidance", "7.5", "--seed", "1", "--model", sd15]
        for threads in ["1", "2"] {
            let r = try stylediff(base + ["--threads", threads, "-o", dir + "/t\(threads).png"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try sha256(dir + "/t1.png") == sha256(dir + "/t2.png"))
        let (png, texts) = try PNGCodec.read(path: dir + "/t1.png")
        #expect(png.width == 96 && png.height == 64)
        let record = try JSONDecoder().decode(GenerationRecord.self, from: Data(try #require(text(texts, "stylediff")).utf8))
        #expect(record.scheduler == .pndm && record.width == 96 && record.height == 64, "the folder's PNDMScheduler is the default")
        #expect(text(texts, "parameters")?.contains("Sampler: pndm, CFG scale: 7.5, Seed: 1, Size: 96x64") == true)
        // The library with the same request: the same pixels (the diffusers parity case txt2img_pndm).
        var request = GenerationRequest(prompt: "a photo of an astronaut riding a horse on mars")
        (request.negativePrompt, request.width, request.height, request.steps) = ("blurry, lowres", 96, 64, 6)
        (request.guidanceScale, request.seed, request.scheduler) = (7.5, 1, .pndm)
        #expect(try StyleDiffusionPipeline(directory: sd15).generate(request).pixels == png.pixels)
        let replay = try stylediff(["replay", dir + "/t1.png", "-o", dir + "/r.png", "--model", sd15])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/t1.png"))
    }

    @Test func batchLinesMatchTheCommandLine() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let cli = try stylediff(["generate", "a castle", "--width", "64", "--height", "96", "--clip-skip", "2", "--scheduler", "euler",
                                 "--steps", "4", "--seed", "5", "--model", sd2, "-o", dir + "/cli.png"])
        #expect(cli.status == 0, "\(cli.stderr)")
        let line = #"{"prompt": "a castle", "width": 64, "height": 96, "clip_skip": 2, "scheduler": "euler", "steps": 4, "seed": 5, "name": "batch"}"#
        try Data((line + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/jobs.jsonl"))
        let batch = try stylediff(["batch", dir + "/jobs.jsonl", "--out-dir", dir + "/out", "--model", sd2])
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(try sha256(dir + "/out/batch.png") == sha256(dir + "/cli.png"))
        let texts = try PNGCodec.read(path: dir + "/cli.png").texts
        #expect(text(texts, "parameters")?.contains("Clip skip: 2") == true)
    }

    @Test func convertFitsAPhotoOfAnotherShape() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // sd_photo.png is 96x64; ask for 64x96 (portrait): centre crop then resize, or stretch.
        var hashes: [String] = []
        for fit in ["crop", "stretch"] {
            let r = try stylediff(["convert", TestPaths.fixtures + "/sd_photo.png", "--prompt", "a cat", "--width", "64", "--height", "96",
                                   "--fit", fit, "--strength", "0.5", "--steps", "4", "--seed", "2", "--model", sd15, "-o", dir + "/\(fit).png"])
            #expect(r.status == 0, "\(r.stderr)")
            let (image, texts) = try PNGCodec.read(path: dir + "/\(fit).png")
            #expect(image.width == 64 && image.height == 96)
            #expect(text(texts, "parameters")?.contains("Resize mode: \(fit)") == true)
            hashes.append(try sha256(dir + "/\(fit).png"))
        }
        #expect(hashes[0] != hashes[1])
        let replay = try stylediff(["replay", dir + "/crop.png", "-o", dir + "/r.png", "--model", sd15])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == hashes[0])
    }

    /// A copy of the SD 1.x fixture folder (links resolved) to break.
    func copy(_ dir: String) throws -> String {
        let folder = dir + "/model"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/cp")
        p.arguments = ["-rL", sd15, folder]
        try p.run()
        p.waitUntilExit()
        return folder
    }

    @Test func unsupportedFoldersAndSizesAreDataErrors() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try copy(dir)
        func generate(_ extra: [String] = []) throws -> RunResult {
            try stylediff(["generate", "x", "--steps", "2", "--model", model, "-o", dir + "/x.png"] + extra)
        }
        let size = try generate(["--width", "100"])
        #expect(size.status == 65 && size.stderr.contains("width 100 must be a multiple of 8") && size.stderr.contains("unet/config.json"), "\(size.stderr)")
        #expect(try generate(["--height", "4096"]).status == 64, "over the pixel limit: a usage error before loading")

        let index = model + "/model_index.json"
        let original = try String(contentsOfFile: index, encoding: .utf8)
        try original.replacingOccurrences(of: "\"StableDiffusionPipeline\"", with: "\"StableDiffusionXLPipeline\"")
            .write(toFile: index, atomically: true, encoding: .utf8)
        let sdxl = try generate()
        #expect(sdxl.status == 65 && sdxl.stderr.contains("model_index.json: pipeline class StableDiffusionXLPipeline is not supported"), "\(sdxl.stderr)")
        try original.replacingOccurrences(of: "\"UNet2DConditionModel\"", with: "\"UNet2DModel\"").write(toFile: index, atomically: true, encoding: .utf8)
        let unet = try generate()
        #expect(unet.status == 65 && unet.stderr.contains("unet class UNet2DModel is not supported"), "\(unet.stderr)")
        try original.write(toFile: index, atomically: true, encoding: .utf8)

        let weights = model + "/unet/diffusion_pytorch_model.safetensors"
        try FileManager.default.moveItem(atPath: weights, toPath: model + "/unet/diffusion_pytorch_model.bin")
        let pickle = try generate()
        #expect(pickle.status == 66 && pickle.stderr.contains("PyTorch pickles are not read"), "\(pickle.stderr)")
        try FileManager.default.moveItem(atPath: model + "/unet/diffusion_pytorch_model.bin", toPath: weights)

        try FileManager.default.removeItem(atPath: model + "/tokenizer/merges.txt")
        let merges = try generate()
        #expect(merges.status == 65 && merges.stderr.contains("tokenizer/merges.txt is missing"), "\(merges.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.png"))
    }

    @Test func ipAdapterStyleImagesThroughTheCLI() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let adapter = TestPaths.ipAdapterFolder, style = TestPaths.fixtures + "/sd_style.png"
        let base = ["generate", "a house", "--style-image", style, "--ip-adapter", adapter, "--style-blocks", #"{"up": {"block_1": [0, 1]}}"#,
                    "--width", "64", "--height", "64", "--steps", "4", "--seed", "23", "--model", sd15]
        for threads in ["1", "2"] {
            let r = try stylediff(base + ["--threads", threads, "-o", dir + "/t\(threads).png"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try sha256(dir + "/t1.png") == sha256(dir + "/t2.png"))
        let (png, texts) = try PNGCodec.read(path: dir + "/t1.png")
        let record = try JSONDecoder().decode(GenerationRecord.self, from: Data(try #require(text(texts, "stylediff")).utf8))
        #expect(record.ipAdapter?.path == adapter && record.styleBlocks == #"{"up": {"block_1": [0, 1]}}"#)
        #expect(text(texts, "parameters")?.contains("IP-Adapter: sd_ip_adapter") == true)
        // The library with the same request: the diffusers parity case ip_style_blocks.
        var request = GenerationRequest(prompt: "a house")
        request.styleImages = [StyleReference(image: try PNGCodec.read(path: style).image)]
        request.styleBlockScales = try StyleBlockScales(json: #"{"up": {"block_1": [0, 1]}}"#)
        (request.width, request.height, request.steps, request.seed, request.guidanceScale, request.scheduler) = (64, 64, 4, 23, 7.5, .pndm)
        let library = try StyleDiffusionPipeline(directory: sd15, ipAdapter: adapter).generate(request)
        #expect(library.pixels == png.pixels)
        // Replay finds the adapter from the record.
        let replay = try stylediff(["replay", dir + "/t1.png", "-o", dir + "/r.png", "--model", sd15])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/t1.png"))
        // Without the adapter, style images are a usage error; a style image that is no PNG is bad data.
        let none = try stylediff(["generate", "x", "--style-image", style, "--steps", "2", "--model", sd15, "-o", dir + "/x.png"])
        #expect(none.status == 64 && none.stderr.contains("--ip-adapter"), "\(none.stderr)")
        let notImage = try stylediff(["generate", "x", "--style-image", sd15 + "/model_index.json", "--ip-adapter", adapter,
                                      "--steps", "2", "--model", sd15, "-o", dir + "/x.png"])
        #expect(notImage.status == 65 && notImage.stderr.contains("model_index.json"), "\(notImage.stderr)")
    }

    @Test func loraFilesThroughTheCLI() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let kohya = TestPaths.fixtures + "/lora/lora_kohya.safetensors", peft = TestPaths.fixtures + "/lora/lora_peft.safetensors"
        let base = ["generate", "a cat", "--lora", kohya + ":1.3", "--lora", peft + ":0.5", "--width", "64", "--height", "64",
                    "--steps", "3", "--seed", "31", "--model", sd15]
        for threads in ["1", "2"] {
            let r = try stylediff(base + ["--threads", threads, "-o", dir + "/t\(threads).png"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try sha256(dir + "/t1.png") == sha256(dir + "/t2.png"))
        let (png, texts) = try PNGCodec.read(path: dir + "/t1.png")
        let record = try JSONDecoder().decode(GenerationRecord.self, from: Data(try #require(text(texts, "stylediff")).utf8))
        #expect(record.loras?.map(\.path) == [kohya, peft] && record.loras?.map(\.weight) == [1.3, 0.5])
        #expect(text(texts, "parameters")?.contains("LoRA: lora_kohya.safetensors:1.3 lora_peft.safetensors:0.5") == true)
        // The library with the same LoRAs gives the same pixels; without them, others.
        var request = GenerationRequest(prompt: "a cat")
        (request.width, request.height, request.steps, request.seed, request.guidanceScale, request.scheduler) = (64, 64, 3, 31, 7.5, .pndm)
        let fused = try StyleDiffusionPipeline(directory: sd15, loras: [LoRA(path: kohya, scale: 1.3), LoRA(path: peft, scale: 0.5)])
        #expect(try fused.generate(request).pixels == png.pixels)
        #expect(try StyleDiffusionPipeline(directory: sd15).generate(request).pixels != png.pixels)
        // Replay loads them from the record; other LoRAs or scales are refused.
        let replay = try stylediff(["replay", dir + "/t1.png", "-o", dir + "/r.png", "--model", sd15])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(try sha256(dir + "/r.png") == sha256(dir + "/t1.png"))
        let other = try stylediff(["replay", dir + "/t1.png", "-o", dir + "/r2.png", "--model", sd15, "--lora", kohya + ":1.3"])
        #expect(other.status == 65 && other.stderr.contains("made with LoRA"), "\(other.stderr)")
        // Errors: a missing file (66), a file that is no LoRA (65), a bad scale (64); no output written.
        let missing = try stylediff(["generate", "x", "--lora", dir + "/none.safetensors", "--model", sd15, "-o", dir + "/x.png"])
        #expect(missing.status == 66, "\(missing.stderr)")
        let notLoRA = try stylediff(["generate", "x", "--lora", sd15 + "/unet/diffusion_pytorch_model.safetensors", "--model", sd15,
                                     "-o", dir + "/x.png"])
        #expect(notLoRA.status == 65 && notLoRA.stderr.contains("LoRA key"), "\(notLoRA.stderr)")
        let badScale = try stylediff(["generate", "x", "--lora", kohya + ":1e9", "--model", sd15, "-o", dir + "/x.png"])
        #expect(badScale.status == 64, "\(badScale.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/x.png"))
    }

    @Test func lcmFolderThroughTheCLI() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lcm = TestPaths.fixtures + "/lcm_tiny"
        let base = ["generate", "a red heart", "--steps", "4", "--guidance", "8", "--seed", "9", "--model", lcm]
        for threads in ["1", "2"] {
            let r = try stylediff(base + ["--threads", threads, "-o", dir + "/t\(threads).png"])
            #expect(r.status == 0, "\(r.stderr)")
        }
        #expect(try sha256(dir + "/t1.png") == sha256(dir + "/t2.png"))
        let (_, texts) = try PNGCodec.read(path: dir + "/t1.png")
        #expect(text(texts, "parameters")?.contains("Sampler: lcm") == true)
        let convert = try stylediff(["convert", TestPaths.fixtures + "/sd_photo.png", "--prompt", "a cat", "--strength", "0.6", "--steps", "4",
                                     "--seed", "2", "--model", lcm, "-o", dir + "/c.png"])
        #expect(convert.status == 0, "\(convert.stderr)")
        let replay = try stylediff(["replay", dir + "/c.png", "-o", dir + "/c2.png", "--model", lcm])
        #expect(replay.status == 0, "\(replay.stderr)")
        let replayed = try sha256(dir + "/c2.png"), converted = try sha256(dir + "/c.png")
        #expect(replayed == converted)
        // Too few original timesteps for the steps at this strength: a usage error before any work.
        let tooMany = try stylediff(["convert", TestPaths.fixtures + "/sd_photo.png", "--prompt", "a cat", "--strength", "0.1", "--steps", "8",
                                     "--model", lcm, "-o", dir + "/x.png"])
        #expect(tooMany.status == 64 && tooMany.stderr.contains("strength"), "\(tooMany.stderr)")
    }

    @Test func anIPAdapterThatDoesNotFitIsADataError() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let adapter = dir + "/adapter"
        try FileManager.default.createDirectory(atPath: adapter, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: adapter + "/image_encoder", withDestinationPath: TestPaths.ipAdapterFolder + "/image_encoder")
        let file = try SafetensorsFile(path: TestPaths.ipAdapterFolder + "/ip-adapter_sd15.safetensors")
        var tensors = try file.entries.keys.sorted().map { ($0, try file.tensor($0)) }
        // Keys and values for a UNet whose first cross-attention block is 48 wide, not 32.
        let index = try #require(tensors.firstIndex { $0.0 == "ip_adapter.1.to_k_ip.weight" })
        tensors[index].1 = Tensor(zeros: [48, 16])
        try SafetensorsWriter.write(tensors, to: adapter + "/ip-adapter_sd15.safetensors")
        let r = try stylediff(["generate", "x", "--style-image", TestPaths.fixtures + "/sd_style.png", "--ip-adapter", adapter,
                               "--steps", "2", "--model", sd15, "-o", dir + "/x.png"])
        #expect(r.status == 65 && r.stderr.contains("ip-adapter_sd15.safetensors") && r.stderr.contains("ip_adapter.1.to_k_ip"), "\(r.stderr)")
        let several = try stylediff(["info", "--ip-adapter", TestPaths.fixtures, "--model", sd15])
        #expect(several.status == 66 && several.stderr.contains("no ip-adapter"), "\(several.stderr)")
    }
}
