/*
 * ledger_reindex.c — rebuild every derived database from the entries alone.
 *
 * Why: derived state (contract summaries, paid months, idempotency keys, history) is a
 * cache of the entries. An operator must be able to throw it away and rebuild it, and an
 * auditor must be able to check that the stored state equals a replay (DESIGN §3.4). The
 * replay goes through the same ky_rules_apply as the write path, and checks each entry's
 * checksum, its prev_hash link and its contract chain on the way.
 *
 * The replay of one entry (ky_ledger_txn_replay_entry) and the rebuild of every derived
 * database from the entries (ky_ledger_txn_rebuild) are shared with ledger_replica.c:
 * a replica applies the primary's entries, and a quarantine rebuilds the kept prefix,
 * through exactly this code, which is why their derived state equals a reindex.
 *
 * Writer thread only: it holds the one LMDB write transaction for the whole rebuild.
 */
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "ledger_int.h"

typedef struct replay {
    ky_ledger *l;
    MDB_txn *txn;
    uint64_t expect_seq;              /* next seq the scan must see */
    uint8_t prev_hash[KY_HASH_BYTES]; /* leaf hash of the previous entry */
    ky_progress_cb progress;
    void *progress_ctx;
    uint64_t total;     /* seq the scan must end at */
    ky_ledger_tip *tip; /* head being rebuilt, or NULL (reindex keeps the stored head) */
} replay;

static int put_u64(MDB_txn *txn, MDB_dbi dbi, const uint8_t *k, size_t klen, uint64_t v) {
    uint8_t b[8];
    ky_put_u64le(b, v);
    MDB_val key = {klen, (void *)k}, val = {8, b};
    return ky_ledger_mdb_err(mdb_put(txn, dbi, &key, &val, 0));
}

/* A month is held by at most one entry: a premium's months are stored with
 * MDB_NOOVERWRITE, so a month already held is found by the put itself (one B-tree search,
 * not a get and a put) and refused as KY_E_REPLAY_INVALID. */
static int apply_months(ky_ledger *l, MDB_txn *txn, uint64_t contract, const ky_month_update *m,
                        uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k[KY_MONTH_KEY_BYTES];
        ky_ledger_month_key(contract, m[i].period_yyyymm, k);
        if (m[i].seq != 0) {
            uint8_t b[8];
            ky_put_u64le(b, m[i].seq);
            MDB_val key = {sizeof k, k}, val = {8, b};
            int rc = mdb_put(txn, l->dbi_months, &key, &val, MDB_NOOVERWRITE);
            if (rc == MDB_KEYEXIST) return KY_E_REPLAY_INVALID;
            if (rc != MDB_SUCCESS) return ky_ledger_mdb_err(rc);
            continue;
        }
        MDB_val key = {sizeof k, k};
        int rc = mdb_del(txn, l->dbi_months, &key, NULL);
        if (rc != MDB_SUCCESS)
            return rc == MDB_NOTFOUND ? KY_E_CHAIN_BROKEN : ky_ledger_mdb_err(rc);
    }
    return KY_OK;
}

static int month_holder(ky_ledger *l, MDB_txn *txn, uint64_t contract, uint32_t period,
                        uint64_t *seq) {
    uint8_t k[KY_MONTH_KEY_BYTES];
    ky_ledger_month_key(contract, period, k);
    MDB_val key = {sizeof k, k}, val;
    int rc = ky_ledger_mdb_err(mdb_get(txn, l->dbi_months, &key, &val));
    *seq = rc == KY_OK && val.mv_size == 8 ? ky_get_u64le(val.mv_data) : 0;
    return rc == KY_E_NOT_FOUND ? KY_OK : rc;
}

/* The invariants ky_rules_apply asserts, checked first so that a crafted ledger (hash-
 * consistent but never judged by the rules) is reported, not an abort: amounts are not
 * negative, a reversal undoes a premium that still holds its months, totals and balances
 * never go below zero. (That a premium's months are free is checked by apply_months.) */
static int replay_precheck(ky_ledger *l, MDB_txn *txn, const ky_entry *e,
                           const ky_contract_state *cs, const ky_entry *ref) {
    if (e->amount_jpy < 0 || e->amount_jpy > KY_AMOUNT_JPY_MAX || e->kind > KY_KIND_CLIENT_LAST_)
        return KY_E_REPLAY_INVALID;
    if (e->contract_id == 0 || e->contract_id > KY_CONTRACT_ID_MAX) return KY_E_REPLAY_INVALID;
    bool adds = e->kind == KY_KIND_PREMIUM_PAID || e->kind == KY_KIND_PREMIUM_PREPAID;
    const ky_entry *holder_of = e->kind == KY_KIND_PREMIUM_REVERSED ? ref : e;
    uint32_t n = holder_of == NULL                            ? 0
                 : holder_of->kind == KY_KIND_PREMIUM_PAID    ? 1u
                 : holder_of->kind == KY_KIND_PREMIUM_PREPAID ? holder_of->months
                                                              : 0;
    if (e->kind == KY_KIND_PREMIUM_REVERSED &&
        (n == 0 || ref->contract_id != e->contract_id || ref->amount_jpy != e->amount_jpy ||
         cs->months_paid < n || cs->total_paid_jpy < e->amount_jpy))
        return KY_E_REPLAY_INVALID;
    if ((adds || e->kind == KY_KIND_PREMIUM_REVERSED) &&
        (n > KY_PREPAID_MONTHS_MAX || !ky_rules_period_valid(holder_of->period_yyyymm)))
        return KY_E_REPLAY_INVALID;
    for (uint32_t i = 0; e->kind == KY_KIND_PREMIUM_REVERSED && i < n; i++) {
        uint64_t seq = 0;
        int rc = month_holder(l, txn, e->contract_id,
                              ky_rules_period_add(holder_of->period_yyyymm, i), &seq);
        if (rc != KY_OK) return rc;
        if (seq != ref->seq) return KY_E_REPLAY_INVALID;
    }
    if (e->kind == KY_KIND_LOAN_REPAID && e->amount_jpy > cs->loan_balance_jpy)
        return KY_E_REPLAY_INVALID;
    return KY_OK;
}

/* Replays one client entry into the derived databases. */
static int replay_client(ky_ledger *l, MDB_txn *txn, const ky_entry *e,
                         const uint8_t leaf[KY_HASH_BYTES]) {
    ky_contract_state cs;
    int rc = ky_ledger_txn_contract(l, txn, e->contract_id, &cs);
    bool opened = e->kind == KY_KIND_CONTRACT_OPENED;
    if (rc == KY_E_NOT_FOUND && opened) {
        memset(&cs, 0, sizeof cs);
        rc = KY_OK;
    } else if (rc == KY_OK && opened) {
        rc = KY_E_CHAIN_BROKEN; /* opened twice */
    }
    if (rc != KY_OK) return rc == KY_E_NOT_FOUND ? KY_E_CHAIN_BROKEN : rc;
    static const uint8_t zero[KY_HASH_BYTES];
    const uint8_t *want_prev = opened ? zero : cs.last_leaf_hash;
    if (e->contract_seq != cs.entry_count + 1 ||
        memcmp(e->contract_prev_hash, want_prev, KY_HASH_BYTES) != 0)
        return KY_E_CHAIN_BROKEN;
    ky_entry ref, *refp = NULL;
    if (e->kind == KY_KIND_PREMIUM_REVERSED) {
        const uint8_t *p;
        size_t n;
        rc = e->ref_seq < e->seq ? ky_ledger_txn_entry(l, txn, e->ref_seq, &p, &n)
                                 : KY_E_NOT_FOUND; /* only an earlier entry can be reversed */
        if (rc == KY_OK) rc = ky_entry_decode(p, n, &ref);
        if (rc != KY_OK) return KY_E_CHAIN_BROKEN;
        refp = &ref;
    }
    rc = replay_precheck(l, txn, e, &cs, refp);
    if (rc != KY_OK) return rc;
    ky_month_update months[KY_PREPAID_MONTHS_MAX];
    uint32_t nmonths = 0;
    ky_rules_apply(e, refp, &cs, months, &nmonths);
    memcpy(cs.last_leaf_hash, leaf, KY_HASH_BYTES);
    uint8_t k[KY_HISTORY_KEY_BYTES], st[KY_CONTRACT_STATE_BYTES];
    ky_put_u64be(k, e->contract_id);
    ky_contract_state_encode(&cs, st);
    MDB_val key = {8, k}, val = {sizeof st, st};
    rc = ky_ledger_mdb_err(mdb_put(txn, l->dbi_contracts, &key, &val, 0));
    if (rc == KY_OK) rc = apply_months(l, txn, e->contract_id, months, nmonths);
    if (rc == KY_OK) {
        uint8_t b[8];
        ky_put_u64le(b, e->seq);
        MDB_val ik = {KY_IDEM_KEY_BYTES, (void *)e->idem_key}, iv = {8, b};
        rc = ky_ledger_mdb_err(ky_ledger_mdb_put_mostly_ascending(txn, l->dbi_idem, &ik, &iv));
    }
    ky_ledger_history_key(e->contract_id, e->contract_seq, k);
    if (rc == KY_OK) rc = put_u64(txn, l->dbi_history, k, sizeof k, e->seq);
    return rc;
}

int ky_ledger_txn_replay_entry(ky_ledger *l, MDB_txn *txn, const ky_entry *e,
                               const uint8_t leaf[KY_HASH_BYTES]) {
    KY_ASSERT(l != NULL && txn != NULL);
    KY_ASSERT(e != NULL && leaf != NULL);
    if (ky_kind_is_system(e->kind)) return KY_OK; /* no derived state */
    return replay_client(l, txn, e, leaf);
}

static int replay_cb(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len) {
    replay *r = ctx;
    const uint8_t *bytes;
    size_t len;
    ky_entry e;
    if (seq != r->expect_seq) return KY_E_CHAIN_BROKEN;
    int rc = ky_ledger_stored_check(stored, stored_len, &bytes, &len);
    if (rc == KY_OK) rc = ky_entry_decode(bytes, len, &e) == KY_OK ? KY_OK : KY_E_CORRUPT;
    if (rc != KY_OK) return rc;
    if (e.seq != seq || memcmp(e.prev_hash, r->prev_hash, KY_HASH_BYTES) != 0)
        return KY_E_CHAIN_BROKEN;
    ky_entry_leaf_hash(bytes, len, r->prev_hash);
    rc = ky_ledger_txn_replay_entry(r->l, r->txn, &e, r->prev_hash);
    if (r->tip != NULL) {
        r->tip->seq = seq;
        memcpy(r->tip->hash, r->prev_hash, KY_HASH_BYTES);
        r->tip->epoch = e.epoch;
        r->tip->timestamp_us = e.timestamp_us;
        ky_merkle_compact_append(&r->tip->merkle, r->prev_hash);
    }
    r->expect_seq++;
    if (r->progress != NULL && (seq % 65536 == 0 || seq == r->total))
        r->progress(r->progress_ctx, seq, r->total);
    return rc;
}

/* Scans entries inside the write txn (ky_ledger_scan would open a second txn). */
static int replay_all(replay *r) {
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_cursor_open(r->txn, r->l->dbi_entries, &cur));
    if (rc != KY_OK) return rc;
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == MDB_SUCCESS && rc == KY_OK) {
        if (key.mv_size != 8) {
            rc = KY_E_CORRUPT;
            break;
        }
        /* Copy out: writes to other databases do not move entries pages, but the cursor
         * value is only guaranteed until the next write in this txn. */
        uint8_t buf[KY_ENTRY_BYTES_MAX + KY_STORED_CHECKSUM_BYTES];
        if (val.mv_size > sizeof buf) {
            rc = KY_E_CORRUPT;
            break;
        }
        memcpy(buf, val.mv_data, val.mv_size);
        rc = replay_cb(r, ky_get_u64be(key.mv_data), buf, val.mv_size);
        if (rc == KY_OK) mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    if (rc == KY_OK && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    if (rc == KY_OK && r->expect_seq != r->total + 1) rc = KY_E_CHAIN_BROKEN;
    return rc;
}

int ky_ledger_txn_rebuild(ky_ledger *l, MDB_txn *txn, uint64_t through_seq, ky_ledger_tip *tip,
                          ky_progress_cb progress, void *progress_ctx) {
    KY_ASSERT(l != NULL && txn != NULL);
    replay r = {l, txn, 1, {0}, progress, progress_ctx, through_seq, tip};
    if (tip != NULL) {
        memset(tip, 0, sizeof *tip);
        ky_merkle_compact_init(&tip->merkle);
    }
    int rc = KY_OK;
    MDB_dbi derived[] = {l->dbi_contracts, l->dbi_history, l->dbi_idem, l->dbi_months};
    for (size_t i = 0; i < sizeof derived / sizeof derived[0] && rc == KY_OK; i++)
        rc = ky_ledger_mdb_err(mdb_drop(txn, derived[i], 0));
    if (rc == KY_OK) rc = replay_all(&r);
    KY_ASSERT(rc != KY_OK || tip == NULL || tip->seq == through_seq);
    return rc;
}

int ky_ledger_reindex(ky_ledger *l, bool dry_run, bool *equal_out, ky_progress_cb progress,
                      void *progress_ctx) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(!l->in_hook); /* a batch hook must not write */
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    MDB_txn *txn;
    uint8_t before[KY_HASH_BYTES], after[KY_HASH_BYTES];
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, 0, &txn));
    if (rc != KY_OK) return rc;
    rc = ky_ledger_txn_state_digest(l, txn, before);
    if (rc == KY_OK) rc = ky_ledger_txn_rebuild(l, txn, l->head_seq, NULL, progress, progress_ctx);
    if (rc == KY_OK) rc = ky_ledger_txn_state_digest(l, txn, after);
    if (rc == KY_OK && equal_out != NULL) *equal_out = memcmp(before, after, KY_HASH_BYTES) == 0;
    if (rc != KY_OK || dry_run) {
        mdb_txn_abort(txn);
        return rc;
    }
    if (mdb_txn_commit(txn) != MDB_SUCCESS) {
        l->state = KY_LEDGER_FAILED;
        return KY_E_LEDGER_FAILED;
    }
    return KY_OK;
}
