// Float32 tensor with a shape and contiguous row-major storage.
//
// Layout: images and feature maps are NHWC ([N, H, W, C]). With channels last, a 1x1
// convolution and every linear layer is one GEMM over [pixels, channels] with no transpose,
// the transformer blocks of a UNet read the feature map as tokens [N, H*W, C] for free, and
// im2col for a 3x3 convolution copies whole contiguous channel vectors. Convolution kernels are
// repacked once at load from [Cout, Cin, kh, kw] to [Cout, kh, kw, Cin] (see
// `Tensor.packConvolutionWeight`), and the models' linear and convolution weights are then held
// as GEMM panels (`PackedMatrix`, halves for F16 checkpoints).

import Foundation

/// Reference-counted Float32 buffer, 64-byte aligned, or a view into memory owned by
/// another object (a memory-mapped file) that it keeps alive.
public final class TensorStorage: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<Float>
    public let count: Int
    /// True for read-only memory (a mapped file): mutation always copies first.
    public let isReadOnly: Bool
    private let owner: AnyObject?
    /// Bytes of a block from `LargeBlockCache` (0: allocated here).
    private let cachedBytes: Int

    /// Allocates `count` floats, set to zero unless `zeroed` is false (for outputs that a
    /// kernel overwrites entirely). Large buffers come from (and go back to) `LargeBlockCache`.
    public init(count: Int, zeroed: Bool = true) {
        _ = TensorStorage.allocatorConfigured
        self.count = count
        let bytes = max(count, 1) * 4
        let raw: UnsafeMutableRawPointer
        if bytes >= LargeBlockCache.shared.minimumBytes {
            let block = LargeBlockCache.shared.take(bytes)
            raw = block.pointer
            cachedBytes = block.bytes
        } else {
            raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            cachedBytes = 0
        }
        if zeroed {
            raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 1))
        } else {
            raw.bindMemory(to: Float.self, capacity: max(count, 1))
        }
        pointer = raw.assumingMemoryBound(to: Float.self)
        owner = nil
        isReadOnly = false
    }

    /// Wraps read-only memory owned by `owner` (not copied, not freed here).
    public init(borrowing pointer: UnsafePointer<Float>, count: Int, owner: AnyObject) {
        self.pointer = UnsafeMutablePointer(mutating: pointer)
        self.count = count
        self.owner = owner
        isReadOnly = true
        cachedBytes = 0
    }

    deinit {
        guard owner == nil else { return }
        if cachedBytes > 0 {
            LargeBlockCache.shared.give(UnsafeMutableRawPointer(pointer), bytes: cachedBytes)
        } else {
            UnsafeMutableRawPointer(pointer).deallocate()
        }
    }

    /// glibc returns blocks above its mmap threshold (128 KB, adapting up to 32 MB) to the
    /// system on free, so every large activation would be page-faulted and zeroed by the kernel
    /// again. Keeping them in the heap lets successive evaluations reuse the memory.
    private static let allocatorConfigured: Bool = {
        #if os(Linux)
        _ = glibcMallopt(-3, 32 << 20)   // M_MMAP_THRESHOLD
        _ = glibcMallopt(-1, 256 << 20)  // M_TRIM_THRESHOLD
        #endif
        return true
    }()
}

/// A Float32 tensor. Value semantics: copies share storage until one of them is mutated.
public struct Tensor: @unchecked Sendable, CustomStringConvertible {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    public var count: Int { shape.reduce(1, *) }
    public var rank: Int { shape.count }
    public var description: String { "Tensor\(shape)" }

    /// A zero-filled tensor.
    public init(zeros shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *))
    }

    /// A tensor whose values are unspecified: for kernel outputs written in full.
    init(uninitialized shape: [Int]) {
        self.shape = shape
        storage = TensorStorage(count: shape.reduce(1, *), zeroed: false)
    }

    /// A tensor whose `count` values `initializer` writes, every one of them (as Array's
    /// `unsafeUninitializedCapacity`): no zero fill first for data read from files.
    public init(shape: [Int], initializingWith initializer: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        self.init(uninitialized: shape)
        try initializer(storage.pointer)
    }

    /// A tensor filled with `value`.
    public init(shape: [Int], repeating value: Float) {
        self.init(zeros: shape)
        let p = storage.pointer
        for i in 0..<count { p[i] = value }
    }

    /// A tensor holding `values` in row-major order.
    public init(shape: [Int], values: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidShape("negative dimension in \(shape)")
        }
        guard shape.reduce(1, *) == values.count else {
            throw TensorError.invalidShape("shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        }
        self.init(zeros: shape)
        values.withUnsafeBufferPointer { src in
            if let base = src.baseAddress { storage.pointer.update(from: base, count: values.count) }
        }
    }

    /// A tensor over existing storage (no copy).
    public init(shape: [Int], storage: TensorStorage) throws {
        guard shape.reduce(1, *) <= storage.count, shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidShape("shape \(shape) does not fit storage of \(storage.count) floats")
        }
        self.shape = shape
        self.storage = storage
    }

    /// Read-only pointer to the first element.
    public var pointer: UnsafePointer<Float> { UnsafePointer(storage.pointer) }

    /// Mutable pointer to the first element; copies the storage first if it is shared.
    public mutating func mutablePointer() -> UnsafeMutablePointer<Float> {
        if !isKnownUniquelyReferenced(&storage) || storage.isReadOnly {
            let copy = TensorStorage(count: count, zeroed: false)
            copy.pointer.update(from: storage.pointer, count: count)
            storage = copy
        }
        return storage.pointer
    }

    /// The values in row-major order.
    public var scalars: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The same values under another shape of equal element count (no copy). One dimension
    /// may be -1 and is inferred.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var dims = newShape
        if let i = dims.firstIndex(of: -1) {
            let known = dims.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            guard known > 0, count % known == 0 else {
                throw TensorError.invalidShape("cannot reshape \(shape) to \(newShape)")
            }
            dims[i] = count / known
        }
        guard dims.allSatisfy({ $0 >= 0 }), dims.reduce(1, *) == count else {
            throw TensorError.invalidShape("cannot reshape \(shape) to \(newShape)")
        }
        return try Tensor(shape: dims, storage: storage)
    }

    /// Largest absolute difference to another tensor of the same shape.
    public func maxAbsoluteDifference(_ other: Tensor) throws -> Float {
        guard shape == other.shape else {
            throw TensorError.shapeMismatch("maxAbsoluteDifference: \(shape) vs \(other.shape)")
        }
        var m: Float = 0
        let a = pointer, b = other.pointer
        for i in 0..<count { m = max(m, abs(a[i] - b[i])) }
        return m
    }

    /// Largest absolute value.
    public var maxAbsolute: Float {
        var m: Float = 0
        let a = pointer
        for i in 0..<count { m = max(m, abs(a[i])) }
        return m
    }
}

#if os(Linux)
/// glibc's mallopt(3), which the Glibc module does not import (malloc.h).
@_silgen_name("mallopt")
private func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32
#endif
