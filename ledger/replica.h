/*
 * replica.h — the ledger-level primitives of synchronous replication (DESIGN §5): a
 * pre-commit hook that hands each new batch to the sender, applying another node's
 * entries on the replica, the acknowledged seq, quarantine of a diverged tail, and the
 * epoch history. The network part lives in replication/ and uses only this header.
 *
 * Why at the ledger level: the replica must end with exactly the primary's bytes and
 * derived state, so it appends the primary's canonical entry bytes verbatim (never
 * re-encodes them) and rebuilds its derived state with the same replay code as
 * ky_ledger_reindex. Equal heads then mean equal leaf hashes, equal Merkle roots and
 * equal ky_ledger_state_digest values.
 *
 * How a replica starts: EMPTY. Seq 1 of every ledger is an epoch_started entry whose
 * payload is the id of the node that wrote it, so a replica that wrote its own genesis
 * could never hold the primary's chain. A replica is created like any ledger (open with
 * create) but without ky_ledger_epoch_begin, and receives seq 1 from the primary through
 * ky_ledger_apply. Its own node id (meta) stays its own; verify and reindex never compare
 * it with the payload of seq 1.
 *
 * Owns: nothing beyond the ledger handle; the hook pointer is borrowed.
 *
 * Threads: ky_ledger_set_batch_hook, ky_ledger_apply, ky_ledger_acked_set and
 * ky_ledger_quarantine_tail on the writer thread only (each is one LMDB write txn). The
 * hook runs on the writer thread, inside the write transaction. ky_ledger_epochs and
 * ky_ledger_quarantine_scan from any thread (read transactions).
 *
 * Invariants (in addition to ledger.h):
 *   1. acked_seq never decreases and never exceeds the head seq; the one exception is
 *      ky_ledger_quarantine_tail with accept_loss, which lowers it to the kept head.
 *   2. entries leave the entries database only into quarantine, and nothing ever deletes
 *      a quarantined entry.
 *   3. the epochs database holds exactly the epoch_started entries of 1..head:
 *      epoch → seq of that entry, epochs strictly increasing with their seqs.
 *   4. every call writes all of its effect in one transaction, or nothing.
 *
 *   replica:  EMPTY --apply(seq 1..)--> FOLLOWING --apply()--> FOLLOWING
 *             FOLLOWING --quarantine_tail()--> FOLLOWING (shorter head, then apply again)
 *   primary:  epoch_begin()/append() --hook (before commit)--> sender ships the batch
 *             DR ack received --acked_set()
 */
#ifndef KY_REPLICA_H
#define KY_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"

/* Called once per batch of new entries, after all of them are in the write transaction
 * and before mdb_txn_commit, so the sender can ship the batch while the local fsync runs
 * (DESIGN §4). entries[i] is the canonical encoding of seq first_seq + i (entry bytes,
 * without the stored XXH3), entry_bytes[i] its length; i < count, seq order. Both arrays
 * and the bytes are borrowed until the hook returns: copy what must outlive it.
 * Not called when a call writes no new entry (all events refused or duplicates).
 * The batch is not yet durable: if the commit then fails the ledger is poisoned
 * (KY_E_LEDGER_FAILED) and the shipped entries exist only on the peer; they were never
 * acknowledged, and catch-up after restart quarantines them there.
 * The hook must not call any ledger write function (asserted); reads on other threads,
 * or read calls on this thread, see the state before the batch. */
typedef void (*ky_ledger_batch_hook)(void *ctx, uint64_t first_seq, uint32_t count,
                                     const uint8_t *const *entries, const uint32_t *entry_bytes);

/* Installs (fn != NULL) or removes (fn == NULL) the batch hook. It runs inside
 * ky_ledger_append, ky_ledger_epoch_begin and ky_ledger_apply (so a replica can feed a
 * further, cascaded replica). ctx is borrowed until the hook is replaced or removed.
 * Writer thread only (or before the writer thread starts). */
void ky_ledger_set_batch_hook(ky_ledger *l, ky_ledger_batch_hook fn, void *ctx);

/* Applies count entries written by another node's ledger (the primary), in one durable
 * transaction. Each entry must decode strictly, have seq == head + 1, prev_hash == the
 * head's leaf hash, an epoch not below the head's, a timestamp not before the head's;
 * only an epoch_started entry (payload: a 16-byte node id) may raise the epoch, and it
 * must. An epoch_started entry is recorded in the epochs database. Derived state is
 * updated by the replay code of ky_ledger_reindex, entries are stored with MDB_APPEND,
 * and acked_seq (the highest seq the primary has acknowledged to clients) is stored as
 * max(stored, acked_seq). The hook, if set, runs before the commit.
 *
 * Returns KY_OK, or with nothing of the call written:
 *   KY_E_BATCH_EMPTY (count 0), KY_E_BATCH_TOO_LARGE (count > KY_LEDGER_BATCH_COUNT_MAX),
 *   KY_E_INVALID_ARG (acked_seq > head + count: beyond the head the call would leave),
 *   KY_E_CORRUPT (an entry does not decode strictly),
 *   KY_E_CHAIN_BROKEN (a gap or repeat in seq, a wrong prev_hash, epoch or timestamp going
 *     back; also a broken contract chain: contract_seq, contract_prev_hash, unknown or
 *     re-opened contract, reversal of a missing entry),
 *   KY_E_REPLAY_INVALID (the entry breaks a ledger invariant on replay, e.g. a month paid
 *     twice, a negative balance, an epoch raised without epoch_started),
 *   KY_E_READ_ONLY, KY_E_LEDGER_FAILED, KY_E_MAP_FULL, KY_E_STORAGE, KY_E_NOMEM.
 * On an entry error (KY_E_CORRUPT, KY_E_CHAIN_BROKEN, KY_E_REPLAY_INVALID) *bad_seq_out
 * (may be NULL) is the seq position of the first refused entry: head before the call + 1
 * + its index in the arrays (its index is therefore bad_seq - head - 1, whatever seq it
 * claims); on success or any other error it is 0.
 * A replica whose head is below the primary's first_seq - 1 must first fetch the missing
 * range. The caller's arrays are borrowed for the call. Writer thread only. */
int ky_ledger_apply(ky_ledger *l, const uint8_t *const *entries, const uint32_t *entry_bytes,
                    uint32_t count, uint64_t acked_seq, uint64_t *bad_seq_out);

/* Primary side: durably records that every seq <= seq has been acknowledged to clients.
 * Monotonic: a seq not above the stored one returns KY_OK and writes nothing. One small
 * write transaction (one fsync) when it does write. Writer thread only.
 * Returns KY_OK, KY_E_INVALID_ARG (seq > head), KY_E_READ_ONLY, KY_E_LEDGER_FAILED,
 * KY_E_MAP_FULL, KY_E_STORAGE. The value is read back in ky_ledger_head.acked_seq. */
int ky_ledger_acked_set(ky_ledger *l, uint64_t seq);

/* Replica side: durably records the highest acked seq its primary announced, which may
 * exceed the local head while catching up; ky_ledger_head.peer_acked_seq reads it back.
 * Monotonic (a lower value writes nothing). The promotion guard refuses while the head is
 * below it. Writer thread only. Returns KY_OK, KY_E_READ_ONLY, KY_E_LEDGER_FAILED, or a
 * storage error. */
int ky_ledger_peer_acked_raise(ky_ledger *l, uint64_t seq);

/* Catch-up after divergence: moves entries keep_through_seq + 1 .. head into the
 * quarantine database under a new quarantine event number, removes them from entries,
 * removes the epochs whose epoch_started entry is beyond keep_through_seq, and rebuilds
 * every derived database, the head and the Merkle range as a replay of
 * 1..keep_through_seq — all in one write transaction (a crash leaves the old or the new
 * state). Refuses to quarantine entries acknowledged to clients (keep_through_seq <
 * acked_seq) unless accept_loss; with accept_loss acked_seq is lowered to
 * keep_through_seq. keep_through_seq == head moves nothing and writes nothing.
 * *moved_out (may be NULL) = number of entries moved. Writer thread only; the rebuild is
 * O(keep_through_seq) like ky_ledger_reindex.
 * Returns KY_OK, KY_E_INVALID_ARG (keep_through_seq 0 — the genesis entry stays — or
 * above the head), KY_E_QUARANTINE_ACKED, KY_E_CORRUPT / KY_E_CHAIN_BROKEN /
 * KY_E_REPLAY_INVALID (the kept prefix does not replay), KY_E_READ_ONLY,
 * KY_E_LEDGER_FAILED, KY_E_MAP_FULL, KY_E_STORAGE. */
int ky_ledger_quarantine_tail(ky_ledger *l, uint64_t keep_through_seq, bool accept_loss,
                              uint64_t *moved_out);

/* Called for each quarantined entry, in (event_no, seq) order. `entry` is the entry
 * bytes (stored checksum verified), borrowed until the callback returns. Return 0 to go
 * on, anything else to stop the scan with that value. */
typedef int (*ky_ledger_quarantine_cb)(void *ctx, uint64_t event_no, uint64_t seq,
                                       const uint8_t *entry, size_t entry_len);

/* Lists every quarantined entry inside one read transaction. Any thread.
 * Returns KY_OK, the callback's non-zero value, KY_E_CORRUPT (a quarantined record fails
 * its checksum; the scan stops there), KY_E_STORAGE. */
int ky_ledger_quarantine_scan(ky_ledger *l, ky_ledger_quarantine_cb cb, void *ctx);

/* The epoch history in order: epochs[i] started at first_seqs[i] (its epoch_started
 * entry), i < min(cap, *count_out). *count_out = number of epochs in the ledger. The
 * arrays may be NULL when cap is 0 (to size them). Any thread.
 * Returns KY_OK, KY_E_BUFFER_TOO_SMALL (more epochs than cap; the first cap are
 * written), KY_E_CORRUPT, KY_E_STORAGE. */
int ky_ledger_epochs(ky_ledger *l, uint64_t *epochs, uint64_t *first_seqs, uint32_t cap,
                     uint32_t *count_out);

/* The last mode_changed system entry of the current epoch, searched back from the head
 * (mode changes are rare, so this reads few entries in practice and at most the epoch).
 * *found_out = false when the epoch has none (the pair has run as its epoch started);
 * else *subtype_out = its subtype (the replication mode) and *seq_out = its seq. Any
 * thread. Returns KY_OK, KY_E_CORRUPT (an entry fails its checksum or decode),
 * KY_E_STORAGE. */
int ky_ledger_last_mode_change(ky_ledger *l, bool *found_out, uint16_t *subtype_out,
                               uint64_t *seq_out);

#endif
