#!/usr/bin/env bash
# demo.sh — `make demo`: kyosai-ledger end to end, on real LMDB files, real processes and
# real (encrypted) TCP on loopback. A primary and a DR replica are started with pinned
# Noise keys and synchronous replication; a realistic sample (both schemes, a year of
# monthly premiums) is posted through the client library; the pair's status, a few
# contracts, refusals and access control are shown; a switchover drill runs there and back
# and prints its report (RTO, RPO, heads, chains); then a disaster drill: the primary is
# killed, the DR node promoted, the old one rejoins as its replica; both are stopped and audited
# offline; finally copies of the ledger are tampered with to show what verify catches.
set -euo pipefail
BUILD=${1:-build}
CTL="$BUILD/kyosaictl"
KYOSAID="$BUILD/kyosaid"
PY=${PYTHON:-/usr/bin/python3}  # Debian's python3, with python3-xxhash from make deps
CONTRACTS=${KY_DEMO_CONTRACTS:-3000}
DIR=$(mktemp -d /tmp/kyosai-demo-XXXXXX)
L="$DIR/primary"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "1. Create the primary's ledger (epoch 1) and an empty ledger for the DR replica"
run "$CTL" --data "$L" init
run "$CTL" --data "$DIR/dr" init --replica

step "2. Generate a realistic sample: $CONTRACTS contracts, 12 months of premiums"
run "$CTL" sample --contracts "$CONTRACTS" --months 12 --seed 2026 > "$DIR/sample.jsonl"
echo "$(wc -l < "$DIR/sample.jsonl") events; first lines:"
head -n 3 "$DIR/sample.jsonl"

step "3. Keys for the secure channel: one per node, one per client role"
K="$DIR/keys"
mkdir -p "$K"
run "$CTL" keygen --channel --out "$K/primary"
"$CTL" keygen --channel --out "$K/dr" 2>/dev/null >/dev/null
for who in poster:writer callcentre:reader ops:writer,operator; do
  "$CTL" keygen --channel --out "$K/${who%%:*}" 2>/dev/null > "$K/${who%%:*}.line"
  echo "$(cat "$K/${who%%:*}.line") demo-${who%%:*} ${who#*:}" >> "$K/clients"
done
# each node pins the other node's key with the replica role (either may stream from the other)
{ cat "$K/clients"; echo "$(cat "$K/dr.pub") dr-node replica"; } > "$K/clients-primary"
{ cat "$K/clients"; echo "$(cat "$K/primary.pub") primary-node replica"; } > "$K/clients-dr"
echo "client registry of the primary ($K/clients-primary): public key, name, roles"
sed 's/^\(x25519:.\{12\}\)[0-9a-f]*/\1.../' "$K/clients-primary"

BASE=${KY_DEMO_PORT:-$((17400 + RANDOM % 1000))}
P_ADDR="127.0.0.1:$BASE"
DR_ADDR="127.0.0.1:$((BASE + 1))"
BOTH="$P_ADDR,$DR_ADDR"
step "4. Start the primary on $P_ADDR and the DR replica on $DR_ADDR (strict synchronous)"
P_ARGS=(--set node.data_dir="$L" --set node.listen_port="$BASE"
        --set security.key_file="$K/primary.key" --set security.clients_file="$K/clients-primary"
        --set replication.role=primary --set replication.peer_addr="$DR_ADDR"
        --set replication.peer_key="$K/dr.pub")
DR_ARGS=(--set node.data_dir="$DIR/dr" --set node.listen_port="$((BASE + 1))"
         --set security.key_file="$K/dr.key" --set security.clients_file="$K/clients-dr"
         --set replication.role=replica --set replication.peer_addr="$P_ADDR"
         --set replication.peer_key="$K/primary.pub")
printf '$ %s\n' "$KYOSAID ${P_ARGS[*]} &" >&2
"$KYOSAID" "${P_ARGS[@]}" 2> "$DIR/primary.log" &
P_PID=$!
printf '$ %s\n' "$KYOSAID ${DR_ARGS[*]} &" >&2
"$KYOSAID" "${DR_ARGS[@]}" 2> "$DIR/dr.log" &
DR_PID=$!
trap 'kill $P_PID $DR_PID 2>/dev/null || true' EXIT
# every kyosaictl call below connects as the poster (writer) unless it says otherwise
export KYOSAI_KEY="$K/poster.key" KYOSAI_SERVER_KEY="$K/primary.pub,$K/dr.pub"
echo "(KYOSAI_KEY=$KYOSAI_KEY KYOSAI_SERVER_KEY=<both nodes' keys> for the commands below)"
for _ in $(seq 100); do grep -q 'replica streaming' "$DIR/dr.log" && break; sleep 0.1; done
grep -h 'secure channel on\|replica subscribed\|replica streaming' "$DIR/primary.log" \
  "$DIR/dr.log" | cut -c1-150

SERVER="$BOTH"
step "5. Post the sample through libkyosai; each append is acknowledged once both nodes hold it"
run "$CTL" --server "$SERVER" post "$DIR/sample.jsonl"
echo "posting the same file again writes nothing (idempotency keys):"
run "$CTL" --server "$SERVER" post "$DIR/sample.jsonl"

step "6. Both nodes side by side, and a few contracts read over the network"
KYOSAI_KEY="$K/ops.key" run "$CTL" --server "$BOTH" status
SHOKIBO=$(grep -m1 '"scheme":"shokibo"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
SAFETY=$(grep -m1 '"scheme":"safety"' "$DIR/sample.jsonl" | sed 's/.*"contract":\([0-9]*\).*/\1/')
run "$CTL" --server "$SERVER" contract "$SHOKIBO"
run "$CTL" --server "$DR_ADDR" --server-key "$K/dr.pub" contract "$SAFETY"
echo "(read from the DR replica: auditors and reports may use it)"
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
run "$CTL" --server "$DR_ADDR" --server-key "$K/dr.pub" post "$DIR/bad.jsonl" 2>&1 | tail -n 2 \
  || true
echo "(the DR replica refuses writes and names the primary)"

step "8. Access control: a reader may read but not post; a client without a key is refused"
run "$CTL" --server "$SERVER" --key "$K/callcentre.key" contract "$SHOKIBO" | head -n 3
run "$CTL" --server "$SERVER" --key "$K/callcentre.key" post "$DIR/bad.jsonl" \
  || echo "(exit $? — the node refused the reader's append and wrote nothing)"
KYOSAI_KEY= KYOSAI_SERVER_KEY= run "$CTL" --server "$P_ADDR" status \
  || echo "(exit $? — plaintext is refused by a node with the secure channel on)"
grep -m1 'request refused by role' "$DIR/primary.log" | cut -c1-160

step "9. Failover drill: switchover to the DR node and back, under a light load"
KYOSAI_KEY="$K/ops.key" run "$CTL" --server "$BOTH" drill --back --report "$DIR/drill.json"
echo "(the same report as JSON: $DIR/drill.json)"

step "10. Disaster drill: the primary dies (SIGKILL), the DR node is promoted, the old one returns"
kill -KILL "$P_PID"
wait "$P_PID" 2>/dev/null || true
echo "(killed the primary, pid $P_PID; the DR node notices its stream is gone)"
for _ in $(seq 100); do grep -q 'replica not streaming' "$DIR/dr.log" && break; sleep 0.1; done
KYOSAI_KEY="$K/ops.key" run "$CTL" --server "$DR_ADDR" --server-key "$K/dr.pub" promote --force
AMOUNT=$(grep -m1 "\"contract\":$SHOKIBO," "$DIR/sample.jsonl" | sed 's/.*"amount":\([0-9]*\).*/\1/')
for m in 05 06 07; do
  echo "{\"kind\":\"premium_paid\",\"scheme\":\"shokibo\",\"contract\":$SHOKIBO,\"amount\":$AMOUNT,\"period\":2026$m}"
done > "$DIR/after.jsonl"
echo "clients keep both endpoints and move to the new primary by themselves:"
run "$CTL" --server "$BOTH" post "$DIR/after.jsonl"
echo "the old primary comes back configured as the replica of the new one:"
P_ARGS=(--set node.data_dir="$L" --set node.listen_port="$BASE"
        --set security.key_file="$K/primary.key" --set security.clients_file="$K/clients-primary"
        --set replication.role=replica --set replication.peer_addr="$DR_ADDR"
        --set replication.peer_key="$K/dr.pub")
printf '$ %s\n' "$KYOSAID ${P_ARGS[*]} &" >&2
"$KYOSAID" "${P_ARGS[@]}" 2>> "$DIR/primary.log" &
P_PID=$!
for _ in $(seq 100); do grep -q 'restored synchronous mode' "$DIR/dr.log" && break; sleep 0.1; done
grep -h 'promoted to primary\|restoring synchronous\|restored synchronous\|quarantined' \
  "$DIR/dr.log" "$DIR/primary.log" | cut -c1-160
KYOSAI_KEY="$K/ops.key" run "$CTL" --server "$BOTH" status | head -n 10
echo "(the promoted node ran standalone only until the old primary caught up; strict again)"

step "11. Stop both nodes (SIGTERM: in-flight work finishes, the ledgers close cleanly)"
kill -TERM "$P_PID" "$DR_PID"
P_RC=0; DR_RC=0
wait "$P_PID" || P_RC=$?
wait "$DR_PID" || DR_RC=$?
trap - EXIT
echo "primary exited with status $P_RC, DR with $DR_RC"
tail -n 1 "$DIR/primary.log" "$DIR/dr.log"

step "12. Audit both ledgers offline, read-only, trusting nothing but the bytes"
run "$CTL" --data "$L" verify
run "$CTL" --data "$DIR/dr" verify
echo "(same last leaf and Merkle root on both nodes: the DR copy is the same ledger)"

step "13. Derived state equals a replay of the entries, on both nodes"
run "$CTL" --data "$L" reindex --check
run "$CTL" --data "$DIR/dr" reindex --check

step "14. Tamper with a copy: change one amount byte in the LMDB file"
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

step "15. A smarter attacker also recomputes the record checksum: the hash chain still catches it"
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
