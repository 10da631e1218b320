/*
 * msg_check.c — the decode/re-encode oracle for every proto/msg.h body (see msg_check.h).
 *
 * How: each checker decodes into static scratch, and on KY_OK re-encodes into an
 * exact-size heap buffer (so ASan also guards the encoder) a little larger than the input,
 * then compares length and bytes. The re-encode must succeed: a decoder that accepts what
 * its encoder refuses breaks msg.h rule 5.
 */
#include "msg_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/ky_err.h"
#include "../../common/ky_limits.h"
#include "../../proto/msg.h"
#include "../../proto/status.h"

#define SLACK_BYTES 16u /* room past the input, so a longer re-encoding is seen as such */

static ky_wire_event events[KY_WIRE_BATCH_COUNT_MAX];
static ky_wire_append_result results[KY_WIRE_BATCH_COUNT_MAX];
static ky_wire_blob blobs[KY_WIRE_READ_COUNT_MAX];

/* REPL_ENTRIES has no count limit of its own: the receiver's array is its cap (the replica
 * sizes it for its frame limit). This one holds every 1-byte entry a 64 KiB body can carry,
 * which covers the bodies both harnesses deliver, so BUFFER_TOO_SMALL comes only from counts
 * that lie. */
#define REPL_BLOBS_COUNT (KY_WIRE_FRAME_BODY_BYTES_MIN / (KY_MSG_COUNT_BYTES + 1u))
static ky_wire_blob repl_blobs[REPL_BLOBS_COUNT];

static const char *const decoder_names[FUZZ_MSG_DECODER_COUNT] = {
    [FUZZ_HELLO] = "hello",       [FUZZ_HELLO_RESP] = "hello_resp",
    [FUZZ_APPEND] = "append",     [FUZZ_APPEND_RESP] = "append_resp",
    [FUZZ_GET] = "get",           [FUZZ_GET_RESP] = "get_resp",
    [FUZZ_RANGE] = "range",       [FUZZ_RANGE_RESP] = "range_resp",
    [FUZZ_CONTRACT] = "contract", [FUZZ_CONTRACT_RESP] = "contract_resp",
    [FUZZ_HISTORY] = "history",   [FUZZ_HISTORY_RESP] = "history_resp",
    [FUZZ_STATUS] = "status",     [FUZZ_STATUS_RESP] = "status_resp",
    [FUZZ_ERROR] = "error",       [FUZZ_REPL_SUBSCRIBE] = "repl_subscribe",
    [FUZZ_REPL_ACK] = "repl_ack", [FUZZ_REPL_ENTRIES] = "repl_entries",
    [FUZZ_PROMOTE] = "promote",   [FUZZ_PROMOTE_RESP] = "promote_resp",
};

/* Scratch for one re-encoding: len + SLACK_BYTES bytes, exactly, on the heap. */
typedef struct enc {
    uint8_t *out; /* malloc'd, cap bytes */
    size_t cap;   /* bytes at out */
    size_t len;   /* bytes the encoder wrote */
} enc;

static enc enc_start(size_t len) {
    enc e = {.out = malloc(len + SLACK_BYTES), .cap = len + SLACK_BYTES, .len = 0};
    if (e.out == NULL) abort();
    return e;
}

/* The oracle: the encoder returned rc and wrote e->len bytes; they must be body[0..len). */
static void enc_finish(enc *e, int rc, const uint8_t *body, size_t len, unsigned which) {
    const char *name = decoder_names[which];
    if (rc != KY_OK) {
        fprintf(stderr, "fuzz: %s: decode accepted %zu bytes, re-encode refused: %s\n", name, len,
                ky_strerror(rc));
        abort();
    }
    if (e->len != len || (len > 0 && memcmp(e->out, body, len) != 0)) {
        fprintf(stderr, "fuzz: %s: re-encoding differs (%zu bytes in, %zu out)\n", name, len,
                e->len);
        abort();
    }
    free(e->out);
    e->out = NULL;
}

static int check_hello(const uint8_t *body, size_t len) {
    ky_msg_hello m;
    int rc = ky_msg_hello_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_hello_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_HELLO);
    return rc;
}

static int check_hello_resp(const uint8_t *body, size_t len) {
    ky_msg_hello_resp m;
    int rc = ky_msg_hello_resp_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_hello_resp_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_HELLO_RESP);
    return rc;
}

static int check_append(const uint8_t *body, size_t len) {
    uint32_t n = 0;
    int rc = ky_msg_append_decode(body, len, events, KY_WIRE_BATCH_COUNT_MAX, &n);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    ky_msg_append_writer w;
    int erc = ky_msg_append_begin(&w, e.out, e.cap, KY_WIRE_BATCH_COUNT_MAX);
    for (uint32_t i = 0; i < n && erc == KY_OK; i++) erc = ky_msg_append_add(&w, &events[i]);
    if (erc == KY_OK) erc = ky_msg_append_finish(&w, &e.len);
    enc_finish(&e, erc, body, len, FUZZ_APPEND);
    return rc;
}

static int check_append_resp(const uint8_t *body, size_t len) {
    uint32_t n = 0;
    int rc = ky_msg_append_resp_decode(body, len, results, KY_WIRE_BATCH_COUNT_MAX, &n);
    if (rc != KY_OK) return rc;
    for (uint32_t i = 0; i < n; i++) (void)ky_wire_status_to_err(results[i].status);
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_append_resp_encode(results, n, e.out, e.cap, &e.len), body, len,
               FUZZ_APPEND_RESP);
    return rc;
}

/* GET and CONTRACT requests: one u64 each. */
static int check_u64(const uint8_t *body, size_t len, unsigned which) {
    uint64_t v = 0;
    bool get = which == FUZZ_GET;
    int rc = get ? ky_msg_get_decode(body, len, &v) : ky_msg_contract_decode(body, len, &v);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    int erc = get ? ky_msg_get_encode(v, e.out, e.cap, &e.len)
                  : ky_msg_contract_encode(v, e.out, e.cap, &e.len);
    enc_finish(&e, erc, body, len, which);
    return rc;
}

/* GET and CONTRACT responses: one length-prefixed blob each. */
static int check_blob(const uint8_t *body, size_t len, unsigned which) {
    ky_wire_blob b;
    bool get = which == FUZZ_GET_RESP;
    int rc =
        get ? ky_msg_get_resp_decode(body, len, &b) : ky_msg_contract_resp_decode(body, len, &b);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    int erc = get ? ky_msg_get_resp_encode(b.data, b.data_bytes, e.out, e.cap, &e.len)
                  : ky_msg_contract_resp_encode(b.data, b.data_bytes, e.out, e.cap, &e.len);
    enc_finish(&e, erc, body, len, which);
    return rc;
}

static int check_range(const uint8_t *body, size_t len) {
    ky_msg_range m;
    int rc = ky_msg_range_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_range_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_RANGE);
    return rc;
}

static int check_history(const uint8_t *body, size_t len) {
    ky_msg_history m;
    int rc = ky_msg_history_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_history_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_HISTORY);
    return rc;
}

/* RANGE and HISTORY responses: a page of entries through the streaming writer. */
static int check_entries(const uint8_t *body, size_t len, unsigned which) {
    uint32_t n = 0;
    uint64_t next = 0;
    bool range = which == FUZZ_RANGE_RESP;
    int rc = range
                 ? ky_msg_range_resp_decode(body, len, blobs, KY_WIRE_READ_COUNT_MAX, &n)
                 : ky_msg_history_resp_decode(body, len, &next, blobs, KY_WIRE_READ_COUNT_MAX, &n);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    ky_msg_entries_writer w;
    uint8_t type = range ? KY_MSG_RANGE : KY_MSG_HISTORY;
    int erc = ky_msg_entries_begin(&w, type, n > 0 ? n : 1, e.out, e.cap);
    for (uint32_t i = 0; i < n && erc == KY_OK; i++)
        erc = ky_msg_entries_add(&w, blobs[i].data, blobs[i].data_bytes);
    if (erc == KY_OK) erc = ky_msg_entries_finish(&w, next, &e.len);
    enc_finish(&e, erc, body, len, which);
    return rc;
}

static int check_status(const uint8_t *body, size_t len) {
    return ky_msg_status_decode(body, len); /* empty body; there is no encoder */
}

static int check_status_resp(const uint8_t *body, size_t len) {
    ky_msg_status_resp m;
    int rc = ky_msg_status_resp_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_status_resp_encode(&m, e.out, e.cap, &e.len), body, len,
               FUZZ_STATUS_RESP);
    return rc;
}

static int check_error(const uint8_t *body, size_t len) {
    ky_msg_error m;
    int rc = ky_msg_error_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    (void)ky_wire_status_to_err(m.status);
    (void)ky_wire_status_name(m.status);
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_error_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_ERROR);
    return rc;
}

static int check_repl_subscribe(const uint8_t *body, size_t len) {
    ky_msg_repl_subscribe m;
    int rc = ky_msg_repl_subscribe_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_repl_subscribe_encode(&m, e.out, e.cap, &e.len), body, len,
               FUZZ_REPL_SUBSCRIBE);
    return rc;
}

static int check_repl_ack(const uint8_t *body, size_t len) {
    ky_msg_repl_ack m;
    int rc = ky_msg_repl_ack_decode(body, len, &m);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_repl_ack_encode(&m, e.out, e.cap, &e.len), body, len, FUZZ_REPL_ACK);
    return rc;
}

/* REPL_ENTRIES: rebuilt the way the primary writes it, fixed part then entry by entry. */
static int check_repl_entries(const uint8_t *body, size_t len) {
    ky_msg_repl_entries m;
    int rc = ky_msg_repl_entries_decode(body, len, &m, repl_blobs, REPL_BLOBS_COUNT);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    int erc = ky_msg_repl_entries_begin(&m, e.out, e.cap, &e.len);
    for (uint32_t i = 0; i < m.count && erc == KY_OK; i++)
        erc = ky_msg_repl_entry_add(e.out, e.cap, &e.len, repl_blobs[i].data,
                                    repl_blobs[i].data_bytes);
    enc_finish(&e, erc, body, len, FUZZ_REPL_ENTRIES);
    return rc;
}

static int check_promote(const uint8_t *body, size_t len) {
    uint8_t flags = 0;
    int rc = ky_msg_promote_decode(body, len, &flags);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_promote_encode(flags, e.out, e.cap, &e.len), body, len, FUZZ_PROMOTE);
    return rc;
}

static int check_promote_resp(const uint8_t *body, size_t len) {
    uint64_t epoch = 0, head_seq = 0;
    int rc = ky_msg_promote_resp_decode(body, len, &epoch, &head_seq);
    if (rc != KY_OK) return rc;
    enc e = enc_start(len);
    enc_finish(&e, ky_msg_promote_resp_encode(epoch, head_seq, e.out, e.cap, &e.len), body, len,
               FUZZ_PROMOTE_RESP);
    return rc;
}

int fuzz_msg_check(unsigned which, const uint8_t *body, size_t len) {
    switch (which) {
    case FUZZ_HELLO: return check_hello(body, len);
    case FUZZ_HELLO_RESP: return check_hello_resp(body, len);
    case FUZZ_APPEND: return check_append(body, len);
    case FUZZ_APPEND_RESP: return check_append_resp(body, len);
    case FUZZ_GET:
    case FUZZ_CONTRACT: return check_u64(body, len, which);
    case FUZZ_GET_RESP:
    case FUZZ_CONTRACT_RESP: return check_blob(body, len, which);
    case FUZZ_RANGE: return check_range(body, len);
    case FUZZ_HISTORY: return check_history(body, len);
    case FUZZ_RANGE_RESP:
    case FUZZ_HISTORY_RESP: return check_entries(body, len, which);
    case FUZZ_STATUS: return check_status(body, len);
    case FUZZ_STATUS_RESP: return check_status_resp(body, len);
    case FUZZ_ERROR: return check_error(body, len);
    case FUZZ_REPL_SUBSCRIBE: return check_repl_subscribe(body, len);
    case FUZZ_REPL_ACK: return check_repl_ack(body, len);
    case FUZZ_REPL_ENTRIES: return check_repl_entries(body, len);
    case FUZZ_PROMOTE: return check_promote(body, len);
    case FUZZ_PROMOTE_RESP: return check_promote_resp(body, len);
    default: abort(); /* the harness picks `which` modulo the count */
    }
}

unsigned fuzz_msg_decoder_for(const ky_frame_header *h) {
    if (ky_msg_header_check(h) != KY_OK) return FUZZ_MSG_DECODER_COUNT;
    bool resp = (h->flags & KY_FRAME_FLAG_RESPONSE) != 0;
    switch (h->type) {
    case KY_MSG_HELLO: return resp ? FUZZ_HELLO_RESP : FUZZ_HELLO;
    case KY_MSG_APPEND: return resp ? FUZZ_APPEND_RESP : FUZZ_APPEND;
    case KY_MSG_GET: return resp ? FUZZ_GET_RESP : FUZZ_GET;
    case KY_MSG_RANGE: return resp ? FUZZ_RANGE_RESP : FUZZ_RANGE;
    case KY_MSG_CONTRACT: return resp ? FUZZ_CONTRACT_RESP : FUZZ_CONTRACT;
    case KY_MSG_HISTORY: return resp ? FUZZ_HISTORY_RESP : FUZZ_HISTORY;
    case KY_MSG_STATUS: return resp ? FUZZ_STATUS_RESP : FUZZ_STATUS;
    case KY_MSG_REPL_SUBSCRIBE:
    case KY_MSG_REPL_SUBSCRIBE_ASYNC: return resp ? FUZZ_MSG_DECODER_COUNT : FUZZ_REPL_SUBSCRIBE;
    case KY_MSG_REPL_ACK: return resp ? FUZZ_MSG_DECODER_COUNT : FUZZ_REPL_ACK;
    case KY_MSG_REPL_ENTRIES: return resp ? FUZZ_REPL_ENTRIES : FUZZ_MSG_DECODER_COUNT;
    case KY_MSG_PROMOTE: return resp ? FUZZ_PROMOTE_RESP : FUZZ_PROMOTE;
    case KY_MSG_ERROR: return FUZZ_ERROR; /* header check demands the response flag */
    default: return FUZZ_MSG_DECODER_COUNT;
    }
}
