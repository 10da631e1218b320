/*
 * ledger_int.h — private structures shared by ledger.c (environment, reads),
 * ledger_write.c (batch append) and ledger_reindex.c. Not for use outside ledger/.
 */
#ifndef KY_LEDGER_INT_H
#define KY_LEDGER_INT_H

#include <lmdb.h>
#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"
#include "merkle.h"

/* Names of the meta records. */
#define KY_META_FORMAT  "format"
#define KY_META_NODE_ID "node_id"
#define KY_META_HEAD    "head"
#define KY_META_MERKLE  "merkle"

/* Stored head record: seq, hash, epoch, timestamp (LE). */
#define KY_META_HEAD_BYTES       (8u + KY_HASH_BYTES + 8u + 8u)
#define KY_STORED_CHECKSUM_BYTES 8u
#define KY_MONTH_KEY_BYTES       12u
#define KY_HISTORY_KEY_BYTES     16u

typedef struct ky_batch ky_batch; /* ledger_write.c */

typedef enum ky_ledger_state {
    KY_LEDGER_OPEN = 1,
    KY_LEDGER_FAILED = 2,
} ky_ledger_state;

struct ky_ledger {
    MDB_env *env;          /* the LMDB environment */
    MDB_dbi dbi_entries;   /* seq → entry || xxh3 */
    MDB_dbi dbi_history;   /* contract, contract_seq → seq */
    MDB_dbi dbi_idem;      /* idempotency key → seq */
    MDB_dbi dbi_months;    /* contract, yyyymm → seq */
    MDB_dbi dbi_contracts; /* contract → state */
    MDB_dbi dbi_epochs;    /* epoch → first seq */
    MDB_dbi dbi_meta;      /* names → values */
    int lock_fd;           /* flock'ed kyosai.lock, -1 when read-only */
    bool read_only;        /* opened without write access */
    ky_ledger_state state; /* OPEN or FAILED (poisoned) */
    ky_rules_config rules; /* contract rule parameters */
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
};

/* Translates an LMDB return code to ky_err, logging nothing (callers log). */
int ky_ledger_mdb_err(int mdb_rc);

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

/* Digest of the derived databases as seen by txn (see ky_ledger_state_digest). */
int ky_ledger_txn_state_digest(ky_ledger *l, MDB_txn *txn, uint8_t out[KY_HASH_BYTES]);

/* Frees the staging memory (ledger_write.c). */
void ky_ledger_batch_free(ky_batch *b);

#endif
