// Where the model comes from: --model DIR, else $STYLEDIFF_MODEL, else Weights/default next to
// the package the executable was built in (.build/<config>/stylediff -> ../../Weights/default),
// else ./Weights/default.

import Foundation

public enum ModelLocator {
    public static func resolve(_ explicit: String?) -> String {
        if let explicit { return explicit }
        if let env = ProcessInfo.processInfo.environment["STYLEDIFF_MODEL"], !env.isEmpty { return env }
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = executable.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("Weights/default").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath + "/Weights/default"
    }
}
