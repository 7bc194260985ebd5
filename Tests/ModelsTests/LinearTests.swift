// Stacked linear layers (fused attention projections): the bytes of the layers one by one.

import Foundation
import Testing
import TestSupport
@testable import Models
import SafeTensors
import Tensors

@Suite struct LinearTests {
    @Test func stackedLayersAreTheSeparateBytes() throws {
        let path = NSTemporaryDirectory() + "linear-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let sizes = [("a", 24), ("b", 40), ("c", 8)]
        var tensors: [(String, Tensor)] = []
        for (i, (name, out)) in sizes.enumerated() {
            tensors.append(("\(name).weight", randomTensor([out, 37], seed: UInt64(10 + i))))
            tensors.append(("\(name).bias", randomTensor([out], seed: UInt64(20 + i))))
        }
        try SafetensorsWriter.write(tensors, to: path)
        let x = randomTensor([3, 13, 37], seed: 1)
        for bias in [true, false] {
            let store = try WeightStore(path: path)
            let stacked = try Linear(store, stacking: sizes.map(\.0), inFeatures: 37, outFeatures: sizes.map(\.1), bias: bias)
            #expect(stacked.weight.rows == 72 && stacked.weight.columns == 37)
            let parts = try sizes.map { try Linear(store, $0.0, inFeatures: 37, outFeatures: $0.1, bias: bias)(x) }
            #expect(bytes(try stacked(x)) == bytes(try Tensor.concatenateLastAxis(parts)), "bias \(bias)")
        }
        let store = try WeightStore(path: path)
        #expect(throws: ModelError.tensorShapeMismatch(file: path, tensor: "b.weight", expected: [24, 37], actual: [40, 37])) {
            try Linear(store, stacking: ["a", "b"], inFeatures: 37, outFeatures: [24, 24], bias: false)
        }
        #expect(throws: ModelError.self) { try Linear(store, stacking: ["a", "b"], inFeatures: 37, outFeatures: [24], bias: false) }
        #expect(throws: ModelError.self) { try Linear(store, stacking: [], inFeatures: 37, outFeatures: [], bias: false) }
    }

    /// Once packed, the weights' pages of the mapped file are no longer resident (a stacked
    /// layer must not read them back in after releasing them): the file's mapping in
    /// /proc/self/smaps keeps only pages that are not a single tensor's.
    @Test func packedWeightsLeaveTheMappedPages() throws {
        #if os(Linux)
        let path = NSTemporaryDirectory() + "linear-pages-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let names = ["q", "k", "v", "single"]
        try SafetensorsWriter.write(names.enumerated().map { ("\($1).weight", randomTensor([96, 128], seed: UInt64($0))) }, to: path)
        let file = try SafetensorsFile(path: path)
        let store = WeightStore(file: file)
        for name in names { _ = try file.rawBytes(name + ".weight").reduce(0) { $0 &+ Int($1) } }  // read: resident
        #expect(try mappedResidentKB(path) >= 4 * 96 * 128 * 4 / 1024 - 8)
        let stacked = try Linear(store, stacking: ["q", "k", "v"], inFeatures: 128, outFeatures: [96, 96, 96], bias: false)
        let single = try Linear(store, "single", inFeatures: 128, outFeatures: 96, bias: false)
        #expect(stacked.weight.rows == 288 && single.weight.rows == 96)
        // Left: the header's page and the pages two tensors share (not released), one per tensor.
        let pageKB = Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
        #expect(try mappedResidentKB(path) <= pageKB * (names.count + 1))
        #endif
    }

    /// Resident kilobytes of the mappings of `path` (/proc/self/smaps).
    func mappedResidentKB(_ path: String) throws -> Int {
        // Read to the end (procfs files report size 0, which String(contentsOfFile:) trusts).
        let data = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/smaps")).readToEnd() ?? Data()
        let smaps = String(decoding: data, as: UTF8.self)
        var inFile = false, total = 0
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), fields.count >= 5, !first.hasSuffix(":") {
                inFile = line.hasSuffix(path)
            } else if inFile, fields.first == "Rss:", fields.count >= 2, let kb = Int(fields[1]) {
                total += kb
            }
        }
        return total
    }
}
