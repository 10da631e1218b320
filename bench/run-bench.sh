#!/usr/bin/env bash
# run-bench.sh — `make bench`: every benchmark in one run, so the ratios compare numbers
# measured on the same machine at the same time. Benchmarks are never tests: they print,
# they do not pass or fail. Set KY_BENCH_EVENTS to scale (default 1,000,000 for the ledger).
set -euo pipefail
BUILD=${1:-build}
EVENTS=${KY_BENCH_EVENTS:-1000000}
echo "== machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "== ledger-bench (in-process engine vs raw LMDB doing the same writes; verify; SHA-256)"
"$BUILD/bench/ledger-bench" --events "$EVENTS"
echo
echo "== kyosai-bench (libkyosai over loopback to a real kyosaid)"
"$BUILD/bench/kyosai-bench" --kyosaid "$BUILD/kyosaid" --events $((EVENTS / 5))
