// `stylediff-bench attention`: multi-head attention at Stable Diffusion's long sequences (4096
// tokens at a 64x64 latent), median seconds per query-row block size, and GFLOPS against the
// 4 * B * L^2 * width FLOPs of QK^T and PV.

import ArgumentParser
import Foundation
import Tensors

struct AttentionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attention",
        abstract: "Time self-attention at long sequences (SD 1.5 at 512 px: 4096 tokens, width 320, 8 heads).")

    @OptionGroup var options: BenchmarkOptions

    @Option(help: "Tokens (queries = keys).") var tokens = 4096
    @Option(help: "Width (heads x head size).") var width = 320
    @Option(help: "Heads.") var heads = 8
    @Option(help: "Batch.") var batch = 2
    @Option(help: "Query-row block sizes of the two-pass kernel to time, comma-separated; 0 is the default path (online softmax from 1,024 keys).")
    var rowBlocks = "0,64,256"

    func run() throws {
        var q = Tensor(zeros: [batch, tokens, width]), k = q, v = q
        fill(&q, seed: 1); fill(&k, seed: 2); fill(&v, seed: 3)
        let blocks = rowBlocks.split(separator: ",").compactMap { Int($0) }
        let flops = 4.0 * Double(batch) * Double(tokens) * Double(tokens) * Double(width)
        for t in options.threadCounts {
            Parallelism.setThreadCount(t)
            var reference: Tensor?
            let seconds = try interleavedMedianSeconds(repeats: options.repeats, variants: blocks.count) { i in
                let out = try Tensor.attention(query: q, key: k, value: v, heads: heads, rowBlock: blocks[i] == 0 ? nil : blocks[i])
                if let reference {
                    let diff = try out.maxAbsoluteDifference(reference)
                    guard diff < 1e-4 else { throw ValidationError("row block \(blocks[i]) differs by \(diff)") }
                } else {
                    reference = out
                }
            }
            for (i, b) in blocks.enumerated() {
                let s = seconds[i]
                let name = b == 0 ? "default        " : String(format: "row block %4d  ", b)
                print(String(format: "threads %d, %@: %.4f s (%.1f GFLOPS)", t, name, s, flops / s / 1e9))
            }
        }
        Parallelism.setThreadCount(0)
    }
}
