// stylediff-fuzz: the fuzz targets of FuzzTargets.
//
// Built with libFuzzer (tools/fuzz.sh: -sanitize=fuzzer,address -DFUZZING), it fuzzes the target
// named by $STYLEDIFF_FUZZ_TARGET, taking libFuzzer's own arguments (corpus folders, -runs,
// -max_total_time). Built normally, it runs the files given as arguments through that target
// (to reproduce a crash file) and exits 0 when every one returned.

import Foundation
import FuzzTargets

#if FUZZING
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif

nonisolated(unsafe) var selected: FuzzTarget = .png
nonisolated(unsafe) var context: FuzzContext?

@main struct StyleDiffFuzz {
    static func main() throws {
        let environment = ProcessInfo.processInfo.environment
        guard let name = environment["STYLEDIFF_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
            FileHandle.standardError.write(Data("set STYLEDIFF_FUZZ_TARGET to one of: \(names)\n".utf8))
            exit(64)
        }
        selected = target
        context = try FuzzContext(model: environment["STYLEDIFF_FUZZ_MODEL"] ?? "Tests/Fixtures/pipeline/model")
        #if FUZZING
        var argc = CommandLine.argc
        var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
            guard let context else { return 0 }
            selected.run(size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size)), context: context)
            return 0
        })
        #else
        for path in CommandLine.arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path), let context else { continue }
            selected.run(Array(data), context: context)
            print("ok \(path)")
        }
        #endif
    }
}
