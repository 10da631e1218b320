#!/usr/bin/env bash
# run-fuzz.sh — `make fuzz` / `make fuzz-smoke`: runs each libFuzzer harness for a fixed time.
# Why a scratch corpus: libFuzzer writes every input that finds new coverage into its first
# corpus directory, and the committed seeds (tests/fuzz/corpus/<harness>/) must stay small
# and reviewed; so each run starts from a fresh copy in BUILD/work/<harness>/. A crash,
# leak, timeout or out-of-memory leaves its reproducer in BUILD/artifacts/<harness>/ and
# makes the script exit 1 after the remaining harnesses have run.
# Usage: tests/fuzz/run-fuzz.sh BUILD SECONDS HARNESS...   (HARNESS: frame, msg, ...)
set -u
cd "$(dirname "$0")/../.."
if [ $# -lt 3 ]; then echo "usage: $0 BUILD SECONDS HARNESS..." >&2; exit 2; fi
build=$1 seconds=$2
shift 2
status=0
for h in "$@"; do
  bin=$build/fuzz_$h work=$build/work/$h art=$build/artifacts/$h log=$build/logs/$h.log
  rm -rf "$work"
  mkdir -p "$work" "$art" "$build/logs"
  cp tests/fuzz/corpus/"$h"/* "$work"/ 2>/dev/null || true
  opts=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
        -artifact_prefix="$art/")
  [ -f tests/fuzz/"$h".dict ] && opts+=(-dict=tests/fuzz/"$h".dict)
  # The importer's limits (4 KiB payload, 32 KiB line) lie beyond libFuzzer's 4 KiB default.
  [ "$h" = import ] && opts+=(-max_len=40000)
  "$bin" "${opts[@]}" "$work" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  final=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  printf 'fuzz %-6s %4ss  execs %-10s rc %d  %s\n' "$h" "$seconds" "${execs:-?}" "$rc" "$final"
  if [ $rc -ne 0 ]; then
    status=1
    echo "---- $h failed; log $log, reproducer(s) in $art/:"
    grep -E 'ERROR|SUMMARY|fuzz_|level=fatal|Test unit written|#[0-9]+ in ' "$log" | head -n 30
  fi
done
exit $status
