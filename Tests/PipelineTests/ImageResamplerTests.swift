// ImageResampler.resize against PIL's Image.resize(BILINEAR) and Image.resize(BICUBIC) on the
// fixtures of tools/make_resize_fixtures.py (shrinks from 37x50, 128x128 and 200x75, an upscale
// from 40x40; bicubic also to 48x32 and 32x48, one axis growing as the other shrinks): bit-exact.

import Foundation
import PNGIO
import Pipeline
import Testing
import TestSupport

struct ResizeCase: Decodable, Sendable {
    var source: String
    var resized: String
    var width: Int
    var height: Int
    var filter: String
}

let resizeCases: [ResizeCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/resize/cases.json") ?? Data()
    return (try? JSONDecoder().decode([ResizeCase].self, from: data)) ?? []
}()

@Suite struct ImageResamplerTests {
    @Test func fixturesExist() { #expect(resizeCases.count == 16) }

    @Test(arguments: resizeCases.map(\.resized))
    func resizeMatchesPIL(resized: String) throws {
        let c = try #require(resizeCases.first { $0.resized == resized })
        let folder = TestPaths.fixtures + "/resize/"
        let input = try PNGCodec.read(path: folder + c.source).image
        let expected = try PNGCodec.read(path: folder + c.resized).image
        let filter: ImageResampler.Filter = c.filter == "bicubic" ? .bicubic : .bilinear
        let ours = try ImageResampler.resize(input, width: c.width, height: c.height, filter: filter)
        #expect(ours.width == c.width && ours.height == c.height)
        let differences = zip(ours.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
        let worst = differences.max() ?? 255
        let equal = Double(differences.filter { $0 == 0 }.count) / Double(differences.count)
        print("\(c.resized): max pixel difference \(worst)/255, \(String(format: "%.2f", equal * 100))% identical")
        #expect(worst == 0, "\(c.resized): max difference \(worst)/255, \(equal * 100)% identical")
    }
}
