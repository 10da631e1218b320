/*
 * ledger.h — the append-only, hash-chained ledger of one node, stored in LMDB.
 *
 * Why: this is the storage engine under the money records (DESIGN §3). It assigns seqs,
 * timestamps and hashes, enforces the contract rules (rules.h) and keeps derived state
 * in the same LMDB write transaction as the entries, so a crash at any instant leaves
 * either the whole batch or none of it.
 *
 * Owns: one LMDB environment (a directory holding data.mdb, lock.mdb) and, for a
 * writable handle, an exclusive flock on kyosai.lock in that directory so a second
 * writer process is refused; per-batch staging memory (allocated on the first append).
 *
 * Threads: ky_ledger_append and the other write calls (epoch, reindex, and replica.h's
 * apply, acked_set, quarantine_tail) from one writer thread only — LMDB allows one write
 * transaction, bound to its thread. Read calls (get, scan, contract, history, head,
 * epochs, quarantine_scan) from any thread, concurrently with the writer.
 *
 * LMDB schema (named databases; all integer keys big-endian so byte order = numeric order):
 *   entries    u64 seq                       → entry bytes || XXH3-64(entry bytes) LE
 *   history    u64 contract || u64 contract_seq → u64 seq (LE)
 *   idem       16-byte idempotency key        → u64 seq (LE)
 *   months     u64 contract || u32 yyyymm     → u64 seq of the premium holding the month
 *   contracts  u64 contract                   → contract state (rules.h encoding)
 *   epochs     u64 epoch                      → u64 first seq (LE)
 *   quarantine u64 event no || u64 orig seq   → stored value as it was in entries
 *   meta       ASCII names                    → format, node id, head, compact Merkle range,
 *                                               acked (u64 LE), quarantine_events (u64 LE)
 * Everything but entries, epochs, quarantine and meta is derived and rebuilt by
 * ky_ledger_reindex. Replication (apply, acked seq, quarantine) is declared in replica.h.
 *
 * Invariants:
 *   1. seqs are 1..head with no gaps; entry(seq).prev_hash = leaf(seq-1), zeros for seq 1.
 *   2. timestamps never decrease along the ledger, even if the clock steps back.
 *   3. a refused event writes nothing; an accepted one is durable when append returns.
 *   4. after a failed commit the handle is poisoned (KY_E_LEDGER_FAILED) until reopened.
 *
 *   state:  CLOSED --open()--> OPEN --commit fails--> FAILED --close()--> CLOSED
 *                               |  ^                                  ^
 *                               +--+ append()/reindex()   close() ----+
 */
#ifndef KY_LEDGER_H
#define KY_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "entry.h"
#include "rules.h"

typedef struct ky_ledger ky_ledger;

#define KY_NODE_ID_BYTES         16u
#define KY_LEDGER_FORMAT_VERSION 1u

typedef struct ky_ledger_options {
    const char *dir_path;  /* directory of the LMDB environment */
    uint64_t map_bytes;    /* LMDB map size, bytes; 0 = KY_LEDGER_MAP_BYTES_DEFAULT */
    bool create;           /* create the directory and an empty ledger if missing */
    bool read_only;        /* no writes, no lock file: auditors and offline verify */
    ky_rules_config rules; /* loan limits etc. */
} ky_ledger_options;

/* Defaults: map_bytes 64 GiB, create false, read_only false, default rules. */
void ky_ledger_options_default(ky_ledger_options *opt);

/* Opens (or with opt->create, creates) the ledger. On failure everything is released
 * and *out is NULL. Returns KY_OK, KY_E_NOT_FOUND (no ledger and !create), KY_E_LOCKED
 * (another process writes it), KY_E_FORMAT_VERSION, KY_E_IO, KY_E_STORAGE, KY_E_NOMEM,
 * KY_E_INVALID_ARG (map_bytes out of range). A new ledger is empty (head seq 0): a
 * primary calls ky_ledger_epoch_begin to write its first entry; a DR replica stays empty
 * and receives seq 1 (the primary's epoch_started) through ky_ledger_apply (replica.h). */
int ky_ledger_open(ky_ledger **out, const ky_ledger_options *opt);

/* Closes LMDB, releases the lock and all memory. NULL is allowed. */
void ky_ledger_close(ky_ledger *l);

typedef struct ky_ledger_head {
    uint64_t seq;                       /* last seq, 0 for an empty ledger */
    uint8_t hash[KY_HASH_BYTES];        /* leaf hash of seq, zeros when empty */
    uint64_t epoch;                     /* current epoch, 0 before the first */
    uint64_t timestamp_us;              /* timestamp of seq */
    uint8_t merkle_root[KY_HASH_BYTES]; /* RFC 9162 root of leaves 1..seq */
    uint8_t node_id[KY_NODE_ID_BYTES];  /* random identity chosen at creation */
    uint64_t acked_seq;                 /* highest seq acknowledged to clients, <= seq */
    uint64_t quarantine_count;          /* entries held in quarantine (never deleted) */
    uint64_t peer_acked_seq;            /* replica: highest acked seq its primary announced;
                                           may exceed seq while catching up (promotion guard) */
} ky_ledger_head;

/* Reads the committed head. Any thread. KY_OK or KY_E_STORAGE. */
int ky_ledger_head_get(ky_ledger *l, ky_ledger_head *out);

/* Per-event outcome of an append. */
typedef struct ky_event_result {
    int32_t code;   /* KY_OK or the ky_err of the rule or limit that refused it */
    uint32_t flags; /* KY_RESULT_DUPLICATE: an earlier append already holds this event */
    uint64_t seq;   /* seq of the entry (new or original) when code == KY_OK, else 0 */
} ky_event_result;

#define KY_RESULT_DUPLICATE 0x1u

/* Appends a batch of client events in one durable LMDB transaction (group commit).
 * Each event is judged on its own; events carrying KY_EVENT_LINKED succeed or fail
 * together with the next (a chain ends at the first event without the flag). A refused
 * event writes nothing and gets a specific code; the others of the batch go on. A retry
 * of an accepted event (same idempotency key, same content) returns the original seq
 * with KY_RESULT_DUPLICATE and writes nothing.
 * Returns KY_OK when the batch was judged and every accepted event is durable (look at
 * results[i].code), or a batch-wide error with no event written: KY_E_BATCH_EMPTY,
 * KY_E_BATCH_TOO_LARGE, KY_E_READ_ONLY, KY_E_LEDGER_FAILED, KY_E_MAP_FULL, KY_E_STORAGE,
 * KY_E_NOMEM. Writer thread only. Allocates its staging memory on first use. */
int ky_ledger_append(ky_ledger *l, const ky_event *events, uint32_t count,
                     ky_event_result *results);

/* Starts a new epoch: writes an epoch_started system entry (payload = node id) and
 * records it in the epoch history, in one durable transaction. new_epoch must exceed
 * the current epoch. *seq_out (may be NULL) gets its seq. Writer thread only.
 * Returns KY_OK, KY_E_INVALID_ARG, or a batch-wide error as for append. */
int ky_ledger_epoch_begin(ky_ledger *l, uint64_t new_epoch, uint64_t *seq_out);

/* Appends one system entry (KY_KIND_MODE_CHANGED: subtype = the new replication mode;
 * KY_KIND_LOSS_ACCEPTED: payload = the operator's text naming the lost range) in its own
 * durable transaction, in the current epoch. Writer thread only (or with the writer idle).
 * Returns KY_OK, KY_E_INVALID_ARG (not such a kind, payload too long, no epoch yet), or a
 * batch-wide error as for append. */
int ky_ledger_system_append(ky_ledger *l, uint8_t kind, uint16_t subtype, const uint8_t *payload,
                            uint32_t payload_bytes, uint64_t *seq_out);

/* Copies the entry bytes of seq (checksum verified) into buf. Any thread.
 * Returns KY_OK, KY_E_NOT_FOUND, KY_E_CORRUPT (checksum or length), KY_E_BUFFER_TOO_SMALL. */
int ky_ledger_get(ky_ledger *l, uint64_t seq, uint8_t *buf, size_t buf_cap, size_t *len_out);

/* Called for each stored entry of a scan. `stored` is entry bytes || 8-byte XXH3, not yet
 * checked (the callee decides what to verify); borrowed until the callback returns.
 * Return 0 to go on, anything else to stop the scan with that value. */
typedef int (*ky_ledger_scan_cb)(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len);

/* Calls cb for every stored entry with from <= seq <= to, in seq order, inside one read
 * transaction (a consistent snapshot). Returns KY_OK, the callback's non-zero value, or
 * KY_E_STORAGE. Any thread. */
int ky_ledger_scan(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, ky_ledger_scan_cb cb,
                   void *ctx);

/* Checks the XXH3 of a stored value and yields the entry bytes inside it.
 * Returns KY_OK or KY_E_CORRUPT. */
int ky_ledger_stored_check(const uint8_t *stored, size_t stored_len, const uint8_t **entry,
                           size_t *entry_len);

/* Reads a contract's derived state. Returns KY_OK, KY_E_NOT_FOUND, KY_E_CORRUPT. */
int ky_ledger_contract_get(ky_ledger *l, uint64_t contract_id, ky_contract_state *out);

/* One page of a contract's history: the seqs of its entries with contract_seq greater
 * than after_contract_seq, in order, at most min(cap, KY_HISTORY_PAGE_COUNT_MAX).
 * *count_out = number written. Returns KY_OK (possibly 0 entries), KY_E_STORAGE. */
int ky_ledger_history(ky_ledger *l, uint64_t contract_id, uint64_t after_contract_seq,
                      uint64_t *seqs, uint32_t cap, uint32_t *count_out);

/* Progress reports for long operations: done out of total units. */
typedef void (*ky_progress_cb)(void *ctx, uint64_t done, uint64_t total);

/* SHA-256 over every derived database (name, key, value) in key order: two ledgers
 * with equal digests have identical derived state. Any thread. */
int ky_ledger_state_digest(ky_ledger *l, uint8_t out[KY_HASH_BYTES]);

/* Rebuilds every derived database from the entries, in one write transaction. With
 * dry_run the transaction is aborted (nothing changes). *equal_out (may be NULL) tells
 * whether the rebuilt state equals the state before. Writer thread only.
 * Returns KY_OK, KY_E_CORRUPT / KY_E_CHAIN_BROKEN (an entry does not verify), or a
 * storage error. */
int ky_ledger_reindex(ky_ledger *l, bool dry_run, bool *equal_out, ky_progress_cb progress,
                      void *progress_ctx);

/* Writes a consistent, compacted copy of the whole ledger (one LMDB read snapshot) into
 * dest_dir, which must exist and be empty. Works on a read-only handle while a node writes the
 * ledger, so an auditor can check a live node's derived state with ky_ledger_reindex on the copy.
 * Any thread. Returns KY_OK, KY_E_IO (dest_dir), or a storage error. */
int ky_ledger_snapshot_copy(ky_ledger *l, const char *dest_dir);

/* Test seam: replaces the wall clock used for entry timestamps (µs since 1970 UTC).
 * NULL restores the real clock. Writer thread only. */
void ky_ledger_set_clock(ky_ledger *l, uint64_t (*clock_us)(void *ctx), void *ctx);

#endif
