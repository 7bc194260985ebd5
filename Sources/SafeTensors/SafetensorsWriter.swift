// Writes Float32 tensors to a safetensors file as F32 or F16 (and integer tensors as I64),
// atomically (temporary file in the same folder, then rename). Tensors are stored in the order
// given, 8-byte aligned.

import Foundation
import Tensors

public enum SafetensorsWriter {
    public enum StorageType: Sendable { case f32, f16 }

    /// The complete file contents for `tensors`.
    /// `integers`: (name, values, shape) stored as I64 after the float tensors.
    public static func encode(_ tensors: [(String, Tensor)], as type: StorageType = .f32, metadata: [String: String] = [:],
                              integers: [(String, [Int64], [Int])] = []) throws -> Data {
        var seen = Set<String>()
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var data = Data()
        for (name, t) in tensors {
            guard seen.insert(name).inserted else { throw SafetensorsError.duplicateTensor(file: "<writer>", tensor: name) }
            let begin = data.count
            let p = t.pointer
            switch type {
            case .f32:
                data.append(UnsafeBufferPointer(start: p, count: t.count))
            case .f16:
                var half = [UInt16](repeating: 0, count: t.count)
                for i in 0..<t.count { half[i] = Float16(p[i]).bitPattern.littleEndian }
                half.withUnsafeBufferPointer { data.append($0) }
            }
            header[name] = ["dtype": type == .f32 ? "F32" : "F16", "shape": t.shape, "data_offsets": [begin, data.count]]
        }
        for (name, values, shape) in integers {
            guard seen.insert(name).inserted else { throw SafetensorsError.duplicateTensor(file: "<writer>", tensor: name) }
            let begin = data.count
            values.map(\.littleEndian).withUnsafeBufferPointer { data.append($0) }
            header[name] = ["dtype": "I64", "shape": shape, "data_offsets": [begin, data.count]]
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + json.count) % 8 != 0 { json.append(0x20) }
        var out = Data()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        out.append(data)
        return out
    }

    /// Writes `tensors` to `path` atomically.
    public static func write(_ tensors: [(String, Tensor)], to path: String, as type: StorageType = .f32, metadata: [String: String] = [:],
                             integers: [(String, [Int64], [Int])] = []) throws {
        let data = try encode(tensors, as: type, metadata: metadata, integers: integers)
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw SafetensorsError.writeFailed(file: path, reason: error.localizedDescription)
        }
    }
}
