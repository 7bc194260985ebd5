// Options every command takes: the model folder, the thread count, and how weights are loaded.

import ArgumentParser
import Tensors

public struct ModelOptions: ParsableArguments {
    @Option(help: "Model folder (default: $STYLEDIFF_MODEL, else Weights/default of the package).")
    public var model: String?

    @Option(help: "Threads for the computation (default: all cores; results are identical at any count).")
    public var threads: Int?

    @Option(name: .customLong("ip-adapter"),
            help: "For a Stable Diffusion folder: the public IP-Adapter for --style-image, a folder with image_encoder/ and one ip-adapter*.safetensors (h94/IP-Adapter's models/), or that file.")
    public var ipAdapter: String?

    @Option(name: .customLong("lora"), parsing: .singleValue,
            help: "A LoRA file (diffusers/PEFT or kohya safetensors) fused into the UNet and text encoder at load, PATH or PATH:SCALE (default scale 1); repeatable, applied in order.")
    public var loraArguments: [String] = []

    @Option(help: "How the UNet and text encoder hold their weights: stored (as in the files: fp16 files stay fp16), f16 (rounded to halves at load: an fp32 file at half the memory; for fp16 files the same as stored) or int8 (quantized per output channel at load). f16 and int8 give another image than stored from an fp32 file, the same bytes at any thread count.")
    public var weights: WeightPrecision?

    public init() {}

    public func validate() throws {
        if let threads { guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") } }
        _ = try loras()
    }

    /// --lora PATH[:SCALE] values: a trailing ":number" is the scale, else the whole is the path.
    public func loras() throws -> [LoRASpec] {
        try loraArguments.map { try LoRASpec(argument: $0) }
    }

    /// --weights, or stored.
    public var precision: WeightPrecision { weights ?? .stored }

    /// The model folder to load (ModelLocator).
    public var directory: String { ModelLocator.resolve(model) }

    /// Sets the process-wide thread count.
    public func applyThreads() { Parallelism.setThreadCount(threads ?? 0) }

    /// What a command that writes images does first: signal handling (Interruption) and the
    /// thread count.
    public func startWriting() {
        Interruption.install()
        applyThreads()
    }
}

extension WeightPrecision: ExpressibleByArgument {}
