/*
 * test_replica.c — the replication primitives of replica.h on real LMDB files: the
 * pre-commit batch hook, ky_ledger_apply, the acknowledged seq, quarantine of a
 * diverged tail and the epoch history.
 *
 * Goal: a replica that starts empty and applies the batches a primary's hook hands out
 * ends with the primary's head, leaf hashes, Merkle root, epoch history and derived state
 * (equal ky_ledger_state_digest); every bad batch (gap, repeat, wrong prev_hash, flipped
 * byte, epoch or time going back, rule broken on replay, limits) is refused with its code
 * and the seq it stopped at, and writes nothing; the hook runs before the commit; a
 * quarantine leaves exactly the state of a replica that only applied the kept prefix, and
 * then catch-up from the new primary works.
 * Method: every ledger is a temp directory; each node's hook copies the entries it is
 * handed into a table by seq, and the tests ship ranges of that table to other nodes.
 * "Writes nothing" is checked by comparing head, digest, epochs and acked seq before and
 * after each refusal, not assumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/ky_err.h"
#include "../../ledger/ledger.h"
#include "../../ledger/replica.h"
#include "../../ledger/verify.h"

#define CAP_SEQ_MAX (KY_LEDGER_BATCH_COUNT_MAX + 200u)

/* What one node's batch hook has handed out, by seq (a later batch at the same seq, after
 * a quarantine, replaces the earlier bytes). */
typedef struct capture {
    uint8_t *bytes[CAP_SEQ_MAX + 1];
    uint32_t len[CAP_SEQ_MAX + 1];
    uint64_t max_seq;        /* highest seq captured */
    uint32_t batches;        /* hook calls */
    ky_ledger *check_ledger; /* when set, the hook checks the batch is not yet visible */
    uint32_t uncommitted_ok; /* hook calls that found it not yet visible */
} capture;

typedef struct node {
    char dir[64];
    ky_ledger *l;
    capture *cap;
} node;

typedef struct fixture {
    node p, r, q;         /* primary, replica, a second replica */
    uint64_t key_counter; /* idempotency keys */
} fixture;

/* ---- nodes and capture --------------------------------------------------------------- */

static void capture_hook(void *ctx, uint64_t first_seq, uint32_t count,
                         const uint8_t *const *entries, const uint32_t *entry_bytes) {
    capture *c = ctx;
    assert_true(count > 0);
    assert_true(first_seq + count - 1 <= CAP_SEQ_MAX);
    c->batches++;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t seq = first_seq + i;
        ky_entry e;
        assert_int_equal(ky_entry_decode(entries[i], entry_bytes[i], &e), KY_OK);
        assert_int_equal(e.seq, seq); /* canonical entry bytes, in seq order */
        free(c->bytes[seq]);
        c->bytes[seq] = malloc(entry_bytes[i]);
        assert_non_null(c->bytes[seq]);
        memcpy(c->bytes[seq], entries[i], entry_bytes[i]);
        c->len[seq] = entry_bytes[i];
        if (seq > c->max_seq) c->max_seq = seq;
    }
    if (c->check_ledger != NULL) { /* a read txn opened now must not see the batch */
        ky_ledger_head h;
        uint8_t buf[KY_ENTRY_BYTES_MAX];
        size_t n;
        assert_int_equal(ky_ledger_head_get(c->check_ledger, &h), KY_OK);
        assert_int_equal(h.seq, first_seq - 1);
        assert_int_equal(ky_ledger_get(c->check_ledger, first_seq, buf, sizeof buf, &n),
                         KY_E_NOT_FOUND);
        c->uncommitted_ok++;
    }
}

/* Opens a node in a new temp directory. genesis: write epoch 1 like `kyosaictl init`;
 * otherwise the ledger stays empty, as a replica starts. The hook is set before genesis. */
static int node_open(node *n, const char *tag, bool genesis) {
    snprintf(n->dir, sizeof n->dir, "/tmp/ky-test-replica-%s-XXXXXX", tag);
    if (mkdtemp(n->dir) == NULL) return -1;
    n->cap = calloc(1, sizeof *n->cap);
    if (n->cap == NULL) return -1;
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = n->dir;
    o.create = true;
    o.map_bytes = 1ull << 30;
    if (ky_ledger_open(&n->l, &o) != KY_OK) return -1;
    ky_ledger_set_batch_hook(n->l, capture_hook, n->cap);
    if (genesis && ky_ledger_epoch_begin(n->l, 1, NULL) != KY_OK) return -1;
    return 0;
}

static int node_reopen(node *n) {
    ky_ledger_close(n->l);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = n->dir;
    o.map_bytes = 1ull << 30;
    if (ky_ledger_open(&n->l, &o) != KY_OK) return -1;
    ky_ledger_set_batch_hook(n->l, capture_hook, n->cap);
    return 0;
}

static int node_remove(node *n) {
    ky_ledger_close(n->l);
    if (n->cap != NULL)
        for (uint64_t s = 0; s <= CAP_SEQ_MAX; s++) free(n->cap->bytes[s]);
    free(n->cap);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", n->dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    if (node_open(&f->p, "p", true) != 0 || node_open(&f->r, "r", false) != 0 ||
        node_open(&f->q, "q", false) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    int rc = node_remove(&f->p) | node_remove(&f->r) | node_remove(&f->q);
    free(f);
    return rc;
}

/* Applies seqs from..through of `src`'s capture to `to` in one call. */
static int ship(ky_ledger *to, const capture *src, uint64_t from, uint64_t through, uint64_t acked,
                uint64_t *bad_seq) {
    assert_true(from >= 1 && through >= from && through <= src->max_seq);
    uint32_t count = (uint32_t)(through - from + 1);
    const uint8_t **e = malloc(sizeof *e * count);
    uint32_t *n = malloc(sizeof *n * count);
    assert_non_null(e);
    assert_non_null(n);
    for (uint32_t i = 0; i < count; i++) {
        e[i] = src->bytes[from + i];
        n[i] = src->len[from + i];
        assert_non_null(e[i]);
    }
    int rc = ky_ledger_apply(to, e, n, count, acked, bad_seq);
    free(e);
    free(n);
    return rc;
}

/* ---- events -------------------------------------------------------------------------- */

static ky_event ev_make(fixture *f, uint8_t kind, uint8_t scheme, uint64_t contract,
                        int64_t amount) {
    ky_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.scheme = scheme;
    e.contract_id = contract;
    e.amount_jpy = amount;
    ky_put_u64be(e.idem_key, 0x0190000000000000ull + (++f->key_counter));
    return e;
}

static ky_event ev_open(fixture *f, uint8_t scheme, uint64_t c, int64_t premium) {
    ky_event e = ev_make(f, KY_KIND_CONTRACT_OPENED, scheme, c, premium);
    e.subtype = 1;
    return e;
}

static ky_event ev_paid(fixture *f, uint8_t scheme, uint64_t c, int64_t amt, uint32_t period) {
    ky_event e = ev_make(f, KY_KIND_PREMIUM_PAID, scheme, c, amt);
    e.period_yyyymm = period;
    return e;
}

/* Appends a batch; every event must get `want` (KY_OK or a refusal). */
static void post(ky_ledger *l, const ky_event *ev, uint32_t count, int want, uint64_t *seqs) {
    ky_event_result r[8];
    assert_true(count <= 8);
    assert_int_equal(ky_ledger_append(l, ev, count, r), KY_OK);
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(r[i].code, want);
        if (seqs != NULL) seqs[i] = r[i].seq;
    }
}

#define C1 100000000001ull /* shokibo */
#define C2 100000000002ull /* shokibo, opened by a linked pair */
#define S1 200000000001ull /* safety */

/* A realistic stretch of business on the primary: contracts opened, premiums, a linked
 * pair, a prepayment, a reversal, carried-over months, a loan, refused and duplicate
 * batches (no hook call), then an epoch change and more. */
static void workload(fixture *f, ky_ledger *l) {
    ky_event b[4];
    uint64_t seqs[4];
    b[0] = ev_open(f, KY_SCHEME_SHOKIBO, C1, 10000);
    b[1] = ev_open(f, KY_SCHEME_SAFETY, S1, 50000);
    post(l, b, 2, KY_OK, NULL);
    ky_event first = b[0];
    b[0] = ev_open(f, KY_SCHEME_SHOKIBO, C2, 20000); /* linked pair */
    b[0].flags = KY_EVENT_LINKED;
    b[1] = ev_paid(f, KY_SCHEME_SHOKIBO, C2, 20000, 202604);
    post(l, b, 2, KY_OK, NULL);
    b[0] = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202604);
    b[1] = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202605);
    b[2] = ev_make(f, KY_KIND_PREMIUM_PREPAID, KY_SCHEME_SHOKIBO, C1, 30000);
    b[2].period_yyyymm = 202606;
    b[2].months = 3;
    post(l, b, 3, KY_OK, seqs);
    b[0] = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, C1, 10000);
    b[0].ref_seq = seqs[0]; /* the 2026-04 premium bounced */
    post(l, b, 1, KY_OK, NULL);
    b[0] = ev_paid(f, KY_SCHEME_SHOKIBO, 100000000099ull, 10000, 202604);
    post(l, b, 1, KY_E_CONTRACT_UNKNOWN, NULL); /* nothing new: no hook call */
    post(l, &first, 1, KY_OK, NULL);            /* a duplicate retry: no hook call */
    b[0] = ev_make(f, KY_KIND_MONTHS_CARRIED_OVER, KY_SCHEME_SHOKIBO, C1, 120000);
    b[0].months = 12;
    b[1] = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SHOKIBO, C1, 50000);
    b[2] = ev_make(f, KY_KIND_LOAN_REPAID, KY_SCHEME_SHOKIBO, C1, 20000);
    post(l, b, 3, KY_OK, NULL);
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(l, &h), KY_OK);
    assert_int_equal(ky_ledger_epoch_begin(l, h.epoch + 1, NULL), KY_OK);
    b[0] = ev_paid(f, KY_SCHEME_SAFETY, S1, 50000, 202604);
    b[1] = ev_make(f, KY_KIND_PREMIUM_CHANGED, KY_SCHEME_SAFETY, S1, 100000);
    b[2] = ev_make(f, KY_KIND_CONTRACT_CLOSED, KY_SCHEME_SHOKIBO, C2, 0);
    post(l, b, 3, KY_OK, NULL);
}

/* ---- comparisons --------------------------------------------------------------------- */

typedef struct snapshot {
    ky_ledger_head head;
    uint8_t digest[KY_HASH_BYTES];
    uint64_t epochs[16], first_seqs[16];
    uint32_t epoch_count;
} snapshot;

static void snap(ky_ledger *l, snapshot *s) {
    memset(s, 0, sizeof *s);
    assert_int_equal(ky_ledger_head_get(l, &s->head), KY_OK);
    assert_int_equal(ky_ledger_state_digest(l, s->digest), KY_OK);
    assert_int_equal(ky_ledger_epochs(l, s->epochs, s->first_seqs, 16, &s->epoch_count), KY_OK);
}

/* Same chain, Merkle root, epochs and derived state (node ids differ, by design). */
static void assert_same_ledger(const snapshot *a, const snapshot *b) {
    assert_int_equal(a->head.seq, b->head.seq);
    assert_memory_equal(a->head.hash, b->head.hash, KY_HASH_BYTES);
    assert_int_equal(a->head.epoch, b->head.epoch);
    assert_int_equal(a->head.timestamp_us, b->head.timestamp_us);
    assert_memory_equal(a->head.merkle_root, b->head.merkle_root, KY_HASH_BYTES);
    assert_memory_equal(a->digest, b->digest, KY_HASH_BYTES);
    assert_int_equal(a->epoch_count, b->epoch_count);
    assert_memory_equal(a->epochs, b->epochs, sizeof a->epochs);
    assert_memory_equal(a->first_seqs, b->first_seqs, sizeof a->first_seqs);
}

/* Nothing of a refused call was written. */
static void assert_unchanged(const snapshot *before, ky_ledger *l) {
    snapshot now;
    snap(l, &now);
    assert_same_ledger(before, &now);
    assert_int_equal(now.head.acked_seq, before->head.acked_seq);
    assert_int_equal(now.head.quarantine_count, before->head.quarantine_count);
}

/* The ledger verifies from the bytes alone and a reindex reproduces its state. */
static void assert_verifies(ky_ledger *l) {
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(l, &h), KY_OK);
    ky_verify_report rep;
    assert_int_equal(ky_verify_range(l, 1, 0, NULL, NULL, &rep), KY_OK);
    assert_int_equal(rep.first_bad_seq, 0);
    assert_int_equal(rep.checked_count, h.seq);
    assert_true(rep.head_checked);
    bool equal = false;
    assert_int_equal(ky_ledger_reindex(l, true, &equal, NULL, NULL), KY_OK);
    assert_true(equal);
}

/* ---- tests --------------------------------------------------------------------------- */

/* The primary's batches, applied in the same batches to an empty replica, give the same
 * ledger; the replica's own node id is not the one in its seq 1. */
static void test_replicate_workload(void **state) {
    fixture *f = *state;
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->r.l, &h), KY_OK);
    assert_int_equal(h.seq, 0); /* a replica starts empty */
    uint32_t before = f->p.cap->batches;
    workload(f, f->p.l);
    /* 5 batches, the epoch, 1 batch; the refused and the duplicate batch: no call */
    assert_int_equal(f->p.cap->batches, before + 7);
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK);
    assert_int_equal(h.seq, f->p.cap->max_seq);
    /* Ship seq 1 alone, then the rest in two calls, acking as we go. */
    uint64_t bad = 99;
    assert_int_equal(ship(f->r.l, f->p.cap, 1, 1, 1, &bad), KY_OK);
    assert_int_equal(bad, 0);
    assert_int_equal(ship(f->r.l, f->p.cap, 2, 6, 4, NULL), KY_OK);
    assert_int_equal(ship(f->r.l, f->p.cap, 7, h.seq, h.seq, NULL), KY_OK);
    snapshot sp, sr;
    snap(f->p.l, &sp);
    snap(f->r.l, &sr);
    assert_same_ledger(&sp, &sr);
    assert_int_equal(sr.epoch_count, 2);
    assert_int_equal(sr.epochs[0], 1);
    assert_int_equal(sr.first_seqs[0], 1);
    assert_int_equal(sr.epochs[1], 2);
    assert_int_equal(sr.head.acked_seq, h.seq);
    assert_memory_not_equal(sp.head.node_id, sr.head.node_id, KY_NODE_ID_BYTES);
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    ky_entry e1;
    assert_int_equal(ky_ledger_get(f->r.l, 1, buf, sizeof buf, &n), KY_OK);
    assert_int_equal(ky_entry_decode(buf, n, &e1), KY_OK);
    assert_int_equal(e1.kind, KY_KIND_EPOCH_STARTED);
    assert_memory_equal(e1.payload, sp.head.node_id, KY_NODE_ID_BYTES); /* the primary's */
    ky_contract_state a, b;
    assert_int_equal(ky_ledger_contract_get(f->p.l, C1, &a), KY_OK);
    assert_int_equal(ky_ledger_contract_get(f->r.l, C1, &b), KY_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(a.months_paid, 1 + 3 + 12); /* 04 reversed, 05, 06-08 prepaid, 12 */
    assert_verifies(f->r.l);
    assert_int_equal(node_reopen(&f->r), 0); /* the in-memory head reloads from meta */
    snap(f->r.l, &sr);
    assert_same_ledger(&sp, &sr);
    assert_int_equal(sr.head.acked_seq, h.seq);
    /* The replica writes on from where the primary stopped, e.g. after a promotion. */
    ky_event ev = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202609);
    post(f->r.l, &ev, 1, KY_OK, NULL);
    assert_verifies(f->r.l);
}

/* The hook sees each batch inside the write txn: a read txn opened in it does not see
 * the batch yet. On a replica the hook runs for applied batches (cascading). */
static void test_hook_before_commit(void **state) {
    fixture *f = *state;
    f->p.cap->check_ledger = f->p.l;
    f->r.cap->check_ledger = f->r.l;
    uint32_t calls = f->p.cap->batches;
    ky_event b[3] = {ev_open(f, KY_SCHEME_SHOKIBO, C1, 10000),
                     ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202604),
                     ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202604)}; /* refused */
    ky_event_result r[3];
    assert_int_equal(ky_ledger_append(f->p.l, b, 3, r), KY_OK);
    assert_int_equal(r[2].code, KY_E_MONTH_ALREADY_PAID);
    assert_int_equal(f->p.cap->batches, calls + 1);
    assert_int_equal(f->p.cap->uncommitted_ok, 1);
    assert_int_equal(f->p.cap->max_seq, 3); /* the refused event was not handed out */
    assert_int_equal(ky_ledger_epoch_begin(f->p.l, 7, NULL), KY_OK);
    assert_int_equal(f->p.cap->uncommitted_ok, 2);
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK); /* committed afterwards */
    assert_int_equal(h.seq, 4);
    assert_int_equal(ship(f->r.l, f->p.cap, 1, 4, 0, NULL), KY_OK);
    assert_int_equal(f->r.cap->batches, 1);
    assert_int_equal(f->r.cap->uncommitted_ok, 1);
    for (uint64_t s = 1; s <= 4; s++) { /* the replica hands on the very same bytes */
        assert_int_equal(f->r.cap->len[s], f->p.cap->len[s]);
        assert_memory_equal(f->r.cap->bytes[s], f->p.cap->bytes[s], f->p.cap->len[s]);
    }
    /* Without a hook nothing is called; a refused apply calls nothing either. */
    ky_ledger_set_batch_hook(f->p.l, NULL, NULL);
    ky_event e = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202605);
    post(f->p.l, &e, 1, KY_OK, NULL);
    assert_int_equal(f->p.cap->uncommitted_ok, 2);
    assert_int_equal(ship(f->r.l, f->p.cap, 4, 4, 0, NULL), KY_E_CHAIN_BROKEN);
    assert_int_equal(f->r.cap->batches, 1);
}

/* Replaces the bytes of seq in the capture with `e` re-encoded (a crafted entry). */
static void craft(capture *c, uint64_t seq, const ky_entry *e) {
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    assert_int_equal(ky_entry_encode(e, buf, sizeof buf, &n), KY_OK);
    free(c->bytes[seq]);
    c->bytes[seq] = malloc(n);
    assert_non_null(c->bytes[seq]);
    memcpy(c->bytes[seq], buf, n);
    c->len[seq] = (uint32_t)n;
}

/* A copy of the primary's capture that tests may damage. */
static capture *capture_copy(const capture *src) {
    capture *c = calloc(1, sizeof *c);
    assert_non_null(c);
    for (uint64_t s = 1; s <= src->max_seq; s++) {
        c->bytes[s] = malloc(src->len[s]);
        assert_non_null(c->bytes[s]);
        memcpy(c->bytes[s], src->bytes[s], src->len[s]);
        c->len[s] = src->len[s];
    }
    c->max_seq = src->max_seq;
    return c;
}

static void capture_free(capture *c) {
    for (uint64_t s = 0; s <= CAP_SEQ_MAX; s++) free(c->bytes[s]);
    free(c);
}

/* Applies `bad` (seqs from..through) to the replica: it must be refused with `code` at
 * bad_seq, and leave the replica exactly as it was. Then the damaged seqs are restored. */
static void refuse(fixture *f, capture *bad, uint64_t from, uint64_t through, int code,
                   uint64_t want_bad_seq) {
    snapshot before;
    snap(f->r.l, &before);
    uint64_t bad_seq = 0;
    assert_int_equal(ship(f->r.l, bad, from, through, 0, &bad_seq), code);
    assert_int_equal(bad_seq, want_bad_seq);
    assert_unchanged(&before, f->r.l);
    for (uint64_t s = from; s <= through; s++) { /* undo the damage for the next case */
        free(bad->bytes[s]);
        bad->bytes[s] = malloc(f->p.cap->len[s]);
        assert_non_null(bad->bytes[s]);
        memcpy(bad->bytes[s], f->p.cap->bytes[s], f->p.cap->len[s]);
        bad->len[s] = f->p.cap->len[s];
    }
}

static void decode_copy(const capture *c, uint64_t seq, ky_entry *e, uint8_t *payload_buf) {
    assert_int_equal(ky_entry_decode(c->bytes[seq], c->len[seq], e), KY_OK);
    if (e->payload_bytes > 0) {
        memcpy(payload_buf, e->payload, e->payload_bytes);
        e->payload = payload_buf;
    }
}

static void test_apply_refusals(void **state) {
    fixture *f = *state;
    workload(f, f->p.l);
    ky_event ev = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202609); /* after 2026-05 */
    post(f->p.l, &ev, 1, KY_OK, NULL);
    ky_ledger_head hp;
    assert_int_equal(ky_ledger_head_get(f->p.l, &hp), KY_OK);
    uint64_t last = hp.seq, k = last - 3; /* the replica holds 1..k */
    assert_int_equal(ship(f->r.l, f->p.cap, 1, k, k, NULL), KY_OK);
    capture *bad = capture_copy(f->p.cap);
    uint8_t pl[KY_ENTRY_PAYLOAD_BYTES_MAX];
    ky_entry e;

    /* The chain: a gap, a repeat, a wrong prev_hash, epoch and time going back. */
    refuse(f, bad, k + 2, k + 3, KY_E_CHAIN_BROKEN, k + 1); /* gap: k+1 missing */
    refuse(f, bad, k, k + 1, KY_E_CHAIN_BROKEN, k + 1);     /* k already applied */
    bad->bytes[k + 1][88] ^= 0x01;                          /* prev_hash */
    refuse(f, bad, k + 1, k + 2, KY_E_CHAIN_BROKEN, k + 1);
    decode_copy(bad, k + 2, &e, pl);
    e.epoch = 1; /* the head is in epoch 2 */
    craft(bad, k + 2, &e);
    refuse(f, bad, k + 1, k + 3, KY_E_CHAIN_BROKEN, k + 2);
    decode_copy(bad, k + 1, &e, pl);
    e.timestamp_us = 1;
    craft(bad, k + 1, &e);
    refuse(f, bad, k + 1, k + 1, KY_E_CHAIN_BROKEN, k + 1);

    /* A flipped byte: either the entry no longer decodes, or its leaf hash changes and the
     * next entry's prev_hash no longer links — and the good first entry is not kept. */
    bad->bytes[k + 1][0] ^= 0x40; /* version byte */
    refuse(f, bad, k + 1, k + 2, KY_E_CORRUPT, k + 1);
    bad->len[k + 2] -= 1; /* truncated */
    refuse(f, bad, k + 1, k + 2, KY_E_CORRUPT, k + 2);
    bad->bytes[k + 1][56] ^= 0x01; /* amount_jpy: decodes, but k+2 no longer links */
    refuse(f, bad, k + 1, k + 2, KY_E_CHAIN_BROKEN, k + 2);

    /* Rules on replay: an epoch raised without epoch_started, a month paid twice. */
    decode_copy(bad, k + 1, &e, pl);
    e.epoch = 3;
    craft(bad, k + 1, &e);
    refuse(f, bad, k + 1, k + 1, KY_E_REPLAY_INVALID, k + 1);
    decode_copy(bad, last, &e, pl); /* C1 2026-09 → 2026-05, which is held */
    assert_int_equal(e.kind, KY_KIND_PREMIUM_PAID);
    e.period_yyyymm = 202605;
    craft(bad, last, &e);
    refuse(f, bad, k + 1, last, KY_E_REPLAY_INVALID, last);
    decode_copy(bad, last, &e, pl); /* a contract chain that does not continue */
    e.contract_seq += 1;
    craft(bad, last, &e);
    refuse(f, bad, k + 1, last, KY_E_CHAIN_BROKEN, last);

    /* After all that, the genuine batch applies and the two ledgers are equal. */
    assert_int_equal(ship(f->r.l, f->p.cap, k + 1, last, last, NULL), KY_OK);
    snapshot sp, sr;
    snap(f->p.l, &sp);
    snap(f->r.l, &sr);
    assert_same_ledger(&sp, &sr);
    assert_verifies(f->r.l);
    capture_free(bad);
}

/* Batch limits (0 and max + 1; max is in the next test) and an acked seq beyond the head
 * the call would leave. */
static void test_apply_limits(void **state) {
    fixture *f = *state;
    ky_event b[2] = {ev_open(f, KY_SCHEME_SHOKIBO, C1, 10000),
                     ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202604)};
    post(f->p.l, b, 2, KY_OK, NULL); /* head 3 */
    assert_int_equal(ship(f->r.l, f->p.cap, 1, 1, 1, NULL), KY_OK);
    static const uint8_t *many[KY_LEDGER_BATCH_COUNT_MAX + 1];
    static uint32_t many_bytes[KY_LEDGER_BATCH_COUNT_MAX + 1];
    snapshot before;
    snap(f->r.l, &before);
    uint64_t bad_seq = 7;
    assert_int_equal(ky_ledger_apply(f->r.l, many, many_bytes, 0, 0, &bad_seq), KY_E_BATCH_EMPTY);
    assert_int_equal(bad_seq, 0);
    assert_int_equal(
        ky_ledger_apply(f->r.l, many, many_bytes, KY_LEDGER_BATCH_COUNT_MAX + 1, 0, NULL),
        KY_E_BATCH_TOO_LARGE);
    assert_int_equal(ship(f->r.l, f->p.cap, 2, 3, 4, &bad_seq), KY_E_INVALID_ARG);
    assert_int_equal(bad_seq, 0);
    assert_unchanged(&before, f->r.l);
    assert_int_equal(ship(f->r.l, f->p.cap, 2, 3, 3, NULL), KY_OK); /* acked at the new head */
    snap(f->r.l, &before);
    assert_int_equal(before.head.acked_seq, 3);
}

/* An empty replica accepts only an epoch_started seq 1 (any node's), and a batch of
 * KY_LEDGER_BATCH_COUNT_MAX entries in one call. */
static void test_empty_start_and_batch_max(void **state) {
    fixture *f = *state;
    capture *bad = capture_copy(f->p.cap);
    ky_entry e;
    memset(&e, 0, sizeof e);
    e.version = KY_ENTRY_VERSION;
    e.kind = KY_KIND_CONTRACT_OPENED;
    e.scheme = KY_SCHEME_SHOKIBO;
    e.subtype = 1;
    e.seq = 1;
    e.epoch = 1;
    e.contract_id = C1;
    e.contract_seq = 1;
    e.amount_jpy = 10000;
    craft(bad, 1, &e);
    refuse(f, bad, 1, 1, KY_E_REPLAY_INVALID, 1); /* no epoch before its first entry */
    e.kind = KY_KIND_EPOCH_STARTED;               /* an epoch_started without a node id */
    e.scheme = KY_SCHEME_NONE;
    e.subtype = 0;
    e.contract_id = e.contract_seq = 0;
    e.amount_jpy = 0;
    craft(bad, 1, &e);
    refuse(f, bad, 1, 1, KY_E_REPLAY_INVALID, 1);
    capture_free(bad);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result r[KY_LEDGER_BATCH_COUNT_MAX];
    for (uint32_t i = 0; i < KY_LEDGER_BATCH_COUNT_MAX; i++)
        ev[i] = ev_open(f, KY_SCHEME_SHOKIBO, C1 + i, 70000);
    assert_int_equal(ky_ledger_append(f->p.l, ev, KY_LEDGER_BATCH_COUNT_MAX, r), KY_OK);
    assert_int_equal(f->p.cap->max_seq, 1 + KY_LEDGER_BATCH_COUNT_MAX);
    assert_int_equal(ship(f->r.l, f->p.cap, 1, 1, 0, NULL), KY_OK);
    assert_int_equal(ship(f->r.l, f->p.cap, 2, 1 + KY_LEDGER_BATCH_COUNT_MAX, 0, NULL), KY_OK);
    snapshot sp, sr;
    snap(f->p.l, &sp);
    snap(f->r.l, &sr);
    assert_same_ledger(&sp, &sr);
    assert_verifies(f->r.l);
}

static void test_acked(void **state) {
    fixture *f = *state;
    ky_event b[2] = {ev_open(f, KY_SCHEME_SHOKIBO, C1, 10000),
                     ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202604)};
    post(f->p.l, b, 2, KY_OK, NULL); /* head 3 */
    ky_ledger_head h;
    assert_int_equal(ky_ledger_acked_set(f->p.l, 4), KY_E_INVALID_ARG);
    assert_int_equal(ky_ledger_acked_set(f->p.l, 3), KY_OK); /* at the head: allowed */
    assert_int_equal(ky_ledger_acked_set(f->p.l, 2), KY_OK); /* never goes back */
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK);
    assert_int_equal(h.acked_seq, 3);
    assert_int_equal(node_reopen(&f->p), 0);
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK);
    assert_int_equal(h.acked_seq, 3);
    /* On the replica it rides along with apply, also monotonic. */
    assert_int_equal(ship(f->r.l, f->p.cap, 1, 2, 2, NULL), KY_OK);
    assert_int_equal(ship(f->r.l, f->p.cap, 3, 3, 1, NULL), KY_OK);
    assert_int_equal(ky_ledger_head_get(f->r.l, &h), KY_OK);
    assert_int_equal(h.acked_seq, 2);
    assert_int_equal(ky_ledger_acked_set(f->r.l, 3), KY_OK);
    assert_int_equal(ky_ledger_head_get(f->r.l, &h), KY_OK);
    assert_int_equal(h.acked_seq, 3);
}

typedef struct qlist {
    uint64_t event_no[64], seq[64];
    uint32_t n;
    const capture *src; /* the bytes each quarantined entry must equal */
} qlist;

static int qlist_cb(void *ctx, uint64_t event_no, uint64_t seq, const uint8_t *entry, size_t len) {
    qlist *q = ctx;
    assert_true(q->n < 64);
    q->event_no[q->n] = event_no;
    q->seq[q->n++] = seq;
    if (q->src != NULL) {
        assert_int_equal(len, q->src->len[seq]);
        assert_memory_equal(entry, q->src->bytes[seq], len);
    }
    return 0;
}

/* Failover drill at the ledger level. The primary P commits 1..k (acknowledged, on the
 * replica R) and then a tail R never receives. R is promoted (epoch 2) and writes on.
 * P quarantines its tail and catches up from R; a third node Q that only applied 1..k
 * shows that the quarantined P has exactly the state of the prefix. */
/* P commits 1..k (acknowledged; on R and Q), then a 4-entry tail with an epoch of its own
 * that nobody receives; R is promoted (epoch 4) and writes 2 entries. Returns k. */
static uint64_t diverge(fixture *f) {
    workload(f, f->p.l); /* epochs 1 and 2 */
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK);
    uint64_t k = h.seq;
    assert_int_equal(ship(f->r.l, f->p.cap, 1, k, k, NULL), KY_OK);
    assert_int_equal(ship(f->q.l, f->p.cap, 1, k, k, NULL), KY_OK);
    assert_int_equal(ky_ledger_acked_set(f->p.l, k), KY_OK);
    ky_event t1 = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202609);
    post(f->p.l, &t1, 1, KY_OK, NULL);
    assert_int_equal(ky_ledger_epoch_begin(f->p.l, 3, NULL), KY_OK);
    ky_event t2[2] = {ev_open(f, KY_SCHEME_SHOKIBO, 100000000077ull, 5000),
                      ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202610)};
    post(f->p.l, t2, 2, KY_OK, NULL);
    assert_int_equal(ky_ledger_epoch_begin(f->r.l, 4, NULL), KY_OK); /* above P's epochs */
    ky_event w = ev_paid(f, KY_SCHEME_SHOKIBO, C1, 10000, 202609);   /* same month, anew */
    post(f->r.l, &w, 1, KY_OK, NULL);
    return k;
}

/* A second quarantine event on P (now equal to R at k + 2): below the acked seq only with
 * accept_loss, which lowers acked; it survives a restart and lists after the first. */
static void quarantine_again(fixture *f, uint64_t k, const snapshot *sr) {
    uint64_t moved = 0;
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k + 1, false, NULL), KY_E_QUARANTINE_ACKED);
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k + 1, true, &moved), KY_OK);
    assert_int_equal(moved, 1);
    assert_int_equal(node_reopen(&f->p), 0);
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->p.l, &h), KY_OK);
    assert_int_equal(h.seq, k + 1);
    assert_int_equal(h.acked_seq, k + 1);
    assert_int_equal(h.quarantine_count, 5);
    qlist q = {0};
    assert_int_equal(ky_ledger_quarantine_scan(f->p.l, qlist_cb, &q), KY_OK);
    assert_int_equal(q.n, 5);
    assert_int_equal(q.event_no[4], 2);
    assert_int_equal(q.seq[4], k + 2);
    assert_verifies(f->p.l);
    assert_int_equal(ship(f->p.l, f->r.cap, k + 2, k + 2, 0, NULL), KY_OK); /* and again */
    snapshot sp;
    snap(f->p.l, &sp);
    assert_same_ledger(&sp, sr);
}

static void test_quarantine_and_catch_up(void **state) {
    fixture *f = *state;
    uint64_t k = diverge(f);
    capture *tail = capture_copy(f->p.cap); /* P's own tail bytes, for the listing */
    /* P cannot take R's entries before it cuts its tail. */
    assert_int_equal(ship(f->p.l, f->r.cap, k + 1, k + 2, 0, NULL), KY_E_CHAIN_BROKEN);

    snapshot before;
    snap(f->p.l, &before);
    uint64_t moved = 9;
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, 0, false, &moved), KY_E_INVALID_ARG);
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k + 5, false, &moved), KY_E_INVALID_ARG);
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k - 1, false, &moved),
                     KY_E_QUARANTINE_ACKED);
    assert_int_equal(moved, 0);
    assert_unchanged(&before, f->p.l);
    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k + 4, false, &moved), KY_OK); /* head */
    assert_int_equal(moved, 0);
    assert_unchanged(&before, f->p.l);

    assert_int_equal(ky_ledger_quarantine_tail(f->p.l, k, false, &moved), KY_OK);
    assert_int_equal(moved, 4);
    snapshot sp, sq;
    snap(f->p.l, &sp);
    snap(f->q.l, &sq);
    assert_same_ledger(&sp, &sq); /* exactly the prefix: head, root, epochs, state */
    assert_int_equal(sp.epoch_count, 2);
    assert_int_equal(sp.head.quarantine_count, 4);
    assert_int_equal(sp.head.acked_seq, k);
    assert_verifies(f->p.l);
    qlist q = {.src = tail};
    assert_int_equal(ky_ledger_quarantine_scan(f->p.l, qlist_cb, &q), KY_OK);
    assert_int_equal(q.n, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(q.event_no[i], 1);
        assert_int_equal(q.seq[i], k + 1 + i);
    }

    /* Catch-up from R, then P equals R. */
    assert_int_equal(ship(f->p.l, f->r.cap, k + 1, k + 2, k + 2, NULL), KY_OK);
    snapshot sr;
    snap(f->p.l, &sp);
    snap(f->r.l, &sr);
    assert_same_ledger(&sp, &sr);
    assert_int_equal(sp.epoch_count, 3);
    assert_int_equal(sp.epochs[2], 4);
    assert_int_equal(sp.first_seqs[2], k + 1);
    assert_verifies(f->p.l);

    quarantine_again(f, k, &sr);
    capture_free(tail);
}

static void test_epochs_listing(void **state) {
    fixture *f = *state;
    uint64_t ep[4], fs[4];
    uint32_t n = 99;
    assert_int_equal(ky_ledger_epochs(f->r.l, NULL, NULL, 0, &n), KY_OK); /* empty replica */
    assert_int_equal(n, 0);
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, C1, 10000);
    post(f->p.l, &e, 1, KY_OK, NULL);
    uint64_t s2 = 0, s5 = 0;
    assert_int_equal(ky_ledger_epoch_begin(f->p.l, 2, &s2), KY_OK);
    assert_int_equal(ky_ledger_epoch_begin(f->p.l, 2, NULL), KY_E_INVALID_ARG);
    assert_int_equal(ky_ledger_epoch_begin(f->p.l, 5, &s5), KY_OK);
    assert_int_equal(ky_ledger_epochs(f->p.l, NULL, NULL, 0, &n), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(n, 3);
    assert_int_equal(ky_ledger_epochs(f->p.l, ep, fs, 2, &n), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ep[1], 2);
    assert_int_equal(ky_ledger_epochs(f->p.l, ep, fs, 4, &n), KY_OK);
    assert_int_equal(n, 3);
    uint64_t want_ep[3] = {1, 2, 5}, want_fs[3] = {1, s2, s5};
    assert_memory_equal(ep, want_ep, sizeof want_ep);
    assert_memory_equal(fs, want_fs, sizeof want_fs);
    assert_int_equal(ship(f->r.l, f->p.cap, 1, s5, 0, NULL), KY_OK);
    assert_int_equal(ky_ledger_epochs(f->r.l, ep, fs, 4, &n), KY_OK);
    assert_int_equal(n, 3);
    assert_memory_equal(ep, want_ep, sizeof want_ep);
    assert_memory_equal(fs, want_fs, sizeof want_fs);
    /* Read-only handles list epochs and the (empty) quarantine too. */
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = f->r.dir;
    o.read_only = true;
    ky_ledger *ro = NULL;
    assert_int_equal(ky_ledger_open(&ro, &o), KY_OK);
    assert_int_equal(ky_ledger_epochs(ro, ep, fs, 4, &n), KY_OK);
    assert_int_equal(n, 3);
    qlist q = {0};
    assert_int_equal(ky_ledger_quarantine_scan(ro, qlist_cb, &q), KY_OK);
    assert_int_equal(q.n, 0);
    assert_int_equal(ky_ledger_apply(ro, (const uint8_t *const *)f->p.cap->bytes + 1,
                                     f->p.cap->len + 1, 1, 0, NULL),
                     KY_E_READ_ONLY);
    assert_int_equal(ky_ledger_acked_set(ro, 1), KY_E_READ_ONLY);
    assert_int_equal(ky_ledger_quarantine_tail(ro, 1, true, NULL), KY_E_READ_ONLY);
    ky_ledger_close(ro);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicate_workload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hook_before_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_start_and_batch_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_acked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quarantine_and_catch_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_epochs_listing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
