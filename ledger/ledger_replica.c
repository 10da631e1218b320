/*
 * ledger_replica.c — replication primitives (replica.h): apply the primary's entries,
 * the acknowledged seq, quarantine of a diverged tail, the epoch history.
 *
 * Why apply replays instead of judging: the primary already judged every event against
 * the rules (with its own rules config, e.g. loan limits, which a DR node need not share).
 * The replica must reproduce the primary's state, not re-decide it, so it checks what
 * makes the entries one chain (seq, prev_hash, epoch, time) and replays them through the
 * reindex code, which refuses entries that would break a stored-state invariant instead
 * of asserting on them. Entries are stored byte for byte as received: the leaf hashes,
 * and so the chain and the Merkle root, are the primary's.
 *
 * Why quarantine rebuilds by full replay: it runs only on catch-up after a failover,
 * and a replay of the kept prefix is the one derivation of state we already trust
 * (reindex). Doing it in the same transaction as the move makes the cut atomic.
 *
 * Owns nothing; each write call is one LMDB write transaction on the writer thread.
 */
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "ledger_int.h"

void ky_ledger_set_batch_hook(ky_ledger *l, ky_ledger_batch_hook fn, void *ctx) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(!l->in_hook); /* a hook must not replace itself while it runs */
    l->batch_hook = fn;
    l->batch_hook_ctx = fn != NULL ? ctx : NULL;
}

/* Checks shared by every write call of this file, then begins the write txn. */
static int write_begin(ky_ledger *l, MDB_txn **txn) {
    KY_ASSERT(!l->in_hook); /* a batch hook must not write */
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    return ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, 0, txn));
}

/* Commits; a failed commit poisons the handle (never retry an fsync, STYLE rule 13). */
static int write_commit(ky_ledger *l, MDB_txn *txn) {
    if (mdb_txn_commit(txn) != MDB_SUCCESS) {
        l->state = KY_LEDGER_FAILED;
        return KY_E_LEDGER_FAILED;
    }
    return KY_OK;
}

/* ---- apply ----------------------------------------------------------------------------- */

/* Does e continue the chain at tip? Only an epoch_started entry raises the epoch, and an
 * epoch_started entry must raise it (ky_ledger_epoch_begin never writes one otherwise). */
static int link_check(const ky_ledger_tip *tip, const ky_entry *e) {
    if (e->seq != tip->seq + 1) return KY_E_CHAIN_BROKEN;
    if (memcmp(e->prev_hash, tip->hash, KY_HASH_BYTES) != 0) return KY_E_CHAIN_BROKEN;
    if (e->epoch < tip->epoch || e->timestamp_us < tip->timestamp_us) return KY_E_CHAIN_BROKEN;
    bool starts = e->kind == KY_KIND_EPOCH_STARTED;
    if (e->epoch == 0 || starts != (e->epoch > tip->epoch)) return KY_E_REPLAY_INVALID;
    if (starts && e->payload_bytes != KY_NODE_ID_BYTES) return KY_E_REPLAY_INVALID;
    return KY_OK;
}

static int epoch_put(ky_ledger *l, MDB_txn *txn, uint64_t epoch, uint64_t first_seq) {
    uint8_t k[8], v[8];
    ky_put_u64be(k, epoch);
    ky_put_u64le(v, first_seq);
    MDB_val key = {sizeof k, k}, val = {sizeof v, v};
    int rc = mdb_put(txn, l->dbi_epochs, &key, &val, MDB_APPEND);
    /* MDB_APPEND refuses a key not above the last: the epochs DB disagrees with the head. */
    return rc == MDB_KEYEXIST ? KY_E_CORRUPT : ky_ledger_mdb_err(rc);
}

/* Checks one received entry against the tip, stores it verbatim, replays it, and
 * advances the tip. */
static int apply_one(ky_ledger *l, MDB_txn *txn, ky_ledger_tip *tip, const uint8_t *bytes,
                     uint32_t len) {
    ky_entry e;
    if (bytes == NULL || ky_entry_decode(bytes, len, &e) != KY_OK) return KY_E_CORRUPT;
    KY_ASSERT(len <= KY_ENTRY_BYTES_MAX); /* a strict decode bounds the length */
    int rc = link_check(tip, &e);
    if (rc != KY_OK) return rc;
    uint8_t stored[KY_ENTRY_BYTES_MAX + KY_STORED_CHECKSUM_BYTES], k[8];
    ky_ledger_stored_build(bytes, len, stored);
    ky_put_u64be(k, e.seq);
    MDB_val key = {sizeof k, k}, val = {len + KY_STORED_CHECKSUM_BYTES, stored};
    rc = ky_ledger_mdb_err(mdb_put(txn, l->dbi_entries, &key, &val, MDB_APPEND));
    if (rc == KY_OK && e.kind == KY_KIND_EPOCH_STARTED) rc = epoch_put(l, txn, e.epoch, e.seq);
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(bytes, len, leaf);
    if (rc == KY_OK) rc = ky_ledger_txn_replay_entry(l, txn, &e, leaf);
    if (rc != KY_OK) return rc;
    tip->seq = e.seq;
    memcpy(tip->hash, leaf, KY_HASH_BYTES);
    tip->epoch = e.epoch;
    tip->timestamp_us = e.timestamp_us;
    ky_merkle_compact_append(&tip->merkle, leaf);
    KY_ASSERT(tip->merkle.size == tip->seq);
    return KY_OK;
}

/* Stores max(stored acked seq, acked_seq); *acked_out gets the value now stored. */
static int acked_raise(ky_ledger *l, MDB_txn *txn, uint64_t acked_seq, uint64_t *acked_out) {
    *acked_out = l->acked_seq;
    if (acked_seq <= l->acked_seq) return KY_OK;
    *acked_out = acked_seq;
    return ky_ledger_txn_put_meta_u64(l, txn, KY_META_ACKED, acked_seq);
}

int ky_ledger_apply(ky_ledger *l, const uint8_t *const *entries, const uint32_t *entry_bytes,
                    uint32_t count, uint64_t acked_seq, uint64_t *bad_seq_out) {
    KY_ASSERT(l != NULL);
    if (bad_seq_out != NULL) *bad_seq_out = 0;
    if (count == 0) return KY_E_BATCH_EMPTY;
    if (count > KY_LEDGER_BATCH_COUNT_MAX) return KY_E_BATCH_TOO_LARGE;
    KY_ASSERT(entries != NULL && entry_bytes != NULL);
    if (acked_seq > l->head_seq + count) return KY_E_INVALID_ARG;
    MDB_txn *txn;
    int rc = write_begin(l, &txn);
    if (rc != KY_OK) return rc;
    ky_ledger_tip tip;
    ky_ledger_tip_load(l, &tip);
    uint32_t i = 0;
    for (; i < count && rc == KY_OK; i++) rc = apply_one(l, txn, &tip, entries[i], entry_bytes[i]);
    if (rc != KY_OK) {
        bool entry_error =
            rc == KY_E_CORRUPT || rc == KY_E_CHAIN_BROKEN || rc == KY_E_REPLAY_INVALID;
        if (bad_seq_out != NULL && entry_error) *bad_seq_out = l->head_seq + i; /* i: bad + 1 */
        mdb_txn_abort(txn);
        return rc;
    }
    KY_ASSERT(tip.seq == l->head_seq + count);
    KY_ASSERT(acked_seq <= tip.seq);
    uint64_t acked = 0;
    rc = ky_ledger_txn_put_tip(l, txn, &tip);
    if (rc == KY_OK) rc = acked_raise(l, txn, acked_seq, &acked);
    if (rc != KY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    ky_ledger_hook_run(l, l->head_seq + 1, count, entries, entry_bytes);
    rc = write_commit(l, txn);
    if (rc != KY_OK) return rc;
    ky_ledger_tip_store(l, &tip);
    l->acked_seq = acked;
    return KY_OK;
}

int ky_ledger_acked_set(ky_ledger *l, uint64_t seq) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(l->acked_seq <= l->head_seq);
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    if (seq > l->head_seq) return KY_E_INVALID_ARG;
    if (seq <= l->acked_seq) return KY_OK; /* monotonic: nothing to write */
    MDB_txn *txn;
    int rc = write_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_txn_put_meta_u64(l, txn, KY_META_ACKED, seq);
    if (rc != KY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = write_commit(l, txn);
    if (rc == KY_OK) l->acked_seq = seq;
    return rc;
}

int ky_ledger_peer_acked_raise(ky_ledger *l, uint64_t seq) {
    KY_ASSERT(l != NULL);
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    ky_ledger_head h;
    int rc = ky_ledger_head_get(l, &h);
    if (rc != KY_OK || seq <= h.peer_acked_seq) return rc; /* monotonic */
    MDB_txn *txn;
    rc = write_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_txn_put_meta_u64(l, txn, KY_META_PEER_ACKED, seq);
    if (rc != KY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    return write_commit(l, txn);
}

/* ---- quarantine ------------------------------------------------------------------------ */

/* Copies every entry after keep_seq into quarantine under event_no, in seq order (so
 * MDB_APPEND applies: event_no is above every earlier event's). The stored value moves as
 * it is, checksum and all: quarantine keeps what was there, even a damaged record. */
static int copy_tail(ky_ledger *l, MDB_txn *txn, uint64_t keep_seq, uint64_t event_no,
                     uint64_t *copied) {
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_entries, &cur));
    if (rc != KY_OK) return rc;
    uint8_t k[8];
    ky_put_u64be(k, keep_seq + 1);
    MDB_val key = {sizeof k, k}, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS) {
        /* Copy out: the cursor value is only guaranteed until the next write in txn. */
        uint8_t buf[KY_ENTRY_BYTES_MAX + KY_STORED_CHECKSUM_BYTES];
        if (key.mv_size != 8 || val.mv_size > sizeof buf) {
            rc = KY_E_CORRUPT;
            break;
        }
        memcpy(buf, val.mv_data, val.mv_size);
        uint8_t qk[KY_QUARANTINE_KEY_BYTES];
        ky_put_u64be(qk, event_no);
        memcpy(qk + 8, key.mv_data, 8);
        KY_ASSERT(ky_get_u64be(qk + 8) > keep_seq);
        MDB_val qkey = {sizeof qk, qk}, qval = {val.mv_size, buf};
        rc = ky_ledger_mdb_err(mdb_put(txn, l->dbi_quarantine, &qkey, &qval, MDB_APPEND));
        if (rc != KY_OK) break;
        (*copied)++;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == KY_OK && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    return rc;
}

/* Deletes entries keep_seq + 1 .. head_seq, each of which must exist. */
static int delete_tail(ky_ledger *l, MDB_txn *txn, uint64_t keep_seq) {
    KY_ASSERT(keep_seq < l->head_seq);
    for (uint64_t seq = l->head_seq; seq > keep_seq; seq--) { /* from the end: no rebalance */
        uint8_t k[8];
        ky_put_u64be(k, seq);
        MDB_val key = {sizeof k, k};
        int rc = mdb_del(txn, l->dbi_entries, &key, NULL);
        if (rc != MDB_SUCCESS)
            return rc == MDB_NOTFOUND ? KY_E_CHAIN_BROKEN : ky_ledger_mdb_err(rc);
    }
    return KY_OK;
}

/* Deletes the epochs whose epoch_started entry is beyond keep_seq (the newest ones). */
static int epochs_cut(ky_ledger *l, MDB_txn *txn, uint64_t keep_seq) {
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_epochs, &cur));
    if (rc != KY_OK) return rc;
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    while (mrc == MDB_SUCCESS) {
        if (val.mv_size != 8) {
            rc = KY_E_CORRUPT;
            break;
        }
        if (ky_get_u64le(val.mv_data) <= keep_seq) break; /* first seqs rise with epochs */
        rc = ky_ledger_mdb_err(mdb_cursor_del(cur, 0));
        if (rc != KY_OK) break;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    }
    mdb_cursor_close(cur);
    if (rc == KY_OK && mrc != MDB_NOTFOUND && mrc != MDB_SUCCESS) rc = ky_ledger_mdb_err(mrc);
    return rc;
}

/* Everything of a quarantine inside txn; *tip and *acked get the new head and acked. */
static int quarantine_txn(ky_ledger *l, MDB_txn *txn, uint64_t keep_seq, ky_ledger_tip *tip,
                          uint64_t *acked, uint64_t *moved) {
    uint64_t event_no = 0;
    int rc = ky_ledger_txn_meta_u64(l, txn, KY_META_QEVENTS, &event_no);
    if (rc != KY_OK) return rc;
    event_no++;
    rc = ky_ledger_txn_put_meta_u64(l, txn, KY_META_QEVENTS, event_no);
    if (rc == KY_OK) rc = copy_tail(l, txn, keep_seq, event_no, moved);
    if (rc == KY_OK && *moved != l->head_seq - keep_seq) rc = KY_E_CHAIN_BROKEN; /* gap */
    if (rc == KY_OK) rc = delete_tail(l, txn, keep_seq);
    if (rc == KY_OK) rc = epochs_cut(l, txn, keep_seq);
    if (rc == KY_OK) rc = ky_ledger_txn_rebuild(l, txn, keep_seq, tip, NULL, NULL);
    if (rc == KY_OK) rc = ky_ledger_txn_put_tip(l, txn, tip);
    *acked = l->acked_seq < keep_seq ? l->acked_seq : keep_seq;
    if (rc == KY_OK && *acked != l->acked_seq)
        rc = ky_ledger_txn_put_meta_u64(l, txn, KY_META_ACKED, *acked);
    return rc;
}

int ky_ledger_quarantine_tail(ky_ledger *l, uint64_t keep_through_seq, bool accept_loss,
                              uint64_t *moved_out) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(l->acked_seq <= l->head_seq);
    if (moved_out != NULL) *moved_out = 0;
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    if (keep_through_seq == 0 || keep_through_seq > l->head_seq) return KY_E_INVALID_ARG;
    if (keep_through_seq < l->acked_seq && !accept_loss) return KY_E_QUARANTINE_ACKED;
    if (keep_through_seq == l->head_seq) return KY_OK; /* nothing beyond: no event */
    KY_ASSERT(l->has_quarantine);                      /* writable opens create it */
    MDB_txn *txn;
    int rc = write_begin(l, &txn);
    if (rc != KY_OK) return rc;
    ky_ledger_tip tip = {0}; /* filled by the rebuild */
    uint64_t acked = 0, moved = 0;
    rc = quarantine_txn(l, txn, keep_through_seq, &tip, &acked, &moved);
    if (rc != KY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    rc = write_commit(l, txn);
    if (rc != KY_OK) return rc;
    ky_ledger_tip_store(l, &tip);
    l->acked_seq = acked;
    if (moved_out != NULL) *moved_out = moved;
    return KY_OK;
}

int ky_ledger_quarantine_scan(ky_ledger *l, ky_ledger_quarantine_cb cb, void *ctx) {
    KY_ASSERT(l != NULL && cb != NULL);
    if (!l->has_quarantine) return KY_OK; /* read-only open of a ledger that never had one */
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn));
    if (rc != KY_OK) return rc;
    rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_quarantine, &cur));
    if (rc != KY_OK) goto fail_abort;
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == MDB_SUCCESS) {
        const uint8_t *entry;
        size_t len;
        rc = key.mv_size == KY_QUARANTINE_KEY_BYTES ? KY_OK : KY_E_CORRUPT;
        if (rc == KY_OK) rc = ky_ledger_stored_check(val.mv_data, val.mv_size, &entry, &len);
        if (rc == KY_OK)
            rc = cb(ctx, ky_get_u64be(key.mv_data), ky_get_u64be((uint8_t *)key.mv_data + 8), entry,
                    len);
        if (rc != 0) break;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == KY_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    mdb_cursor_close(cur);
fail_abort:
    mdb_txn_abort(txn);
    return rc;
}

/* ---- epochs ---------------------------------------------------------------------------- */

int ky_ledger_epochs(ky_ledger *l, uint64_t *epochs, uint64_t *first_seqs, uint32_t cap,
                     uint32_t *count_out) {
    KY_ASSERT(l != NULL && count_out != NULL);
    KY_ASSERT(cap == 0 || (epochs != NULL && first_seqs != NULL));
    *count_out = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn));
    if (rc != KY_OK) return rc;
    rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_epochs, &cur));
    if (rc != KY_OK) goto fail_abort;
    MDB_val key, val;
    uint32_t n = 0;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == MDB_SUCCESS) {
        if (key.mv_size != 8 || val.mv_size != 8) {
            rc = KY_E_CORRUPT;
            break;
        }
        if (n < cap) {
            epochs[n] = ky_get_u64be(key.mv_data);
            first_seqs[n] = ky_get_u64le(val.mv_data);
        }
        n++;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == KY_OK && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    if (rc == KY_OK && n > cap) rc = KY_E_BUFFER_TOO_SMALL;
    *count_out = n;
    mdb_cursor_close(cur);
fail_abort:
    mdb_txn_abort(txn);
    return rc;
}

/* Walks entries back from the head to first_seq; stops at the first mode_changed. */
static int last_mode_in(MDB_cursor *cur, uint64_t first_seq, bool *found, uint16_t *subtype,
                        uint64_t *seq) {
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
    while (mrc == MDB_SUCCESS) {
        if (key.mv_size != 8) return KY_E_CORRUPT;
        uint64_t s = ky_get_u64be(key.mv_data);
        if (s < first_seq) return KY_OK;
        const uint8_t *entry;
        size_t len;
        ky_entry e;
        int rc = ky_ledger_stored_check(val.mv_data, val.mv_size, &entry, &len);
        if (rc == KY_OK) rc = ky_entry_decode(entry, len, &e);
        if (rc != KY_OK) return KY_E_CORRUPT;
        if (e.kind == KY_KIND_MODE_CHANGED) {
            *found = true;
            *subtype = e.subtype;
            *seq = s;
            return KY_OK;
        }
        mrc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
    }
    return mrc == MDB_NOTFOUND ? KY_OK : ky_ledger_mdb_err(mrc);
}

int ky_ledger_last_mode_change(ky_ledger *l, bool *found_out, uint16_t *subtype_out,
                               uint64_t *seq_out) {
    KY_ASSERT(l != NULL && found_out != NULL && subtype_out != NULL && seq_out != NULL);
    *found_out = false;
    *subtype_out = 0;
    *seq_out = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, &txn));
    if (rc != KY_OK) return rc;
    uint64_t first_seq = 1; /* the current epoch's epoch_started entry */
    rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_epochs, &cur));
    if (rc == KY_OK) {
        MDB_val key, val;
        int mrc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
        if (mrc == MDB_SUCCESS && val.mv_size == 8)
            first_seq = ky_get_u64le(val.mv_data);
        else if (mrc != MDB_NOTFOUND)
            rc = mrc == MDB_SUCCESS ? KY_E_CORRUPT : ky_ledger_mdb_err(mrc);
        mdb_cursor_close(cur);
    }
    if (rc == KY_OK) rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_entries, &cur));
    if (rc == KY_OK) {
        rc = last_mode_in(cur, first_seq, found_out, subtype_out, seq_out);
        mdb_cursor_close(cur);
    }
    mdb_txn_abort(txn);
    return rc;
}
