// Which lines of a prompt file one batch run takes, for many copies under a cluster scheduler:
// shard I of N (0-based) takes the file's prompt lines I, I + N, I + 2N, ... in file order.
// Output names and seeds come from the line, never from the shard, so N shards together write
// exactly the files of one unsharded run.
//
//   --shard I/N                       explicit
//   --shards N + JOB_COMPLETION_INDEX a Kubernetes Indexed Job
//   SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT (and SLURM_ARRAY_TASK_MIN, default 0)
//                                     a Slurm job array, when neither option is given

public struct BatchShard: Equatable, Sendable {
    public var index: Int
    public var count: Int

    public init?(index: Int, count: Int) {
        guard count >= 1, count <= 1_000_000, (0..<count).contains(index) else { return nil }
        (self.index, self.count) = (index, count)
    }

    /// "I/N" with 0 <= I < N.
    public init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else { return nil }
        self.init(index: i, count: n)
    }

    /// Whether the prompt line at `position` (0-based, among the file's prompt lines) is this shard's.
    public func takes(_ position: Int) -> Bool { position % count == index }

    /// The manifest's file name: manifest.jsonl unsharded, manifest-I-of-N.jsonl for a shard.
    public static func manifestName(_ shard: BatchShard?) -> String {
        shard.map { "manifest-\($0.index)-of-\($0.count).jsonl" } ?? "manifest.jsonl"
    }

    /// The shard from the options and the environment (nil: the whole file); a usage error
    /// says what is inconsistent.
    static func resolve(shard: String?, shards: Int?, environment env: [String: String]) throws -> BatchShard? {
        if let shard {
            guard shards == nil else { throw CLIError(.usage, "--shard and --shards exclude each other") }
            guard let s = BatchShard(argument: shard) else {
                throw CLIError(.usage, "--shard must be I/N with 0 <= I < N, got '\(shard)'")
            }
            return s
        }
        if let shards {
            guard let text = env["JOB_COMPLETION_INDEX"], let i = Int(text), let s = BatchShard(index: i, count: shards) else {
                throw CLIError(.usage, "--shards \(shards) needs JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) between 0 and \(shards - 1), "
                    + "got \(env["JOB_COMPLETION_INDEX"].map { "'\($0)'" } ?? "none")")
            }
            return s
        }
        if let id = env["SLURM_ARRAY_TASK_ID"], let total = env["SLURM_ARRAY_TASK_COUNT"] {
            let minimum = env["SLURM_ARRAY_TASK_MIN"] ?? "0"
            guard let i = Int(id), let n = Int(total), let m = Int(minimum), let s = BatchShard(index: i - m, count: n) else {
                throw CLIError(.usage, "SLURM_ARRAY_TASK_ID \(id), SLURM_ARRAY_TASK_MIN \(minimum) and SLURM_ARRAY_TASK_COUNT \(total) "
                    + "do not name a shard (a job array with step 1 is needed)")
            }
            return s
        }
        return nil
    }
}

/// One line of a batch manifest (JSON Lines, keys sorted): what happened to a prompt line.
struct ManifestEntry: Codable, Equatable {
    var line: Int
    /// The output's file name, in the manifest's folder.
    var file: String
    var seed: UInt64
    var sha256: String
    /// "written", or "skipped" (the output existed: a resumed run).
    var status: String
}
