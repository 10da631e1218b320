#!/usr/bin/env bash
# run-bench.sh — `make bench`: every benchmark in one run, so the ratios compare numbers
# measured on the same machine at the same time. Benchmarks are never tests: they print,
# they do not pass or fail. Set KY_BENCH_EVENTS to scale (default 1,000,000 for the ledger;
# kyosai-bench gets a fifth per scenario) and KY_BENCH_CATCHUP for the premiums a fresh DR
# replica copies in the catch-up scenario (default 500,000). About 4 minutes on 2 cores.
set -euo pipefail
BUILD=${1:-build}
EVENTS=${KY_BENCH_EVENTS:-1000000}
CATCHUP=${KY_BENCH_CATCHUP:-500000}
echo "== machine: $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "== ledger-bench (in-process engine vs raw LMDB doing the same writes; verify; SHA-256)"
"$BUILD/bench/ledger-bench" --events "$EVENTS"
echo
echo "== kyosai-bench (libkyosai over loopback to real kyosaid processes: standalone, then a"
echo "   primary + DR replica pair: synchronous, through a delay proxy, catch-up, drill)"
"$BUILD/bench/kyosai-bench" --kyosaid "$BUILD/kyosaid" --kyosaictl "$BUILD/kyosaictl" \
  --proxy "$BUILD/bench/delay-proxy" --events $((EVENTS / 5)) --catchup-events "$CATCHUP"
