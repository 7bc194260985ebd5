// CLIPTextModel against transformers on a tiny random model (tools/make_fixtures.py).

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct CLIPTextModelTests {
    @Test func matchesTransformers() throws {
        let folder = TestPaths.fixtures + "/clip_text"
        let model = try CLIPTextModel(directory: folder)
        let io = try SafetensorsFile(path: folder + "/io.safetensors")
        let ids = try io.tensor("input_ids")
        let rows = (0..<ids.shape[0]).map { r in (0..<ids.shape[1]).map { Int32(ids.pointer[r * ids.shape[1] + $0]) } }
        let out = try model(rows)
        try expectClose(out, try io.tensor("last_hidden_state"), "clip_text last_hidden_state")
    }

    @Test func rejectsBadIds() throws {
        let model = try CLIPTextModel(directory: TestPaths.fixtures + "/clip_text")
        #expect(throws: (any Error).self) { try model([[1, 100]]) }
        #expect(throws: ModelError.self) { try model([[1, 2], [1]]) }
        #expect(throws: ModelError.self) { try model([Array(repeating: 1, count: 17)]) }
    }
}
