// ImageResampler.resize against PIL's Image.resize(BILINEAR) on the fixtures of
// tools/make_resize_fixtures.py (shrinks from 37x50, 128x128 and 200x75, an upscale from 40x40):
// bit-exact, every pixel equal.

import Foundation
import PNGIO
import Pipeline
import Testing
import TestSupport

struct ResizeCase: Decodable, Sendable {
    var source: String
    var resized: String
    var size: Int
}

let resizeCases: [ResizeCase] = {
    let data = FileManager.default.contents(atPath: TestPaths.fixtures + "/resize/cases.json") ?? Data()
    return (try? JSONDecoder().decode([ResizeCase].self, from: data)) ?? []
}()

@Suite struct ImageResamplerTests {
    @Test func fixturesExist() { #expect(resizeCases.count == 4) }

    @Test(arguments: resizeCases.map(\.source))
    func resizeMatchesPIL(source: String) throws {
        let c = try #require(resizeCases.first { $0.source == source })
        let folder = TestPaths.fixtures + "/resize/"
        let input = try PNGCodec.read(path: folder + c.source).image
        let expected = try PNGCodec.read(path: folder + c.resized).image
        let ours = try ImageResampler.resize(input, width: c.size, height: c.size)
        #expect(ours.width == c.size && ours.height == c.size)
        let differences = zip(ours.pixels, expected.pixels).map { abs(Int($0) - Int($1)) }
        let worst = differences.max() ?? 255
        let equal = Double(differences.filter { $0 == 0 }.count) / Double(differences.count)
        print("\(c.source): max pixel difference \(worst)/255, \(String(format: "%.2f", equal * 100))% identical")
        #expect(worst == 0, "\(c.source): max difference \(worst)/255, \(equal * 100)% identical")
    }
}
