/*
 * ledger.c — the LMDB environment of a ledger: open/close, meta records, reads, scans
 * and the derived-state digest. The write path is in ledger_write.c, reindex in
 * ledger_reindex.c (both share ledger_int.h).
 *
 * Why LMDB this way: one environment with named databases lets a batch's entries and
 * all derived state commit in one transaction (DESIGN §3.5); reads run in their own
 * cheap MVCC read transactions, concurrently with the writer. MDB_NOTLS lets a read
 * transaction be used by whatever thread created it without tying a reader slot to the
 * thread for its life (the node's loop thread and tools share the handle).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "ledger_int.h"

void ky_ledger_options_default(ky_ledger_options *opt) {
    KY_ASSERT(opt != NULL);
    memset(opt, 0, sizeof *opt);
    opt->map_bytes = KY_LEDGER_MAP_BYTES_DEFAULT;
    ky_rules_config_default(&opt->rules);
}

int ky_ledger_mdb_err(int mdb_rc) {
    switch (mdb_rc) {
    case MDB_SUCCESS: return KY_OK;
    case MDB_NOTFOUND: return KY_E_NOT_FOUND;
    case MDB_MAP_FULL: return KY_E_MAP_FULL;
    case MDB_CORRUPTED:
    case MDB_PAGE_NOTFOUND: return KY_E_CORRUPT;
    case MDB_VERSION_MISMATCH:
    case MDB_INVALID: return KY_E_FORMAT_VERSION;
    case ENOMEM: return KY_E_NOMEM;
    case EACCES:
    case EIO:
    case ENOSPC: return KY_E_IO;
    default: return KY_E_STORAGE;
    }
}

int ky_ledger_mdb_put_mostly_ascending(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *val) {
    int rc = mdb_put(txn, dbi, key, val, MDB_APPEND);
    return rc == MDB_KEYEXIST ? mdb_put(txn, dbi, key, val, 0) : rc;
}

static uint64_t real_clock_us(void *ctx) {
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void ky_ledger_set_clock(ky_ledger *l, uint64_t (*clock_us)(void *ctx), void *ctx) {
    KY_ASSERT(l != NULL);
    l->clock_us = clock_us != NULL ? clock_us : real_clock_us;
    l->clock_ctx = clock_us != NULL ? ctx : NULL;
}

void ky_ledger_month_key(uint64_t contract_id, uint32_t period, uint8_t key[KY_MONTH_KEY_BYTES]) {
    ky_put_u64be(key, contract_id);
    ky_put_u32be(key + 8, period);
}

void ky_ledger_history_key(uint64_t contract_id, uint64_t contract_seq,
                           uint8_t key[KY_HISTORY_KEY_BYTES]) {
    ky_put_u64be(key, contract_id);
    ky_put_u64be(key + 8, contract_seq);
}

void ky_ledger_stored_build(const uint8_t *entry, size_t len, uint8_t *out) {
    memcpy(out, entry, len);
    ky_put_u64le(out + len, (uint64_t)XXH3_64bits(entry, len));
}

int ky_ledger_stored_check(const uint8_t *stored, size_t stored_len, const uint8_t **entry,
                           size_t *entry_len) {
    KY_ASSERT(entry != NULL && entry_len != NULL);
    if (stored == NULL || stored_len < KY_ENTRY_HEADER_BYTES + KY_STORED_CHECKSUM_BYTES)
        return KY_E_CORRUPT;
    size_t len = stored_len - KY_STORED_CHECKSUM_BYTES;
    if (ky_get_u64le(stored + len) != (uint64_t)XXH3_64bits(stored, len)) return KY_E_CORRUPT;
    *entry = stored;
    *entry_len = len;
    return KY_OK;
}

/* ---- open / close ------------------------------------------------------------------ */

static int lock_dir(const char *dir, int *fd_out) {
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/kyosai.lock", dir);
    if (n < 0 || (size_t)n >= sizeof path) return KY_E_INVALID_ARG;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return errno == ENOENT ? KY_E_NOT_FOUND : KY_E_IO;
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        return e == EWOULDBLOCK ? KY_E_LOCKED : KY_E_IO;
    }
    *fd_out = fd;
    return KY_OK;
}

static int open_dbis(ky_ledger *l, MDB_txn *txn, unsigned flags) {
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"entries", &l->dbi_entries}, {"history", &l->dbi_history},     {"idem", &l->dbi_idem},
        {"months", &l->dbi_months},   {"contracts", &l->dbi_contracts}, {"epochs", &l->dbi_epochs},
        {"meta", &l->dbi_meta},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        int rc = mdb_dbi_open(txn, dbs[i].name, flags, dbs[i].dbi);
        if (rc != MDB_SUCCESS) return ky_ledger_mdb_err(rc);
    }
    /* quarantine came later: a read-only open of an older ledger finds none (= empty). */
    int rc = mdb_dbi_open(txn, "quarantine", flags, &l->dbi_quarantine);
    l->has_quarantine = rc == MDB_SUCCESS;
    return rc == MDB_SUCCESS || (rc == MDB_NOTFOUND && flags == 0u) ? KY_OK : ky_ledger_mdb_err(rc);
}

static int meta_get(ky_ledger *l, MDB_txn *txn, const char *name, MDB_val *val) {
    MDB_val key = {strlen(name), (void *)name};
    return ky_ledger_mdb_err(mdb_get(txn, l->dbi_meta, &key, val));
}

static int meta_put(ky_ledger *l, MDB_txn *txn, const char *name, const void *data, size_t n) {
    MDB_val key = {strlen(name), (void *)name};
    MDB_val val = {n, (void *)data};
    return ky_ledger_mdb_err(mdb_put(txn, l->dbi_meta, &key, &val, 0));
}

/* Writes format and node id into a brand-new ledger. */
static int meta_create(ky_ledger *l, MDB_txn *txn) {
    uint8_t fmt[4];
    ky_put_u32le(fmt, KY_LEDGER_FORMAT_VERSION);
    randombytes_buf(l->node_id, sizeof l->node_id);
    int rc = meta_put(l, txn, KY_META_FORMAT, fmt, sizeof fmt);
    if (rc == KY_OK) rc = meta_put(l, txn, KY_META_NODE_ID, l->node_id, sizeof l->node_id);
    return rc;
}

/* Loads format, node id, head and Merkle compact range into the handle. */
static int meta_load(ky_ledger *l, MDB_txn *txn) {
    MDB_val v;
    int rc = meta_get(l, txn, KY_META_FORMAT, &v);
    if (rc != KY_OK) return rc;
    if (v.mv_size != 4 || ky_get_u32le(v.mv_data) != KY_LEDGER_FORMAT_VERSION)
        return KY_E_FORMAT_VERSION;
    rc = meta_get(l, txn, KY_META_NODE_ID, &v);
    if (rc != KY_OK || v.mv_size != KY_NODE_ID_BYTES) return rc != KY_OK ? rc : KY_E_CORRUPT;
    memcpy(l->node_id, v.mv_data, KY_NODE_ID_BYTES);
    ky_merkle_compact_init(&l->merkle);
    rc = ky_ledger_txn_meta_u64(l, txn, KY_META_ACKED, &l->acked_seq);
    if (rc != KY_OK) return rc;
    rc = meta_get(l, txn, KY_META_HEAD, &v);
    if (rc == KY_E_NOT_FOUND) return KY_OK; /* empty ledger */
    if (rc != KY_OK) return rc;
    if (v.mv_size != KY_META_HEAD_BYTES) return KY_E_CORRUPT;
    const uint8_t *p = v.mv_data;
    l->head_seq = ky_get_u64le(p);
    memcpy(l->head_hash, p + 8, KY_HASH_BYTES);
    l->head_epoch = ky_get_u64le(p + 8 + KY_HASH_BYTES);
    l->head_timestamp_us = ky_get_u64le(p + 16 + KY_HASH_BYTES);
    rc = meta_get(l, txn, KY_META_MERKLE, &v);
    if (rc != KY_OK) return rc == KY_E_NOT_FOUND ? KY_E_CORRUPT : rc;
    rc = ky_merkle_compact_decode(&l->merkle, v.mv_data, v.mv_size);
    if (rc != KY_OK) return KY_E_CORRUPT;
    if (l->acked_seq > l->head_seq) return KY_E_CORRUPT;
    return l->merkle.size == l->head_seq ? KY_OK : KY_E_CORRUPT;
}

int ky_ledger_txn_meta_u64(ky_ledger *l, MDB_txn *txn, const char *name, uint64_t *out) {
    KY_ASSERT(name != NULL && out != NULL);
    *out = 0;
    MDB_val v;
    int rc = meta_get(l, txn, name, &v);
    if (rc == KY_E_NOT_FOUND) return KY_OK;
    if (rc != KY_OK) return rc;
    if (v.mv_size != 8) return KY_E_CORRUPT;
    *out = ky_get_u64le(v.mv_data);
    return KY_OK;
}

int ky_ledger_txn_put_meta_u64(ky_ledger *l, MDB_txn *txn, const char *name, uint64_t v) {
    uint8_t b[8];
    ky_put_u64le(b, v);
    return meta_put(l, txn, name, b, sizeof b);
}

void ky_ledger_tip_load(const ky_ledger *l, ky_ledger_tip *tip) {
    tip->seq = l->head_seq;
    memcpy(tip->hash, l->head_hash, KY_HASH_BYTES);
    tip->epoch = l->head_epoch;
    tip->timestamp_us = l->head_timestamp_us;
    tip->merkle = l->merkle;
    KY_ASSERT(tip->merkle.size == tip->seq);
}

void ky_ledger_tip_store(ky_ledger *l, const ky_ledger_tip *tip) {
    KY_ASSERT(tip->merkle.size == tip->seq);
    l->head_seq = tip->seq;
    memcpy(l->head_hash, tip->hash, KY_HASH_BYTES);
    l->head_epoch = tip->epoch;
    l->head_timestamp_us = tip->timestamp_us;
    l->merkle = tip->merkle;
}

void ky_ledger_hook_run(ky_ledger *l, uint64_t first_seq, uint32_t count,
                        const uint8_t *const *entries, const uint32_t *entry_bytes) {
    KY_ASSERT(count > 0 && first_seq >= 1);
    KY_ASSERT(!l->in_hook);
    if (l->batch_hook == NULL) return;
    l->in_hook = true;
    l->batch_hook(l->batch_hook_ctx, first_seq, count, entries, entry_bytes);
    l->in_hook = false;
}

int ky_ledger_txn_put_head(ky_ledger *l, MDB_txn *txn, uint64_t seq,
                           const uint8_t hash[KY_HASH_BYTES], uint64_t epoch, uint64_t ts_us,
                           const ky_merkle_compact *merkle) {
    KY_ASSERT(merkle->size == seq);
    uint8_t head[KY_META_HEAD_BYTES];
    ky_put_u64le(head, seq);
    memcpy(head + 8, hash, KY_HASH_BYTES);
    ky_put_u64le(head + 8 + KY_HASH_BYTES, epoch);
    ky_put_u64le(head + 16 + KY_HASH_BYTES, ts_us);
    int rc = meta_put(l, txn, KY_META_HEAD, head, sizeof head);
    if (rc != KY_OK) return rc;
    uint8_t buf[KY_MERKLE_COMPACT_ENCODED_BYTES_MAX];
    size_t n = ky_merkle_compact_encode(merkle, buf, sizeof buf);
    KY_ASSERT(n > 0);
    return meta_put(l, txn, KY_META_MERKLE, buf, n);
}

int ky_ledger_txn_put_tip(ky_ledger *l, MDB_txn *txn, const ky_ledger_tip *tip) {
    return ky_ledger_txn_put_head(l, txn, tip->seq, tip->hash, tip->epoch, tip->timestamp_us,
                                  &tip->merkle);
}

static int env_open(ky_ledger *l, const ky_ledger_options *opt) {
    int rc = mdb_env_create(&l->env);
    if (rc != MDB_SUCCESS) return ky_ledger_mdb_err(rc);
    mdb_env_set_maxdbs(l->env, 16);
    mdb_env_set_mapsize(l->env, (size_t)opt->map_bytes);
    unsigned flags = MDB_NOTLS | (opt->read_only ? MDB_RDONLY : 0u);
    rc = mdb_env_open(l->env, opt->dir_path, flags, 0600);
    if (rc == ENOENT) return KY_E_NOT_FOUND;
    return ky_ledger_mdb_err(rc);
}

/* Opens the named databases and loads or creates meta, in one transaction. */
static int schema_open(ky_ledger *l, const ky_ledger_options *opt) {
    MDB_txn *txn = NULL;
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, opt->read_only ? MDB_RDONLY : 0, &txn));
    if (rc != KY_OK) return rc;
    rc = open_dbis(l, txn, opt->read_only ? 0u : MDB_CREATE);
    if (rc == KY_OK) {
        MDB_val v;
        rc = meta_get(l, txn, KY_META_FORMAT, &v);
        if (rc == KY_E_NOT_FOUND && !opt->read_only && opt->create) rc = meta_create(l, txn);
        if (rc == KY_OK) rc = meta_load(l, txn);
    }
    if (rc != KY_OK) {
        mdb_txn_abort(txn);
        return rc;
    }
    /* Commit even a read-only txn: LMDB closes DBI handles opened in an aborted txn. */
    return ky_ledger_mdb_err(mdb_txn_commit(txn));
}

int ky_ledger_open(ky_ledger **out, const ky_ledger_options *opt) {
    KY_ASSERT(out != NULL && opt != NULL);
    *out = NULL;
    if (opt->dir_path == NULL || opt->map_bytes < KY_LEDGER_MAP_BYTES_MIN ||
        opt->map_bytes > KY_LEDGER_MAP_BYTES_MAX || (opt->create && opt->read_only))
        return KY_E_INVALID_ARG;
    if (sodium_init() < 0) return KY_E_NOMEM;
    if (opt->create && mkdir(opt->dir_path, 0700) != 0 && errno != EEXIST) return KY_E_IO;
    ky_ledger *l = calloc(1, sizeof *l);
    if (l == NULL) return KY_E_NOMEM;
    l->lock_fd = -1;
    l->read_only = opt->read_only;
    l->rules = opt->rules;
    l->state = KY_LEDGER_OPEN;
    ky_ledger_set_clock(l, NULL, NULL);
    int rc = KY_OK;
    if (!opt->read_only) rc = lock_dir(opt->dir_path, &l->lock_fd);
    if (rc == KY_OK) rc = env_open(l, opt);
    if (rc == KY_OK) rc = schema_open(l, opt);
    if (rc != KY_OK) {
        ky_ledger_close(l);
        return rc;
    }
    *out = l;
    return KY_OK;
}

void ky_ledger_close(ky_ledger *l) {
    if (l == NULL) return;
    if (l->env != NULL) mdb_env_close(l->env);
    if (l->lock_fd >= 0) close(l->lock_fd); /* releases the flock */
    ky_ledger_batch_free(l->batch);
    sodium_memzero(l, sizeof *l);
    free(l);
}

/* ---- reads ------------------------------------------------------------------------- */

static int read_begin(ky_ledger *l, MDB_txn **txn) {
    return ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, MDB_RDONLY, txn));
}

int ky_ledger_head_get(ky_ledger *l, ky_ledger_head *out) {
    KY_ASSERT(l != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    MDB_txn *txn;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    memcpy(out->node_id, l->node_id, KY_NODE_ID_BYTES);
    MDB_val v;
    rc = meta_get(l, txn, KY_META_HEAD, &v);
    if (rc == KY_E_NOT_FOUND) {
        ky_merkle_compact empty;
        ky_merkle_compact_init(&empty);
        ky_merkle_compact_root(&empty, out->merkle_root);
        rc = KY_OK;
    } else if (rc == KY_OK && v.mv_size == KY_META_HEAD_BYTES) {
        const uint8_t *p = v.mv_data;
        out->seq = ky_get_u64le(p);
        memcpy(out->hash, p + 8, KY_HASH_BYTES);
        out->epoch = ky_get_u64le(p + 8 + KY_HASH_BYTES);
        out->timestamp_us = ky_get_u64le(p + 16 + KY_HASH_BYTES);
        ky_merkle_compact m;
        rc = meta_get(l, txn, KY_META_MERKLE, &v);
        if (rc == KY_OK) rc = ky_merkle_compact_decode(&m, v.mv_data, v.mv_size);
        if (rc == KY_OK) ky_merkle_compact_root(&m, out->merkle_root);
    } else if (rc == KY_OK) {
        rc = KY_E_CORRUPT;
    }
    if (rc == KY_OK) rc = ky_ledger_txn_meta_u64(l, txn, KY_META_ACKED, &out->acked_seq);
    if (rc == KY_OK) rc = ky_ledger_txn_meta_u64(l, txn, KY_META_PEER_ACKED, &out->peer_acked_seq);
    MDB_stat st;
    if (rc == KY_OK && l->has_quarantine) {
        rc = ky_ledger_mdb_err(mdb_stat(txn, l->dbi_quarantine, &st));
        if (rc == KY_OK) out->quarantine_count = st.ms_entries;
    }
    mdb_txn_abort(txn);
    return rc;
}

int ky_ledger_txn_entry(ky_ledger *l, MDB_txn *txn, uint64_t seq, const uint8_t **entry,
                        size_t *entry_len) {
    uint8_t k[8];
    ky_put_u64be(k, seq);
    MDB_val key = {sizeof k, k}, val;
    int rc = ky_ledger_mdb_err(mdb_get(txn, l->dbi_entries, &key, &val));
    if (rc != KY_OK) return rc;
    return ky_ledger_stored_check(val.mv_data, val.mv_size, entry, entry_len);
}

int ky_ledger_txn_contract(ky_ledger *l, MDB_txn *txn, uint64_t contract_id,
                           ky_contract_state *out) {
    uint8_t k[8];
    ky_put_u64be(k, contract_id);
    MDB_val key = {sizeof k, k}, val;
    int rc = ky_ledger_mdb_err(mdb_get(txn, l->dbi_contracts, &key, &val));
    if (rc != KY_OK) return rc;
    return ky_contract_state_decode(val.mv_data, val.mv_size, out);
}

int ky_ledger_get(ky_ledger *l, uint64_t seq, uint8_t *buf, size_t buf_cap, size_t *len_out) {
    KY_ASSERT(l != NULL && buf != NULL && len_out != NULL);
    MDB_txn *txn;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    const uint8_t *e;
    size_t n = 0;
    rc = ky_ledger_txn_entry(l, txn, seq, &e, &n);
    if (rc == KY_OK && n > buf_cap) rc = KY_E_BUFFER_TOO_SMALL;
    if (rc == KY_OK) {
        memcpy(buf, e, n);
        *len_out = n;
    }
    mdb_txn_abort(txn);
    return rc;
}

int ky_ledger_contract_get(ky_ledger *l, uint64_t contract_id, ky_contract_state *out) {
    KY_ASSERT(l != NULL && out != NULL);
    MDB_txn *txn;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_txn_contract(l, txn, contract_id, out);
    mdb_txn_abort(txn);
    return rc;
}

int ky_ledger_scan(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, ky_ledger_scan_cb cb,
                   void *ctx) {
    KY_ASSERT(l != NULL && cb != NULL);
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_entries, &cur));
    if (rc != KY_OK) goto fail_abort;
    uint8_t k[8];
    ky_put_u64be(k, from_seq);
    MDB_val key = {sizeof k, k}, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS) {
        if (key.mv_size != 8) {
            rc = KY_E_CORRUPT;
            break;
        }
        uint64_t seq = ky_get_u64be(key.mv_data);
        if (seq > to_seq) break;
        rc = cb(ctx, seq, val.mv_data, val.mv_size);
        if (rc != 0) break;
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == KY_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    mdb_cursor_close(cur);
fail_abort:
    mdb_txn_abort(txn);
    return rc;
}

int ky_ledger_history(ky_ledger *l, uint64_t contract_id, uint64_t after_contract_seq,
                      uint64_t *seqs, uint32_t cap, uint32_t *count_out) {
    KY_ASSERT(l != NULL && seqs != NULL && count_out != NULL);
    *count_out = 0;
    if (cap > KY_HISTORY_PAGE_COUNT_MAX) cap = KY_HISTORY_PAGE_COUNT_MAX;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_mdb_err(mdb_cursor_open(txn, l->dbi_history, &cur));
    if (rc != KY_OK) goto fail_abort;
    uint8_t k[KY_HISTORY_KEY_BYTES];
    ky_ledger_history_key(contract_id, after_contract_seq + 1, k);
    MDB_val key = {sizeof k, k}, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (mrc == MDB_SUCCESS && *count_out < cap) {
        if (key.mv_size != KY_HISTORY_KEY_BYTES || val.mv_size != 8) {
            rc = KY_E_CORRUPT;
            break;
        }
        if (ky_get_u64be(key.mv_data) != contract_id) break;
        seqs[(*count_out)++] = ky_get_u64le(val.mv_data);
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (rc == KY_OK && mrc != MDB_SUCCESS && mrc != MDB_NOTFOUND) rc = ky_ledger_mdb_err(mrc);
    mdb_cursor_close(cur);
fail_abort:
    mdb_txn_abort(txn);
    return rc;
}

/* Hashes one database (its name, then every key and value with lengths) into ctx. */
static int digest_db(MDB_txn *txn, MDB_dbi dbi, const char *name, ky_sha256_ctx *ctx) {
    MDB_cursor *cur;
    int rc = ky_ledger_mdb_err(mdb_cursor_open(txn, dbi, &cur));
    if (rc != KY_OK) return rc;
    ky_sha256_update(ctx, name, strlen(name) + 1);
    MDB_val key, val;
    int mrc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
    while (mrc == MDB_SUCCESS) {
        uint8_t lens[8];
        ky_put_u32le(lens, (uint32_t)key.mv_size);
        ky_put_u32le(lens + 4, (uint32_t)val.mv_size);
        ky_sha256_update(ctx, lens, sizeof lens);
        ky_sha256_update(ctx, key.mv_data, key.mv_size);
        ky_sha256_update(ctx, val.mv_data, val.mv_size);
        mrc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close(cur);
    return mrc == MDB_NOTFOUND ? KY_OK : ky_ledger_mdb_err(mrc);
}

int ky_ledger_txn_state_digest(ky_ledger *l, MDB_txn *txn, uint8_t out[KY_HASH_BYTES]) {
    ky_sha256_ctx ctx;
    ky_sha256_init(&ctx);
    int rc = digest_db(txn, l->dbi_contracts, "contracts", &ctx);
    if (rc == KY_OK) rc = digest_db(txn, l->dbi_history, "history", &ctx);
    if (rc == KY_OK) rc = digest_db(txn, l->dbi_idem, "idem", &ctx);
    if (rc == KY_OK) rc = digest_db(txn, l->dbi_months, "months", &ctx);
    ky_sha256_final(&ctx, out);
    return rc;
}

int ky_ledger_snapshot_copy(ky_ledger *l, const char *dest_dir) {
    KY_ASSERT(l != NULL && dest_dir != NULL);
    /* MDB_CP_COMPACT walks the B-trees inside one read txn: a consistent snapshot that
     * never blocks the writer, and free pages are left out of the copy. */
    int rc = mdb_env_copy2(l->env, dest_dir, MDB_CP_COMPACT);
    if (rc == ENOENT || rc == EEXIST || rc == EACCES || rc == ENOTDIR) return KY_E_IO;
    return ky_ledger_mdb_err(rc);
}

int ky_ledger_state_digest(ky_ledger *l, uint8_t out[KY_HASH_BYTES]) {
    KY_ASSERT(l != NULL && out != NULL);
    MDB_txn *txn;
    int rc = read_begin(l, &txn);
    if (rc != KY_OK) return rc;
    rc = ky_ledger_txn_state_digest(l, txn, out);
    mdb_txn_abort(txn);
    return rc;
}
