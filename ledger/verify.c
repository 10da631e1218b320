/*
 * verify.c — the offline verifier behind `kyosaictl verify` (see verify.h for the checks).
 *
 * Why a separate walk and not reindex: verification must work on a read-only copy, must
 * not depend on the rules or the derived databases, and must name the first bad seq and
 * why. It depends only on the byte format (docs/LEDGER-FORMAT.md), so an independent
 * verifier written from that document checks exactly the same things.
 */
#include "verify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "merkle.h"

typedef struct contract_slot {
    uint64_t contract_id; /* 0 = empty slot */
    uint64_t entry_count; /* contract_seq of the last entry seen */
    uint8_t last_leaf[KY_HASH_BYTES];
} contract_slot;

typedef struct walk {
    ky_verify_report *rep;
    uint64_t expect_seq;
    uint8_t prev[KY_HASH_BYTES];
    bool check_contracts;
    contract_slot *slots; /* open addressing, power-of-two capacity */
    uint64_t slot_cap;
    ky_merkle_compact merkle;
    ky_progress_cb progress;
    void *progress_ctx;
    int fatal; /* KY_E_NOMEM when the table could not grow */
} walk;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

static contract_slot *slot_find(contract_slot *slots, uint64_t cap, uint64_t id) {
    uint64_t i = mix64(id) & (cap - 1);
    while (slots[i].contract_id != 0 && slots[i].contract_id != id) i = (i + 1) & (cap - 1);
    return &slots[i];
}

static int slots_grow(walk *w) {
    uint64_t cap = w->slot_cap == 0 ? 4096 : w->slot_cap * 2;
    contract_slot *n = calloc(cap, sizeof *n);
    if (n == NULL) return KY_E_NOMEM;
    for (uint64_t i = 0; i < w->slot_cap; i++) {
        if (w->slots[i].contract_id != 0) *slot_find(n, cap, w->slots[i].contract_id) = w->slots[i];
    }
    free(w->slots);
    w->slots = n;
    w->slot_cap = cap;
    return KY_OK;
}

static int fail(walk *w, uint64_t seq, int code, const char *why) {
    w->rep->first_bad_seq = seq;
    w->rep->bad_code = code;
    snprintf(w->rep->reason, sizeof w->rep->reason, "%s", why);
    return 1; /* stop the scan */
}

/* Contract chain: contract_seq continues the contract, contract_prev_hash links to it. */
static int check_contract(walk *w, const ky_entry *e, const uint8_t leaf[KY_HASH_BYTES]) {
    if ((w->rep->contract_count + 1) * 2 > w->slot_cap) {
        int rc = slots_grow(w);
        if (rc != KY_OK) {
            w->fatal = rc;
            return 1;
        }
    }
    contract_slot *s = slot_find(w->slots, w->slot_cap, e->contract_id);
    static const uint8_t zero[KY_HASH_BYTES];
    const uint8_t *want = s->contract_id == 0 ? zero : s->last_leaf;
    uint64_t want_seq = s->contract_id == 0 ? 1 : s->entry_count + 1;
    if (e->contract_seq != want_seq)
        return fail(w, e->seq, KY_E_CHAIN_BROKEN, "contract_seq does not continue its contract");
    if (memcmp(e->contract_prev_hash, want, KY_HASH_BYTES) != 0)
        return fail(w, e->seq, KY_E_CHAIN_BROKEN,
                    "contract_prev_hash is not the leaf hash of the contract's previous entry");
    if (s->contract_id == 0) w->rep->contract_count++;
    s->contract_id = e->contract_id;
    s->entry_count = e->contract_seq;
    memcpy(s->last_leaf, leaf, KY_HASH_BYTES);
    return 0;
}

static int walk_cb(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len) {
    walk *w = ctx;
    const uint8_t *bytes;
    size_t len;
    ky_entry e;
    if (seq != w->expect_seq)
        return fail(w, w->expect_seq, KY_E_CHAIN_BROKEN, "entry missing (gap in seq)");
    if (ky_ledger_stored_check(stored, stored_len, &bytes, &len) != KY_OK)
        return fail(w, seq, KY_E_CORRUPT, "stored record checksum (XXH3) mismatch");
    int rc = ky_entry_decode(bytes, len, &e);
    if (rc != KY_OK) return fail(w, seq, rc, ky_strerror(rc));
    if (e.seq != seq) return fail(w, seq, KY_E_ENTRY_SEQ, "entry seq differs from its key");
    if (memcmp(e.prev_hash, w->prev, KY_HASH_BYTES) != 0)
        return fail(w, seq, KY_E_CHAIN_BROKEN, "prev_hash is not the previous entry's leaf hash");
    ky_entry_leaf_hash(bytes, len, w->prev);
    bool client = !ky_kind_is_system(e.kind);
    if (w->check_contracts && client && check_contract(w, &e, w->prev) != 0) return 1;
    if (w->check_contracts) ky_merkle_compact_append(&w->merkle, w->prev);
    w->rep->checked_count++;
    w->expect_seq++;
    memcpy(w->rep->last_leaf_hash, w->prev, KY_HASH_BYTES);
    if (w->progress != NULL && (seq % 65536 == 0 || seq == w->rep->to_seq))
        w->progress(w->progress_ctx, seq - w->rep->from_seq + 1,
                    w->rep->to_seq - w->rep->from_seq + 1);
    return 0;
}

/* Leaf hash of the entry before from_seq, the starting link of a partial walk. */
static int start_link(ky_ledger *l, uint64_t from_seq, uint8_t prev[KY_HASH_BYTES]) {
    memset(prev, 0, KY_HASH_BYTES);
    if (from_seq == 1) return KY_OK;
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    int rc = ky_ledger_get(l, from_seq - 1, buf, sizeof buf, &n);
    if (rc == KY_OK) ky_entry_leaf_hash(buf, n, prev);
    return rc;
}

static void check_head(walk *w, const ky_ledger_head *head) {
    ky_verify_report *rep = w->rep;
    ky_merkle_compact_root(&w->merkle, rep->merkle_root);
    if (memcmp(head->hash, rep->last_leaf_hash, KY_HASH_BYTES) != 0)
        fail(w, head->seq, KY_E_CHAIN_BROKEN, "head record hash differs from the last leaf");
    else if (memcmp(head->merkle_root, rep->merkle_root, KY_HASH_BYTES) != 0)
        fail(w, head->seq, KY_E_CHAIN_BROKEN, "stored Merkle root differs from the recomputed");
}

int ky_verify_range(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, ky_progress_cb progress,
                    void *progress_ctx, ky_verify_report *rep) {
    KY_ASSERT(l != NULL && rep != NULL);
    memset(rep, 0, sizeof *rep);
    ky_ledger_head head;
    int rc = ky_ledger_head_get(l, &head);
    if (rc != KY_OK) return rc;
    if (from_seq == 0) return KY_E_INVALID_ARG;
    if (to_seq == 0 || to_seq > head.seq) to_seq = head.seq;
    rep->from_seq = from_seq;
    rep->to_seq = to_seq;
    if (from_seq > to_seq) return KY_OK; /* nothing to check */
    walk w = {.rep = rep,
              .expect_seq = from_seq,
              .check_contracts = from_seq == 1,
              .progress = progress,
              .progress_ctx = progress_ctx};
    ky_merkle_compact_init(&w.merkle);
    rc = start_link(l, from_seq, w.prev);
    if (rc != KY_OK) {
        fail(&w, from_seq - 1, rc, "cannot read the entry before the range");
        return KY_OK;
    }
    rc = ky_ledger_scan(l, from_seq, to_seq, walk_cb, &w);
    if (w.fatal != KY_OK) rc = w.fatal;
    free(w.slots);
    if (rc < 0) return rc;
    if (rep->first_bad_seq == 0 && w.expect_seq != to_seq + 1)
        fail(&w, w.expect_seq, KY_E_CHAIN_BROKEN, "entry missing (ledger ends early)");
    if (rep->first_bad_seq == 0 && from_seq == 1 && to_seq == head.seq) {
        check_head(&w, &head);
        rep->head_checked = rep->first_bad_seq == 0;
    }
    return KY_OK;
}
