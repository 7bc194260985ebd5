// Batch sharding for cluster schedulers: a prompt file split 3 ways (explicitly, as a
// Kubernetes Indexed Job, as a Slurm array), the shards run in parallel, gives byte-identical
// files and the same manifest lines as the unsharded run.

import Foundation
import Testing
import TestSupport
@testable import StyleDiffCommands

@Suite(.serialized) struct BatchShardTests {
    @Test func shardsParseAndResolve() throws {
        #expect(BatchShard(argument: "1/3") == BatchShard(index: 1, count: 3))
        for bad in ["3/3", "-1/3", "1", "a/b", "1/0", "1/3/4"] { #expect(BatchShard(argument: bad) == nil, "\(bad)") }
        let s = try #require(BatchShard(index: 1, count: 3))
        #expect((0..<7).filter(s.takes) == [1, 4])
        #expect(try BatchShard.resolve(shard: nil, shards: 3, environment: ["JOB_COMPLETION_INDEX": "2"]) == BatchShard(index: 2, count: 3))
        #expect(try BatchShard.resolve(shard: nil, shards: nil, environment: ["SLURM_ARRAY_TASK_ID": "5", "SLURM_ARRAY_TASK_MIN": "4",
                                                                              "SLURM_ARRAY_TASK_COUNT": "3"]) == BatchShard(index: 1, count: 3))
        #expect(try BatchShard.resolve(shard: nil, shards: nil, environment: [:]) == nil)
        #expect(throws: CLIError.self) { try BatchShard.resolve(shard: nil, shards: 3, environment: [:]) }
        #expect(throws: CLIError.self) { try BatchShard.resolve(shard: nil, shards: 3, environment: ["JOB_COMPLETION_INDEX": "3"]) }
        #expect(throws: CLIError.self) { try BatchShard.resolve(shard: "0/2", shards: 2, environment: [:]) }
    }

    @Test func threeShardsInParallelEqualOneRun() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let lines = (0..<7).map { #"{"prompt": "folder icon", "style": "papirus", "steps": 2, "seed": \#($0 * 11)}"# }
            + [#"{"name": "named", "prompt": "heart emoji", "steps": 2}"#]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: dir + "/jobs.jsonl"))
        let base = ["batch", dir + "/jobs.jsonl", "--model", fixtureModel]
        let whole = try stylediff(base + ["--out-dir", dir + "/whole"])
        #expect(whole.status == 0, "\(whole.stderr)")
        // The three ways a shard is named, started together.
        let runs: [([String], [String: String])] = [
            (["--shard", "0/3"], [:]),
            (["--shards", "3"], ["JOB_COMPLETION_INDEX": "1"]),
            ([], ["SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_COUNT": "3"]),
        ]
        let statuses = LockedArray()
        DispatchQueue.concurrentPerform(iterations: runs.count) { i in
            let r = try? stylediff(base + ["--out-dir", dir + "/sharded"] + runs[i].0, environment: runs[i].1)
            statuses.append("\(i):\(r?.status ?? -1):\(r?.stderr ?? "")")
        }
        #expect(statuses.values.sorted() == ["0:0:", "1:0:", "2:0:"], "\(statuses.values)")
        let fm = FileManager.default
        let pngs = try fm.contentsOfDirectory(atPath: dir + "/whole").filter { $0.hasSuffix(".png") }.sorted()
        #expect(pngs.count == 8)
        #expect(try fm.contentsOfDirectory(atPath: dir + "/sharded").filter { $0.hasSuffix(".png") }.sorted() == pngs)
        for name in pngs { #expect(try sha256(dir + "/whole/" + name) == sha256(dir + "/sharded/" + name), "\(name)") }
        func manifest(_ path: String) throws -> [String] {
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        }
        let wholeLines = try manifest(dir + "/whole/manifest.jsonl")
        #expect(wholeLines.count == 8 && wholeLines.allSatisfy { $0.contains(#""status":"written""#) })
        var shardLines: [String] = []
        for i in 0..<3 {
            let part = try manifest(dir + "/sharded/manifest-\(i)-of-3.jsonl")
            #expect(part.count == (i < 2 ? 3 : 2), "shard \(i): lines \(i), \(i + 3), ...")
            shardLines += part
        }
        let decoder = JSONDecoder()
        let sortedShards = try shardLines.map { try decoder.decode(ManifestEntry.self, from: Data($0.utf8)) }.sorted { $0.line < $1.line }
        let wholeEntries = try wholeLines.map { try decoder.decode(ManifestEntry.self, from: Data($0.utf8)) }
        #expect(wholeEntries == sortedShards)
        // A rerun of a finished shard writes nothing and says so in its manifest.
        let again = try stylediff(base + ["--out-dir", dir + "/sharded", "--shard", "2/3"])
        let rerun = try manifest(dir + "/sharded/manifest-2-of-3.jsonl")
        #expect(again.status == 0 && rerun.count == 2 && rerun.allSatisfy { $0.contains(#""status":"skipped""#) })
    }
}

/// A thread-safe list of strings (results of concurrent runs).
final class LockedArray: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
