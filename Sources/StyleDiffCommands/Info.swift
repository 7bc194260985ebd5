// `stylediff info`: the model, its hash, thread count and BLAS kernel.

import ArgumentParser
import Foundation
import Pipeline
import Tensors

public struct Info: ParsableCommand {
    public static let configuration = CommandConfiguration(abstract: "Show the model, thread count and BLAS core.")

    @OptionGroup public var common: ModelOptions

    public init() {}

    public func run() throws {
        try reportingErrors {
            common.applyThreads()
            let directory = common.directory
            let runner = try Runner(modelDirectory: directory)
            print("model      \(directory)")
            print("hash       \(runner.modelHash)")
            print("image size \(runner.pipeline.imageSize)x\(runner.pipeline.imageSize)")
            print("styles     \(runner.styles.count)")
            print("presets    \(runner.pipeline.stylePresets?.names.count ?? 0) (style embeddings a prompt can name)")
            let d = runner.samplingDefaults
            print("defaults   guidance \(d.guidanceScale), style strength with style images \(d.referenceStyleStrength) (\(SamplingDefaults.fileName))")
            print("threads    \(Parallelism.threadCount)")
            print("BLAS core  \(BLASCore.name)")
            print("kernels    \(KernelVariant.current)")
        }
    }
}
