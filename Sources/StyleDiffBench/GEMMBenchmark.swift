// `stylediff-bench gemm`: GFLOPS of the UNet-shaped GEMMs from shared/REFERENCE.md and of
// 3x3 convolutions at a 16x16 latent (im2col + GEMM on prepacked weights), at each thread
// count, as a percentage of the FMA peak measured by the C probe in the same run, next to
// OpenBLAS's own (non-deterministic) threading on the same shapes.

import ArgumentParser
import COpenBLAS
import CPeakProbe
import Foundation
import Tensors

struct GEMMBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "GEMM and 3x3-convolution GFLOPS against the measured FMA peak.")

    @OptionGroup var options: BenchmarkOptions

    @Option(name: .customLong("shape"),
            help: "Measure only this product instead of the table: MxNxK, on prepacked weights with a bias (the models' linear layers). Repeatable.")
    var shapes: [String] = []

    @Flag(name: .customLong("halves"),
          help: "With --shape, weights rounded to halves and held as half panels (as an F16 file's are).")
    var halves = false

    @Flag(name: .customLong("cold"),
          help: "With --shape, cycle through copies of the weights (at least 256 MB in all), so each product reads its weights from memory as a network evaluation does, not from the cache.")
    var cold = false

    func validate() throws {
        for shape in shapes where parse(shape) == nil {
            throw ValidationError("--shape \(shape): expected MxNxK with positive integers, e.g. 8192x2560x320")
        }
    }

    func parse(_ shape: String) -> (Int, Int, Int)? {
        let parts = shape.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 3, parts.allSatisfy({ $0 > 0 && $0 <= 1 << 16 }) else { return nil }
        return (parts[0], parts[1], parts[2])
    }

    struct Row: Codable {
        var name: String
        var m: Int, n: Int, k: Int
        var threads: Int
        var gflops: Double
        var percentOfPeak: Double
        var openBLASThreadedGFLOPS: Double?
    }

    struct Report: Codable {
        var blasCore: String
        var peakGFLOPS: [String: Double]
        var rows: [Row]
    }

    static let gemmShapes: [(String, Int, Int, Int)] = [
        ("conv3x3 320", 256, 320, 2880), ("conv3x3 640", 256, 640, 5760), ("conv3x3 1280", 256, 1280, 11520),
        ("linear 320", 256, 320, 320), ("linear 320x768", 256, 320, 768), ("linear 1280", 256, 1280, 1280),
        ("square 1024", 1024, 1024, 1024),
    ]

    func run() throws {
        let core = BLASCore.name
        guard peak_probe_supported() != 0 else { throw ValidationError("this CPU lacks AVX2+FMA; the peak probe cannot run") }
        var peaks: [Int: Double] = [:]
        for t in options.threadCounts { peaks[t] = measurePeak(threads: t) }
        var rows: [Row] = []
        for (m, n, k) in shapes.compactMap(parse) {
            let x = randomTensor([m, k], seed: 1), bias = randomTensor([n], seed: 3)
            var weight = randomTensor([n, k], seed: 2)
            if halves {
                let p = weight.mutablePointer()
                for i in 0..<weight.count { p[i] = Float(Float16(p[i])) }
            }
            let first = try PackedMatrix(weight, halfMinimumCount: halves ? 0 : .max)
            let copies = cold ? max(2, (256 << 20) / max(first.byteCount, 1) + 1) : 1
            let weights = [first] + (try (1..<copies).map { _ in try PackedMatrix(weight, halfMinimumCount: halves ? 0 : .max) })
            for t in options.threadCounts {
                Parallelism.setThreadCount(t)
                // Cold: each timed product reads the copy used longest ago (the others evicted it).
                var next = 0
                let s = try medianSeconds(repeats: options.repeats * copies) {
                    _ = try x.linear(packed: weights[next % copies], bias: bias)
                    next += 1
                }
                let g = 2.0 * Double(m * n * k) / s * 1e-9
                rows.append(Row(name: (halves ? "prepacked halves + bias" : "prepacked + bias") + (cold ? ", cold" : ""), m: m, n: n, k: k, threads: t, gflops: g,
                                percentOfPeak: 100 * g / (peaks[t] ?? .nan), openBLASThreadedGFLOPS: nil))
            }
        }
        for (name, m, n, k) in shapes.isEmpty ? Self.gemmShapes : [] {
            var a = Tensor(zeros: [m * k]), b = Tensor(zeros: [n * k]), c = Tensor(zeros: [m * n])
            fill(&a, seed: 1); fill(&b, seed: 2)
            let flops = 2.0 * Double(m * n * k)
            for t in options.threadCounts {
                Parallelism.setThreadCount(t)
                let ap = a.pointer, bp = b.pointer, cp = c.mutablePointer()
                let s = medianSeconds(repeats: options.repeats) {
                    GEMM.multiply(m: m, n: n, k: k, a: ap, lda: k, b: bp, ldb: k, transposeB: true, c: cp, ldc: n)
                }
                // Reference: OpenBLAS threading itself, same call shape.
                openblas_set_num_threads(Int32(t))
                let r = medianSeconds(repeats: options.repeats) {
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k), 1, ap, Int32(k), bp, Int32(k), 0, cp, Int32(n))
                }
                openblas_set_num_threads(1)
                // OpenBLAS's threads spin for a while after a call (THREAD_TIMEOUT, ~2^28 cycles):
                // let them park before the next measurement shares their cores.
                Thread.sleep(forTimeInterval: 0.3)
                let g = flops / s * 1e-9
                rows.append(Row(name: name, m: m, n: n, k: k, threads: t, gflops: g,
                                percentOfPeak: 100 * g / (peaks[t] ?? .nan), openBLASThreadedGFLOPS: flops / r * 1e-9))
            }
        }
        for channels in shapes.isEmpty ? [320, 640, 1280] : [] {
            let x = randomTensor([1, 16, 16, channels], seed: 3)
            // Prepacked once, as the models hold their weights (PackedMatrix).
            let w = try PackedMatrix(try Tensor.packConvolutionWeight(randomTensor([channels, channels, 3, 3], seed: 4))
                .reshaped([channels, 9 * channels]))
            let bias = randomTensor([channels], seed: 5)
            let flops = 2.0 * Double(256 * channels * channels * 9)
            for t in options.threadCounts {
                Parallelism.setThreadCount(t)
                // im2col + GEMM (the product these rows time): conv2d by shape takes Winograd here,
                // fewer FLOPs than the row counts (`stylediff-bench conv` compares the two).
                let s = try medianSeconds(repeats: options.repeats) {
                    _ = try x.conv2d(weight: w, kernel: 3, bias: bias, stride: 1, padding: (1, 1, 1, 1), algorithm: .im2col)
                }
                let g = flops / s * 1e-9
                rows.append(Row(name: "conv2d 16x16x\(channels) (prepacked)", m: 256, n: channels, k: 9 * channels,
                                threads: t, gflops: g, percentOfPeak: 100 * g / (peaks[t] ?? .nan), openBLASThreadedGFLOPS: nil))
            }
        }
        Parallelism.setThreadCount(0)
        let report = Report(blasCore: core, peakGFLOPS: Dictionary(uniqueKeysWithValues: peaks.map { ("\($0.key)", $0.value) }), rows: rows)
        if options.json {
            try printJSON(report)
            return
        }
        print("OpenBLAS core: \(core)")
        for t in options.threadCounts.sorted() {
            print(String(format: "FMA peak (C probe, %d thread%@): %.1f GFLOPS", t, t == 1 ? "" : "s", (peaks[t] ?? .nan)))
        }
        print("")
        print("shape                              M x N x K           thr   GFLOPS  % peak  OpenBLAS-threaded GFLOPS")
        for r in rows {
            let dims = "\(r.m) x \(r.n) x \(r.k)"
            let ref = r.openBLASThreadedGFLOPS.map { String(format: "%8.1f", $0) } ?? "       -"
            print(r.name.padding(toLength: 34, withPad: " ", startingAt: 0) + " " + dims.padding(toLength: 20, withPad: " ", startingAt: 0)
                  + String(format: "%3d  %7.1f  %5.1f%%  %@", r.threads, r.gflops, r.percentOfPeak, ref))
        }
    }

    /// Median GFLOPS of the FMA probe on `threads` threads at once: the faster of the AVX2
    /// and (where present) AVX-512 loops.
    func measurePeak(threads: Int) -> Double {
        let iterations: Int64 = 50_000_000
        let flops = peak_probe_flops(iterations) * Double(threads)
        let avx2 = medianSeconds(repeats: options.repeats) {
            DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = peak_probe_run(iterations) }
        }
        var best = flops / avx2 * 1e-9
        if peak_probe_avx512_supported() != 0 {
            let avx512 = medianSeconds(repeats: options.repeats) {
                DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = peak_probe_run_avx512(iterations) }
            }
            best = max(best, 2 * flops / avx512 * 1e-9)
        }
        return best
    }
}

func fill(_ t: inout Tensor, seed: UInt64) {
    var state = seed
    let p = t.mutablePointer()
    for i in 0..<t.count {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        p[i] = Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 1000
    }
}

func randomTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    var t = Tensor(zeros: shape)
    fill(&t, seed: seed)
    return t
}
