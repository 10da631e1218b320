/*
 * ledger_write.c — batch append: judge each event, stage its entry, then write the whole
 * batch in one LMDB transaction with the index updates in key order.
 *
 * Why two phases: a copy-on-write B-tree is fast only when keys arrive in order (DESIGN
 * §3.5). Phase 1 judges the events in batch order against an in-memory overlay of the
 * state they change (contract state, paid months, idempotency keys), so later events of
 * the batch see earlier ones. Phase 2 appends the entries with MDB_APPEND (seq order)
 * and writes the overlay's final values sorted by database and key, so each B-tree page
 * is touched once per batch. A refused event never reaches the overlay, so it writes
 * nothing.
 *
 * Linked chains: the overlay is a log of versions with an open-addressing index that
 * points at the newest version of each key; a chain's failure pops the log back to the
 * chain's start and restores the index (newest first), and the head seq/hash rewinds.
 *
 * Owns: the staging arrays (ky_batch), allocated on the first append at their maximum
 * size (STYLE rule 19: the request path does not allocate). Writer thread only.
 */
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "ledger_int.h"

enum { TAG_CONTRACT = 1, TAG_MONTH = 2, TAG_IDEM = 3 };
#define KEY_BYTES_MAX 16u
#define NO_REC        UINT32_MAX
/* Overlay versions per event at most: its contract and one paid month prefetched, then
 * its contract, its months and its key staged. */
#define RECS_PER_EVENT (4u + KY_PREPAID_MONTHS_MAX)
#define RECS_MAX       (KY_LEDGER_BATCH_COUNT_MAX * RECS_PER_EVENT)
#define TABLE_SLOTS    (1u << 19)
_Static_assert(TABLE_SLOTS >= 2u * RECS_MAX, "overlay table must stay at most half full");
#define STORED_BYTES_MAX (KY_ENTRY_BYTES_MAX + KY_STORED_CHECKSUM_BYTES)

typedef struct ov_rec {
    uint8_t tag;                /* TAG_* : which database */
    uint8_t key_len;            /* bytes of key used */
    uint8_t key[KEY_BYTES_MAX]; /* the database key (big-endian integers) */
    uint32_t prev;              /* older version of the same key, or NO_REC */
    uint32_t slot;              /* index slot pointing at the newest version */
    bool dirty;                 /* staged by an event (false: prefetched, never written) */
    bool present;               /* CONTRACT: the contract exists */
    uint64_t seq;               /* MONTH/IDEM value; 0 = month freed */
    ky_contract_state cs;       /* CONTRACT value */
} ov_rec;

/* An overlay version to write, with its database and key as integers (every key is a
 * big-endian integer or pair, so integer order is byte order): sorting compares these in
 * place instead of following a pointer into the version log for every comparison. */
struct sort_item {
    uint64_t k0, k1; /* key bytes 0-7 and 8-15 (zero-padded), big-endian */
    uint32_t rec;    /* index into recs */
    uint8_t tag;     /* TAG_* */
};

/* A key to prefetch as integers, so sorting moves 16 bytes and compares two words:
 * contract keys are (contract id, 0), month keys (contract id, yyyymm). */
struct pf_key {
    uint64_t hi, lo;
};

typedef struct staged_entry {
    uint32_t offset; /* into arena: entry bytes || xxh3 */
    uint32_t len;    /* entry bytes (without checksum) */
} staged_entry;

typedef struct history_rec {
    uint8_t key[KY_HISTORY_KEY_BYTES]; /* contract || contract_seq */
    uint64_t seq;
} history_rec;

struct ky_batch {
    ov_rec *recs;             /* version log, RECS_MAX */
    uint32_t rec_count;       /* versions in use */
    uint32_t *table;          /* TABLE_SLOTS: newest rec index + 1, 0 = empty */
    struct sort_item *sorted; /* RECS_MAX newest versions, sorted in phase 2 */
    uint8_t *arena;           /* staged stored values */
    uint32_t arena_used;      /* bytes */
    staged_entry *entries;    /* KY_LEDGER_BATCH_COUNT_MAX (+1 for system entries) */
    uint32_t entry_count;
    history_rec *history;    /* KY_LEDGER_BATCH_COUNT_MAX */
    struct pf_key *prefetch; /* KY_LEDGER_BATCH_COUNT_MAX keys to read in key order */
    uint32_t history_count;
    /* Running head of the batch. */
    uint64_t seq;
    uint8_t hash[KY_HASH_BYTES];
    uint64_t timestamp_us;
    ky_merkle_compact merkle;
    MDB_txn *txn; /* the write transaction of this batch */
    /* The batch as the pre-commit hook sees it (KY_LEDGER_BATCH_COUNT_MAX + 1 each). */
    const uint8_t **hook_entries; /* entry bytes in the arena */
    uint32_t *hook_bytes;         /* their lengths */
};

void ky_ledger_batch_free(ky_batch *b) {
    if (b == NULL) return;
    free(b->recs);
    free(b->table);
    free(b->sorted);
    free(b->arena);
    free(b->entries);
    free(b->history);
    free(b->prefetch);
    free(b->hook_entries);
    free(b->hook_bytes);
    free(b);
}

static ky_batch *batch_alloc(void) {
    ky_batch *b = calloc(1, sizeof *b);
    if (b == NULL) return NULL;
    b->recs = malloc(sizeof(ov_rec) * RECS_MAX);
    b->table = calloc(TABLE_SLOTS, sizeof(uint32_t));
    b->sorted = malloc(sizeof(struct sort_item) * RECS_MAX);
    b->arena = malloc((size_t)STORED_BYTES_MAX * (KY_LEDGER_BATCH_COUNT_MAX + 1));
    b->entries = malloc(sizeof(staged_entry) * (KY_LEDGER_BATCH_COUNT_MAX + 1));
    b->history = malloc(sizeof(history_rec) * KY_LEDGER_BATCH_COUNT_MAX);
    b->prefetch = malloc(sizeof(struct pf_key) * KY_LEDGER_BATCH_COUNT_MAX);
    b->hook_entries = malloc(sizeof(uint8_t *) * (KY_LEDGER_BATCH_COUNT_MAX + 1));
    b->hook_bytes = malloc(sizeof(uint32_t) * (KY_LEDGER_BATCH_COUNT_MAX + 1));
    if (!b->recs || !b->table || !b->sorted || !b->arena || !b->entries || !b->history ||
        !b->prefetch || !b->hook_entries || !b->hook_bytes) {
        ky_ledger_batch_free(b);
        return NULL;
    }
    return b;
}

/* ---- overlay ------------------------------------------------------------------------ */

static uint32_t key_hash(uint8_t tag, const uint8_t *key, uint32_t len) {
    /* XXH3 mixes every key bit into the low bits the table uses: sequential contract ids
     * (the common case) spread evenly instead of clustering into long probe runs. */
    uint64_t h = XXH3_64bits_withSeed(key, len, tag);
    return (uint32_t)h & (TABLE_SLOTS - 1);
}

/* Keys are 8, 12 or 16 bytes: two word compares instead of a memcmp call. */
static inline bool key_eq(const uint8_t *a, const uint8_t *b, uint32_t len) {
    uint64_t x, y;
    memcpy(&x, a, 8);
    memcpy(&y, b, 8);
    if (x != y) return false;
    if (len == 8) return true;
    if (len == 16) {
        memcpy(&x, a + 8, 8);
        memcpy(&y, b + 8, 8);
        return x == y;
    }
    return memcmp(a + 8, b + 8, len - 8) == 0;
}

/* Finds the slot of (tag, key): the slot holding it, or the empty slot to put it in. */
static uint32_t ov_slot(const ky_batch *b, uint8_t tag, const uint8_t *key, uint32_t len) {
    uint32_t s = key_hash(tag, key, len);
    for (;;) {
        uint32_t r = b->table[s];
        if (r == 0) return s;
        const ov_rec *rec = &b->recs[r - 1];
        if (rec->tag == tag && rec->key_len == len && key_eq(rec->key, key, len)) return s;
        s = (s + 1) & (TABLE_SLOTS - 1);
    }
}

static ov_rec *ov_find(ky_batch *b, uint8_t tag, const uint8_t *key, uint32_t len) {
    uint32_t r = b->table[ov_slot(b, tag, key, len)];
    return r == 0 ? NULL : &b->recs[r - 1];
}

/* Adds a new version of (tag, key); the caller fills its value. */
static ov_rec *ov_put(ky_batch *b, uint8_t tag, const uint8_t *key, uint32_t len) {
    KY_ASSERT(b->rec_count < RECS_MAX);
    KY_ASSERT(len >= 8 && len <= KEY_BYTES_MAX); /* key_eq reads 8 bytes at least */
    uint32_t s = ov_slot(b, tag, key, len);
    ov_rec *rec = &b->recs[b->rec_count];
    rec->tag = tag;
    rec->key_len = (uint8_t)len;
    memcpy(rec->key, key, len);
    rec->prev = b->table[s] == 0 ? NO_REC : b->table[s] - 1;
    rec->slot = s;
    rec->dirty = true;
    rec->present = true;
    b->table[s] = ++b->rec_count;
    return rec;
}

/* Pops versions back to `mark`, newest first, restoring the index. */
static void ov_rollback(ky_batch *b, uint32_t mark) {
    KY_ASSERT(mark <= b->rec_count);
    while (b->rec_count > mark) {
        ov_rec *rec = &b->recs[--b->rec_count];
        KY_ASSERT(b->table[rec->slot] == b->rec_count + 1);
        b->table[rec->slot] = rec->prev == NO_REC ? 0 : rec->prev + 1;
    }
}

static void ov_clear(ky_batch *b) {
    for (uint32_t i = 0; i < b->rec_count; i++) b->table[b->recs[i].slot] = 0;
    b->rec_count = 0;
}

/* ---- lookups through the overlay ---------------------------------------------------- */

typedef struct lookup_ctx {
    ky_ledger *l;
    ky_batch *b;
} lookup_ctx;

static int contract_lookup(ky_ledger *l, ky_batch *b, uint64_t id, ky_contract_state *cs,
                           bool *found) {
    uint8_t k[8];
    ky_put_u64be(k, id);
    const ov_rec *rec = ov_find(b, TAG_CONTRACT, k, sizeof k);
    if (rec != NULL) {
        *cs = rec->cs;
        *found = rec->present;
        return KY_OK;
    }
    int rc = ky_ledger_txn_contract(l, b->txn, id, cs);
    *found = rc == KY_OK;
    return rc == KY_E_NOT_FOUND ? KY_OK : rc;
}

/* The paid-month index as committed (0 = unpaid), bypassing the overlay. */
static int month_from_store(ky_ledger *l, ky_batch *b, const uint8_t k[KY_MONTH_KEY_BYTES],
                            uint64_t *seq_out) {
    MDB_val key = {KY_MONTH_KEY_BYTES, (void *)k}, val;
    int rc = ky_ledger_mdb_err(mdb_get(b->txn, l->dbi_months, &key, &val));
    *seq_out = 0;
    if (rc == KY_E_NOT_FOUND) return KY_OK;
    if (rc == KY_OK && val.mv_size != 8) rc = KY_E_CORRUPT;
    if (rc == KY_OK) *seq_out = ky_get_u64le(val.mv_data);
    return rc;
}

static int view_month_paid(void *ctx, uint64_t contract, uint32_t period, uint64_t *seq_out) {
    lookup_ctx *lc = ctx;
    uint8_t k[KY_MONTH_KEY_BYTES];
    ky_ledger_month_key(contract, period, k);
    const ov_rec *rec = ov_find(lc->b, TAG_MONTH, k, sizeof k);
    if (rec != NULL) {
        *seq_out = rec->seq;
        return KY_OK;
    }
    return month_from_store(lc->l, lc->b, k, seq_out);
}

/* Entry bytes of seq: from this batch's staging area, or from the store. */
static int entry_bytes(ky_ledger *l, ky_batch *b, uint64_t seq, const uint8_t **p, size_t *n) {
    uint64_t first = b->seq - b->entry_count + 1;
    if (b->entry_count > 0 && seq >= first && seq <= b->seq) {
        const staged_entry *se = &b->entries[seq - first];
        *p = b->arena + se->offset;
        *n = se->len;
        return KY_OK;
    }
    return ky_ledger_txn_entry(l, b->txn, seq, p, n);
}

static int view_entry_get(void *ctx, uint64_t seq, ky_entry *out) {
    lookup_ctx *lc = ctx;
    const uint8_t *p;
    size_t n;
    int rc = entry_bytes(lc->l, lc->b, seq, &p, &n);
    if (rc != KY_OK) return rc;
    rc = ky_entry_decode(p, n, out);
    out->payload = NULL; /* the bytes may move once the txn writes */
    return rc == KY_OK ? KY_OK : KY_E_CORRUPT;
}

/* ---- staging ------------------------------------------------------------------------ */

static uint64_t next_timestamp(ky_ledger *l, ky_batch *b) {
    uint64_t now = l->clock_us(l->clock_ctx);
    return now > b->timestamp_us ? now : b->timestamp_us; /* never decreasing */
}

/* Encodes e (seq, prev_hash, timestamp filled here) into the arena and advances the
 * batch head. */
static void stage_entry(ky_batch *b, ky_entry *e) {
    KY_ASSERT(e->seq == b->seq + 1);
    memcpy(e->prev_hash, b->hash, KY_HASH_BYTES);
    uint8_t *dst = b->arena + b->arena_used;
    size_t len = 0;
    int rc = ky_entry_encode(e, dst, KY_ENTRY_BYTES_MAX, &len);
    KY_ASSERT(rc == KY_OK);
    ky_entry_leaf_hash(dst, len, b->hash);
    ky_put_u64le(dst + len, 0); /* checksum filled in phase 2 */
    b->entries[b->entry_count++] = (staged_entry){b->arena_used, (uint32_t)len};
    b->arena_used += (uint32_t)(len + KY_STORED_CHECKSUM_BYTES);
    b->seq = e->seq;
    b->timestamp_us = e->timestamp_us;
    ky_merkle_compact_append(&b->merkle, b->hash);
}

static void entry_from_event(const ky_event *ev, ky_entry *e) {
    memset(e, 0, sizeof *e);
    e->version = KY_ENTRY_VERSION;
    e->kind = ev->kind;
    e->scheme = ev->scheme;
    e->subtype = ev->subtype;
    e->months = ev->months;
    e->period_yyyymm = ev->period_yyyymm;
    e->payload_bytes = ev->payload_bytes;
    e->contract_id = ev->contract_id;
    e->amount_jpy = ev->amount_jpy;
    e->ref_seq = ev->ref_seq;
    memcpy(e->idem_key, ev->idem_key, KY_IDEM_KEY_BYTES);
    e->payload = ev->payload;
}

/* Stages an accepted event: entry, contract state, months, idempotency key, history. */
static void stage_event(ky_ledger *l, ky_batch *b, const ky_event *ev,
                        const ky_contract_state *cs_old, const ky_entry *ref, uint64_t *seq) {
    ky_entry e;
    entry_from_event(ev, &e);
    e.seq = b->seq + 1;
    e.epoch = l->head_epoch;
    e.timestamp_us = next_timestamp(l, b);
    ky_contract_state cs;
    if (cs_old != NULL) {
        cs = *cs_old;
        memcpy(e.contract_prev_hash, cs.last_leaf_hash, KY_HASH_BYTES);
    } else {
        memset(&cs, 0, sizeof cs);
    }
    e.contract_seq = cs.entry_count + 1;
    stage_entry(b, &e);

    ky_month_update months[KY_PREPAID_MONTHS_MAX];
    uint32_t nmonths = 0;
    ky_rules_apply(&e, ref, &cs, months, &nmonths);
    memcpy(cs.last_leaf_hash, b->hash, KY_HASH_BYTES);
    uint8_t k[KEY_BYTES_MAX];
    ky_put_u64be(k, ev->contract_id);
    ov_put(b, TAG_CONTRACT, k, 8)->cs = cs;
    for (uint32_t i = 0; i < nmonths; i++) {
        ky_ledger_month_key(ev->contract_id, months[i].period_yyyymm, k);
        ov_put(b, TAG_MONTH, k, KY_MONTH_KEY_BYTES)->seq = months[i].seq;
    }
    ov_put(b, TAG_IDEM, ev->idem_key, KY_IDEM_KEY_BYTES)->seq = e.seq;
    history_rec *h = &b->history[b->history_count++];
    ky_ledger_history_key(ev->contract_id, e.contract_seq, h->key);
    h->seq = e.seq;
    *seq = e.seq;
}

/* ---- judging one event ------------------------------------------------------------- */

/* Same event as the one stored (all client-supplied fields, payload included)? */
static bool same_event(const ky_event *ev, const ky_entry *e) {
    return e->kind == ev->kind && e->scheme == ev->scheme && e->subtype == ev->subtype &&
           e->months == ev->months && e->period_yyyymm == ev->period_yyyymm &&
           e->contract_id == ev->contract_id && e->amount_jpy == ev->amount_jpy &&
           e->ref_seq == ev->ref_seq && e->payload_bytes == ev->payload_bytes &&
           (ev->payload_bytes == 0 || memcmp(e->payload, ev->payload, ev->payload_bytes) == 0);
}

/* Idempotency: *seq_out != 0 when the key is already used by this exact event. */
static int idem_check(ky_ledger *l, ky_batch *b, const ky_event *ev, uint64_t *seq_out) {
    *seq_out = 0;
    uint64_t seq = 0;
    const ov_rec *rec = ov_find(b, TAG_IDEM, ev->idem_key, KY_IDEM_KEY_BYTES);
    if (rec != NULL) {
        seq = rec->seq;
    } else {
        MDB_val key = {KY_IDEM_KEY_BYTES, (void *)ev->idem_key}, val;
        int rc = ky_ledger_mdb_err(mdb_get(b->txn, l->dbi_idem, &key, &val));
        if (rc == KY_E_NOT_FOUND) return KY_OK;
        if (rc != KY_OK) return rc;
        if (val.mv_size != 8) return KY_E_CORRUPT;
        seq = ky_get_u64le(val.mv_data);
    }
    const uint8_t *p;
    size_t n;
    ky_entry e;
    int rc = entry_bytes(l, b, seq, &p, &n);
    if (rc == KY_OK) rc = ky_entry_decode(p, n, &e) == KY_OK ? KY_OK : KY_E_CORRUPT;
    if (rc != KY_OK) return rc;
    if (!same_event(ev, &e)) return KY_E_IDEM_KEY_REUSED;
    *seq_out = seq;
    return KY_OK;
}

/* Judges one event and stages it when accepted. */
static void judge_event(ky_ledger *l, ky_batch *b, const ky_event *ev, ky_event_result *res) {
    memset(res, 0, sizeof *res);
    lookup_ctx lc = {l, b};
    ky_rules_view view = {&lc, view_month_paid, view_entry_get};
    ky_contract_state cs;
    bool found = false;
    ky_entry ref;
    uint64_t dup = 0;
    int rc = KY_OK;
    bool key_zero = true;
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) key_zero &= ev->idem_key[i] == 0;
    if (!key_zero) rc = idem_check(l, b, ev, &dup);
    if (rc == KY_OK && dup != 0) {
        res->seq = dup;
        res->flags = KY_RESULT_DUPLICATE;
        return;
    }
    bool id_ok = ev->contract_id != 0 && ev->contract_id <= KY_CONTRACT_ID_MAX;
    if (rc == KY_OK && id_ok) rc = contract_lookup(l, b, ev->contract_id, &cs, &found);
    if (rc == KY_OK) rc = ky_rules_check(&l->rules, &view, ev, found ? &cs : NULL, &ref);
    if (rc != KY_OK) {
        res->code = rc;
        return;
    }
    stage_event(l, b, ev, found ? &cs : NULL, ev->kind == KY_KIND_PREMIUM_REVERSED ? &ref : NULL,
                &res->seq);
}

/* ---- prefetch: read the batch's state in key order ----------------------------------- */

static int pf_cmp(const void *a, const void *b) {
    const struct pf_key *x = a, *y = b;
    if (x->hi != y->hi) return x->hi < y->hi ? -1 : 1;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sorts n keys of one tag, reads each once from the store and records it in the overlay
 * as a clean version. Random arrival then costs sequential B-tree reads (DESIGN §3.5). */
static int prefetch_keys(ky_ledger *l, ky_batch *b, uint8_t tag, uint32_t n) {
    qsort(b->prefetch, n, sizeof b->prefetch[0], pf_cmp);
    for (uint32_t i = 0; i < n; i++) {
        const struct pf_key *k = &b->prefetch[i];
        if (i > 0 && pf_cmp(k, &b->prefetch[i - 1]) == 0) continue;
        uint8_t key[KEY_BYTES_MAX];
        uint32_t key_len = 8;
        if (tag == TAG_CONTRACT) {
            ky_put_u64be(key, k->hi);
        } else {
            ky_ledger_month_key(k->hi, (uint32_t)k->lo, key);
            key_len = KY_MONTH_KEY_BYTES;
        }
        if (ov_find(b, tag, key, key_len) != NULL) continue;
        ov_rec *rec = ov_put(b, tag, key, key_len);
        rec->dirty = false;
        int rc;
        if (tag == TAG_CONTRACT) {
            rc = ky_ledger_txn_contract(l, b->txn, k->hi, &rec->cs);
            rec->present = rc == KY_OK;
        } else {
            rc = month_from_store(l, b, key, &rec->seq);
        }
        if (rc != KY_OK && rc != KY_E_NOT_FOUND) return rc;
    }
    return KY_OK;
}

static int prefetch(ky_ledger *l, ky_batch *b, const ky_event *ev, uint32_t count) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (ev[i].contract_id == 0 || ev[i].contract_id > KY_CONTRACT_ID_MAX) continue;
        b->prefetch[n++] = (struct pf_key){ev[i].contract_id, 0};
    }
    int rc = prefetch_keys(l, b, TAG_CONTRACT, n);
    n = 0;
    for (uint32_t i = 0; i < count && rc == KY_OK; i++) {
        if (ev[i].kind != KY_KIND_PREMIUM_PAID || !ky_rules_period_valid(ev[i].period_yyyymm) ||
            ev[i].contract_id == 0 || ev[i].contract_id > KY_CONTRACT_ID_MAX)
            continue;
        b->prefetch[n++] = (struct pf_key){ev[i].contract_id, ev[i].period_yyyymm};
    }
    return rc == KY_OK ? prefetch_keys(l, b, TAG_MONTH, n) : rc;
}

/* Marks of the batch state at the start of a linked chain. */
typedef struct chain_mark {
    uint32_t recs, entries, arena, history;
    uint64_t seq, timestamp_us;
    uint8_t hash[KY_HASH_BYTES];
    ky_merkle_compact merkle;
} chain_mark;

static void chain_save(const ky_batch *b, chain_mark *m) {
    *m = (chain_mark){b->rec_count, b->entry_count,  b->arena_used, b->history_count,
                      b->seq,       b->timestamp_us, {0},           b->merkle};
    memcpy(m->hash, b->hash, KY_HASH_BYTES);
}

static void chain_restore(ky_batch *b, const chain_mark *m) {
    ov_rollback(b, m->recs);
    b->entry_count = m->entries;
    b->arena_used = m->arena;
    b->history_count = m->history;
    b->seq = m->seq;
    b->timestamp_us = m->timestamp_us;
    memcpy(b->hash, m->hash, KY_HASH_BYTES);
    b->merkle = m->merkle;
}

/* Judges events[from..to] (a linked chain, or one event); all or nothing. */
static void judge_chain(ky_ledger *l, ky_batch *b, const ky_event *ev, uint32_t from, uint32_t to,
                        ky_event_result *res) {
    if (from == to) { /* a lone event: a refusal stages nothing, so no mark is needed */
        judge_event(l, b, &ev[from], &res[from]);
        return;
    }
    chain_mark mark;
    chain_save(b, &mark);
    uint32_t failed = UINT32_MAX;
    for (uint32_t i = from; i <= to && failed == UINT32_MAX; i++) {
        judge_event(l, b, &ev[i], &res[i]);
        if (res[i].code != KY_OK) failed = i;
    }
    if (failed == UINT32_MAX) return;
    chain_restore(b, &mark);
    for (uint32_t i = from; i <= to; i++) {
        if (i == failed) continue;
        res[i] = (ky_event_result){KY_E_LINKED_FAILED, 0, 0};
    }
}

/* ---- phase 2: write ------------------------------------------------------------------ */

/* Orders overlay versions by database, then key (keys of one database share a length). */
static int item_cmp(const void *a, const void *b) {
    const struct sort_item *x = a, *y = b;
    if (x->tag != y->tag) return x->tag < y->tag ? -1 : 1;
    if (x->k0 != y->k0) return x->k0 < y->k0 ? -1 : 1;
    return x->k1 < y->k1 ? -1 : x->k1 > y->k1;
}

static struct sort_item sort_item_of(const ov_rec *r, uint32_t index) {
    uint8_t pad[16] = {0};
    memcpy(pad, r->key, r->key_len);
    return (struct sort_item){ky_get_u64be(pad), ky_get_u64be(pad + 8), index, r->tag};
}

static int history_cmp(const void *a, const void *b) {
    const uint8_t *x = ((const history_rec *)a)->key, *y = ((const history_rec *)b)->key;
    uint64_t p = ky_get_u64be(x), q = ky_get_u64be(y); /* contract id, then contract seq */
    if (p == q) p = ky_get_u64be(x + 8), q = ky_get_u64be(y + 8);
    return p < q ? -1 : p > q;
}

static int write_entries(ky_ledger *l, ky_batch *b) {
    uint64_t first = b->seq - b->entry_count + 1;
    for (uint32_t i = 0; i < b->entry_count; i++) {
        const staged_entry *se = &b->entries[i];
        uint8_t *stored = b->arena + se->offset;
        ky_ledger_stored_build(stored, se->len, stored); /* fills the checksum in place */
        uint8_t k[8];
        ky_put_u64be(k, first + i);
        MDB_val key = {sizeof k, k};
        MDB_val val = {se->len + KY_STORED_CHECKSUM_BYTES, stored};
        int rc = mdb_put(b->txn, l->dbi_entries, &key, &val, MDB_APPEND);
        if (rc != MDB_SUCCESS) return ky_ledger_mdb_err(rc);
    }
    return KY_OK;
}

static int write_history(ky_ledger *l, ky_batch *b) {
    qsort(b->history, b->history_count, sizeof(history_rec), history_cmp);
    for (uint32_t i = 0; i < b->history_count; i++) {
        uint8_t v[8];
        ky_put_u64le(v, b->history[i].seq);
        MDB_val key = {KY_HISTORY_KEY_BYTES, b->history[i].key}, val = {8, v};
        int rc = mdb_put(b->txn, l->dbi_history, &key, &val, 0);
        if (rc != MDB_SUCCESS) return ky_ledger_mdb_err(rc);
    }
    return KY_OK;
}

static int write_rec(ky_ledger *l, ky_batch *b, const ov_rec *r) {
    MDB_val key = {r->key_len, (void *)r->key};
    uint8_t buf[KY_CONTRACT_STATE_BYTES];
    MDB_val val = {8, buf};
    MDB_dbi dbi = r->tag == TAG_CONTRACT ? l->dbi_contracts
                  : r->tag == TAG_MONTH  ? l->dbi_months
                                         : l->dbi_idem;
    if (r->tag == TAG_CONTRACT) {
        ky_contract_state_encode(&r->cs, buf);
        val.mv_size = KY_CONTRACT_STATE_BYTES;
    } else if (r->tag == TAG_MONTH && r->seq == 0) {
        int rc = mdb_del(b->txn, dbi, &key, NULL);
        return rc == MDB_NOTFOUND ? KY_OK : ky_ledger_mdb_err(rc);
    } else {
        ky_put_u64le(buf, r->seq);
    }
    if (r->tag == TAG_IDEM) /* time-ordered keys: usually above every stored one */
        return ky_ledger_mdb_err(ky_ledger_mdb_put_mostly_ascending(b->txn, dbi, &key, &val));
    return ky_ledger_mdb_err(mdb_put(b->txn, dbi, &key, &val, 0));
}

/* Writes the newest version of every overlay key, sorted by database and key. */
static int write_overlay(ky_ledger *l, ky_batch *b) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < b->rec_count; i++) {
        const ov_rec *r = &b->recs[i];
        if (r->dirty && b->table[r->slot] == i + 1) b->sorted[n++] = sort_item_of(r, i);
    }
    qsort(b->sorted, n, sizeof b->sorted[0], item_cmp);
    for (uint32_t i = 0; i < n; i++) {
        int rc = write_rec(l, b, &b->recs[b->sorted[i].rec]);
        if (rc != KY_OK) return rc;
    }
    return KY_OK;
}

/* Hands the staged entries to the batch hook: written into the txn, not yet committed. */
static void batch_hook(ky_ledger *l, ky_batch *b) {
    if (l->batch_hook == NULL) return;
    KY_ASSERT(b->entry_count > 0 && b->entry_count <= KY_LEDGER_BATCH_COUNT_MAX + 1);
    for (uint32_t i = 0; i < b->entry_count; i++) {
        b->hook_entries[i] = b->arena + b->entries[i].offset;
        b->hook_bytes[i] = b->entries[i].len;
    }
    ky_ledger_hook_run(l, b->seq - b->entry_count + 1, b->entry_count,
                       (const uint8_t *const *)b->hook_entries, b->hook_bytes);
}

/* Writes everything staged and commits; on a commit failure the ledger is poisoned. */
static int batch_commit(ky_ledger *l, ky_batch *b) {
    int rc = KY_OK;
    if (b->entry_count > 0) {
        rc = write_entries(l, b);
        if (rc == KY_OK) rc = write_history(l, b);
        if (rc == KY_OK) rc = write_overlay(l, b);
        if (rc == KY_OK)
            rc = ky_ledger_txn_put_head(l, b->txn, b->seq, b->hash, l->head_epoch, b->timestamp_us,
                                        &b->merkle);
        if (rc == KY_OK) batch_hook(l, b); /* before the commit: ship while fsync runs */
    }
    if (rc != KY_OK) {
        mdb_txn_abort(b->txn);
        b->txn = NULL;
        return rc;
    }
    int mrc = mdb_txn_commit(b->txn);
    b->txn = NULL;
    if (mrc != MDB_SUCCESS) {
        l->state = KY_LEDGER_FAILED; /* never retry a failed fsync (STYLE rule 13) */
        return KY_E_LEDGER_FAILED;
    }
    l->head_seq = b->seq;
    memcpy(l->head_hash, b->hash, KY_HASH_BYTES);
    l->head_timestamp_us = b->timestamp_us;
    l->merkle = b->merkle;
    return KY_OK;
}

/* Starts a batch: staging memory, write txn, running head = committed head. */
static int batch_begin(ky_ledger *l, ky_batch **out) {
    KY_ASSERT(!l->in_hook); /* a batch hook must not write */
    if (l->read_only) return KY_E_READ_ONLY;
    if (l->state == KY_LEDGER_FAILED) return KY_E_LEDGER_FAILED;
    if (l->batch == NULL && (l->batch = batch_alloc()) == NULL) return KY_E_NOMEM;
    ky_batch *b = l->batch;
    ov_clear(b);
    b->entry_count = b->arena_used = b->history_count = 0;
    b->seq = l->head_seq;
    memcpy(b->hash, l->head_hash, KY_HASH_BYTES);
    b->timestamp_us = l->head_timestamp_us;
    b->merkle = l->merkle;
    int rc = ky_ledger_mdb_err(mdb_txn_begin(l->env, NULL, 0, &b->txn));
    if (rc != KY_OK) return rc;
    *out = b;
    return KY_OK;
}

int ky_ledger_append(ky_ledger *l, const ky_event *events, uint32_t count,
                     ky_event_result *results) {
    KY_ASSERT(l != NULL);
    if (count == 0) return KY_E_BATCH_EMPTY;
    if (count > KY_LEDGER_BATCH_COUNT_MAX) return KY_E_BATCH_TOO_LARGE;
    KY_ASSERT(events != NULL && results != NULL);
    ky_batch *b;
    int rc = batch_begin(l, &b);
    if (rc != KY_OK) return rc;
    if (l->head_epoch == 0) { /* no epoch started: nothing may be written yet */
        mdb_txn_abort(b->txn);
        b->txn = NULL;
        return KY_E_INVALID_ARG;
    }
    rc = prefetch(l, b, events, count);
    if (rc != KY_OK) {
        mdb_txn_abort(b->txn);
        b->txn = NULL;
        return rc;
    }
    uint32_t start = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (events[i].flags & KY_EVENT_LINKED) continue;
        judge_chain(l, b, events, start, i, results);
        start = i + 1;
    }
    for (uint32_t i = start; i < count; i++) /* chain still open at the end of the batch */
        results[i] = (ky_event_result){KY_E_LINKED_OPEN, 0, 0};
    rc = batch_commit(l, b);
    if (rc != KY_OK) {
        for (uint32_t i = 0; i < count; i++)
            if (results[i].code == KY_OK) results[i] = (ky_event_result){rc, 0, 0};
    }
    return rc;
}

int ky_ledger_epoch_begin(ky_ledger *l, uint64_t new_epoch, uint64_t *seq_out) {
    KY_ASSERT(l != NULL);
    if (new_epoch <= l->head_epoch) return KY_E_INVALID_ARG;
    ky_batch *b;
    int rc = batch_begin(l, &b);
    if (rc != KY_OK) return rc;
    ky_entry e;
    memset(&e, 0, sizeof e);
    e.version = KY_ENTRY_VERSION;
    e.kind = KY_KIND_EPOCH_STARTED;
    e.seq = b->seq + 1;
    e.epoch = new_epoch;
    e.timestamp_us = next_timestamp(l, b);
    e.payload_bytes = KY_NODE_ID_BYTES;
    e.payload = l->node_id;
    ky_put_u64be(e.idem_key, new_epoch); /* unique per epoch; never a client key shape */
    stage_entry(b, &e);
    uint8_t k[8], v[8];
    ky_put_u64be(k, new_epoch);
    ky_put_u64le(v, e.seq);
    MDB_val key = {8, k}, val = {8, v};
    rc = ky_ledger_mdb_err(mdb_put(b->txn, l->dbi_epochs, &key, &val, MDB_APPEND));
    uint64_t old_epoch = l->head_epoch;
    l->head_epoch = new_epoch; /* the head record carries the new epoch */
    if (rc == KY_OK) {
        rc = batch_commit(l, b);
    } else {
        mdb_txn_abort(b->txn);
        b->txn = NULL;
    }
    if (rc != KY_OK) l->head_epoch = old_epoch;
    if (rc == KY_OK && seq_out != NULL) *seq_out = e.seq;
    return rc;
}

int ky_ledger_system_append(ky_ledger *l, uint8_t kind, uint16_t subtype, const uint8_t *payload,
                            uint32_t payload_bytes, uint64_t *seq_out) {
    KY_ASSERT(l != NULL);
    if (!ky_kind_is_system(kind) || kind == KY_KIND_EPOCH_STARTED ||
        payload_bytes > KY_ENTRY_PAYLOAD_BYTES_MAX || l->head_epoch == 0)
        return KY_E_INVALID_ARG;
    ky_batch *b;
    int rc = batch_begin(l, &b);
    if (rc != KY_OK) return rc;
    ky_entry e;
    memset(&e, 0, sizeof e);
    e.version = KY_ENTRY_VERSION;
    e.kind = kind;
    e.subtype = subtype;
    e.seq = b->seq + 1;
    e.epoch = l->head_epoch;
    e.timestamp_us = next_timestamp(l, b);
    e.payload_bytes = payload_bytes;
    e.payload = payload;
    e.idem_key[0] = 0xFF; /* system shape: 0xFF, kind, seq; never a client key (time-ordered) */
    e.idem_key[1] = kind;
    ky_put_u64be(e.idem_key + 8, e.seq);
    stage_entry(b, &e);
    rc = batch_commit(l, b);
    if (rc == KY_OK && seq_out != NULL) *seq_out = e.seq;
    return rc;
}
