// Strict weight loading: every tensor a model asks for must exist with the expected shape,
// and every tensor in the file must be asked for. Violations name the tensor and shapes.

import SafeTensors
import Tensors

public final class WeightStore {
    public let file: SafetensorsFile
    private var used = Set<String>()
    /// Low-rank updates (LoRA) added to tensors as they are read: name -> [(down [r, in], up [out, r], scale)].
    private var updates: [String: [(down: Tensor, up: Tensor, scale: Float)]] = [:]
    /// How the models built from this store hold their GEMM weights (`packed`).
    public var precision: WeightPrecision = .stored

    public init(file: SafetensorsFile) { self.file = file }

    public convenience init(path: String) throws { self.init(file: try SafetensorsFile(path: path)) }

    /// The entry `name`, which must have `shape`, marked used.
    private func entry(_ name: String, shape: [Int]) throws -> SafetensorsEntry {
        guard let entry = file.entries[name] else {
            throw ModelError.missingTensor(file: file.path, tensor: name, expectedShape: shape)
        }
        guard entry.shape == shape else {
            throw ModelError.tensorShapeMismatch(file: file.path, tensor: name, expected: shape, actual: entry.shape)
        }
        used.insert(name)
        return entry
    }

    /// The tensor `name` as Float32, which must have `shape`.
    public func tensor(_ name: String, shape: [Int]) throws -> Tensor {
        _ = try entry(name, shape: shape)
        guard let list = updates[name] else { return try file.tensor(name) }
        // W + sum of scale x (up @ down), in Float32 with the deterministic GEMM, in the order added.
        var fused = try file.tensor(name)
        for u in list {
            let product = try u.up.linear(weight: u.down.permuted([1, 0]))  // [out, r] x [r, in] -> [out, in]
            fused = try fused.zipElements(try product.reshaped(shape)) { $0 + u.scale * $1 }
        }
        return fused
    }

    /// A weight matrix [rows, columns] packed for GEMM at the store's precision (TensorError for
    /// values it cannot hold).
    public func packed(_ matrix: Tensor) throws -> PackedMatrix { try PackedMatrix(matrix, precision: precision) }

    /// The weights `names`, each of `shapes` ([out, in] of a linear layer or [out, in, kh, kw] of
    /// a convolution, all with the same trailing axes), stacked by rows and packed for GEMM as
    /// W [sum of out, in kh kw] with each row in (kh, kw, in) order: the panels of `packed` on the
    /// tensors read, repacked (Tensor.packConvolutionWeight) and concatenated. F16 tensors with
    /// nothing fused into them are packed straight from the file at `.stored` or `.f16`
    /// precision (no Float32 copies; for halves the two are the same); the file's pages of them
    /// are released after.
    public func packedMatrix(_ names: [String], shapes: [[Int]]) throws -> PackedMatrix {
        guard !names.isEmpty, names.count == shapes.count, let trailing = shapes.first?.dropFirst(),
              shapes.allSatisfy({ ($0.count == 2 || $0.count == 4) && $0.dropFirst() == trailing }) else {
            throw ModelError.invalidInput("packed weights \(names): shapes \(shapes) must share their trailing axes")
        }
        let entries = try zip(names, shapes).map { try entry($0, shape: $1) }
        defer { for name in names { release(name) } }
        let columns = trailing.reduce(1, *), taps = trailing.dropFirst().reduce(1, *)
        let rows = shapes.reduce(0) { $0 + $1[0] }
        if precision != .int8, entries.allSatisfy({ $0.dtype == .f16 && updates[$0.name] == nil }) {
            var blocks: [(halves: UnsafeRawPointer, rows: Int)] = []
            for (name, shape) in zip(names, shapes) {
                let bytes = try file.rawBytes(name)
                guard let start = bytes.baseAddress, bytes.count == 2 * shape.reduce(1, *) else {
                    throw ModelError.tensorShapeMismatch(file: file.path, tensor: name, expected: shape, actual: [bytes.count / 2])
                }
                blocks.append((start, shape[0]))
            }
            return try PackedMatrix(rows: rows, columns: columns, taps: taps, halfBlocks: blocks)
        }
        var matrices: [Tensor] = []
        for (name, shape) in zip(names, shapes) {
            let t = try tensor(name, shape: shape)
            matrices.append(try (shape.count == 4 ? Tensor.packConvolutionWeight(t) : t).reshaped([shape[0], columns]))
        }
        let matrix = matrices.count == 1 ? matrices[0] : try Tensor.concatenateFirstAxis(matrices)
        do {
            return try packed(matrix)
        } catch let error as TensorError {
            // A value the precision cannot hold: name the tensor (stacked ones by row ranges).
            throw ModelError.invalidTensorValues(file: file.path, tensor: names.joined(separator: " + "),
                                                 reason: "with --weights \(precision.rawValue): \(error)")
        }
    }

    /// Registers W += scale x (up @ down) for tensor `name` (down [r, in], up [out, r], out x in
    /// its element count), applied when the model reads it.
    public func addLowRankUpdate(to name: String, down: Tensor, up: Tensor, scale: Float) throws {
        guard let entry = file.entries[name] else {
            throw ModelError.missingTensor(file: file.path, tensor: name, expectedShape: [])
        }
        guard down.rank == 2, up.rank == 2, up.shape[1] == down.shape[0], up.shape[0] * down.shape[1] == entry.shape.reduce(1, *) else {
            throw ModelError.tensorShapeMismatch(file: file.path, tensor: name, expected: entry.shape, actual: [up.shape[0], down.shape[1]])
        }
        updates[name, default: []].append((down, up, scale))
    }

    /// The position_ids buffer [1, count] that transformers checkpoints before 4.31 saved with a
    /// CLIP embedding (`prefix`position_ids): when present it must be 0, 1, ..., count - 1 (what
    /// the model computes anyway), else ModelError.invalidConfiguration naming it.
    public func checkPositionIDs(_ prefix: String, count: Int) throws {
        let name = prefix + "position_ids"
        guard let entry = file.entries[name] else { return }
        guard entry.shape == [1, count] || entry.shape == [count] else {
            throw ModelError.tensorShapeMismatch(file: file.path, tensor: name, expected: [1, count], actual: entry.shape)
        }
        used.insert(name)
        let ids: [Int64]
        do { ids = try file.integers(name) } catch {
            throw ModelError.invalidConfiguration(file: file.path, reason: "\(name) must hold integers: \(error)")
        }
        guard ids == (0..<Int64(count)).map({ $0 }) else {
            throw ModelError.invalidConfiguration(file: file.path, reason: "\(name) must be 0...\(count - 1) in order")
        }
    }

    /// Drops the file pages of `name` from memory after the model copied it elsewhere.
    public func release(_ name: String) { file.releasePages(of: name) }

    /// Whether the file holds `name` (a model uses this only for optional parts).
    public func contains(_ name: String) -> Bool { file.entries[name] != nil }

    /// Marks every tensor whose name starts with `prefix` as used: parts of a checkpoint the
    /// port does not run (AutoencoderTiny's encoder).
    public func ignore(prefix: String) {
        for name in file.entries.keys where name.hasPrefix(prefix) { used.insert(name) }
    }

    /// Fails if the file holds tensors the model did not use.
    public func finish() throws {
        let unexpected = file.entries.keys.filter { !used.contains($0) }.sorted()
        guard unexpected.isEmpty else { throw ModelError.unexpectedTensors(file: file.path, tensors: unexpected) }
    }
}
