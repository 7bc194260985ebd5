// Reproduces torch.Generator("cpu").manual_seed(seed) and torch.randn on CPU
// (aten/src/ATen/core/MT19937RNGEngine.h, CPUGeneratorImpl.cpp, native/cpu/DistributionTemplates.h):
// - mt19937 seeded with the low 32 bits of the seed;
// - a float uniform is (next32 & 0xFFFFFF) * 2^-24, a double uniform takes 53 bits of
//   (first32 << 32 | second32) * 2^-53;
// - tensors of 16 or more elements: fill every element with a float uniform, then Box-Muller
//   on blocks of 16 (u1 = 1 - d[j], u2 = d[j + 8], j < 8); a size not divisible by 16 redraws
//   16 uniforms for the last 16 elements and transforms them again;
// - smaller tensors: per element at::normal_distribution<double>, which draws two double
//   uniforms, returns r cos(theta) and caches r sin(theta) for the next call.
// - the Box-Muller step of large tensors is torch's vectorised normal_fill_16_AVX2: theta =
//   float(2 pi) * u2 in float, and Cephes log/sincos (CephesMath) rather than libm, which is
//   what torch runs on x86-64 CPUs with AVX2 (those with AVX-512 included). On CPUs without
//   AVX2 torch uses libm's logf/cosf/sinf instead and its values differ in the last bits.
// One implementation of the generator, used everywhere.

import Foundation
import Tensors

public struct TorchGenerator: Sendable {
    private var state = [UInt32](repeating: 0, count: 624)
    private var index = 624
    private var cachedNormal: Double?

    /// torch.Generator("cpu").manual_seed(seed).
    public init(seed: UInt64) {
        state[0] = UInt32(truncatingIfNeeded: seed)
        for i in 1..<624 {
            state[i] = 1_812_433_253 &* (state[i - 1] ^ (state[i - 1] >> 30)) &+ UInt32(i)
        }
        index = 624
    }

    private mutating func twist() {
        for k in 0..<624 {
            let y = (state[k] & 0x8000_0000) | (state[(k + 1) % 624] & 0x7FFF_FFFF)
            state[k] = state[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908_B0DF : 0)
        }
        index = 0
    }

    /// The next 32 bits of the mt19937 stream.
    public mutating func next32() -> UInt32 {
        if index >= 624 { twist() }
        var y = state[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// at::uniform_real_distribution<float>(0, 1).
    public mutating func uniformFloat() -> Float {
        Float(next32() & 0xFF_FFFF) * (1.0 / 16_777_216.0)
    }

    /// at::uniform_real_distribution<double>(0, 1).
    public mutating func uniformDouble() -> Double {
        let hi = UInt64(next32()), lo = UInt64(next32())
        return Double(((hi << 32) | lo) & ((1 << 53) - 1)) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// at::normal_distribution<double>(0, 1) with the generator's cached second value.
    public mutating func normalDouble() -> Double {
        if let cached = cachedNormal {
            cachedNormal = nil
            return cached
        }
        let u1 = uniformDouble(), u2 = uniformDouble()
        let r = (-2.0 * log1p(-u2)).squareRoot()
        let theta = 2.0 * Double.pi * u1
        cachedNormal = r * sin(theta)
        return r * cos(theta)
    }

    /// torch.randn(count, generator=self) as a flat array in torch's element order.
    public mutating func randn(count: Int) -> [Float] {
        guard count > 0 else { return [] }
        if count < 16 {
            return (0..<count).map { _ in Float(normalDouble()) }
        }
        var data = (0..<count).map { _ in uniformFloat() }
        data.withUnsafeMutableBufferPointer { d in
            var i = 0
            while i + 16 <= count {
                TorchGenerator.boxMuller16(d.baseAddress! + i)
                i += 16
            }
            if count % 16 != 0 {
                let tail = d.baseAddress! + count - 16
                for j in 0..<16 { tail[j] = uniformFloat() }
                TorchGenerator.boxMuller16(tail)
            }
        }
        return data
    }


    /// torch's normal_fill_16_AVX2 (mean 0, std 1): in place on 16 uniforms.
    @inline(__always)
    static func boxMuller16(_ d: UnsafeMutablePointer<Float>) {
        let twoPi = Float(2.0 * Double.pi)
        for j in 0..<8 {
            let u1: Float = 1 - d[j]
            let u2: Float = d[j + 8]
            let radius: Float = (-2 * CephesMath.log(u1)).squareRoot()
            let theta = twoPi * u2
            let (s, c) = CephesMath.sincos(theta)
            d[j] = radius * c
            d[j + 8] = radius * s
        }
    }

    /// Standard normal noise of torch shape [N, C, H, W], drawn in torch's order and returned
    /// channels-last [N, H, W, C], so a seed gives the same latents as a diffusers pipeline.
    public mutating func randnChannelsLast(batch: Int, channels: Int, height: Int, width: Int) throws -> Tensor {
        let values = randn(count: batch * channels * height * width)
        return try Tensor(shape: [batch, channels, height, width], values: values).permuted([0, 2, 3, 1])
    }
}
