#!/usr/bin/env bash
# deps.sh — make sure the Debian packages kyosai-ledger builds and tests with are present.
# Why: `make demo` and `make test` must work on a fresh Debian 12 machine with no other
# set-up step. It names exactly what it installs; with --check it only reports.
set -euo pipefail
PKGS=(build-essential pkg-config liblmdb-dev lmdb-utils libsodium-dev libssl-dev libev-dev
      libxxhash-dev libcmocka-dev libcjson-dev libinih-dev python3 python3-pytest
      python3-xxhash
      clang-format cppcheck
      clang libclang-rt-14-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "${1:-}" = "--check" ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2; exit 1
fi
echo "deps: installing missing Debian packages: ${missing[*]}" >&2
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
echo "deps: done" >&2
