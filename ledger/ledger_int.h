/*
 * ledger_int.h — private structures shared by ledger.c (environment, reads),
 * ledger_write.c (batch append), ledger_reindex.c (replay) and ledger_replica.c
 * (apply, quarantine). Not for use outside ledger/.
 */
#ifndef KY_LEDGER_INT_H
#define KY_LEDGER_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"
#include "merkle.h"
#include "replica.h"

/* Names of the meta records. */
#define KY_META_FORMAT  "format"
#define KY_META_NODE_ID "node_id"
#define KY_META_HEAD    "head"
#define KY_META_MERKLE  "merkle"
#define KY_META_ACKED   "acked" /* u64 LE: highest seq acked to clients */
#define KY_META_PEER_ACKED                                                                         \
    "peer_acked" /* u64 LE: replica: highest acked seq its primary announced */
#define KY_META_QEVENTS "quarantine_events" /* u64 LE: last quarantine event number */

/* Stored head record: seq, hash, epoch, timestamp (LE). */
#define KY_META_HEAD_BYTES       (8u + KY_HASH_BYTES + 8u + 8u)
#define KY_STORED_CHECKSUM_BYTES 8u
#define KY_MONTH_KEY_BYTES       12u
#define KY_HISTORY_KEY_BYTES     16u
#define KY_QUARANTINE_KEY_BYTES  16u /* u64 BE event number || u64 BE original seq */

typedef struct ky_batch ky_batch; /* ledger_write.c */

typedef enum ky_ledger_state {
    KY_LEDGER_OPEN = 1,
    KY_LEDGER_FAILED = 2,
} ky_ledger_state;

struct ky_ledger {
    MDB_env *env;           /* the LMDB environment */
    MDB_dbi dbi_entries;    /* seq → entry || xxh3 */
    MDB_dbi dbi_history;    /* contract, contract_seq → seq */
    MDB_dbi dbi_idem;       /* idempotency key → seq */
    MDB_dbi dbi_months;     /* contract, yyyymm → seq */
    MDB_dbi dbi_contracts;  /* contract → state */
    MDB_dbi dbi_epochs;     /* epoch → first seq */
    MDB_dbi dbi_meta;       /* names → values */
    MDB_dbi dbi_quarantine; /* event no, seq → stored value (valid if has_quarantine) */
    bool has_quarantine;    /* false: a read-only open of a ledger made before it existed */
    int lock_fd;            /* flock'ed kyosai.lock, -1 when read-only */
    bool read_only;         /* opened without write access */
    ky_ledger_state state;  /* OPEN or FAILED (poisoned) */
    ky_rules_config rules;  /* contract rule parameters */
    /* Writer-thread state, loaded at open and advanced by each commit. */
    uint64_t head_seq;                 /* last committed seq */
    uint8_t head_hash[KY_HASH_BYTES];  /* leaf hash of head_seq */
    uint64_t head_epoch;               /* current epoch */
    uint64_t head_timestamp_us;        /* timestamp of head_seq */
    uint8_t node_id[KY_NODE_ID_BYTES]; /* identity of this ledger copy */
    ky_merkle_compact merkle;          /* compact range of leaves 1..head_seq */
    ky_batch *batch;                   /* staging memory, allocated on first append */
    uint64_t (*clock_us)(void *ctx);   /* entry timestamp source */
    void *clock_ctx;                   /* its argument */
    uint64_t acked_seq;                /* committed meta "acked" */
    ky_ledger_batch_hook batch_hook;   /* pre-commit hook, or NULL */
    void *batch_hook_ctx;              /* its argument, borrowed */
    bool in_hook;                      /* the hook is running: writes are a bug */
};

/* The running head of a write: where the chain stands after the last entry seen. */
typedef struct ky_ledger_tip {
    uint64_t seq;                /* last seq, 0 before seq 1 */
    uint8_t hash[KY_HASH_BYTES]; /* its leaf hash (zeros for seq 0) */
    uint64_t epoch;              /* its epoch field */
    uint64_t timestamp_us;       /* its timestamp */
    ky_merkle_compact merkle;    /* compact range of leaves 1..seq */
} ky_ledger_tip;

/* Translates an LMDB return code to ky_err, logging nothing (callers log). */
int ky_ledger_mdb_err(int mdb_rc);

/* mdb_put for keys that usually arrive in increasing order (time-ordered idempotency keys):
 * MDB_APPEND first, which skips the search and fills pages completely, and a plain put when
 * the key is not above the last one. Same result as mdb_put(..., 0); returns an MDB code. */
int ky_ledger_mdb_put_mostly_ascending(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val);

/* Reads the entry at seq inside txn, checksum verified; *entry points into LMDB memory
 * valid until the txn ends. KY_OK, KY_E_NOT_FOUND, KY_E_CORRUPT, KY_E_STORAGE. */
int ky_ledger_txn_entry(ky_ledger *l, MDB_txn *txn, uint64_t seq, const uint8_t **entry,
                        size_t *entry_len);

/* Reads and decodes contract state inside txn. KY_OK, KY_E_NOT_FOUND, KY_E_CORRUPT. */
int ky_ledger_txn_contract(ky_ledger *l, MDB_txn *txn, uint64_t contract_id,
                           ky_contract_state *out);

/* Writes the head record (seq, hash, epoch, timestamp) and the compact Merkle range. */
int ky_ledger_txn_put_head(ky_ledger *l, MDB_txn *txn, uint64_t seq,
                           const uint8_t hash[KY_HASH_BYTES], uint64_t epoch, uint64_t ts_us,
                           const ky_merkle_compact *merkle);

/* Builds the stored value entry || xxh3 into out (cap >= len + 8). */
void ky_ledger_stored_build(const uint8_t *entry, size_t len, uint8_t *out);

/* Key encoders. */
void ky_ledger_month_key(uint64_t contract_id, uint32_t period, uint8_t key[KY_MONTH_KEY_BYTES]);
void ky_ledger_history_key(uint64_t contract_id, uint64_t contract_seq,
                           uint8_t key[KY_HISTORY_KEY_BYTES]);

/* Reads a u64 LE meta record; *out = 0 when it is absent. KY_OK, KY_E_CORRUPT (wrong
 * length), storage errors. */
int ky_ledger_txn_meta_u64(ky_ledger *l, MDB_txn *txn, const char *name, uint64_t *out);

/* Writes a u64 LE meta record. */
int ky_ledger_txn_put_meta_u64(ky_ledger *l, MDB_txn *txn, const char *name, uint64_t v);

/* Replays one decoded entry (already linked to the chain by the caller) into the derived
 * databases inside txn; `leaf` is its leaf hash. System entries change no derived state.
 * A reversal's target must already be in the entries database of txn. The checks run
 * before any write, so a crafted entry is reported, never an assertion failure.
 * KY_OK, KY_E_CHAIN_BROKEN (contract chain), KY_E_REPLAY_INVALID, storage errors. */
int ky_ledger_txn_replay_entry(ky_ledger *l, MDB_txn *txn, const ky_entry *e,
                               const uint8_t leaf[KY_HASH_BYTES]);

/* Empties the derived databases and replays entries 1..through_seq, which must be
 * exactly the entries in the database (checksums, seq continuity and prev_hash links are
 * checked). *tip (may be NULL) gets the head those entries make, Merkle range included.
 * progress may be NULL. KY_OK, KY_E_CORRUPT, KY_E_CHAIN_BROKEN, KY_E_REPLAY_INVALID,
 * storage errors. */
int ky_ledger_txn_rebuild(ky_ledger *l, MDB_txn *txn, uint64_t through_seq, ky_ledger_tip *tip,
                          ky_progress_cb progress, void *progress_ctx);

/* The committed head of the handle as a tip, and back (after a successful commit). */
void ky_ledger_tip_load(const ky_ledger *l, ky_ledger_tip *tip);
void ky_ledger_tip_store(ky_ledger *l, const ky_ledger_tip *tip);

/* Writes the head record and Merkle range of tip (ky_ledger_txn_put_head). */
int ky_ledger_txn_put_tip(ky_ledger *l, MDB_txn *txn, const ky_ledger_tip *tip);

/* Calls the batch hook, if set, with in_hook raised (see ky_ledger_batch_hook). */
void ky_ledger_hook_run(ky_ledger *l, uint64_t first_seq, uint32_t count,
                        const uint8_t *const *entries, const uint32_t *entry_bytes);

/* Digest of the derived databases as seen by txn (see ky_ledger_state_digest). */
int ky_ledger_txn_state_digest(ky_ledger *l, MDB_txn *txn, uint8_t out[KY_HASH_BYTES]);

/* Frees the staging memory (ledger_write.c). */
void ky_ledger_batch_free(ky_batch *b);

#endif
