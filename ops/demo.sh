#!/usr/bin/env bash
# demo.sh — `make demo`: the ledger engine end to end on real LMDB files.
# Creates a ledger, posts a realistic sample (both schemes, a year of monthly premiums),
# shows contracts, shows refusals with their reasons, verifies the whole ledger offline,
# checks derived state against a replay, then tampers with a copy and shows that verify
# names the altered entry. Later versions run a primary and a DR node here.
set -euo pipefail
BUILD=${1:-build}
CTL="$BUILD/kyosaictl"
PY=${PYTHON:-/usr/bin/python3}  # Debian's python3, with python3-xxhash from make deps
CONTRACTS=${KY_DEMO_CONTRACTS:-3000}
DIR=$(mktemp -d /tmp/kyosai-demo-XXXXXX)
L="$DIR/ledger"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "1. Create a ledger (LMDB, epoch 1)"
run "$CTL" --data "$L" init

step "2. Generate a realistic sample: $CONTRACTS contracts, 12 months of premiums"
run "$CTL" sample --contracts "$CONTRACTS" --months 12 --seed 2026 > "$DIR/sample.jsonl"
echo "$(wc -l < "$DIR/sample.jsonl") events; first lines:"
head -n 3 "$DIR/sample.jsonl"

step "3. Post them (batches of 1,000 events, one fsync'ed LMDB transaction each)"
run "$CTL" --data "$L" post "$DIR/sample.jsonl"

step "4. The head of the ledger"
run "$CTL" --data "$L" status

step "5. A few contracts"
SHOKIBO=$(grep -m1 '"scheme":"shokibo"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
SAFETY=$(grep -m1 '"scheme":"safety"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
run "$CTL" --data "$L" contract "$SHOKIBO"
run "$CTL" --data "$L" contract "$SAFETY"
run "$CTL" --data "$L" history "$SAFETY" --limit 3

step "6. Bad input: every refusal names its rule, and writes nothing"
cat > "$DIR/bad.jsonl" <<JSON
{"kind":"premium_paid","scheme":"shokibo","contract":$SHOKIBO,"amount":42000,"period":202504}
{"kind":"premium_paid","scheme":"safety","contract":$SAFETY,"amount":7500,"period":202701}
{"kind":"premium_paid","scheme":"shokibo","contract":999999999,"amount":42000,"period":202701}
{"kind":"loan_repaid","scheme":"shokibo","contract":$SHOKIBO,"amount":99999999}
{"kind":"premium_paid","scheme":"shokibo","contract":$SHOKIBO,"amount":"forty-two"}
JSON
run "$CTL" --data "$L" post "$DIR/bad.jsonl" || echo "(exit $? — refusals reported above)"

step "7. Verify the whole ledger offline, read-only, trusting nothing but the bytes"
run "$CTL" --data "$L" verify

step "8. Derived state equals a replay of the entries"
run "$CTL" --data "$L" reindex --check

step "9. Tamper with a copy: change one amount byte in the LMDB file"
cp -r "$L" "$DIR/tampered"
"$PY" - "$DIR/tampered/data.mdb" "$SAFETY" <<'PY'
import sys, struct
path, contract = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
# find premium entries of this contract: kind 3, scheme 2, contract id at offset 40
needle = struct.pack("<Q", contract)
i = data.find(needle)
while i >= 0:
    start = i - 40
    if data[start] == 1 and data[start + 1] == 3 and data[start + 2] == 2:
        break
    i = data.find(needle, i + 1)
header = bytes(data[start:start + 152])
seq = struct.unpack("<Q", header[16:24])[0]
# LMDB is copy-on-write: stale copies of the page may hold the entry too; alter them all.
j = data.find(header)
while j >= 0:
    data[j + 56] ^= 0x10  # a bit of the amount field
    j = data.find(header, j + 1)
print(f"flipped one bit of the amount of entry seq {seq}")
open(path, "wb").write(bytes(data))
PY
run "$CTL" --data "$DIR/tampered" verify || echo "(exit $? — verify names the altered entry)"

step "10. A smarter attacker also recomputes the record checksum: the hash chain still catches it"
cp -r "$L" "$DIR/tampered2"
"$PY" - "$DIR/tampered2/data.mdb" "$SAFETY" <<'PY'
import sys, struct, xxhash
path, contract = sys.argv[1], int(sys.argv[2])
data = bytearray(open(path, "rb").read())
needle = struct.pack("<Q", contract)
i = data.find(needle)
while i >= 0:
    start = i - 40
    if data[start] == 1 and data[start + 1] == 3 and data[start + 2] == 2:
        break
    i = data.find(needle, i + 1)
(payload_len,) = struct.unpack("<I", data[start + 12:start + 16])
n = 152 + payload_len
old = bytes(data[start:start + n + 8])
entry = bytearray(old[:n])
entry[56] ^= 0x10  # change the amount
new = bytes(entry) + struct.pack("<Q", xxhash.xxh3_64_intdigest(bytes(entry)))
seq = struct.unpack("<Q", entry[16:24])[0]
data = bytearray(bytes(data).replace(old, new))
open(path, "wb").write(bytes(data))
print(f"changed the amount of entry seq {seq} and wrote a matching XXH3 checksum")
PY
run "$CTL" --data "$DIR/tampered2" verify || echo "(exit $? — the next entry's prev_hash no longer matches)"

printf '\nDemo data kept in %s (remove it with: rm -rf %s)\n' "$DIR" "$DIR"
