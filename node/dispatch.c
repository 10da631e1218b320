/*
 * dispatch.c — what the node does with each request frame (loop thread).
 *
 * Why separate from server.c: server.c moves bytes and manages connections; this file is
 * the protocol's meaning. Reads are answered at once from LMDB read transactions; an
 * APPEND is decoded and validated here (so a malformed batch never reaches the writer),
 * then queued to the writer; its response is written by ky_server_complete_appends.
 * Responses are encoded in place in the connection's output buffer and sealed (no copy).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"
#include "../ledger/rules.h"
#include "../proto/msg.h"
#include "../proto/status.h"
#include "log.h"
#include "server_int.h"

/* Response body bounds per type (the frame reserve), bytes. */
#define SMALL_BODY_BYTES_MAX 1024u
#define ENTRY_BODY_BYTES_MAX (8u + KY_WIRE_ENTRY_BYTES_MAX)

/* Reserves a frame in the output buffer, lets encode write the body in place, seals it.
 * On an encoding error nothing is queued and the error is returned (the caller answers). */
int ky_server_respond(ky_server *s, ky_conn *c, uint8_t type, uint64_t request_id, size_t body_cap,
                      encode_fn encode, void *ctx) {
    if (c->state == KY_CONN_FREE || c->write_failed) return KY_OK;
    uint8_t *frame = ky_conn_out_reserve(c, KY_WIRE_HEADER_BYTES + body_cap);
    if (frame == NULL) {
        ky_conn_close_later(s, c, "out of memory for the response");
        return KY_OK;
    }
    size_t body_len = 0, frame_len = 0;
    int rc = encode(ctx, frame + KY_WIRE_HEADER_BYTES, body_cap, &body_len);
    if (rc == KY_OK)
        rc = ky_frame_seal(type, KY_FRAME_FLAG_RESPONSE, request_id, (uint32_t)body_len, frame,
                           KY_WIRE_HEADER_BYTES + body_cap, &frame_len);
    if (rc != KY_OK) return rc;
    ky_conn_out_commit(s, c, frame_len);
    return KY_OK;
}

/* ---- ERROR ----------------------------------------------------------------------- */

typedef struct error_ctx {
    int err;
    const char *what, *message;
} error_ctx;

static int encode_error(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    const error_ctx *e = ctx;
    size_t wl = strlen(e->what), ml = strlen(e->message);
    if (wl > KY_WIRE_ERROR_WHAT_BYTES_MAX) wl = KY_WIRE_ERROR_WHAT_BYTES_MAX;
    if (ml > KY_WIRE_ERROR_MESSAGE_BYTES_MAX) ml = KY_WIRE_ERROR_MESSAGE_BYTES_MAX;
    ky_msg_error m = {ky_wire_status_from_err(e->err), (uint8_t)wl, e->what, (uint16_t)ml,
                      e->message};
    return ky_msg_error_encode(&m, out, cap, len);
}

size_t ky_server_error_frame(uint8_t *buf, size_t cap, uint64_t request_id, int err,
                             const char *what, const char *message) {
    error_ctx e = {err, what, message};
    size_t body = 0, frame = 0;
    if (cap < KY_WIRE_HEADER_BYTES) return 0;
    if (encode_error(&e, buf + KY_WIRE_HEADER_BYTES, cap - KY_WIRE_HEADER_BYTES, &body) != KY_OK)
        return 0;
    if (ky_frame_seal(KY_MSG_ERROR, KY_FRAME_FLAG_RESPONSE, request_id, (uint32_t)body, buf, cap,
                      &frame) != KY_OK)
        return 0;
    return frame;
}

void ky_server_send_error(ky_server *s, ky_conn *c, uint64_t request_id, int err, const char *what,
                          const char *message) {
    char full[KY_WIRE_ERROR_MESSAGE_BYTES_MAX + 1];
    if (strncmp(message, "KY_E_", 5) != 0) { /* every message starts with its name */
        snprintf(full, sizeof full, "%s: %s", ky_errname(err), message);
        message = full;
    }
    error_ctx e = {err, what, message};
    int rc =
        ky_server_respond(s, c, KY_MSG_ERROR, request_id, SMALL_BODY_BYTES_MAX, encode_error, &e);
    KY_ASSERT(rc == KY_OK); /* bounded fields always fit SMALL_BODY_BYTES_MAX */
}

void ky_server_frame_error(ky_server *s, ky_conn *c, int err) {
    const ky_frame_header *h = ky_frame_reader_header(&c->reader);
    uint64_t rid = h != NULL ? h->request_id : 0;
    const char *what = err == KY_E_FRAME_TOO_LARGE ? "frame_body_bytes_max" : "frame";
    ky_log("warn", "bad frame from client; closing", "conn=%" PRIu64 " peer=%s error=%s", c->gen,
           c->peer, ky_errname(err));
    ky_server_send_error(s, c, rid, err, what, ky_strerror(err));
    ky_conn_close_later(s, c, ky_errname(err));
}

/* ---- reads ----------------------------------------------------------------------- */

typedef struct read_ctx {
    ky_server *s;
    const uint8_t *body;
    size_t body_len;
    int err; /* a request-level refusal found while encoding */
} read_ctx;

static int role_now(const ky_server *s) {
    switch (s->repl_role) {
    case KY_REPL_PRIMARY: return KY_WIRE_ROLE_PRIMARY;
    case KY_REPL_REPLICA: return KY_WIRE_ROLE_REPLICA;
    default: return KY_WIRE_ROLE_STANDALONE;
    }
}

static int encode_hello(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    ky_ledger_head h;
    int rc = ky_ledger_head_get(r->s->ledger, &h);
    if (rc != KY_OK) return rc;
    ky_msg_hello_resp m = {1,
                           (uint8_t)role_now(r->s),
                           h.epoch,
                           {0},
                           h.seq,
                           (uint32_t)r->s->cfg.frame_body_bytes_max,
                           (uint32_t)r->s->cfg.batch_count_max};
    memcpy(m.node_id, h.node_id, KY_WIRE_NODE_ID_BYTES);
    return ky_msg_hello_resp_encode(&m, out, cap, len);
}

static int encode_status(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    ky_ledger_head h;
    int rc = ky_ledger_head_get(r->s->ledger, &h);
    if (rc != KY_OK) return rc;
    const ky_writer_stats *st = ky_writer_stats_get(r->s->writer);
    ky_msg_status_resp m = {.role = (uint8_t)role_now(r->s), .epoch = h.epoch, .head_seq = h.seq};
    memcpy(m.head_hash, h.hash, KY_WIRE_HASH_BYTES);
    memcpy(m.merkle_root, h.merkle_root, KY_WIRE_HASH_BYTES);
    memcpy(m.node_id, h.node_id, KY_WIRE_NODE_ID_BYTES);
    m.uptime_ms = ky_server_now_ms(r->s) - r->s->started_ms;
    m.connections = r->s->conn_count;
    m.appends_total = atomic_load(&st->appends_total);
    m.events_total = atomic_load(&st->events_total);
    m.refused_total = atomic_load(&st->refused_total);
    m.batches_total = atomic_load(&st->batches_total);
    ky_repl_status(r->s, &h, &m);
    return ky_msg_status_resp_encode(&m, out, cap, len);
}

static int encode_get(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    uint64_t seq;
    int rc = ky_msg_get_decode(r->body, r->body_len, &seq);
    if (rc != KY_OK) return r->err = rc;
    uint8_t entry[KY_ENTRY_BYTES_MAX];
    size_t n;
    rc = ky_ledger_get(r->s->ledger, seq, entry, sizeof entry, &n);
    if (rc != KY_OK) return r->err = rc;
    return ky_msg_get_resp_encode(entry, (uint32_t)n, out, cap, len);
}

static int encode_contract(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    uint64_t id;
    int rc = ky_msg_contract_decode(r->body, r->body_len, &id);
    if (rc != KY_OK) return r->err = rc;
    ky_contract_state cs;
    rc = ky_ledger_contract_get(r->s->ledger, id, &cs);
    if (rc != KY_OK) return r->err = rc;
    uint8_t st[KY_CONTRACT_STATE_BYTES];
    ky_contract_state_encode(&cs, st);
    return ky_msg_contract_resp_encode(st, sizeof st, out, cap, len);
}

typedef struct page_ctx {
    ky_msg_entries_writer w;
    uint64_t last_seq; /* last seq added */
    bool full;
} page_ctx;

static int page_cb(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len) {
    page_ctx *p = ctx;
    const uint8_t *e;
    size_t n;
    int rc = ky_ledger_stored_check(stored, stored_len, &e, &n);
    if (rc != KY_OK) return rc; /* a corrupt entry is refused, not served */
    if (ky_msg_entries_add(&p->w, e, (uint32_t)n) != KY_OK) {
        p->full = true;
        return 1;
    }
    p->last_seq = seq;
    return 0;
}

static int encode_range(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    ky_msg_range q;
    int rc = ky_msg_range_decode(r->body, r->body_len, &q);
    if (rc != KY_OK) return r->err = rc;
    page_ctx p = {0};
    rc = ky_msg_entries_begin(&p.w, KY_MSG_RANGE, q.count_max, out, cap);
    if (rc == KY_OK) rc = ky_ledger_scan(r->s->ledger, q.from_seq, q.to_seq, page_cb, &p);
    if (rc < 0) return r->err = rc;
    return ky_msg_entries_finish(&p.w, 0, len);
}

static int encode_history(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    read_ctx *r = ctx;
    ky_msg_history q;
    int rc = ky_msg_history_decode(r->body, r->body_len, &q);
    if (rc != KY_OK) return r->err = rc;
    uint64_t seqs[KY_HISTORY_PAGE_COUNT_MAX];
    uint32_t n = 0;
    rc =
        ky_ledger_history(r->s->ledger, q.contract_id, q.after_contract_seq, seqs, q.count_max, &n);
    page_ctx p = {0};
    if (rc == KY_OK) rc = ky_msg_entries_begin(&p.w, KY_MSG_HISTORY, q.count_max, out, cap);
    uint32_t added = 0;
    for (; rc == KY_OK && added < n; added++) {
        uint8_t entry[KY_ENTRY_BYTES_MAX];
        size_t el;
        rc = ky_ledger_get(r->s->ledger, seqs[added], entry, sizeof entry, &el);
        if (rc == KY_OK && ky_msg_entries_add(&p.w, entry, (uint32_t)el) != KY_OK) break;
    }
    if (rc != KY_OK) return r->err = rc;
    /* The cursor is a contract_seq: the page held entries after_contract_seq+1.. */
    uint64_t next = (added == n && n < q.count_max) ? 0 : q.after_contract_seq + added;
    return ky_msg_entries_finish(&p.w, next, len);
}

/* ---- appends --------------------------------------------------------------------- */

static void handle_append(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body) {
    ky_append_req *req = calloc(1, sizeof *req);
    /* Size the event array from the batch's own count (the strict decoder still checks
     * it): a single-event append must not pay for batch_count_max slots. */
    uint32_t cap = (uint32_t)s->cfg.batch_count_max;
    if (h->body_bytes >= 4 && ky_get_u32le(body) >= 1 && ky_get_u32le(body) < cap)
        cap = ky_get_u32le(body);
    if (req != NULL) {
        req->body = malloc(h->body_bytes ? h->body_bytes : 1);
        req->events = calloc(cap, sizeof(ky_wire_event));
    }
    if (req == NULL || req->body == NULL || req->events == NULL) {
        ky_append_req_free(req);
        ky_server_send_error(s, c, h->request_id, KY_E_NOMEM, "memory", "out of memory");
        return;
    }
    memcpy(req->body, body, h->body_bytes); /* events point into this copy */
    int rc = ky_msg_append_decode(req->body, h->body_bytes, req->events, cap, &req->count);
    if (rc == KY_OK) req->results = calloc(req->count, sizeof(ky_event_result));
    if (rc == KY_OK && req->results == NULL) rc = KY_E_NOMEM;
    if (rc == KY_OK) {
        req->conn_slot = c->slot;
        req->conn_gen = c->gen;
        req->request_id = h->request_id;
        rc = ky_writer_submit(s->writer, req);
    }
    if (rc != KY_OK) {
        const char *what = rc == KY_E_BATCH_TOO_LARGE ? "batch_count_max"
                           : rc == KY_E_QUEUE_FULL    ? "writer_queue_requests_max"
                                                      : "append";
        ky_server_send_error(s, c, h->request_id, rc, what, ky_strerror(rc));
        ky_append_req_free(req);
        return;
    }
    c->inflight++;
}

typedef struct append_resp_ctx {
    const ky_append_req *req;
} append_resp_ctx;

static int encode_append_resp(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    const ky_append_req *req = ((append_resp_ctx *)ctx)->req;
    ky_wire_append_result res[KY_WIRE_BATCH_COUNT_MAX];
    for (uint32_t i = 0; i < req->count; i++) {
        const ky_event_result *r = &req->results[i];
        res[i].status = ky_wire_status_from_err(r->code);
        res[i].flags = (r->flags & KY_RESULT_DUPLICATE) ? KY_WIRE_RESULT_DUPLICATE : 0;
        res[i].seq = r->code == KY_OK ? r->seq : 0;
    }
    return ky_msg_append_resp_encode(res, req->count, out, cap, len);
}

/* Answers one completed append (its entries durable here and, on a primary, on the
 * replica) or fails it batch-wide with err. Frees the request. */
void ky_server_answer_append(ky_server *s, ky_append_req *r, int err) {
    ky_conn *c = &s->conns[r->conn_slot];
    if (c->state != KY_CONN_FREE && c->gen == r->conn_gen) {
        KY_ASSERT(c->inflight > 0);
        c->inflight--;
        int rc = err != KY_OK ? err : r->batch_rc;
        if (rc != KY_OK) {
            ky_server_send_error(s, c, r->request_id, rc, "append", ky_strerror(rc));
        } else {
            append_resp_ctx ctx = {r};
            rc = ky_server_respond(s, c, KY_MSG_APPEND, r->request_id, 4u + 12u * r->count,
                                   encode_append_resp, &ctx);
            KY_ASSERT(rc == KY_OK);
        }
    }
    ky_append_req_free(r);
}

void ky_server_complete_appends(ky_server *s) {
    ky_append_req *r = ky_writer_take_done(s->writer);
    while (r != NULL) {
        ky_append_req *next = r->next;
        r->next = NULL;
        if (s->repl_role == KY_REPL_REPLICA) /* stepped down meanwhile: not acknowledged */
            ky_server_answer_append(s, r, KY_E_NOT_PRIMARY);
        else if (!ky_repl_hold(s, r))
            ky_server_answer_append(s, r, KY_OK);
        r = next;
    }
}

/* ---- dispatch -------------------------------------------------------------------- */

/* The checks every request passes before it is served: a known request type, the
 * client's role, and the node's state (a replica or a node mid-switchover takes no
 * appends). Answers the refusal itself; true when the request may go on. */
static bool admit(ky_server *s, ky_conn *c, const ky_frame_header *h) {
    int rc = ky_msg_header_check(h);
    if (rc == KY_OK && (h->flags & KY_FRAME_FLAG_RESPONSE)) rc = KY_E_FRAME_TYPE;
    if (rc == KY_OK && (h->type == KY_MSG_REPL_ENTRIES || h->type == KY_MSG_REPL_HANDOVER))
        rc = KY_E_FRAME_TYPE; /* primary-to-replica messages are never requests */
    char msg[200];
    if (rc != KY_OK) {
        snprintf(msg, sizeof msg, "message type %u is not a request this node serves", h->type);
        ky_server_send_error(s, c, h->request_id, rc, "type", msg);
        return false;
    }
    if (!ky_role_allows(c->roles, h->type)) {
        char roles[48];
        ky_roles_format(c->roles, roles, sizeof roles);
        snprintf(msg, sizeof msg, "client '%s' has role %s, which may not %s", c->client_name,
                 roles, ky_request_name(h->type));
        ky_log("warn", "request refused by role", "conn=%" PRIu64 " client=%s roles=%s request=%s",
               c->gen, c->client_name, roles, ky_request_name(h->type));
        s->role_refusals++;
        ky_server_send_error(s, c, h->request_id, KY_E_FORBIDDEN, "role", msg);
        return false;
    }
    if (h->type == KY_MSG_APPEND && s->repl_role == KY_REPL_REPLICA) {
        snprintf(msg, sizeof msg, "this node is the DR replica; send writes to the primary at %s",
                 s->cfg.peer_addr);
        ky_server_send_error(s, c, h->request_id, KY_E_NOT_PRIMARY, "role", msg);
        return false;
    }
    if (h->type == KY_MSG_APPEND && s->switching) {
        ky_server_send_error(s, c, h->request_id, KY_E_RETRY_LATER, "switchover",
                             "switchover in progress; retry the same request shortly");
        return false;
    }
    return true;
}

void ky_server_dispatch(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body) {
    if (!admit(s, c, h)) return;
    switch (h->type) {
    case KY_MSG_APPEND: handle_append(s, c, h, body); return;
    case KY_MSG_SWITCHOVER: ky_repl_on_switchover(s, c, h); return;
    case KY_MSG_DEGRADE:
    case KY_MSG_RESTORE_SYNC: ky_repl_on_mode_change(s, c, h); return;
    case KY_MSG_REPL_SUBSCRIBE:
    case KY_MSG_REPL_SUBSCRIBE_ASYNC: ky_repl_on_subscribe(s, c, h, body); return;
    case KY_MSG_REPL_ACK: ky_repl_on_ack(s, c, h, body); return;
    case KY_MSG_PROMOTE: ky_repl_on_promote(s, c, h, body); return;
    default: break;
    }
    int rc = KY_OK;
    read_ctx r = {s, body, h->body_bytes, KY_OK};
    encode_fn fn = NULL;
    size_t cap = SMALL_BODY_BYTES_MAX;
    switch (h->type) {
    case KY_MSG_HELLO: {
        ky_msg_hello hello;
        rc = ky_msg_hello_decode(body, h->body_bytes, &hello);
        fn = encode_hello;
        break;
    }
    case KY_MSG_STATUS:
        rc = ky_msg_status_decode(body, h->body_bytes);
        fn = encode_status;
        break;
    case KY_MSG_GET:
        fn = encode_get;
        cap = ENTRY_BODY_BYTES_MAX;
        break;
    case KY_MSG_CONTRACT: fn = encode_contract; break;
    /* Pages fill at most the node's announced frame limit: clients size their reader to
     * the frame_body_bytes_max of HELLO. */
    case KY_MSG_RANGE:
        fn = encode_range;
        cap = s->cfg.frame_body_bytes_max;
        break;
    case KY_MSG_HISTORY:
        fn = encode_history;
        cap = s->cfg.frame_body_bytes_max;
        break;
    default: rc = KY_E_FRAME_TYPE; break;
    }
    if (rc != KY_OK) {
        ky_server_send_error(s, c, h->request_id, rc, ky_msg_type_name(h->type), ky_strerror(rc));
        return;
    }
    /* A refusal found while reading (not found, corrupt, malformed) becomes an ERROR. */
    rc = ky_server_respond(s, c, h->type, h->request_id, cap, fn, &r);
    if (rc != KY_OK) {
        if (r.err == KY_OK)
            ky_log("error", "response encoding failed", "type=%u error=%s", h->type,
                   ky_errname(rc));
        ky_server_send_error(s, c, h->request_id, rc, ky_msg_type_name(h->type), ky_strerror(rc));
    }
}
