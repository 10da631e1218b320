#!/usr/bin/env bash
# run-unit.sh — run every cmocka unit test binary and print one closing tally line.
# Why a script: make would stop at the first failing binary; we want every result,
# then a non-zero exit if any failed.
set -u
passed=0; failed=0; failed_names=()
for t in "$@"; do
  if "$t" > "$t.log" 2>&1; then
    passed=$((passed + 1)); echo "PASS $(basename "$t")"
  else
    failed=$((failed + 1)); failed_names+=("$(basename "$t")")
    echo "FAIL $(basename "$t") (log follows)"; tail -n 40 "$t.log"
  fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
