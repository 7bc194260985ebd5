// Safetensors reader and writer: round trips, dtype conversion, zero-copy F32 views, and a
// typed error naming file and tensor for each kind of malformed file.

import Foundation
import Testing
@testable import SafeTensors
import Tensors

/// A file built from a header string and a data area.
func safetensorsBytes(header: String, data: [UInt8], headerLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var n = (headerLength ?? UInt64(h.count)).littleEndian
    return withUnsafeBytes(of: &n) { Array($0) } + h + data
}

final class TemporaryFolder {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "safetensors-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = path + "/" + name
        FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}

@Suite struct SafetensorsTests {
    let folder = TemporaryFolder()

    @Test func roundTripF32AndF16() throws {
        let a = try Tensor(shape: [2, 3], values: [1, -2, 3.5, 0, 1e-3, -65504])
        let b = try Tensor(shape: [4], values: [0.1, 0.2, 0.3, 0.4])
        let path = folder.path + "/rt.safetensors"
        try SafetensorsWriter.write([("a", a), ("b.weight", b)], to: path, metadata: ["format": "pt"])
        let file = try SafetensorsFile(path: path)
        #expect(file.metadata == ["format": "pt"])
        #expect(file.names == ["a", "b.weight"])
        #expect(try file.tensor("a").scalars == a.scalars)
        #expect(try file.tensor("b.weight").shape == [4])
        let half = folder.path + "/rt16.safetensors"
        try SafetensorsWriter.write([("a", a)], to: half, as: .f16)
        let f16 = try SafetensorsFile(path: half)
        #expect(f16.entries["a"]?.dtype == .f16)
        let back = try f16.tensor("a").scalars
        for (x, y) in zip(back, a.scalars) { #expect(abs(x - y) <= abs(y) * 1e-3 + 1e-6) }
    }

    @Test func f32IsAReadOnlyViewAndMutationCopies() throws {
        let a = try Tensor(shape: [3], values: [1, 2, 3])
        let path = folder.path + "/view.safetensors"
        try SafetensorsWriter.write([("a", a)], to: path)
        let file = try SafetensorsFile(path: path)
        var t = try file.tensor("a")
        #expect(t.storage.isReadOnly)
        t.mutablePointer()[0] = 9
        #expect(t.scalars == [9, 2, 3])
        #expect(try file.tensor("a").scalars == [1, 2, 3])
    }

    @Test func readsBF16AndF16FromSpecBytes() throws {
        // 1.0 = 0x3F80 in bf16, -2.0 = 0xC000; 1.0 = 0x3C00 in f16, 0.5 = 0x3800.
        let header = #"{"x":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"y":{"dtype":"F16","shape":[2],"data_offsets":[4,8]}}"#
        let p = folder.write("bf16.safetensors", safetensorsBytes(header: header, data: [0x80, 0x3F, 0x00, 0xC0, 0x00, 0x3C, 0x00, 0x38]))
        let file = try SafetensorsFile(path: p)
        #expect(try file.tensor("x").scalars == [1, -2])
        #expect(try file.tensor("y").scalars == [1, 0.5])
    }

    static let good = #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#

    /// Each malformed file and the error it must raise.
    static let malformed: [(String, [UInt8], @Sendable (String) -> SafetensorsError)] = [
        ("short", [1, 2, 3], { .truncated(file: $0, reason: "3 bytes, less than the 8-byte header length") }),
        ("huge-header", safetensorsBytes(header: good, data: [UInt8](repeating: 0, count: 8), headerLength: 1 << 40),
         { .headerTooLarge(file: $0, length: 1 << 40, limit: 100_000_000) }),
        ("header-past-end", safetensorsBytes(header: good, data: [], headerLength: 500),
         { .truncated(file: $0, reason: "header length 500 exceeds the \(good.utf8.count) bytes after it") }),
        ("bad-json", safetensorsBytes(header: #"{"t":{"dtype":"F32",}"#, data: []),
         { .invalidHeader(file: $0, reason: "JSON: expected '\"' at byte 20") }),
        ("not-object", safetensorsBytes(header: "[1,2]", data: []), { .invalidHeader(file: $0, reason: "the header is not a JSON object") }),
        ("unknown-dtype", safetensorsBytes(header: #"{"t":{"dtype":"F7","shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .unknownDType(file: $0, tensor: "t", dtype: "F7") }),
        ("offset-past-end", safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .offsetOutOfBounds(file: $0, tensor: "t", end: 16, dataSize: 8) }),
        ("overlap", safetensorsBytes(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#, data: [UInt8](repeating: 0, count: 12)),
         { .overlap(file: $0, tensor: "b", other: "a") }),
        ("shape-bytes-mismatch", safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .sizeMismatch(file: $0, tensor: "t", expectedBytes: 12, actualBytes: 8) }),
        ("duplicate", safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .duplicateTensor(file: $0, tensor: "t") }),
        ("negative-dim", safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .invalidShape(file: $0, tensor: "t", reason: "dimension integer(-2) is not a non-negative integer") }),
        ("reversed-offsets", safetensorsBytes(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .invalidHeader(file: $0, reason: "entry 't' has invalid data_offsets") }),
        ("bad-metadata", safetensorsBytes(header: #"{"__metadata__":{"k":1}}"#, data: []),
         { .invalidHeader(file: $0, reason: "__metadata__ value 'k' is not a string") }),
        ("no-dtype", safetensorsBytes(header: #"{"t":{"shape":[2],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)),
         { .invalidHeader(file: $0, reason: "entry 't' has no dtype string") }),
        ("trailing-garbage", safetensorsBytes(header: good + "x", data: [UInt8](repeating: 0, count: 8)),
         { .invalidHeader(file: $0, reason: "JSON: trailing characters at byte \(good.utf8.count)") }),
    ]

    @Test(arguments: 0..<malformed.count)
    func malformedFileRaisesTypedError(index: Int) {
        let (name, bytes, expected) = Self.malformed[index]
        let path = folder.write(name + ".safetensors", bytes)
        #expect(throws: expected(path), "case \(name)") { try SafetensorsFile(path: path) }
    }

    @Test func missingFileTensorAndDirectory() throws {
        #expect(throws: SafetensorsError.self) { try SafetensorsFile(path: folder.path + "/nope.safetensors") }
        #expect(throws: SafetensorsError.cannotOpen(file: folder.path, reason: "not a regular file")) { try SafetensorsFile(path: folder.path) }
        let p = folder.write("ok.safetensors", safetensorsBytes(header: Self.good, data: [UInt8](repeating: 0, count: 8)))
        let file = try SafetensorsFile(path: p)
        #expect(throws: SafetensorsError.missingTensor(file: p, tensor: "u")) { try file.tensor("u") }
        #expect(try file.tensor("t").scalars == [0, 0])
    }

    @Test func unsupportedDTypeIsReportedOnRead() throws {
        let p = folder.write("i64.safetensors", safetensorsBytes(header: #"{"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
        let file = try SafetensorsFile(path: p)
        #expect(throws: SafetensorsError.unsupportedDType(file: p, tensor: "ids", dtype: "I64")) { try file.tensor("ids") }
    }

    @Test func errorsDescribeFileAndTensor() {
        let e = SafetensorsError.sizeMismatch(file: "m.safetensors", tensor: "conv.weight", expectedBytes: 12, actualBytes: 8)
        #expect(e.description.contains("m.safetensors") && e.description.contains("conv.weight"))
    }
}
