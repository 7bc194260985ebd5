// `stylediff info`: the model, its hash, thread count and BLAS kernel.

import ArgumentParser
import Foundation
import Pipeline
import Tensors

public struct Info: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Show the model, thread count and kernel variant.")

    @OptionGroup public var common: ModelOptions

    public init() {}

    public func run() throws {
        try reportingErrors {
            common.applyThreads()
            let directory = common.directory
            let runner = try Runner(common)
            let p = runner.pipeline
            print("model      \(directory)")
            switch p.layout {
            case .stylediff:
                print("layout     stylediff default layout (SentencePiece tokenizer, style encoder, IP-Adapter)")
            case .diffusers(let pipelineClass, let ignored):
                print("layout     diffusers \(pipelineClass) (CLIP tokenizer, text prompts)")
                if !ignored.isEmpty { print("ignored    " + ignored.joined(separator: ", ") + " (not used by stylediff)") }
            }
            print("hash       \(runner.modelHash)")
            if let adapter = runner.ipAdapter, let file = p.ipAdapterFile {
                print("ip-adapter \(file) (hash \(adapter.sha256.prefix(10)); style images through its CLIP image encoder)")
            }
            if let width = p.consistencyUNetConfiguration?.timeCondProjDim {
                print("lcm unet   unet_lcm/ (guidance embedding \(width) wide): --fast and --scheduler lcm run it")
            }
            if let tiny = p.tinyVAE {
                let c = tiny.configuration
                print("tiny vae   vae_tiny/ (AutoencoderTiny decoder, width \(c.decoderBlockOutChannels[0]), blocks \(c.numDecoderBlocks)): --decoder tiny runs it")
            }
            for lora in runner.loras {
                print("lora       \(lora.path) scale \(lora.weight ?? 1) (hash \(lora.sha256.prefix(10)); fused into the UNet and text encoder)")
            }
            print("image size \(p.imageSize)x\(p.imageSize) (--width/--height: multiples of \(p.sizeMultiple) up to \(StyleDiffusionPipeline.maximumImageSide))")
            let text = p.textEncoder.configuration
            print("text       CLIP \(text.numHiddenLayers) layers, \(text.hiddenAct), \(p.tokenizer.maxLength) tokens (--clip-skip 1...\(text.numHiddenLayers))")
            let schedule = p.schedulerConfiguration
            print("scheduler  \(p.defaultScheduler.rawValue) by default (folder: \(p.schedulerClass ?? "no _class_name")), "
                + "\(schedule.predictionType.rawValue) prediction, \(schedule.betaSchedule.rawValue) betas")
            print("styles     \(runner.styles.count)")
            print("presets    \(p.stylePresets?.names.count ?? 0) (style embeddings a prompt can name)")
            let d = runner.samplingDefaults
            print("defaults   guidance \(d.guidanceScale), style strength with style images \(d.referenceStyleStrength) (\(SamplingDefaults.fileName))")
            switch runner.weights {
            case .stored: print("weights    as stored")
            case .f16: print("weights    halves for the UNet and text encoder (--weights f16; the rest as stored)")
            case .int8: print("weights    int8 for the UNet and text encoder (--weights int8; the rest as stored)")
            }
            print("threads    \(Parallelism.threadCount)")
            print("kernels    \(KernelVariant.current)")
        }
    }
}
