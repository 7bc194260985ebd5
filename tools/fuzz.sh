#!/usr/bin/env bash
# Builds stylediff-fuzz with libFuzzer and AddressSanitizer and fuzzes each target for a fixed
# time, starting from the seed corpora in Tests/Fuzz/corpus. Exits non-zero on any crash, leak,
# out-of-memory or timeout, leaving the input in .build-fuzz/crash-TARGET-*; reproduce one with
# `STYLEDIFF_FUZZ_TARGET=TARGET .build/debug/stylediff-fuzz FILE` (plain build) or the fuzz binary.
#
#   tools/fuzz.sh [SECONDS] [TARGET ...]     # default: 30 s for every target (CI)
#   tools/fuzz.sh 3600 png                   # a long run of one target
#
# Prints one line per target: executions, executions/s, new corpus files. Grown corpora stay in
# .build-fuzz/corpus/TARGET (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors png png-crc config sentencepiece replay clip-tokenizer lora)

scratch=.build-fuzz
swift build -c release --product stylediff-fuzz --scratch-path "$scratch" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
  -Xswiftc -Xclang-linker -Xswiftc -fuse-ld=lld
binary="$scratch/release/stylediff-fuzz"

failed=0
passed=0
for target in "${targets[@]}"; do
  corpus="$scratch/corpus/$target"
  mkdir -p "$corpus"
  log="$scratch/fuzz-$target.log"
  # Swift's own crash handler would wait on a backtracer; let libFuzzer report the crash.
  if SWIFT_BACKTRACE=enable=no STYLEDIFF_FUZZ_TARGET="$target" "$binary" \
      -max_total_time="$seconds" -rss_limit_mb=3072 -malloc_limit_mb=2048 -timeout=20 -max_len=65536 \
      -print_final_stats=1 -artifact_prefix="$scratch/crash-$target-" \
      "$corpus" "Tests/Fuzz/corpus/$target" >"$log" 2>&1; then
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    units=$(grep -o 'stat::new_units_added: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    echo "fuzz $target: $runs executions in ${seconds}s ($rate/s), $units new corpus units, no crash"
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "fuzz $target: FAILED (log: $log)"
    grep -E 'ERROR|SUMMARY|Fatal error|Test unit written' "$log" | head -20 || true
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
