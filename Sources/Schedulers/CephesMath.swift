// Scalar ports of the single-precision log and sincos that torch's vectorised CPU randn uses
// (aten/src/ATen/native/cpu/avx_mathfun.h, after Julien Pommier's sse_mathfun and Cephes),
// operation for operation, so the normals come out bit-identical to torch.randn.
//
// torch's compiler fuses multiply-add pairs of these polynomials into FMAs. Which pairs was
// found by testing every combination against torch's output (tools/make_fixtures.py dumps
// 10k+ values): the polynomial steps are fused with the product as the multiplicand
// (fma(y, x, p)), `y*z + e*q1` keeps e*q1 rounded and fuses y*z. The reduction and final
// additions made no difference on any dumped value; they are fused here too, as the compiler
// contracts a single-use product into its add.

import Foundation

enum CephesMath {
    /// log256_ps for one lane; NaN for x <= 0.
    static func log(_ input: Float) -> Float {
        if input <= 0 { return .nan }
        var x = max(input, Float(bitPattern: 0x0080_0000))  // cut off denormals
        let exponentBits = Int32(bitPattern: x.bitPattern >> 23)
        x = Float(bitPattern: (x.bitPattern & ~0x7F80_0000) | Float(0.5).bitPattern)  // mantissa in [0.5, 1)
        var e = Float(exponentBits - 0x7F) + 1
        let below = x < 0.707106781186547524
        let tmp: Float = below ? x : 0
        x = x - 1
        e = e - (below ? 1 : 0)
        x = x + tmp
        let z = x * x
        let p: [Float] = [7.0376836292E-2, -1.1514610310E-1, 1.1676998740E-1, -1.2420140846E-1, 1.4249322787E-1,
                          -1.6668057665E-1, 2.0000714765E-1, -2.4999993993E-1, 3.3333331174E-1]
        var y = p[0]
        for k in 1..<9 { y = p[k].addingProduct(y, x) }
        y = y * x
        y = (e * -2.12194440e-4).addingProduct(y, z)
        y = y.addingProduct(-z, 0.5)
        x = x + y
        return x.addingProduct(e, 0.693359375)
    }

    /// sincos256_ps for one lane (exact Cephes argument reduction for |x| < 8192).
    static func sincos(_ input: Float) -> (sin: Float, cos: Float) {
        var x = abs(input)
        var signSin: UInt32 = input.bitPattern & 0x8000_0000
        var y = x * 1.27323954473516  // 4 / pi
        var j = Int32(y.rounded(.towardZero))
        j = (j &+ 1) & ~1
        y = Float(j)
        let swapSignSin = UInt32(bitPattern: (j & 4) << 29)
        let polyMask = (j & 2) == 0
        x = x.addingProduct(y, -0.78515625)
        x = x.addingProduct(y, -2.4187564849853515625e-4)
        x = x.addingProduct(y, -3.77489497744594108e-8)
        let signCos = UInt32(bitPattern: (~(j &- 2) & 4) << 29)
        signSin ^= swapSignSin
        let z = x * x
        var c: Float = 2.443315711809948E-005
        c = Float(-1.388731625493765E-003).addingProduct(c, z)
        c = Float(4.166664568298827E-002).addingProduct(c, z)
        c = c * z
        c = (-(z * 0.5)).addingProduct(c, z)
        c = c + 1
        var s: Float = -1.9515295891E-4
        s = Float(8.3321608736E-3).addingProduct(s, z)
        s = Float(-1.6666654611E-1).addingProduct(s, z)
        s = s * z
        s = x.addingProduct(s, x)
        let sinValue = polyMask ? s : c
        let cosValue = polyMask ? c : s
        return (Float(bitPattern: sinValue.bitPattern ^ signSin), Float(bitPattern: cosValue.bitPattern ^ signCos))
    }
}
