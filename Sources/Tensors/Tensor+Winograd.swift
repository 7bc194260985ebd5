// 3x3 stride-1 padding-1 convolution by Winograd F(2x2, 3x3) (Lavin & Gray 2015): each 2x2
// output tile costs 16 channel dot products instead of 36, as 16 GEMMs of
// [tiles, Cin] x [Cin, Cout] between the transformed input tiles V = B^T d B and the
// transformed filters U = G g G^T, then Y = A^T M A. About 2.25x fewer multiplies than
// im2col + GEMM, for extra transform passes that pay off only on large maps with many channels:
// `Tensor.winogradApplies` chooses by shape alone (at least 32x32 outputs, 128 channels in and
// out, and outputs x channels >= 2^18): the Stable Diffusion UNet at 64x64 and 32x32 latents and
// its VAE take it, while the default model's maps (at most 128 channels at 32x32) keep the
// im2col path and their bits (golden hashes unchanged).
//
// Results differ from im2col's in the last bits (another summation order), within 1e-4
// relative (WinogradTests); they do not depend on the thread count: transforms are per tile
// or per filter, GEMMs use the shape-determined partition, and the tile blocks are a function
// of the shape.

extension Tensor {
    /// Whether conv2d takes the Winograd path for this shape.
    static func winogradApplies(kernel: Int, stride: Int, padding: (top: Int, left: Int, bottom: Int, right: Int),
                                outputPixels: Int, cin: Int, cout: Int) -> Bool {
        kernel == 3 && stride == 1 && padding == (1, 1, 1, 1) && outputPixels >= 1024 && cin >= 128 && cout >= 128
            && cin % 8 == 0 && cout % 8 == 0 && outputPixels * min(cin, cout) >= 262_144
    }

    /// [N, H, W, Cin] * packed [Cout, 3, 3, Cin] (+ bias) -> [N, H, W, Cout], padding 1.
    func winogradConv3x3(packedWeight weight: Tensor, bias: Tensor?) -> Tensor {
        let (n, h, w, cin) = (shape[0], shape[1], shape[2], shape[3])
        let cout = weight.shape[0]
        let tilesY = (h + 1) / 2, tilesX = (w + 1) / 2
        let tiles = n * tilesY * tilesX
        var out = Tensor(uninitialized: [n, h, w, cout])
        let dst = out.mutablePointer(), src = pointer
        let u = Self.winogradFilters(weight)
        // Tiles per block: V and M of at most ~8M floats each (32 MB), shape-determined.
        let block = max(16, min(tiles, 8_388_608 / (16 * max(cin, cout))))
        let v = TensorStorage(count: 16 * min(block, tiles) * cin, zeroed: false)
        let m = TensorStorage(count: 16 * min(block, tiles) * cout, zeroed: false)
        let zeros = [Float](repeating: 0, count: cin)
        let biasPointer = bias?.pointer
        zeros.withUnsafeBufferPointer { zeroRow in
            let zero = zeroRow.baseAddress!
            var start = 0
            while start < tiles {
                let count = min(block, tiles - start)
                let vp = v.pointer, mp = m.pointer, up = u.pointer
                // V[e][t] = B^T d B for the 4x4 input patch of tile t, channels innermost.
                Profiler.measure("winograd input transform") {
                    Parallelism.forEachRange(count, minimumPerTask: 8) { range in
                        let rows = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: 16)
                        defer { rows.deallocate() }
                        for local in range {
                            let t = start + local
                            let b = t / (tilesY * tilesX), ty = (t / tilesX) % tilesY, tx = t % tilesX
                            for i in 0..<4 {
                                let iy = 2 * ty - 1 + i
                                for j in 0..<4 {
                                    let ix = 2 * tx - 1 + j
                                    rows[i * 4 + j] = iy >= 0 && iy < h && ix >= 0 && ix < w ? src + ((b * h + iy) * w + ix) * cin : zero
                                }
                            }
                            Self.winogradInputTile(UnsafePointer(rows), into: vp + local * cin, stride: count * cin, channels: cin)
                        }
                    }
                }
                // M[e] = V[e] U[e]^T: [count, Cin] x [Cin, Cout] for each of the 16 positions.
                for e in 0..<16 {
                    GEMM.multiply(m: count, n: cout, k: cin, a: vp + e * count * cin, lda: cin,
                                  b: up + e * cout * cin, ldb: cin, transposeB: true,
                                  c: mp + e * count * cout, ldc: cout)
                }
                // Y = A^T M A (+ bias), cropped at odd edges.
                Profiler.measure("winograd output transform") {
                    Parallelism.forEachRange(count, minimumPerTask: 8) { range in
                        for local in range {
                            let t = start + local
                            let b = t / (tilesY * tilesX), ty = (t / tilesX) % tilesY, tx = t % tilesX
                            let y0 = 2 * ty, x0 = 2 * tx
                            Self.winogradOutputTile(mp + local * cout, stride: count * cout, channels: cout, bias: biasPointer,
                                                    out: dst + ((b * h + y0) * w + x0) * cout, rowStride: w * cout,
                                                    rows: min(2, h - y0), columns: min(2, w - x0))
                        }
                    }
                }
                start += count
            }
        }
        return out
    }

    typealias Lanes = SIMD8<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always) static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }

    /// U[e][o][c] = (G g G^T)[e] for each filter g = weight[o, :, :, c] (packed [Cout, 3, 3, Cin]),
    /// 8 input channels at a time (Cin is a multiple of 8).
    static func winogradFilters(_ weight: Tensor) -> TensorStorage {
        let (cout, cin) = (weight.shape[0], weight.shape[3])
        let u = TensorStorage(count: 16 * cout * cin, zeroed: false)
        let wp = weight.pointer, up = u.pointer
        let half = Lanes(repeating: 0.5)
        Profiler.measure("winograd filter transform") {
            Parallelism.forEachRange(cout, minimumPerTask: 4) { range in
                // gg[x * 4 + r] = (G g)[r][x]: G g (4 x 3; rows of g are ky), one scratch per task.
                let gg = UnsafeMutablePointer<Lanes>.allocate(capacity: 12)
                defer { gg.deallocate() }
                for o in range {
                    let g = wp + o * 9 * cin
                    for c in stride(from: 0, to: cin, by: 8) {
                        for x in 0..<3 {
                            let g0 = load(g + x * cin + c), g1 = load(g + (3 + x) * cin + c), g2 = load(g + (6 + x) * cin + c)
                            gg[x * 4] = g0
                            gg[x * 4 + 1] = (g0 + g1 + g2) * half
                            gg[x * 4 + 2] = (g0 - g1 + g2) * half
                            gg[x * 4 + 3] = g2
                        }
                        // (G g) G^T: 4 x 4.
                        for r in 0..<4 {
                            let a0 = gg[r], a1 = gg[4 + r], a2 = gg[8 + r]
                            let base = up + (r * 4 * cout + o) * cin + c
                            store(a0, base)
                            store((a0 + a1 + a2) * half, base + cout * cin)
                            store((a0 - a1 + a2) * half, base + 2 * cout * cin)
                            store(a2, base + 3 * cout * cin)
                        }
                    }
                }
            }
        }
        return u
    }

    /// V = B^T d B of one tile for all channels (8 at a time): `rows` are the 16 input rows
    /// (row-major 4x4, each `channels` floats); position e goes to `into + e * stride`.
    @inline(__always)
    static func winogradInputTile(_ rows: UnsafePointer<UnsafePointer<Float>>, into: UnsafeMutablePointer<Float>, stride: Int, channels: Int) {
        for c in Swift.stride(from: 0, to: channels, by: 8) {
            for j in 0..<4 {
                // Column j of B^T d.
                let d0 = load(rows[j] + c), d1 = load(rows[4 + j] + c), d2 = load(rows[8 + j] + c), d3 = load(rows[12 + j] + c)
                let t0 = d0 - d2, t1 = d1 + d2, t2 = d2 - d1, t3 = d1 - d3
                // Stash column j; combined across columns below.
                store(t0, into + (0 * 4 + j) * stride + c)
                store(t1, into + (1 * 4 + j) * stride + c)
                store(t2, into + (2 * 4 + j) * stride + c)
                store(t3, into + (3 * 4 + j) * stride + c)
            }
            for i in 0..<4 {
                let row = into + i * 4 * stride + c
                let x0 = load(row), x1 = load(row + stride), x2 = load(row + 2 * stride), x3 = load(row + 3 * stride)
                store(x0 - x2, row)
                store(x1 + x2, row + stride)
                store(x2 - x1, row + 2 * stride)
                store(x1 - x3, row + 3 * stride)
            }
        }
    }

    /// Y = A^T M A (+ bias) of one tile for all channels (8 at a time) into `rows` x `columns`
    /// output pixels.
    @inline(__always)
    static func winogradOutputTile(_ m: UnsafePointer<Float>, stride: Int, channels: Int, bias: UnsafePointer<Float>?,
                                   out: UnsafeMutablePointer<Float>, rowStride: Int, rows: Int, columns: Int) {
        for c in Swift.stride(from: 0, to: channels, by: 8) {
            let b = bias.map { load($0 + c) } ?? Lanes(repeating: 0)
            // z_i = row i of A^T M (i = 0, 1), as its 4 columns.
            var z0 = (Lanes(), Lanes(), Lanes(), Lanes()), z1 = z0
            for j in 0..<4 {
                let m0 = load(m + j * stride + c), m1 = load(m + (4 + j) * stride + c)
                let m2 = load(m + (8 + j) * stride + c), m3 = load(m + (12 + j) * stride + c)
                let top = m0 + m1 + m2, bottom = m1 - m2 - m3
                switch j {
                case 0: (z0.0, z1.0) = (top, bottom)
                case 1: (z0.1, z1.1) = (top, bottom)
                case 2: (z0.2, z1.2) = (top, bottom)
                default: (z0.3, z1.3) = (top, bottom)
                }
            }
            store(z0.0 + z0.1 + z0.2 + b, out + c)
            if columns > 1 { store(z0.1 - z0.2 - z0.3 + b, out + channels + c) }
            if rows > 1 {
                store(z1.0 + z1.1 + z1.2 + b, out + rowStride + c)
                if columns > 1 { store(z1.1 - z1.2 - z1.3 + b, out + rowStride + channels + c) }
            }
        }
    }
}
