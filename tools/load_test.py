#!/usr/bin/env python3
"""Load run of `stylediff serve` (standard library only).

Starts the release binary on a free port with the given model, sends REQUESTS txt2img requests
from CONCURRENCY threads (each on its own connection, distinct seeds), samples the server's RSS
from /proc every 0.25 s, and reports: status counts (every request must be answered 200 or 429;
anything else, or a request without an answer, is a failure and exit 1), requests/s, p50/p99
latency of the 200s, and RSS after warm-up (the first CONCURRENCY answers) vs at the end.

    swift build -c release --product stylediff
    tools/load_test.py --model Weights/default --requests 500 --concurrency 8 --steps 8
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=".build/release/stylediff")
    parser.add_argument("--model", default="Weights/default")
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--queue", type=int, default=8, help="serve --queue")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--prompt", default="folder icon")
    parser.add_argument("--style", default="papirus")
    parser.add_argument("--threads", type=int, default=0, help="serve --threads (0: its default)")
    args = parser.parse_args()

    command = [args.binary, "serve", "--model", args.model, "--port", "0", "--queue", str(args.queue), "--log-level", "warning"]
    if args.threads:
        command += ["--threads", str(args.threads)]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    match = re.search(r":(\d+)\s*$", line)
    if not match:
        server.kill()
        sys.exit(f"the server did not start: {line!r}")
    port = int(match.group(1))

    samples = []  # (time, rss)
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            samples.append((time.time(), rss_mb(server.pid)))
            time.sleep(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()

    lock = threading.Lock()
    next_index = [0]
    results = []  # (index, status or error, seconds, finished_at)

    def worker():
        while True:
            with lock:
                i = next_index[0]
                if i >= args.requests:
                    return
                next_index[0] += 1
            body = json.dumps({"prompt": args.prompt, "style": args.style, "steps": args.steps, "seed": i})
            start = time.time()
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
                connection.request("POST", "/sdapi/v1/txt2img", body, {"Content-Type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                status = response.status
                if status == 200 and not json.loads(payload).get("images"):
                    status = "200 without images"
                connection.close()
            except Exception as e:  # a lost request
                status = f"error: {e}"
            with lock:
                results.append((i, status, time.time() - start, time.time()))

    began = time.time()
    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - began
    time.sleep(0.5)
    stop.set()
    sampler.join()
    server.terminate()
    server.wait(timeout=60)

    counts = {}
    for _, status, _, _ in results:
        counts[str(status)] = counts.get(str(status), 0) + 1
    ok = [seconds for _, status, seconds, _ in results if status == 200]
    finished = sorted(t for *_, t in results)
    warm = finished[min(len(finished) - 1, args.concurrency - 1)] if finished else began
    after_warm = [r for t, r in samples if t >= warm and r is not None]
    report = {
        "requests": args.requests, "answered": len(results), "concurrency": args.concurrency, "steps": args.steps,
        "status_counts": counts, "seconds": round(elapsed, 1), "requests_per_second": round(len(results) / elapsed, 2),
        "images_per_second": round(len(ok) / elapsed, 2),
        "p50_seconds": round(percentile(ok, 50), 3), "p99_seconds": round(percentile(ok, 99), 3),
        "rss_mb_after_warmup": round(after_warm[0], 1) if after_warm else None,
        "rss_mb_max_after_warmup": round(max(after_warm), 1) if after_warm else None,
        "rss_mb_end": round(after_warm[-1], 1) if after_warm else None,
        "server_exit": server.returncode,
    }
    print(json.dumps(report, indent=1))
    lost = args.requests - len(results)
    bad = {k: v for k, v in counts.items() if k not in ("200", "429")}
    if lost or bad or server.returncode != 0:
        print(f"FAILED: {lost} lost, other answers {bad}, server exit {server.returncode}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
