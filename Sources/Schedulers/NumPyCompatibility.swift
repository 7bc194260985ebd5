// The NumPy operations diffusers' set_timesteps uses, reproduced in Double so timesteps come
// out identical: linspace, float arange, round half to even, interp.

import Foundation

enum NumPy {
    /// np.linspace(start, stop, num): i * step + start, the last value exactly stop.
    static func linspace(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        guard num > 1 else { return num == 1 ? [start] : [] }
        let step = (stop - start) / Double(num - 1)
        var out = (0..<num).map { Double($0) * step + start }
        out[num - 1] = stop
        return out
    }

    /// np.linspace(start, stop, num, endpoint=False): i * step + start with step = (stop - start) / num.
    static func linspaceExcludingEnd(_ start: Double, _ stop: Double, _ num: Int) -> [Double] {
        guard num > 0 else { return [] }
        let step = (stop - start) / Double(num)
        return (0..<num).map { Double($0) * step + start }
    }

    /// np.arange(start, stop, step) for floats: length ceil((stop - start) / step), values
    /// start + i * delta with delta = (start + step) - start, as NumPy fills them.
    static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
        let count = max(0, Int(((stop - start) / step).rounded(.up)))
        let delta = (start + step) - start
        return (0..<count).map { start + Double($0) * delta }
    }

    /// np.round: half to even.
    static func round(_ x: Double) -> Double { x.rounded(.toNearestOrEven) }

    /// np.interp(x, [0, 1, ..., n-1], fp) with NumPy's formula slope * (x - xp[j]) + fp[j].
    static func interp(_ x: Double, _ fp: [Double]) -> Double {
        let n = fp.count
        if x <= 0 { return fp[0] }
        if x >= Double(n - 1) { return fp[n - 1] }
        let j = Int(x.rounded(.down))
        let slope = (fp[j + 1] - fp[j]) / 1.0
        let r = slope * (x - Double(j)) + fp[j]
        return r.isNaN ? slope * (x - Double(j + 1)) + fp[j + 1] : r
    }
}
