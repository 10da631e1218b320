/*
 * client_read.c — libkyosai's reads: GET, RANGE, HISTORY, CONTRACT and STATUS.
 *
 * Why separate from client.c: reads are idempotent and have no keys, but they are where
 * the node's bytes reach the application, so every entry is decoded and checked here
 * (format-1 layout, seq order, range and contract bounds) before a callback sees it, and
 * paging is bounded: a RANGE call asks for at most count_max entries in total, and every
 * page either delivers at least one new entry or ends the call.
 *
 * Every call goes through ky_client_call (client.c), so it connects when needed and
 * retries transport failures like an append. Page bodies are borrowed from the frame
 * reader while the callback runs: a callback must not use the same client.
 *
 * Ownership: none beyond the call; the thread using the client.
 */
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "client_int.h"

/* ---- GET -------------------------------------------------------------------------------- */

typedef struct get_ctx {
    uint64_t seq;        /* asked for */
    uint8_t *buf;        /* caller's entry buffer */
    size_t buf_cap;      /* bytes at buf */
    size_t *len_out;     /* entry length */
    kyosai_entry *entry; /* caller's, or NULL */
} get_ctx;

static int get_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c;
    return ky_client_code(ky_msg_get_encode(((get_ctx *)ctx)->seq, out, cap, len));
}

static int get_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    (void)c;
    get_ctx *g = ctx;
    ky_wire_blob blob;
    if (ky_msg_get_resp_decode(body, len, &blob) != KY_OK) return KYOSAI_E_PROTOCOL;
    *g->len_out = blob.data_bytes;
    if (blob.data_bytes > g->buf_cap) return KYOSAI_E_INVALID_ARG;
    memcpy(g->buf, blob.data, blob.data_bytes);
    kyosai_entry e;
    int rc = ky_client_entry_decode(g->buf, blob.data_bytes, &e);
    if (rc == KYOSAI_OK && e.seq != g->seq) rc = KYOSAI_E_CORRUPT;
    if (rc == KYOSAI_OK && g->entry != NULL) *g->entry = e;
    return rc;
}

int kyosai_get(kyosai_client *c, uint64_t seq, uint8_t *buf, size_t buf_cap, size_t *len_out,
               kyosai_entry *entry) {
    KY_ASSERT(c != NULL && buf != NULL && len_out != NULL);
    *len_out = 0;
    if (seq == 0) return KYOSAI_E_SEQ_RANGE_INVALID;
    get_ctx g = {seq, buf, buf_cap, len_out, entry};
    return ky_client_call(c, KY_MSG_GET, get_encode, get_decode, &g);
}

/* ---- RANGE and HISTORY pages ------------------------------------------------------------ */

typedef struct page_ctx {
    kyosai_entry_cb cb;   /* caller's callback */
    void *cb_ctx;         /* its context */
    uint32_t ask;         /* count_max of this page's request */
    uint32_t page_count;  /* entries in the last page received */
    uint32_t delivered;   /* entries given to cb so far */
    bool stopped;         /* cb returned non-zero */
    bool done;            /* range: to_seq reached / history: next_after 0 */
    uint64_t from_seq;    /* range: next seq expected (first seq of the next request) */
    uint64_t to_seq;      /* range: last seq wanted */
    uint64_t contract_id; /* history: the contract */
    uint64_t after;       /* history: cursor sent; then the last contract_seq given */
    uint64_t next_after;  /* history: the node's cursor for the next page */
} page_ctx;

/* Hands one decoded entry of a page to the callback. */
static void page_deliver(page_ctx *p, const ky_wire_blob *b, const kyosai_entry *e) {
    p->delivered++;
    if (p->cb(p->cb_ctx, e, b->data, b->data_bytes) != 0) p->stopped = true;
}

static int range_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c;
    const page_ctx *p = ctx;
    ky_msg_range q = {p->from_seq, p->to_seq, p->ask};
    return ky_client_code(ky_msg_range_encode(&q, out, cap, len));
}

static int range_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    page_ctx *p = ctx;
    if (ky_msg_range_resp_decode(body, len, c->blobs, p->ask, &p->page_count) != KY_OK)
        return KYOSAI_E_PROTOCOL;
    for (uint32_t i = 0; i < p->page_count && !p->stopped; i++) {
        kyosai_entry e;
        int rc = ky_client_entry_decode(c->blobs[i].data, c->blobs[i].data_bytes, &e);
        if (rc != KYOSAI_OK) return rc;
        /* Seqs have no gaps: a page continues exactly where it was asked to begin and
         * stops at to_seq. */
        if (p->done || e.seq != p->from_seq) return KYOSAI_E_PROTOCOL;
        page_deliver(p, &c->blobs[i], &e);
        if (e.seq == p->to_seq)
            p->done = true;
        else
            p->from_seq = e.seq + 1;
    }
    if (p->page_count == 0) p->done = true; /* the ledger ends before to_seq */
    return KYOSAI_OK;
}

int kyosai_range(kyosai_client *c, uint64_t from_seq, uint64_t to_seq, uint32_t count_max,
                 kyosai_entry_cb cb, void *ctx, uint64_t *next_seq_out) {
    KY_ASSERT(c != NULL && cb != NULL);
    if (next_seq_out != NULL) *next_seq_out = 0;
    if (from_seq == 0 || to_seq < from_seq) return KYOSAI_E_SEQ_RANGE_INVALID;
    if (count_max == 0 || count_max > KYOSAI_READ_COUNT_MAX) return KYOSAI_E_READ_COUNT_INVALID;
    page_ctx p = {.cb = cb, .cb_ctx = ctx, .from_seq = from_seq, .to_seq = to_seq};
    int rc = KYOSAI_OK;
    /* Bounded: each page delivers at least one entry or sets done. */
    while (rc == KYOSAI_OK && p.delivered < count_max && !p.done && !p.stopped) {
        p.ask = count_max - p.delivered;
        rc = ky_client_call(c, KY_MSG_RANGE, range_encode, range_decode, &p);
    }
    if (next_seq_out != NULL) *next_seq_out = p.done ? 0 : p.from_seq;
    return rc;
}

static int history_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c;
    const page_ctx *p = ctx;
    ky_msg_history q = {p->contract_id, p->after, p->ask};
    return ky_client_code(ky_msg_history_encode(&q, out, cap, len));
}

static int history_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    page_ctx *p = ctx;
    uint64_t last = p->after;
    if (ky_msg_history_resp_decode(body, len, &p->next_after, c->blobs, p->ask, &p->page_count) !=
        KY_OK)
        return KYOSAI_E_PROTOCOL;
    /* A cursor that does not move forward would make the caller page forever. */
    if (p->next_after != 0 && p->next_after <= p->after) return KYOSAI_E_PROTOCOL;
    for (uint32_t i = 0; i < p->page_count && !p->stopped; i++) {
        kyosai_entry e;
        int rc = ky_client_entry_decode(c->blobs[i].data, c->blobs[i].data_bytes, &e);
        if (rc != KYOSAI_OK) return rc;
        if (e.contract_id != p->contract_id || e.contract_seq <= last) return KYOSAI_E_PROTOCOL;
        last = e.contract_seq;
        page_deliver(p, &c->blobs[i], &e);
    }
    if (p->stopped) p->next_after = last;
    return KYOSAI_OK;
}

int kyosai_history(kyosai_client *c, uint64_t contract_id, uint64_t after_contract_seq,
                   uint32_t count_max, kyosai_entry_cb cb, void *ctx, uint64_t *next_after_out) {
    KY_ASSERT(c != NULL && cb != NULL);
    if (next_after_out != NULL) *next_after_out = 0;
    if (contract_id == 0 || contract_id > KY_CONTRACT_ID_MAX) return KYOSAI_E_CONTRACT_ID_INVALID;
    if (count_max == 0 || count_max > KYOSAI_READ_COUNT_MAX) return KYOSAI_E_READ_COUNT_INVALID;
    page_ctx p = {.cb = cb,
                  .cb_ctx = ctx,
                  .contract_id = contract_id,
                  .after = after_contract_seq,
                  .ask = count_max};
    int rc = ky_client_call(c, KY_MSG_HISTORY, history_encode, history_decode, &p);
    if (rc == KYOSAI_OK && next_after_out != NULL) *next_after_out = p.next_after;
    return rc;
}

/* ---- CONTRACT and STATUS ---------------------------------------------------------------- */

typedef struct contract_ctx {
    uint64_t contract_id; /* asked for */
    kyosai_contract *out; /* caller's */
} contract_ctx;

static int contract_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c;
    return ky_client_code(
        ky_msg_contract_encode(((contract_ctx *)ctx)->contract_id, out, cap, len));
}

static int contract_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    (void)c;
    contract_ctx *k = ctx;
    ky_wire_blob blob;
    if (ky_msg_contract_resp_decode(body, len, &blob) != KY_OK) return KYOSAI_E_PROTOCOL;
    int rc = ky_client_contract_decode(blob.data, blob.data_bytes, k->out);
    if (rc == KYOSAI_OK && k->out->contract_id != k->contract_id) rc = KYOSAI_E_CORRUPT;
    return rc;
}

int kyosai_contract_get(kyosai_client *c, uint64_t contract_id, kyosai_contract *out) {
    KY_ASSERT(c != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    if (contract_id == 0 || contract_id > KY_CONTRACT_ID_MAX) return KYOSAI_E_CONTRACT_ID_INVALID;
    contract_ctx k = {contract_id, out};
    return ky_client_call(c, KY_MSG_CONTRACT, contract_encode, contract_decode, &k);
}

static int status_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c, (void)ctx, (void)out, (void)cap;
    *len = 0; /* STATUS has an empty body */
    return KYOSAI_OK;
}

static int status_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    (void)c;
    kyosai_status *out = ctx;
    ky_msg_status_resp m;
    if (ky_msg_status_resp_decode(body, len, &m) != KY_OK) return KYOSAI_E_PROTOCOL;
    *out = (kyosai_status){.role = m.role,
                           .epoch = m.epoch,
                           .head_seq = m.head_seq,
                           .uptime_ms = m.uptime_ms,
                           .connections = m.connections,
                           .appends_total = m.appends_total,
                           .events_total = m.events_total,
                           .refused_total = m.refused_total,
                           .batches_total = m.batches_total,
                           .mode = m.mode,
                           .acked_seq = m.acked_seq,
                           .replica_durable_seq = m.replica_durable_seq,
                           .replica_lag_entries = m.replica_lag_entries,
                           .replica_lag_ms = m.replica_lag_ms,
                           .quarantine_count = m.quarantine_count,
                           .peer_connected = m.peer_connected};
    memcpy(out->head_hash, m.head_hash, KYOSAI_HASH_BYTES);
    memcpy(out->merkle_root, m.merkle_root, KYOSAI_HASH_BYTES);
    memcpy(out->node_id, m.node_id, KYOSAI_NODE_ID_BYTES);
    return KYOSAI_OK;
}

int kyosai_status_get(kyosai_client *c, kyosai_status *out) {
    KY_ASSERT(c != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    return ky_client_call(c, KY_MSG_STATUS, status_encode, status_decode, out);
}
