// Regression tests for the crash paths and file-safety faults of issue 16, each through the
// built CLI as a user meets it: bad values are errors with the README's exit codes, never a
// trap (exit 132/134), a hang, a partial file or a replaced file.

import FileAccess
import Foundation
import FuzzTargets
import PNGIO
import Testing
import TestSupport
@testable import StyleDiffCommands

/// A copy of the fixture model in `dir`, for tests that break one of its files.
func copyFixtureModel(_ dir: String) throws -> String {
    let model = dir + "/model"
    try FileManager.default.copyItem(atPath: fixtureModel, toPath: model)
    return model
}

/// Rewrites a JSON object file.
func editJSON(_ path: String, _ change: (inout [String: Any]) -> Void) throws {
    var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    change(&object)
    try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]).write(to: URL(fileURLWithPath: path))
}

/// A copy of a stylediff PNG whose stored parameters were edited (forged replay metadata).
func forgeRecord(_ png: String, to path: String, _ change: (inout [String: Any]) -> Void) throws {
    let (image, texts) = try PNGCodec.read(path: png)
    let json = try #require(texts.first { $0.keyword == "stylediff" }).text
    var object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    change(&object)
    let forged = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    try Data(PNGCodec.encode(image, texts: [PNGTextChunk(keyword: "stylediff", text: forged)])).write(to: URL(fileURLWithPath: path))
}

/// The folder's entries (temporary files included).
func entries(_ dir: String) throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: dir).sorted() }

/// An exit status that is not a trap or an abort (Swift traps exit 132/133, aborts 134, signals 128+).
func isCleanExit(_ status: Int32) -> Bool { [0, 64, 65, 66, 70, 73, 130].contains(status) }

@Suite(.serialized) struct HardeningTests {
    // MARK: 1. Timesteps past the schedule

    @Test func stepsThatLeaveTheScheduleAreErrors() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for scheduler in ["ddim", "ddpm", "dpmpp"] {
            let r = try stylediff(["generate", "folder", "--scheduler", scheduler, "--steps", "1000", "-o", dir + "/a.png", "--model", fixtureModel])
            #expect(r.status == 64, "\(scheduler): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("999"), "\(scheduler): \(r.stderr)")
        }
        let model = try copyFixtureModel(dir)
        let config = model + "/scheduler/scheduler_config.json"
        for (field, value) in [("steps_offset", 2 as Any), ("steps_offset", 5000), ("steps_offset", -1), ("num_train_timesteps", 2),
                               ("num_train_timesteps", 100_000_000_000.0), ("beta_start", 5), ("beta_end", 10)] {
            let original = try Data(contentsOf: URL(fileURLWithPath: config))
            try editJSON(config) { $0[field] = value; if field == "beta_start" { $0["beta_end"] = 10 } }
            let steps = field.hasPrefix("beta") ? "20" : "1000"
            let r = try stylediff(["generate", "folder", "--steps", steps, "-o", dir + "/b.png", "--model", model])
            #expect([64, 65].contains(r.status), "\(field) \(value): exit \(r.status) \(r.stderr)")
            #expect(!FileAccess.exists(dir + "/b.png"))
            try original.write(to: URL(fileURLWithPath: config))
        }
    }

    // MARK: 2. Non-finite values

    @Test func valuesThatMakeNaNAreRejectedWhereParsed() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = ["generate", "folder", "-o", dir + "/a.png", "--steps", "2", "--model", fixtureModel]
        for extra in [["--eta", "1.1"], ["--guidance", "3.4e38"], ["--style", "papirus", "--style-strength", "3.4e38"], ["--guidance", "nan"]] {
            let r = try stylediff(base + extra)
            #expect(r.status == 64, "\(extra): \(r.status) \(r.stderr)")
        }
        for line in [#"{"prompt": "x", "eta": 2}"#, #"{"prompt": "x", "guidance": 3.4e38}"#] {
            try (line + "\n").write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
            let r = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--model", fixtureModel])
            #expect(r.status == 65 && r.stderr.contains("p.jsonl:1"), "\(line): \(r.status) \(r.stderr)")
        }
        #expect(try entries(dir) == ["p.jsonl"])
    }

    @Test func nonFiniteWeightsAreANumericalErrorNotATrap() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try copyFixtureModel(dir)
        // One NaN in the VAE's decoder.conv_out.bias, whatever its storage type.
        let path = model + "/vae/diffusion_pytorch_model.safetensors"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let headerLength = Int(bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        let header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
        let entry = try #require(header["decoder.conv_out.bias"] as? [String: Any])
        let offset = 8 + headerLength + (try #require((entry["data_offsets"] as? [Int])?.first))
        switch entry["dtype"] as? String {
        case "F16": bytes[offset] = 0x00; bytes[offset + 1] = 0x7E
        case "F32": bytes.replaceSubrange(offset..<(offset + 4), with: [0x00, 0x00, 0xC0, 0x7F])
        default: Issue.record("unexpected dtype \(String(describing: entry["dtype"]))")
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try stylediff(["generate", "folder", "--steps", "2", "-o", dir + "/a.png", "--model", model])
        #expect(r.status == 65, "\(r.status) \(r.stderr)")
        #expect(r.stderr.contains("numerical failure") && r.stderr.contains("nan"), "\(r.stderr)")
        #expect(!FileAccess.exists(dir + "/a.png"))
    }

    // MARK: 3. One-character paths

    @Test func oneCharacterPathsWork() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let r = try stylediff(["generate", "folder", "--steps", "2", "--seed", "1", "-o", "a", "--model", fixtureModel], cwd: dir)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileAccess.exists(dir + "/a"))
        try #"{"name": "c", "prompt": "folder", "steps": 2}"#.write(toFile: dir + "/b", atomically: true, encoding: .utf8)
        let batch = try stylediff(["batch", "b", "--out-dir", "o", "--model", fixtureModel], cwd: dir)
        #expect(batch.status == 0, "\(batch.stderr)")
        #expect(FileAccess.exists(dir + "/o/c.png"))
        #expect(FileAccess.parentDirectory(of: "a") == "" && FileAccess.parentDirectory(of: "/a") == "/")
        #expect(FileAccess.parentDirectory(of: "x/y/") == "x" && FileAccess.parentDirectory(of: "x//y") == "x")
        #expect(FileAccess.lastComponent(of: "a") == "a" && FileAccess.lastComponent(of: "/x/b.png") == "b.png")
    }

    // MARK: 4, 5, 12, 13, 15. Hostile model folders

    @Test func hostileModelFilesExit65WithTheFieldNamed() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try copyFixtureModel(dir)
        let cases: [(String, String, Any, String)] = [
            ("unet/config.json", "cross_attention_dim", 0, "cross_attention_dim"),
            ("unet/config.json", "layers_per_block", -1, "layers_per_block"),
            ("unet/config.json", "transformer_layers_per_block", -1, "transformer_layers_per_block"),
            ("unet/config.json", "layers_per_block", 1 << 31, "layers_per_block"),
            ("unet/config.json", "sample_size", 100_000, "sample_size"),
            ("unet/config.json", "sample_size", 0, "sample_size"),
            ("unet/config.json", "sample_size", 1024, "2048 px"),
            ("text_encoder/config.json", "num_hidden_layers", -1, "num_hidden_layers"),
            ("text_encoder/config.json", "num_hidden_layers", 1 << 31, "num_hidden_layers"),
            ("vae/config.json", "latent_channels", 1 << 62, "latent_channels"),
            ("vae/config.json", "layers_per_block", 1 << 31, "layers_per_block"),
            ("style_encoder/config.json", "embed_dim", 1 << 40, "embed_dim"),
            ("tokenizer/tokenizer_config.json", "pad_id", 100_000, "pad_id"),
            ("tokenizer/tokenizer_config.json", "eos_id", -5, "eos_id"),
            ("tokenizer/tokenizer_config.json", "max_length", 500, "max_length"),
            ("scheduler/scheduler_config.json", "num_train_timesteps", 1e11, "num_train_timesteps"),
        ]
        for (file, field, value, message) in cases {
            let path = model + "/" + file
            let original = try Data(contentsOf: URL(fileURLWithPath: path))
            try editJSON(path) { $0[field] = value }
            let r = try stylediff(["info", "--model", model])
            #expect(r.status == 65, "\(file) \(field)=\(value): exit \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message), "\(file) \(field)=\(value): \(r.stderr)")
            try original.write(to: URL(fileURLWithPath: path))
        }
        // Malformed files: 65 naming the file, never a silent default; unreadable ones (devices,
        // folders): 66, never a hang.
        let styles = model + "/styles.json"
        try "{not json".write(toFile: styles, atomically: true, encoding: .utf8)
        var r = try stylediff(["info", "--model", model])
        #expect(r.status == 65 && r.stderr.contains("styles.json"), "\(r.status) \(r.stderr)")
        #expect(try stylediff(["styles", "--model", model]).status == 65)
        try FileManager.default.removeItem(atPath: styles)
        try FileManager.default.createSymbolicLink(atPath: styles, withDestinationPath: "/dev/zero")
        let start = Date()
        r = try stylediff(["info", "--model", model])
        #expect(r.status == 66 && r.stderr.contains("character device"), "\(r.status) \(r.stderr)")
        #expect(Date().timeIntervalSince(start) < 60)
        try FileManager.default.removeItem(atPath: styles)
        try FileManager.default.copyItem(atPath: fixtureModel + "/styles.json", toPath: styles)
        let unetConfig = model + "/unet/config.json"
        try FileManager.default.moveItem(atPath: unetConfig, toPath: dir + "/unet-config.json")
        try FileManager.default.createDirectory(atPath: unetConfig, withIntermediateDirectories: false)
        r = try stylediff(["info", "--model", model])
        #expect(r.status == 66 && r.stderr.contains("not a regular file") && !r.stderr.contains("no such file"), "\(r.status) \(r.stderr)")
        try FileManager.default.removeItem(atPath: unetConfig)
        try "[1, 2".write(toFile: unetConfig, atomically: true, encoding: .utf8)
        r = try stylediff(["info", "--model", model])
        #expect(r.status == 65 && r.stderr.contains("config.json"), "\(r.status) \(r.stderr)")
    }

    /// Every field of every config file set to each boundary value: the model loads (and samples
    /// one step when small) or fails with an error, never a trap; hostile sizes are errors.
    @Test func configBoundaryValueSweep() throws {
        let context = try FuzzContext(model: fixtureModel)
        let outcomes = ConfigSweep.run(context)
        #expect(outcomes.count > 700, "\(outcomes.count) cases")
        // Negative and huge values of a count or width can never load.
        let sizes: Set<String> = [
            "block_out_channels", "layers_per_block", "cross_attention_dim", "attention_head_dim", "transformer_layers_per_block",
            "in_channels", "out_channels", "norm_num_groups", "latent_channels", "sample_size", "hidden_size", "intermediate_size",
            "num_hidden_layers", "num_attention_heads", "max_position_embeddings", "vocab_size", "channels", "groups", "embed_dim",
            "num_train_timesteps", "max_length", "pad_id", "eos_id", "steps_offset", "decoder_block_out_channels",
            "num_decoder_blocks", "upsampling_scaling_factor",
        ]
        // (The VAE's sample_size is diffusers' nominal size, unused at inference; the tiny VAE's
        // in_channels belongs to its encoder, which is not ported.)
        for o in outcomes where sizes.contains(o.field) && ["-1", "2^31", "2^62", "1e300"].contains(o.value)
            && !(o.file == "vae/config.json" && o.field == "sample_size") && !(o.file == "vae_tiny/config.json" && o.field == "in_channels") {
            if o.error == nil { Issue.record("\(o.file): \(o.field) = \(o.value) loaded") }
        }
    }

    /// The same sweep over the files only a Stable Diffusion folder has (model_index.json, the
    /// tokenizer's JSON files, a PNDM scheduler_config.json): each case loads and samples one
    /// step or fails cleanly; broken component entries and pad tokens are errors.
    @Test func stableDiffusionConfigBoundaryValueSweep() throws {
        let context = try FuzzContext(model: TestPaths.sd15Folder)
        let outcomes = ConfigSweep.run(context, files: FuzzContext.diffusersConfigFiles)
        #expect(outcomes.count > 300, "\(outcomes.count) cases")
        for o in outcomes where o.file == "model_index.json" && ["_class_name", "unet", "vae", "text_encoder", "tokenizer"].contains(o.field) {
            if o.error == nil { Issue.record("model_index.json: \(o.field) = \(o.value) loaded") }
        }
        for o in outcomes where o.field == "pad_token" && !["null", "\"x\""].contains(o.value) && o.error == nil {
            Issue.record("\(o.file): pad_token = \(o.value) loaded")
        }
    }

    // MARK: 6, 7. Outputs: devices, races

    @Test func overwriteNeverReplacesADeviceOrFIFO() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let fifo = dir + "/fifo"
        #expect(mkfifo(fifo, 0o644) == 0)
        for target in ["/dev/null", fifo, dir] {
            let r = try stylediff(["generate", "folder", "--steps", "2", "-o", target, "--overwrite", "--model", fixtureModel])
            #expect(r.status == 73, "\(target): \(r.status) \(r.stderr)")
        }
        #expect(FileAccess.kind(of: "/dev/null") == .other("a character device"))
        #expect(FileAccess.kind(of: fifo) == .other("a FIFO"))
        // A link to a regular file may be replaced with --overwrite.
        FileManager.default.createFile(atPath: dir + "/target.png", contents: Data("old".utf8))
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.png", withDestinationPath: dir + "/target.png")
        let r = try stylediff(["generate", "folder", "--steps", "2", "-o", dir + "/link.png", "--overwrite", "--model", fixtureModel])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try PNGCodec.read(path: dir + "/link.png").image.width == 64)
    }

    @Test func publishingNeverReplacesWithoutOverwrite() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileAccess.publish([1, 2, 3], to: dir + "/f", replace: false)
        #expect(throws: FileAccessError.exists(path: dir + "/f")) { try FileAccess.publish([4], to: dir + "/f", replace: false) }
        #expect(try FileAccess.read(dir + "/f") == [1, 2, 3])
        try FileAccess.publish([4], to: dir + "/f", replace: true)
        #expect(try FileAccess.read(dir + "/f") == [4])
        #expect(try entries(dir) == ["f"])
        // Two processes writing the same output: exactly one wins, the other exits 73.
        let args = ["generate", "folder", "--steps", "6", "--seed", "5", "-o", dir + "/race.png", "--model", fixtureModel]
        let results = try [0, 1].map { _ in try startStylediff(args) }.map { try finish($0) }
        #expect(results.map(\.status).sorted() == [0, 73], "\(results.map { "\($0.status) \($0.stderr)" })")
        #expect(try entries(dir) == ["f", "race.png"])
    }

    // MARK: 8. Signals and stale temporary files

    @Test func interruptLeavesNoFileAndStaleTemporaryFilesAreRemoved() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for signal in [SIGINT, SIGTERM] {
            let running = try startStylediff(["generate", "folder", "--steps", "1000", "--scheduler", "euler", "-o", dir + "/x.png",
                                              "--model", fixtureModel])
            Thread.sleep(forTimeInterval: 2)
            kill(running.process.processIdentifier, signal)
            let r = try finish(running)
            #expect(r.status == 130, "signal \(signal): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("interrupted"), "\(r.stderr)")
            let left = try entries(dir)
            #expect(left.isEmpty, "signal \(signal) left \(left)")
        }
        // A temporary file of a process that no longer runs is removed by the next batch.
        try FileManager.default.createDirectory(atPath: dir + "/out", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/out/.a.png.stylediff-tmp-999999999-1", contents: Data("partial".utf8))
        try #"{"name": "a", "prompt": "folder", "steps": 2}"#.write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
        let r = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--model", fixtureModel])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try entries(dir + "/out") == ["a.png", "manifest.jsonl"])
        // A batch stopped by SIGTERM (a scheduler preempting a shard) exits 75, retryable, and
        // leaves what it finished (and its manifest), nothing partial.
        try "{\"name\": \"b\", \"prompt\": \"folder\", \"steps\": 1000, \"scheduler\": \"euler\"}\n".write(
            toFile: dir + "/long.jsonl", atomically: true, encoding: .utf8)
        let batch = try startStylediff(["batch", dir + "/long.jsonl", "--out-dir", dir + "/out", "--model", fixtureModel])
        Thread.sleep(forTimeInterval: 2)
        kill(batch.process.processIdentifier, SIGTERM)
        let stopped = try finish(batch)
        #expect(stopped.status == 75, "\(stopped.status) \(stopped.stderr)")
        #expect(try entries(dir + "/out") == ["a.png", "manifest.jsonl"])
    }

    // MARK: 9. Inputs through links; devices refused

    @Test func inputsFollowLinksButRefuseDevicesAndFolders() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir + "/link.png", withDestinationPath: fixtureImages + "/style_a.png")
        let ok = try stylediff(["generate", "folder", "--steps", "2", "--style-image", dir + "/link.png", "-o", dir + "/a.png", "--model", fixtureModel])
        #expect(ok.status == 0, "\(ok.stderr)")
        #expect(mkfifo(dir + "/fifo", 0o644) == 0)
        for input in ["/dev/zero", dir + "/fifo", dir] {
            let r = try stylediff(["convert", input, "--style", "tango", "-o", dir + "/b.png", "--model", fixtureModel])
            #expect(r.status == 66 && r.stderr.contains("not a regular file"), "\(input): \(r.status) \(r.stderr)")
        }
    }

    // MARK: 10, 11. Batch and --count check everything first

    @Test func batchReportsEveryBadLineBeforeWritingAnything() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = [
            #"{"name": "ok", "prompt": "folder", "steps": 2}"#,
            #"{"prompt": "x", "style": "cubism"}"#,
            #"{"prompt": "x", "style_images": ["absent.png"]}"#,
            #"{"prompt": "x", "style": "tango", "style_strength": -1}"#,
            #"{"prompt": "x", "eta": -0.5}"#,
            #"{"name": "ok", "prompt": "y"}"#,
            #"{"prompt": "x", "scheduler": "euler", "eta": 0.5}"#,
            #"{"prompt": "x", "guidence": 7}"#,
            #"{"prompt": "x", "steps": "many"}"#,
        ]
        try lines.joined(separator: "\n").write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
        let r = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--model", fixtureModel])
        #expect(r.status == 65, "\(r.status) \(r.stderr)")
        // Line 8 and 9 fail parsing, which is reported first; then the rest.
        #expect(r.stderr.contains("p.jsonl:8: unknown field 'guidence'") && r.stderr.contains("p.jsonl:9"), "\(r.stderr)")
        #expect(!FileAccess.exists(dir + "/out"))
        try Array(lines.prefix(7)).joined(separator: "\n").write(toFile: dir + "/p.jsonl", atomically: true, encoding: .utf8)
        let r2 = try stylediff(["batch", dir + "/p.jsonl", "--out-dir", dir + "/out", "--model", fixtureModel])
        #expect(r2.status == 65)
        for n in 2...7 { #expect(r2.stderr.contains("p.jsonl:\(n):"), "line \(n) not reported: \(r2.stderr)") }
        #expect(r2.stderr.contains("unknown style 'cubism'") && r2.stderr.contains("also line 1"), "\(r2.stderr)")
        #expect(!FileAccess.exists(dir + "/out/ok.png"))
    }

    @Test func countChecksEveryOutputFirst() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/o-1.png", contents: Data("keep".utf8))
        let r = try stylediff(["generate", "folder", "--steps", "2", "--count", "3", "-o", dir + "/o-{index}.png", "--model", fixtureModel])
        #expect(r.status == 73 && r.stderr.contains("o-1.png"), "\(r.status) \(r.stderr)")
        #expect(try entries(dir) == ["o-1.png"])
    }

    // MARK: 12. Exit codes of replayed metadata and options

    @Test func forgedReplayMetadataExits65() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try stylediff(["generate", "folder", "--style", "papirus", "--steps", "2", "--seed", "1", "-o", dir + "/a.png", "--model", fixtureModel])
        #expect(made.status == 0, "\(made.stderr)")
        let forgeries: [(String, Any)] = [
            ("steps", 0), ("guidance_scale", -1), ("eta", -1), ("eta", 2), ("style_strength", 7000), ("style_preset", "cubism"),
            ("guidance_scale", 3.4e38), ("scheduler", "pndm"), ("mode", "dream"), ("blend", "cubic"),
        ]
        for (field, value) in forgeries {
            try forgeRecord(dir + "/a.png", to: dir + "/f.png") { $0[field] = value }
            let r = try stylediff(["replay", dir + "/f.png", "-o", dir + "/r.png", "--model", fixtureModel])
            #expect(r.status == 65, "\(field)=\(value): \(r.status) \(r.stderr)")
            #expect(!FileAccess.exists(dir + "/r.png"))
        }
        // Convert's strength for one image as a record: strength 7 and a negative weight.
        let converted = try stylediff(["convert", fixtureImages + "/init.png", "--style-image", fixtureImages + "/style_a.png", "--steps", "4",
                                       "-o", dir + "/c.png", "--model", fixtureModel])
        #expect(converted.status == 0, "\(converted.stderr)")
        try forgeRecord(dir + "/c.png", to: dir + "/f.png") { $0["strength"] = 7 }
        #expect(try stylediff(["replay", dir + "/f.png", "-o", dir + "/r.png", "--model", fixtureModel]).status == 65)
        try forgeRecord(dir + "/c.png", to: dir + "/f.png") {
            var images = $0["style_images"] as? [[String: Any]] ?? []
            images[0]["weight"] = -1
            $0["style_images"] = images
        }
        #expect(try stylediff(["replay", dir + "/f.png", "-o", dir + "/r.png", "--model", fixtureModel]).status == 65)
        let tiny = try stylediff(["convert", fixtureImages + "/init.png", "--style", "tango", "--strength", "0.001", "-o", dir + "/t.png", "--model", fixtureModel])
        #expect(tiny.status == 64 && tiny.stderr.contains("keeps no step"), "\(tiny.status) \(tiny.stderr)")
    }
}

struct Running { var process: Process; var out: Pipe; var err: Pipe }

func startStylediff(_ arguments: [String]) throws -> Running {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: packageRoot + "/.build/debug/stylediff")
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    return Running(process: p, out: out, err: err)
}

func finish(_ r: Running) throws -> RunResult {
    let o = r.out.fileHandleForReading.readDataToEndOfFile(), e = r.err.fileHandleForReading.readDataToEndOfFile()
    r.process.waitUntilExit()
    return RunResult(status: r.process.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
}

/// Every seed-corpus file runs through its fuzz target in-process (the targets catch every
/// error, so a trap here fails the run); tools/fuzz.sh mutates the same seeds.
@Test(arguments: FuzzTarget.allCases)
func fuzzSeedCorporaRunCleanly(target: FuzzTarget) throws {
    let context = try FuzzContext(model: fixtureModel)
    let folder = packageRoot + "/Tests/Fuzz/corpus/" + target.rawValue
    let files = try FileManager.default.contentsOfDirectory(atPath: folder).sorted()
    #expect(!files.isEmpty, "no seeds for \(target.rawValue)")
    // The replay seeds name their images relative to the package root (where tools/fuzz.sh runs).
    func seed(_ file: String) throws -> [UInt8] {
        let bytes = try FileAccess.read(folder + "/" + file)
        guard target == .replay else { return bytes }
        return Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\"Tests/", with: "\"" + packageRoot + "/Tests/").utf8)
    }
    for file in files { target.run(try seed(file), context: context) }
    if target == .clipTokenizer {
        #expect(context.clipTokenizer != nil, "the CLIP tokenizer fixture did not load")
    }
    if target == .replay {
        // The seeds are valid records: each prepares against the fixture model, loaded as stored
        // (an int8 record is refused by it, naming the weights).
        let runner = try #require(context.runner)
        for file in files {
            let record = try JSONDecoder().decode(GenerationRecord.self, from: Data(try seed(file)))
            if record.weights == .int8 {
                #expect { _ = try runner.prepare(record, invalid: .dataError) } throws: { "\($0)".contains("--weights int8") }
            } else {
                #expect(throws: Never.self) { _ = try runner.prepare(record, invalid: .dataError) }
            }
        }
    }
}
