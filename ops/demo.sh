#!/usr/bin/env bash
# demo.sh — `make demo`: kyosai-ledger end to end, on real LMDB files and real TCP.
# Creates a ledger and channel keys, starts a real kyosaid on loopback with the Noise
# channel on, posts a realistic sample (both
# schemes, a year of monthly premiums) through the client library, shows the node's status
# and a few contracts over the network, shows refusals with their reasons, stops the node
# cleanly, verifies the whole ledger offline, checks derived state against a replay, then
# tampers with copies and shows that verify names the altered entry. Later versions run a
# primary and a DR node here, with a failover drill.
set -euo pipefail
BUILD=${1:-build}
CTL="$BUILD/kyosaictl"
KYOSAID="$BUILD/kyosaid"
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

step "3. Keys for the secure channel: the node's, and one per client role"
K="$DIR/keys"
mkdir -p "$K"
run "$CTL" keygen --channel --out "$K/node"
for who in poster:writer callcentre:reader; do
  "$CTL" keygen --channel --out "$K/${who%%:*}" 2>/dev/null > "$K/${who%%:*}.line"
  echo "$(cat "$K/${who%%:*}.line") demo-${who%%:*} ${who#*:}" >> "$K/clients"
done
echo "client registry ($K/clients): public key, name, role"
sed 's/^\(x25519:.\{12\}\)[0-9a-f]*/\1.../' "$K/clients"

PORT=${KY_DEMO_PORT:-$((17400 + RANDOM % 1000))}
SERVER="127.0.0.1:$PORT"
step "4. Start a real node (kyosaid) on $SERVER, Noise-encrypted, keys pinned"
NODE_ARGS=(--set node.data_dir="$L" --set node.listen_port="$PORT"
           --set security.key_file="$K/node.key" --set security.clients_file="$K/clients")
printf '$ %s\n' "$KYOSAID ${NODE_ARGS[*]} &" >&2
"$KYOSAID" "${NODE_ARGS[@]}" 2> "$DIR/kyosaid.log" &
NODE_PID=$!
trap 'kill $NODE_PID 2>/dev/null || true' EXIT
# every kyosaictl call below connects as the writer unless it says otherwise
export KYOSAI_KEY="$K/poster.key" KYOSAI_SERVER_KEY="$K/node.pub"
echo "(KYOSAI_KEY=$KYOSAI_KEY KYOSAI_SERVER_KEY=$KYOSAI_SERVER_KEY for the commands below)"
for _ in $(seq 50); do "$CTL" --server "$SERVER" status >/dev/null 2>&1 && break; sleep 0.1; done
head -n 2 "$DIR/kyosaid.log" | cut -c1-160

step "5. Post the sample through libkyosai (batches of 1,000; the node group-commits them)"
run "$CTL" --server "$SERVER" post "$DIR/sample.jsonl"
echo "posting the same file again writes nothing (idempotency keys):"
run "$CTL" --server "$SERVER" post "$DIR/sample.jsonl"

step "6. The node's status and a few contracts, over the network"
run "$CTL" --server "$SERVER" status
SHOKIBO=$(grep -m1 '"scheme":"shokibo"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
SAFETY=$(grep -m1 '"scheme":"safety"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
run "$CTL" --server "$SERVER" contract "$SHOKIBO"
run "$CTL" --server "$SERVER" contract "$SAFETY"
run "$CTL" --server "$SERVER" history "$SAFETY" --limit 3

step "7. Bad input: every refusal names its rule, and writes nothing"
cat > "$DIR/bad.jsonl" <<JSON
{"kind":"premium_paid","scheme":"shokibo","contract":$SHOKIBO,"amount":42000,"period":202504}
{"kind":"premium_paid","scheme":"safety","contract":$SAFETY,"amount":7500,"period":202701}
{"kind":"premium_paid","scheme":"shokibo","contract":999999999,"amount":42000,"period":202701}
{"kind":"loan_repaid","scheme":"shokibo","contract":$SHOKIBO,"amount":99999999}
{"kind":"premium_paid","scheme":"shokibo","contract":$SHOKIBO,"amount":"forty-two"}
JSON
run "$CTL" --server "$SERVER" post "$DIR/bad.jsonl" || echo "(exit $? — refusals reported above)"

step "8. Access control: a reader may read but not post; a client without a key is refused"
run "$CTL" --server "$SERVER" --key "$K/callcentre.key" contract "$SHOKIBO" | head -n 3
run "$CTL" --server "$SERVER" --key "$K/callcentre.key" post "$DIR/bad.jsonl" \
  || echo "(exit $? — the node refused the reader's append and wrote nothing)"
KYOSAI_KEY= KYOSAI_SERVER_KEY= run "$CTL" --server "$SERVER" status \
  || echo "(exit $? — plaintext is refused by a node with the secure channel on)"
grep -m1 'request refused by role' "$DIR/kyosaid.log" | cut -c1-160

step "9. Stop the node (SIGTERM: in-flight work finishes, the ledger closes cleanly)"
kill -TERM "$NODE_PID"
NODE_RC=0
wait "$NODE_PID" || NODE_RC=$?
trap - EXIT
echo "kyosaid exited with status $NODE_RC; its last log lines:"
tail -n 3 "$DIR/kyosaid.log"

step "10. Verify the whole ledger offline, read-only, trusting nothing but the bytes"
run "$CTL" --data "$L" verify

step "11. Derived state equals a replay of the entries"
run "$CTL" --data "$L" reindex --check

step "12. Tamper with a copy: change one amount byte in the LMDB file"
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

step "13. A smarter attacker also recomputes the record checksum: the hash chain still catches it"
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
