// Fuzz targets: each takes arbitrary bytes and must return normally (an error thrown by the
// code under test is a normal return) for every input. A trap, a failed allocation or a hang is
// a bug. Run by `stylediff-fuzz` (libFuzzer when built with -sanitize=fuzzer, else a replayer of
// files), and by the tests over the seed corpora in Tests/Fuzz/corpus.

import FileAccess
import Foundation
import Models
import PNGIO
import Pipeline
import SafeTensors
import StyleDiffCommands
import Tensors
import TextTokenizer

public enum FuzzTarget: String, CaseIterable, Sendable {
    /// safetensors headers and data: open, then read every tensor as Float32.
    case safetensors
    /// PNG decoding and text chunks, as the bytes come.
    case png
    /// The same with every chunk CRC recomputed first, so mutations reach libpng.
    case pngCRC = "png-crc"
    /// A model folder whose one config file (chosen by the first byte) is the rest of the
    /// input, loaded against the fixture model's real weights.
    case config
    /// A SentencePiece model from bytes, then encoding and decoding.
    case sentencepiece
    /// Replay metadata (the "stylediff" JSON chunk): decoded, checked against the fixture model,
    /// and generated when it asks for at most 2 steps.
    case replay
    /// A prompt (the bytes as UTF-8, invalid sequences replaced) through the CLIP BPE tokenizer
    /// with the real CLIP vocabulary (Tests/Fixtures/clip_tokenizer).
    case clipTokenizer = "clip-tokenizer"
    /// A LoRA file (the bytes as safetensors) fused into the fixture model's UNet and text encoder.
    case lora

    /// Runs one input.
    public func run(_ data: [UInt8], context: FuzzContext) {
        switch self {
        case .safetensors: Self.safetensors(data, context)
        case .png: Self.png(data)
        case .pngCRC: Self.png(PNGChunks.repairingCRCs(data))
        case .config: Self.config(data, context)
        case .sentencepiece: Self.sentencepiece(data)
        case .replay: Self.replay(data, context)
        case .clipTokenizer: Self.clipTokenizer(data, context)
        case .lora: Self.lora(data, context)
        }
    }

    static func lora(_ data: [UInt8], _ context: FuzzContext) {
        let path = context.scratch + "/lora.safetensors"
        guard FileManager.default.createFile(atPath: path, contents: Data(data)), let lora = try? LoRA(path: path, scale: 0.5) else { return }
        _ = try? UNet2DConditionModel(directory: context.model + "/unet", loras: [lora])
        _ = try? CLIPTextModel(directory: context.model + "/text_encoder", loras: [lora], component: .textEncoder)
    }

    static func safetensors(_ data: [UInt8], _ context: FuzzContext) {
        let path = context.scratch + "/input.safetensors"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return }
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        guard written == data.count else { return }
        guard let file = try? SafetensorsFile(path: path) else { return }
        for name in file.names { _ = try? file.tensor(name) }
    }

    static func png(_ data: [UInt8]) {
        guard let (image, texts) = try? PNGCodec.decode(data, maximumPixels: 1 << 20) else { return }
        _ = texts.map(\.text)
        _ = try? PNGCodec.encode(image, texts: texts)
    }

    static func sentencepiece(_ data: [UInt8]) {
        guard let model = try? SentencePieceTokenizer(serialized: data) else { return }
        for text in ["folder icon, papirus style", "", "ünïcödé ✓ 猫", String(repeating: "a", count: 300)] {
            if let ids = try? model.encode(text) { _ = try? model.decode(ids) }
        }
        _ = try? model.decode([0, -1, Int32.max, Int32(model.vocabularySize)])
    }

    static func config(_ data: [UInt8], _ context: FuzzContext) {
        guard let first = data.first else { return }
        let files = FuzzContext.configFiles
        let file = files[Int(first) % files.count]
        _ = context.withModel(replacing: file, by: Array(data.dropFirst())) { context.load($0) }
    }

    static func clipTokenizer(_ data: [UInt8], _ context: FuzzContext) {
        guard let tokenizer = context.clipTokenizer else { return }
        _ = tokenizer.ids(String(decoding: data, as: UTF8.self))
    }

    static func replay(_ data: [UInt8], _ context: FuzzContext) {
        guard let record = try? JSONDecoder().decode(GenerationRecord.self, from: Data(data)), let runner = context.runner else { return }
        guard let request = try? runner.prepare(record, invalid: .dataError) else { return }
        // Bounded work per input (libFuzzer's 20 s timeout, under AddressSanitizer): at most 2
        // steps and 128 x 128 pixels (a 664 px request took 40 s); a size the pipeline rejects
        // still goes to generate, which throws before any work.
        let size = try? runner.pipeline.imageSize(of: request)
        if request.steps <= 2, size.map({ $0.width * $0.height <= 128 * 128 }) ?? true { _ = try? runner.pipeline.generate(request) }
    }
}

/// What the targets share: a scratch folder and the fixture model (loaded once).
public final class FuzzContext: @unchecked Sendable {
    /// The config-like files of a model folder the config target and sweep replace.
    public static let configFiles = [
        "unet/config.json", "vae/config.json", "text_encoder/config.json", "style_encoder/config.json",
        "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json", "sampling_defaults.json", "styles.json",
        "vae_tiny/config.json",
    ]

    /// The config-like files only a Stable Diffusion folder has (the component configs are the
    /// default layout's, swept there).
    public static let diffusersConfigFiles = [
        "model_index.json", "tokenizer/tokenizer_config.json", "tokenizer/special_tokens_map.json", "scheduler/scheduler_config.json",
    ]

    public let model: String
    public let scratch: String
    public let runner: Runner?
    /// The CLIP tokenizer of Tests/Fixtures/clip_tokenizer (beside the model's pipeline folder).
    public let clipTokenizer: CLIPTokenizer?

    /// `model`: a model folder in the default layout (the tests' fixture model).
    public init(model: String) throws {
        self.model = model
        // Memory-backed when the system has /dev/shm: the safetensors target writes every input.
        let base = FileAccess.isDirectory("/dev/shm") ? "/dev/shm/" : NSTemporaryDirectory()
        scratch = base + "stylediff-fuzz-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        runner = try? Runner(modelDirectory: model)
        clipTokenizer = try? CLIPTokenizer(directory: model + "/../../clip_tokenizer")
    }

    deinit { try? FileManager.default.removeItem(atPath: scratch) }

    /// Runs `body` on a copy of the model folder (weights linked, not copied) whose `file` holds
    /// `bytes`.
    public func withModel<T>(replacing file: String, by bytes: [UInt8], _ body: (String) -> T) -> T {
        let directory = scratch + "/model"
        try? FileManager.default.removeItem(atPath: directory)
        let fm = FileManager.default
        for part in (try? fm.contentsOfDirectory(atPath: model)) ?? [] {
            let source = model + "/" + part
            if FileAccess.isDirectory(source) {
                try? fm.createDirectory(atPath: directory + "/" + part, withIntermediateDirectories: true)
                for name in (try? fm.contentsOfDirectory(atPath: source)) ?? [] {
                    try? fm.createSymbolicLink(atPath: directory + "/" + part + "/" + name, withDestinationPath: source + "/" + name)
                }
            } else {
                try? fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
                try? fm.createSymbolicLink(atPath: directory + "/" + part, withDestinationPath: source)
            }
        }
        // The optional tiny decoder: the AutoencoderTiny fixture's weights, when the model lacks one.
        if file.hasPrefix("vae_tiny/"), !FileAccess.isDirectory(model + "/vae_tiny") {
            try? fm.createDirectory(atPath: directory + "/vae_tiny", withIntermediateDirectories: true)
            let weights = "diffusion_pytorch_model.safetensors"
            try? fm.createSymbolicLink(atPath: directory + "/vae_tiny/" + weights, withDestinationPath: tinyVAEFixture + "/" + weights)
        }
        try? fm.removeItem(atPath: directory + "/" + file)
        _ = fm.createFile(atPath: directory + "/" + file, contents: Data(bytes))
        return body(directory)
    }

    /// The AutoencoderTiny fixture (Tests/Fixtures/vae_tiny, beside the model's pipeline folder),
    /// which stands in for a model's vae_tiny/ when it has none.
    public var tinyVAEFixture: String { model + "/../../vae_tiny" }

    /// The bytes of one of `configFiles`: the model's, or for vae_tiny/ the fixture's.
    public func configContents(_ file: String) -> Data? {
        FileManager.default.contents(atPath: model + "/" + file)
            ?? (file.hasPrefix("vae_tiny/") ? FileManager.default.contents(atPath: tinyVAEFixture + "/" + file.dropFirst(9)) : nil)
    }

    /// Loads a model folder as the CLI does (less the model hash); when it loads and its latent
    /// is small, generates one image with one step, so values that load but break the maths are
    /// caught too. Returns the error message, or nil when it loaded (and generated).
    @discardableResult
    public func load(_ directory: String) -> String? {
        do {
            let pipeline = try StyleDiffusionPipeline(directory: directory)
            guard pipeline.latentSize <= 32 else { return nil }
            var request = GenerationRequest(prompt: "folder icon")
            request.steps = 1
            request.decoder = pipeline.tinyVAE == nil ? .full : .tiny
            request.guidanceScale = pipeline.samplingDefaults.guidanceScale
            _ = try pipeline.generate(request)
            return nil
        } catch {
            return "\(error)"
        }
    }
}

/// Boundary values for every field of every config file of a model folder: each field in turn
/// set to each hostile value, the folder loaded (and sampled when small) with `FuzzContext.load`.
/// A crash ends the process, so reaching the end is the first check; the outcomes let a test
/// check that the values are errors.
public enum ConfigSweep {
    nonisolated(unsafe) public static let values: [(String, Any)] = [
        ("-1", -1), ("0", 0), ("2^31", 1 << 31), ("2^62", 1 << 62), ("1e300", 1e300), ("-1e300", -1e300),
        ("\"x\"", "x"), ("null", NSNull()), ("[]", [Any]()), ("{}", [String: Any]()), ("true", true),
    ]

    public struct Outcome: Sendable {
        public var file: String
        public var field: String
        public var value: String
        /// The error, or nil when the model loaded and sampled.
        public var error: String?
    }

    /// Runs the sweep over `context.model`'s config files.
    public static func run(_ context: FuzzContext, files: [String] = FuzzContext.configFiles) -> [Outcome] {
        var outcomes: [Outcome] = []
        for file in files {
            guard let data = context.configContents(file),
                  let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { continue }
            for field in object.keys.sorted() where !field.hasPrefix("_") {
                for (name, value) in values {
                    var changed = object
                    changed[field] = value
                    guard let bytes = try? JSONSerialization.data(withJSONObject: changed, options: [.sortedKeys]) else { continue }
                    let error = context.withModel(replacing: file, by: Array(bytes)) { context.load($0) }
                    outcomes.append(Outcome(file: file, field: field, value: name, error: error))
                }
            }
        }
        return outcomes
    }
}
