/*
 * msg.c — body codecs for every message type.
 *
 * Why two tiny cursors: every decoder reads through `rd`, whose getters refuse to move
 * past the end, and every encoder writes through `wr`, whose putters assert they stay
 * inside the capacity the encoder already checked. So the bounds logic lives in a dozen
 * lines instead of in every codec, and a missed length check fails safe (truncated)
 * instead of reading out of bounds. See msg.h for the rules and docs/PROTOCOL.md for the
 * layouts.
 */
#include "msg.h"

#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"
#include "status.h"

/* ---- cursors ---------------------------------------------------------------------------- */

typedef struct rd {
    const uint8_t *p; /* next unread byte */
    size_t left;      /* bytes left */
} rd;

static rd rd_init(const uint8_t *body, size_t len) {
    KY_ASSERT(body != NULL || len == 0);
    return (rd){.p = body, .left = len};
}

static bool rd_bytes(rd *r, size_t n, const uint8_t **out) {
    if (r->left < n) return false;
    *out = n ? r->p : NULL;
    if (n) r->p += n;
    r->left -= n;
    return true;
}

static bool rd_u8(rd *r, uint8_t *v) {
    const uint8_t *b;
    if (!rd_bytes(r, 1, &b)) return false;
    *v = b[0];
    return true;
}

static bool rd_u16(rd *r, uint16_t *v) {
    const uint8_t *b;
    if (!rd_bytes(r, 2, &b)) return false;
    *v = ky_get_u16le(b);
    return true;
}

static bool rd_u32(rd *r, uint32_t *v) {
    const uint8_t *b;
    if (!rd_bytes(r, 4, &b)) return false;
    *v = ky_get_u32le(b);
    return true;
}

static bool rd_u64(rd *r, uint64_t *v) {
    const uint8_t *b;
    if (!rd_bytes(r, 8, &b)) return false;
    *v = ky_get_u64le(b);
    return true;
}

static int rd_end(const rd *r) {
    return r->left == 0 ? KY_OK : KY_E_MSG_TRAILING_BYTES;
}

typedef struct wr {
    uint8_t *p; /* caller's buffer */
    size_t cap; /* bytes at p */
    size_t len; /* bytes written */
} wr;

static void wr_bytes(wr *w, const void *src, size_t n) {
    KY_ASSERT(w->len <= w->cap && n <= w->cap - w->len);
    KY_ASSERT(src != NULL || n == 0);
    if (n) memmove(w->p + w->len, src, n); /* src may already be in place (zero copy) */
    w->len += n;
}

static void wr_u8(wr *w, uint8_t v) {
    wr_bytes(w, &v, 1);
}

static void wr_u16(wr *w, uint16_t v) {
    uint8_t b[2];
    ky_put_u16le(b, v);
    wr_bytes(w, b, 2);
}

static void wr_u32(wr *w, uint32_t v) {
    uint8_t b[4];
    ky_put_u32le(b, v);
    wr_bytes(w, b, 4);
}

static void wr_u64(wr *w, uint64_t v) {
    uint8_t b[8];
    ky_put_u64le(b, v);
    wr_bytes(w, b, 8);
}

/* Starts an encoder of exactly `need` bytes: KY_E_BUFFER_TOO_SMALL unless it fits. */
static int wr_begin(wr *w, uint8_t *out, size_t cap, size_t need) {
    KY_ASSERT(out != NULL || cap == 0);
    if (cap < need) return KY_E_BUFFER_TOO_SMALL;
    *w = (wr){.p = out, .cap = need, .len = 0};
    return KY_OK;
}

static void wr_done(const wr *w, size_t *len) {
    KY_ASSERT(w->len == w->cap); /* the encoder wrote exactly what it sized */
    *len = w->len;
}

static int64_t i64_from_u64(uint64_t u) {
    return u <= (uint64_t)INT64_MAX ? (int64_t)u : -(int64_t)(~u) - 1;
}

static bool text_ok(const char *s, size_t n) {
    KY_ASSERT(s != NULL || n == 0);
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] > 0x7E) return false;
    return true;
}

/* The fixed sizes in msg.h are the sums of the fields documented in docs/PROTOCOL.md. */
_Static_assert(KY_MSG_HELLO_FIXED_BYTES == 2 + 2 + 1, "HELLO: versions, name length");
_Static_assert(KY_MSG_HELLO_RESP_BYTES == 2 + 1 + 8 + KY_WIRE_NODE_ID_BYTES + 8 + 4 + 4,
               "HELLO response layout");
_Static_assert(KY_MSG_RANGE_BYTES == 8 + 8 + 4 && KY_MSG_HISTORY_BYTES == 8 + 8 + 4,
               "RANGE and HISTORY requests: two u64, one u32");
_Static_assert(KY_MSG_APPEND_RESULT_BYTES == 2 + 2 + 8, "APPEND result: status, flags, seq");
_Static_assert(KY_MSG_STATUS_RESP_BYTES == 1 + 8 + 8 + 2 * KY_WIRE_HASH_BYTES +
                                               KY_WIRE_NODE_ID_BYTES + 8 + 4 + 4 * 8 + 1 + 5 * 8 +
                                               1,
               "STATUS response layout");
_Static_assert(KY_MSG_ERROR_FIXED_BYTES == 2 + 1 + 2, "ERROR: status, what_len, msg_len");

/* ---- types ------------------------------------------------------------------------------ */

bool ky_msg_type_known(uint8_t type) {
    return (type >= KY_MSG_HELLO && type <= KY_MSG_REPL_SUBSCRIBE_ASYNC) || type == KY_MSG_ERROR;
}

const char *ky_msg_type_name(uint8_t type) {
    switch (type) {
    case KY_MSG_HELLO: return "HELLO";
    case KY_MSG_APPEND: return "APPEND";
    case KY_MSG_GET: return "GET";
    case KY_MSG_RANGE: return "RANGE";
    case KY_MSG_CONTRACT: return "CONTRACT";
    case KY_MSG_HISTORY: return "HISTORY";
    case KY_MSG_STATUS: return "STATUS";
    case KY_MSG_REPL_SUBSCRIBE: return "REPL_SUBSCRIBE";
    case KY_MSG_REPL_ACK: return "REPL_ACK";
    case KY_MSG_REPL_ENTRIES: return "REPL_ENTRIES";
    case KY_MSG_PROMOTE: return "PROMOTE";
    case KY_MSG_SWITCHOVER: return "SWITCHOVER";
    case KY_MSG_REPL_HANDOVER: return "REPL_HANDOVER";
    case KY_MSG_DEGRADE: return "DEGRADE";
    case KY_MSG_RESTORE_SYNC: return "RESTORE_SYNC";
    case KY_MSG_REPL_SUBSCRIBE_ASYNC: return "REPL_SUBSCRIBE_ASYNC";
    case KY_MSG_ERROR: return "ERROR";
    default: return "UNKNOWN";
    }
}

int ky_msg_header_check(const ky_frame_header *h) {
    KY_ASSERT(h != NULL);
    KY_ASSERT((h->flags & ~KY_FRAME_FLAGS_KNOWN) == 0); /* ky_frame_header_decode ran */
    if (!ky_msg_type_known(h->type)) return KY_E_FRAME_TYPE;
    if (h->type == KY_MSG_ERROR && !(h->flags & KY_FRAME_FLAG_RESPONSE)) return KY_E_FRAME_TYPE;
    return KY_OK;
}

/* ---- HELLO ------------------------------------------------------------------------------ */

static int hello_check(const ky_msg_hello *m) {
    if (m->client_name_bytes > KY_WIRE_CLIENT_NAME_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (m->version_min == 0 || m->version_min > m->version_max) return KY_E_MSG_MALFORMED;
    if (!text_ok(m->client_name, m->client_name_bytes)) return KY_E_MSG_MALFORMED;
    return KY_OK;
}

int ky_msg_hello_encode(const ky_msg_hello *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    int rc = hello_check(in);
    if (rc != KY_OK) return rc;
    wr w;
    rc = wr_begin(&w, out, cap, KY_MSG_HELLO_FIXED_BYTES + (size_t)in->client_name_bytes);
    if (rc != KY_OK) return rc;
    wr_u16(&w, in->version_min);
    wr_u16(&w, in->version_max);
    wr_u8(&w, in->client_name_bytes);
    wr_bytes(&w, in->client_name, in->client_name_bytes);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_hello_decode(const uint8_t *body, size_t len, ky_msg_hello *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *name;
    if (!rd_u16(&r, &out->version_min) || !rd_u16(&r, &out->version_max) ||
        !rd_u8(&r, &out->client_name_bytes))
        return KY_E_MSG_TRUNCATED;
    if (out->client_name_bytes > KY_WIRE_CLIENT_NAME_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (!rd_bytes(&r, out->client_name_bytes, &name)) return KY_E_MSG_TRUNCATED;
    out->client_name = (const char *)name;
    int rc = rd_end(&r);
    return rc != KY_OK ? rc : hello_check(out);
}

static bool role_ok(uint8_t role) {
    return role >= KY_WIRE_ROLE_PRIMARY && role <= KY_WIRE_ROLE_STANDALONE;
}

static int hello_resp_check(const ky_msg_hello_resp *m) {
    if (m->version == 0 || !role_ok(m->role)) return KY_E_MSG_MALFORMED;
    if (m->frame_body_bytes_max < KY_WIRE_FRAME_BODY_BYTES_MIN ||
        m->frame_body_bytes_max > KY_WIRE_FRAME_BODY_BYTES_MAX)
        return KY_E_MSG_MALFORMED;
    if (m->batch_count_max == 0 || m->batch_count_max > KY_WIRE_BATCH_COUNT_MAX)
        return KY_E_MSG_MALFORMED;
    return KY_OK;
}

int ky_msg_hello_resp_encode(const ky_msg_hello_resp *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    int rc = hello_resp_check(in);
    if (rc != KY_OK) return rc;
    wr w;
    if ((rc = wr_begin(&w, out, cap, KY_MSG_HELLO_RESP_BYTES)) != KY_OK) return rc;
    wr_u16(&w, in->version);
    wr_u8(&w, in->role);
    wr_u64(&w, in->epoch);
    wr_bytes(&w, in->node_id, KY_WIRE_NODE_ID_BYTES);
    wr_u64(&w, in->head_seq);
    wr_u32(&w, in->frame_body_bytes_max);
    wr_u32(&w, in->batch_count_max);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_hello_resp_decode(const uint8_t *body, size_t len, ky_msg_hello_resp *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *id;
    if (!rd_u16(&r, &out->version) || !rd_u8(&r, &out->role) || !rd_u64(&r, &out->epoch) ||
        !rd_bytes(&r, KY_WIRE_NODE_ID_BYTES, &id) || !rd_u64(&r, &out->head_seq) ||
        !rd_u32(&r, &out->frame_body_bytes_max) || !rd_u32(&r, &out->batch_count_max))
        return KY_E_MSG_TRUNCATED;
    memcpy(out->node_id, id, KY_WIRE_NODE_ID_BYTES);
    int rc = rd_end(&r);
    return rc != KY_OK ? rc : hello_resp_check(out);
}

/* ---- APPEND request ----------------------------------------------------------------------- */

/* Offsets inside one event's fixed part. */
enum {
    EV_KIND = 0,
    EV_SCHEME = 1,
    EV_FLAGS = 2,
    EV_SUBTYPE = 4,
    EV_MONTHS = 6,
    EV_PERIOD = 8,
    EV_CONTRACT = 12,
    EV_REF_SEQ = 20,
    EV_AMOUNT = 28,
    EV_IDEM = 36,
    EV_PAYLOAD_BYTES = 52,
    EV_END = 56,
};
_Static_assert(EV_END == KY_MSG_APPEND_EVENT_FIXED_BYTES, "event fixed part is 56 bytes");
_Static_assert(EV_IDEM + KY_WIRE_IDEM_KEY_BYTES == EV_PAYLOAD_BYTES, "idem key precedes len");

int ky_msg_append_begin(ky_msg_append_writer *w, uint8_t *out, size_t cap, uint32_t count_max) {
    KY_ASSERT(w != NULL && (out != NULL || cap == 0));
    KY_ASSERT(count_max >= 1 && count_max <= KY_WIRE_BATCH_COUNT_MAX);
    if (cap < KY_MSG_COUNT_BYTES) return KY_E_BUFFER_TOO_SMALL;
    *w = (ky_msg_append_writer){
        .out = out, .cap = cap, .len = KY_MSG_COUNT_BYTES, .count = 0, .count_max = count_max};
    return KY_OK;
}

int ky_msg_append_add(ky_msg_append_writer *w, const ky_wire_event *e) {
    KY_ASSERT(w != NULL && e != NULL);
    KY_ASSERT(w->len >= KY_MSG_COUNT_BYTES && w->len <= w->cap && w->count <= w->count_max);
    if (e->payload_bytes > KY_WIRE_PAYLOAD_BYTES_MAX) return KY_E_PAYLOAD_TOO_LARGE;
    KY_ASSERT(e->payload != NULL || e->payload_bytes == 0);
    if (w->count == w->count_max) return KY_E_BATCH_TOO_LARGE;
    size_t need = KY_MSG_APPEND_EVENT_FIXED_BYTES + (size_t)e->payload_bytes;
    if (w->cap - w->len < need) return KY_E_BUFFER_TOO_SMALL;
    uint8_t *f = w->out + w->len;
    f[EV_KIND] = e->kind;
    f[EV_SCHEME] = e->scheme;
    ky_put_u16le(f + EV_FLAGS, e->flags);
    ky_put_u16le(f + EV_SUBTYPE, e->subtype);
    ky_put_u16le(f + EV_MONTHS, e->months);
    ky_put_u32le(f + EV_PERIOD, e->period_yyyymm);
    ky_put_u64le(f + EV_CONTRACT, e->contract_id);
    ky_put_u64le(f + EV_REF_SEQ, e->ref_seq);
    ky_put_u64le(f + EV_AMOUNT, (uint64_t)e->amount_jpy);
    memcpy(f + EV_IDEM, e->idem_key, KY_WIRE_IDEM_KEY_BYTES);
    ky_put_u32le(f + EV_PAYLOAD_BYTES, e->payload_bytes);
    if (e->payload_bytes) memcpy(f + EV_END, e->payload, e->payload_bytes);
    w->len += need;
    w->count++;
    return KY_OK;
}

int ky_msg_append_finish(ky_msg_append_writer *w, size_t *len) {
    KY_ASSERT(w != NULL && len != NULL);
    KY_ASSERT(w->len >= KY_MSG_COUNT_BYTES + (size_t)w->count * KY_MSG_APPEND_EVENT_FIXED_BYTES);
    if (w->count == 0) return KY_E_BATCH_EMPTY;
    ky_put_u32le(w->out, w->count);
    *len = w->len;
    return KY_OK;
}

static int event_decode(rd *r, ky_wire_event *e) {
    const uint8_t *f;
    if (!rd_bytes(r, KY_MSG_APPEND_EVENT_FIXED_BYTES, &f)) return KY_E_MSG_TRUNCATED;
    e->kind = f[EV_KIND];
    e->scheme = f[EV_SCHEME];
    e->flags = ky_get_u16le(f + EV_FLAGS);
    e->subtype = ky_get_u16le(f + EV_SUBTYPE);
    e->months = ky_get_u16le(f + EV_MONTHS);
    e->period_yyyymm = ky_get_u32le(f + EV_PERIOD);
    e->contract_id = ky_get_u64le(f + EV_CONTRACT);
    e->ref_seq = ky_get_u64le(f + EV_REF_SEQ);
    e->amount_jpy = i64_from_u64(ky_get_u64le(f + EV_AMOUNT));
    memcpy(e->idem_key, f + EV_IDEM, KY_WIRE_IDEM_KEY_BYTES);
    e->payload_bytes = ky_get_u32le(f + EV_PAYLOAD_BYTES);
    if (e->payload_bytes > KY_WIRE_PAYLOAD_BYTES_MAX) return KY_E_PAYLOAD_TOO_LARGE;
    if (!rd_bytes(r, e->payload_bytes, &e->payload)) return KY_E_MSG_TRUNCATED;
    KY_ASSERT((e->payload == NULL) == (e->payload_bytes == 0));
    return KY_OK;
}

int ky_msg_append_decode(const uint8_t *body, size_t len, ky_wire_event *events, uint32_t cap,
                         uint32_t *count) {
    KY_ASSERT(events != NULL && count != NULL);
    rd r = rd_init(body, len);
    uint32_t n;
    if (!rd_u32(&r, &n)) return KY_E_MSG_TRUNCATED;
    if (n == 0) return KY_E_BATCH_EMPTY;
    if (n > KY_WIRE_BATCH_COUNT_MAX || n > cap) return KY_E_BATCH_TOO_LARGE;
    if ((uint64_t)n * KY_MSG_APPEND_EVENT_FIXED_BYTES > r.left) return KY_E_MSG_TRUNCATED;
    for (uint32_t i = 0; i < n; i++) {
        int rc = event_decode(&r, &events[i]);
        if (rc != KY_OK) return rc;
    }
    int rc = rd_end(&r);
    if (rc != KY_OK) return rc;
    *count = n;
    return KY_OK;
}

/* ---- APPEND response ---------------------------------------------------------------------- */

static int result_check(const ky_wire_append_result *res) {
    if ((res->flags & ~KY_WIRE_RESULT_FLAGS_KNOWN) != 0) return KY_E_MSG_MALFORMED;
    bool ok = res->status == KY_WIRE_STATUS_OK;
    if ((res->flags & KY_WIRE_RESULT_DUPLICATE) && !ok) return KY_E_MSG_MALFORMED;
    if (ok != (res->seq != 0)) return KY_E_MSG_MALFORMED;
    return KY_OK;
}

int ky_msg_append_resp_encode(const ky_wire_append_result *results, uint32_t count, uint8_t *out,
                              size_t cap, size_t *len) {
    KY_ASSERT(len != NULL && (results != NULL || count == 0));
    if (count == 0) return KY_E_BATCH_EMPTY;
    if (count > KY_WIRE_BATCH_COUNT_MAX) return KY_E_BATCH_TOO_LARGE;
    for (uint32_t i = 0; i < count; i++) {
        int rc = result_check(&results[i]);
        if (rc != KY_OK) return rc;
    }
    wr w;
    size_t need = KY_MSG_COUNT_BYTES + (size_t)count * KY_MSG_APPEND_RESULT_BYTES;
    int rc = wr_begin(&w, out, cap, need);
    if (rc != KY_OK) return rc;
    wr_u32(&w, count);
    for (uint32_t i = 0; i < count; i++) {
        wr_u16(&w, results[i].status);
        wr_u16(&w, results[i].flags);
        wr_u64(&w, results[i].seq);
    }
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_append_resp_decode(const uint8_t *body, size_t len, ky_wire_append_result *results,
                              uint32_t cap, uint32_t *count) {
    KY_ASSERT(results != NULL && count != NULL);
    rd r = rd_init(body, len);
    uint32_t n;
    if (!rd_u32(&r, &n)) return KY_E_MSG_TRUNCATED;
    if (n == 0) return KY_E_BATCH_EMPTY;
    if (n > KY_WIRE_BATCH_COUNT_MAX || n > cap) return KY_E_BATCH_TOO_LARGE;
    if ((uint64_t)n * KY_MSG_APPEND_RESULT_BYTES > r.left) return KY_E_MSG_TRUNCATED;
    for (uint32_t i = 0; i < n; i++) {
        ky_wire_append_result *res = &results[i];
        bool got = rd_u16(&r, &res->status) && rd_u16(&r, &res->flags) && rd_u64(&r, &res->seq);
        KY_ASSERT(got); /* the count check above guaranteed the bytes */
    }
    int rc = rd_end(&r);
    if (rc != KY_OK) return rc;
    for (uint32_t i = 0; i < n; i++)
        if ((rc = result_check(&results[i])) != KY_OK) return rc;
    *count = n;
    return KY_OK;
}

/* ---- fixed-size requests ------------------------------------------------------------------ */

static bool contract_id_ok(uint64_t id) {
    return id >= 1 && id <= KY_CONTRACT_ID_MAX;
}

static bool read_count_ok(uint32_t n) {
    return n >= 1 && n <= KY_WIRE_READ_COUNT_MAX;
}

/* GET and CONTRACT share one shape: a single u64 with a validity rule. */
static int u64_encode(uint64_t v, bool valid, int invalid, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(len != NULL);
    if (!valid) return invalid;
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_SEQ_BYTES);
    if (rc != KY_OK) return rc;
    wr_u64(&w, v);
    wr_done(&w, len);
    return KY_OK;
}

static int u64_decode(const uint8_t *body, size_t len, uint64_t *v) {
    KY_ASSERT(v != NULL);
    rd r = rd_init(body, len);
    if (!rd_u64(&r, v)) return KY_E_MSG_TRUNCATED;
    return rd_end(&r);
}

int ky_msg_get_encode(uint64_t seq, uint8_t *out, size_t cap, size_t *len) {
    return u64_encode(seq, seq >= 1, KY_E_SEQ_RANGE_INVALID, out, cap, len);
}

int ky_msg_get_decode(const uint8_t *body, size_t len, uint64_t *seq) {
    int rc = u64_decode(body, len, seq);
    if (rc != KY_OK) return rc;
    return *seq >= 1 ? KY_OK : KY_E_SEQ_RANGE_INVALID;
}

int ky_msg_contract_encode(uint64_t contract_id, uint8_t *out, size_t cap, size_t *len) {
    return u64_encode(contract_id, contract_id_ok(contract_id), KY_E_CONTRACT_ID_INVALID, out, cap,
                      len);
}

int ky_msg_contract_decode(const uint8_t *body, size_t len, uint64_t *contract_id) {
    int rc = u64_decode(body, len, contract_id);
    if (rc != KY_OK) return rc;
    return contract_id_ok(*contract_id) ? KY_OK : KY_E_CONTRACT_ID_INVALID;
}

static int range_check(const ky_msg_range *m) {
    if (m->from_seq == 0 || m->from_seq > m->to_seq) return KY_E_SEQ_RANGE_INVALID;
    if (!read_count_ok(m->count_max)) return KY_E_READ_COUNT_INVALID;
    return KY_OK;
}

int ky_msg_range_encode(const ky_msg_range *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    int rc = range_check(in);
    if (rc != KY_OK) return rc;
    wr w;
    if ((rc = wr_begin(&w, out, cap, KY_MSG_RANGE_BYTES)) != KY_OK) return rc;
    wr_u64(&w, in->from_seq);
    wr_u64(&w, in->to_seq);
    wr_u32(&w, in->count_max);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_range_decode(const uint8_t *body, size_t len, ky_msg_range *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    if (!rd_u64(&r, &out->from_seq) || !rd_u64(&r, &out->to_seq) || !rd_u32(&r, &out->count_max))
        return KY_E_MSG_TRUNCATED;
    int rc = rd_end(&r);
    return rc != KY_OK ? rc : range_check(out);
}

static int history_check(const ky_msg_history *m) {
    if (!contract_id_ok(m->contract_id)) return KY_E_CONTRACT_ID_INVALID;
    if (!read_count_ok(m->count_max)) return KY_E_READ_COUNT_INVALID;
    return KY_OK;
}

int ky_msg_history_encode(const ky_msg_history *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    int rc = history_check(in);
    if (rc != KY_OK) return rc;
    wr w;
    if ((rc = wr_begin(&w, out, cap, KY_MSG_HISTORY_BYTES)) != KY_OK) return rc;
    wr_u64(&w, in->contract_id);
    wr_u64(&w, in->after_contract_seq);
    wr_u32(&w, in->count_max);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_history_decode(const uint8_t *body, size_t len, ky_msg_history *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    if (!rd_u64(&r, &out->contract_id) || !rd_u64(&r, &out->after_contract_seq) ||
        !rd_u32(&r, &out->count_max))
        return KY_E_MSG_TRUNCATED;
    int rc = rd_end(&r);
    return rc != KY_OK ? rc : history_check(out);
}

int ky_msg_status_decode(const uint8_t *body, size_t len) {
    rd r = rd_init(body, len);
    return rd_end(&r);
}

/* ---- GET and CONTRACT responses: one length-prefixed opaque blob ---------------------------- */

static int blob_encode(const uint8_t *data, uint32_t data_bytes, uint32_t max, uint8_t *out,
                       size_t cap, size_t *len) {
    KY_ASSERT(len != NULL && (data != NULL || data_bytes == 0));
    if (data_bytes > max) return KY_E_MSG_FIELD_TOO_LONG;
    if (data_bytes == 0) return KY_E_MSG_MALFORMED;
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_COUNT_BYTES + (size_t)data_bytes);
    if (rc != KY_OK) return rc;
    /* Write the data first: it may sit exactly where it belongs (out + 4). */
    w.len = KY_MSG_COUNT_BYTES;
    wr_bytes(&w, data, data_bytes);
    ky_put_u32le(out, data_bytes);
    wr_done(&w, len);
    return KY_OK;
}

/* Reads one u32-length-prefixed blob of 1..max bytes from r. */
static int blob_read(rd *r, uint32_t max, ky_wire_blob *b) {
    if (!rd_u32(r, &b->data_bytes)) return KY_E_MSG_TRUNCATED;
    if (b->data_bytes > max) return KY_E_MSG_FIELD_TOO_LONG;
    if (!rd_bytes(r, b->data_bytes, &b->data)) return KY_E_MSG_TRUNCATED;
    return KY_OK;
}

static int blob_decode(const uint8_t *body, size_t len, uint32_t max, ky_wire_blob *b) {
    KY_ASSERT(b != NULL);
    rd r = rd_init(body, len);
    int rc = blob_read(&r, max, b);
    if (rc == KY_OK) rc = rd_end(&r);
    if (rc == KY_OK && b->data_bytes == 0) rc = KY_E_MSG_MALFORMED;
    return rc;
}

int ky_msg_get_resp_encode(const uint8_t *entry, uint32_t entry_bytes, uint8_t *out, size_t cap,
                           size_t *len) {
    return blob_encode(entry, entry_bytes, KY_WIRE_ENTRY_BYTES_MAX, out, cap, len);
}

int ky_msg_get_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *entry) {
    return blob_decode(body, len, KY_WIRE_ENTRY_BYTES_MAX, entry);
}

int ky_msg_contract_resp_encode(const uint8_t *state, uint32_t state_bytes, uint8_t *out,
                                size_t cap, size_t *len) {
    return blob_encode(state, state_bytes, KY_WIRE_CONTRACT_STATE_BYTES_MAX, out, cap, len);
}

int ky_msg_contract_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *state) {
    return blob_decode(body, len, KY_WIRE_CONTRACT_STATE_BYTES_MAX, state);
}

/* ---- RANGE and HISTORY responses ---------------------------------------------------------- */

int ky_msg_entries_begin(ky_msg_entries_writer *w, uint8_t type, uint32_t count_max, uint8_t *out,
                         size_t cap) {
    KY_ASSERT(w != NULL && (out != NULL || cap == 0));
    KY_ASSERT(type == KY_MSG_RANGE || type == KY_MSG_HISTORY);
    KY_ASSERT(read_count_ok(count_max));
    size_t prefix = (type == KY_MSG_HISTORY ? 8u : 0u) + KY_MSG_COUNT_BYTES;
    if (cap < prefix) return KY_E_BUFFER_TOO_SMALL;
    *w = (ky_msg_entries_writer){.out = out,
                                 .cap = cap,
                                 .len = prefix,
                                 .count_at = prefix - KY_MSG_COUNT_BYTES,
                                 .count = 0,
                                 .count_max = count_max,
                                 .type = type};
    return KY_OK;
}

int ky_msg_entries_add(ky_msg_entries_writer *w, const uint8_t *entry, uint32_t entry_bytes) {
    KY_ASSERT(w != NULL && (entry != NULL || entry_bytes == 0));
    KY_ASSERT(w->len <= w->cap && w->count <= w->count_max);
    if (entry_bytes == 0 || entry_bytes > KY_WIRE_ENTRY_BYTES_MAX) return KY_E_INVALID_ARG;
    if (w->count == w->count_max) return KY_E_BUFFER_TOO_SMALL;
    size_t need = KY_MSG_COUNT_BYTES + (size_t)entry_bytes;
    if (w->cap - w->len < need) return KY_E_BUFFER_TOO_SMALL;
    ky_put_u32le(w->out + w->len, entry_bytes);
    memcpy(w->out + w->len + KY_MSG_COUNT_BYTES, entry, entry_bytes);
    w->len += need;
    w->count++;
    return KY_OK;
}

int ky_msg_entries_finish(ky_msg_entries_writer *w, uint64_t next_after_contract_seq, size_t *len) {
    KY_ASSERT(w != NULL && len != NULL);
    KY_ASSERT(w->type == KY_MSG_HISTORY || next_after_contract_seq == 0);
    KY_ASSERT(w->len >= w->count_at + KY_MSG_COUNT_BYTES + (size_t)w->count * 5u);
    if (w->type == KY_MSG_HISTORY) ky_put_u64le(w->out, next_after_contract_seq);
    ky_put_u32le(w->out + w->count_at, w->count);
    *len = w->len;
    return KY_OK;
}

static int entries_read(rd *r, ky_wire_blob *entries, uint32_t cap, uint32_t *count) {
    KY_ASSERT(entries != NULL && count != NULL);
    uint32_t n;
    if (!rd_u32(r, &n)) return KY_E_MSG_TRUNCATED;
    if (n > KY_WIRE_READ_COUNT_MAX) return KY_E_READ_COUNT_INVALID;
    if (n > cap) return KY_E_BUFFER_TOO_SMALL;
    if ((uint64_t)n * KY_MSG_COUNT_BYTES > r->left) return KY_E_MSG_TRUNCATED;
    for (uint32_t i = 0; i < n; i++) {
        int rc = blob_read(r, KY_WIRE_ENTRY_BYTES_MAX, &entries[i]);
        if (rc != KY_OK) return rc;
    }
    int rc = rd_end(r);
    if (rc != KY_OK) return rc;
    for (uint32_t i = 0; i < n; i++)
        if (entries[i].data_bytes == 0) return KY_E_MSG_MALFORMED;
    *count = n;
    return KY_OK;
}

int ky_msg_range_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *entries, uint32_t cap,
                             uint32_t *count) {
    rd r = rd_init(body, len);
    return entries_read(&r, entries, cap, count);
}

int ky_msg_history_resp_decode(const uint8_t *body, size_t len, uint64_t *next_after_contract_seq,
                               ky_wire_blob *entries, uint32_t cap, uint32_t *count) {
    KY_ASSERT(next_after_contract_seq != NULL);
    rd r = rd_init(body, len);
    if (!rd_u64(&r, next_after_contract_seq)) return KY_E_MSG_TRUNCATED;
    return entries_read(&r, entries, cap, count);
}

/* ---- STATUS response ---------------------------------------------------------------------- */

int ky_msg_status_resp_encode(const ky_msg_status_resp *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    if (!role_ok(in->role)) return KY_E_MSG_MALFORMED;
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_STATUS_RESP_BYTES);
    if (rc != KY_OK) return rc;
    wr_u8(&w, in->role);
    wr_u64(&w, in->epoch);
    wr_u64(&w, in->head_seq);
    wr_bytes(&w, in->head_hash, KY_WIRE_HASH_BYTES);
    wr_bytes(&w, in->merkle_root, KY_WIRE_HASH_BYTES);
    wr_bytes(&w, in->node_id, KY_WIRE_NODE_ID_BYTES);
    wr_u64(&w, in->uptime_ms);
    wr_u32(&w, in->connections);
    wr_u64(&w, in->appends_total);
    wr_u64(&w, in->events_total);
    wr_u64(&w, in->refused_total);
    wr_u64(&w, in->batches_total);
    wr_u8(&w, in->mode);
    wr_u64(&w, in->acked_seq);
    wr_u64(&w, in->replica_durable_seq);
    wr_u64(&w, in->replica_lag_entries);
    wr_u64(&w, in->replica_lag_ms);
    wr_u64(&w, in->quarantine_count);
    wr_u8(&w, in->peer_connected);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_status_resp_decode(const uint8_t *body, size_t len, ky_msg_status_resp *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *hh, *mr, *id;
    if (!rd_u8(&r, &out->role) || !rd_u64(&r, &out->epoch) || !rd_u64(&r, &out->head_seq) ||
        !rd_bytes(&r, KY_WIRE_HASH_BYTES, &hh) || !rd_bytes(&r, KY_WIRE_HASH_BYTES, &mr) ||
        !rd_bytes(&r, KY_WIRE_NODE_ID_BYTES, &id) || !rd_u64(&r, &out->uptime_ms) ||
        !rd_u32(&r, &out->connections) || !rd_u64(&r, &out->appends_total) ||
        !rd_u64(&r, &out->events_total) || !rd_u64(&r, &out->refused_total) ||
        !rd_u64(&r, &out->batches_total) || !rd_u8(&r, &out->mode) ||
        !rd_u64(&r, &out->acked_seq) || !rd_u64(&r, &out->replica_durable_seq) ||
        !rd_u64(&r, &out->replica_lag_entries) || !rd_u64(&r, &out->replica_lag_ms) ||
        !rd_u64(&r, &out->quarantine_count) || !rd_u8(&r, &out->peer_connected))
        return KY_E_MSG_TRUNCATED;
    memcpy(out->head_hash, hh, KY_WIRE_HASH_BYTES);
    memcpy(out->merkle_root, mr, KY_WIRE_HASH_BYTES);
    memcpy(out->node_id, id, KY_WIRE_NODE_ID_BYTES);
    int rc = rd_end(&r);
    if (rc != KY_OK) return rc;
    return role_ok(out->role) ? KY_OK : KY_E_MSG_MALFORMED;
}

/* ---- ERROR -------------------------------------------------------------------------------- */

static int error_check(const ky_msg_error *m) {
    if (m->what_bytes > KY_WIRE_ERROR_WHAT_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (m->message_bytes > KY_WIRE_ERROR_MESSAGE_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (m->status == KY_WIRE_STATUS_OK) return KY_E_MSG_MALFORMED;
    if (!text_ok(m->what, m->what_bytes) || !text_ok(m->message, m->message_bytes))
        return KY_E_MSG_MALFORMED;
    return KY_OK;
}

int ky_msg_error_encode(const ky_msg_error *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    int rc = error_check(in);
    if (rc != KY_OK) return rc;
    wr w;
    size_t need = KY_MSG_ERROR_FIXED_BYTES + (size_t)in->what_bytes + in->message_bytes;
    if ((rc = wr_begin(&w, out, cap, need)) != KY_OK) return rc;
    wr_u16(&w, in->status);
    wr_u8(&w, in->what_bytes);
    wr_bytes(&w, in->what, in->what_bytes);
    wr_u16(&w, in->message_bytes);
    wr_bytes(&w, in->message, in->message_bytes);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_error_decode(const uint8_t *body, size_t len, ky_msg_error *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *what, *msg;
    if (!rd_u16(&r, &out->status) || !rd_u8(&r, &out->what_bytes)) return KY_E_MSG_TRUNCATED;
    if (out->what_bytes > KY_WIRE_ERROR_WHAT_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (!rd_bytes(&r, out->what_bytes, &what) || !rd_u16(&r, &out->message_bytes))
        return KY_E_MSG_TRUNCATED;
    if (out->message_bytes > KY_WIRE_ERROR_MESSAGE_BYTES_MAX) return KY_E_MSG_FIELD_TOO_LONG;
    if (!rd_bytes(&r, out->message_bytes, &msg)) return KY_E_MSG_TRUNCATED;
    out->what = (const char *)what;
    out->message = (const char *)msg;
    int rc = rd_end(&r);
    return rc != KY_OK ? rc : error_check(out);
}

/* ---- replication ------------------------------------------------------------------------ */

int ky_msg_repl_subscribe_encode(const ky_msg_repl_subscribe *in, uint8_t *out, size_t cap,
                                 size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_REPL_SUBSCRIBE_BYTES);
    if (rc != KY_OK) return rc;
    wr_u64(&w, in->epoch);
    wr_u64(&w, in->head_seq);
    wr_bytes(&w, in->head_hash, KY_WIRE_HASH_BYTES);
    wr_bytes(&w, in->node_id, KY_WIRE_NODE_ID_BYTES);
    wr_u64(&w, in->acked_seq);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_repl_subscribe_decode(const uint8_t *body, size_t len, ky_msg_repl_subscribe *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *hh, *id;
    if (!rd_u64(&r, &out->epoch) || !rd_u64(&r, &out->head_seq) ||
        !rd_bytes(&r, KY_WIRE_HASH_BYTES, &hh) || !rd_bytes(&r, KY_WIRE_NODE_ID_BYTES, &id) ||
        !rd_u64(&r, &out->acked_seq))
        return KY_E_MSG_TRUNCATED;
    memcpy(out->head_hash, hh, KY_WIRE_HASH_BYTES);
    memcpy(out->node_id, id, KY_WIRE_NODE_ID_BYTES);
    return rd_end(&r);
}

int ky_msg_repl_ack_encode(const ky_msg_repl_ack *in, uint8_t *out, size_t cap, size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_REPL_ACK_BYTES);
    if (rc != KY_OK) return rc;
    wr_u64(&w, in->epoch);
    wr_u64(&w, in->durable_seq);
    wr_bytes(&w, in->head_hash, KY_WIRE_HASH_BYTES);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_repl_ack_decode(const uint8_t *body, size_t len, ky_msg_repl_ack *out) {
    KY_ASSERT(out != NULL);
    rd r = rd_init(body, len);
    const uint8_t *hh;
    if (!rd_u64(&r, &out->epoch) || !rd_u64(&r, &out->durable_seq) ||
        !rd_bytes(&r, KY_WIRE_HASH_BYTES, &hh))
        return KY_E_MSG_TRUNCATED;
    memcpy(out->head_hash, hh, KY_WIRE_HASH_BYTES);
    return rd_end(&r);
}

int ky_msg_repl_entries_begin(const ky_msg_repl_entries *in, uint8_t *out, size_t cap,
                              size_t *len) {
    KY_ASSERT(in != NULL && len != NULL);
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_REPL_ENTRIES_FIXED_BYTES);
    if (rc != KY_OK) return rc;
    wr_u64(&w, in->epoch);
    wr_u64(&w, in->acked_seq);
    wr_u64(&w, in->first_seq);
    wr_u32(&w, 0); /* count, raised by ky_msg_repl_entry_add */
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_repl_entry_add(uint8_t *out, size_t cap, size_t *len, const uint8_t *entry,
                          uint32_t entry_bytes) {
    KY_ASSERT(out != NULL && len != NULL && *len >= KY_MSG_REPL_ENTRIES_FIXED_BYTES);
    KY_ASSERT(*len <= cap);
    KY_ASSERT(entry_bytes >= 1 && entry_bytes <= KY_WIRE_ENTRY_BYTES_MAX);
    KY_ASSERT(ky_get_u64le(out + 16) != 0); /* first_seq (after epoch, acked_seq) >= 1 */
    uint8_t *count = out + KY_MSG_REPL_ENTRIES_FIXED_BYTES - KY_MSG_COUNT_BYTES;
    uint32_t n = ky_get_u32le(count);
    KY_ASSERT(n <= KY_WIRE_BATCH_COUNT_MAX);
    if (n == KY_WIRE_BATCH_COUNT_MAX) return KY_E_BATCH_TOO_LARGE; /* one replica batch */
    if (cap - *len < KY_MSG_COUNT_BYTES + (size_t)entry_bytes) return KY_E_BUFFER_TOO_SMALL;
    ky_put_u32le(out + *len, entry_bytes);
    memcpy(out + *len + KY_MSG_COUNT_BYTES, entry, entry_bytes);
    *len += KY_MSG_COUNT_BYTES + entry_bytes;
    ky_put_u32le(count, n + 1);
    return KY_OK;
}

int ky_msg_repl_entries_decode(const uint8_t *body, size_t len, ky_msg_repl_entries *out,
                               ky_wire_blob *entries, uint32_t cap) {
    KY_ASSERT(out != NULL && (entries != NULL || cap == 0));
    rd r = rd_init(body, len);
    if (!rd_u64(&r, &out->epoch) || !rd_u64(&r, &out->acked_seq) || !rd_u64(&r, &out->first_seq) ||
        !rd_u32(&r, &out->count))
        return KY_E_MSG_TRUNCATED;
    if (out->count > KY_WIRE_BATCH_COUNT_MAX) return KY_E_BATCH_TOO_LARGE;
    if (out->count > cap) return KY_E_BUFFER_TOO_SMALL;
    if ((uint64_t)out->count * KY_MSG_COUNT_BYTES > r.left) return KY_E_MSG_TRUNCATED;
    for (uint32_t i = 0; i < out->count; i++) {
        int rc = blob_read(&r, KY_WIRE_ENTRY_BYTES_MAX, &entries[i]);
        if (rc != KY_OK) return rc;
    }
    int rc = rd_end(&r);
    if (rc != KY_OK) return rc;
    /* Value checks last (msg.h rule 3), as in entries_read. */
    if (out->count > 0 && out->first_seq == 0) return KY_E_MSG_MALFORMED;
    for (uint32_t i = 0; i < out->count; i++)
        if (entries[i].data_bytes == 0) return KY_E_MSG_MALFORMED;
    return KY_OK;
}

int ky_msg_promote_encode(uint8_t flags, uint8_t *out, size_t cap, size_t *len) {
    if ((flags & ~(KY_PROMOTE_FORCE | KY_PROMOTE_ACCEPT_LOSS)) != 0) return KY_E_MSG_MALFORMED;
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_PROMOTE_BYTES);
    if (rc != KY_OK) return rc;
    wr_u8(&w, flags);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_promote_decode(const uint8_t *body, size_t len, uint8_t *flags) {
    rd r = rd_init(body, len);
    if (!rd_u8(&r, flags)) return KY_E_MSG_TRUNCATED;
    int rc = rd_end(&r);
    if (rc != KY_OK) return rc;
    return (*flags & ~(KY_PROMOTE_FORCE | KY_PROMOTE_ACCEPT_LOSS)) ? KY_E_MSG_MALFORMED : KY_OK;
}

int ky_msg_promote_resp_encode(uint64_t epoch, uint64_t head_seq, uint8_t *out, size_t cap,
                               size_t *len) {
    wr w;
    int rc = wr_begin(&w, out, cap, KY_MSG_PROMOTE_RESP_BYTES);
    if (rc != KY_OK) return rc;
    wr_u64(&w, epoch);
    wr_u64(&w, head_seq);
    wr_done(&w, len);
    return KY_OK;
}

int ky_msg_promote_resp_decode(const uint8_t *body, size_t len, uint64_t *epoch,
                               uint64_t *head_seq) {
    rd r = rd_init(body, len);
    if (!rd_u64(&r, epoch) || !rd_u64(&r, head_seq)) return KY_E_MSG_TRUNCATED;
    return rd_end(&r);
}

int ky_msg_switchover_resp_encode(uint64_t head_seq, uint64_t pause_ms, uint8_t *out, size_t cap,
                                  size_t *len) {
    return ky_msg_promote_resp_encode(head_seq, pause_ms, out, cap, len); /* same layout */
}

int ky_msg_switchover_resp_decode(const uint8_t *body, size_t len, uint64_t *head_seq,
                                  uint64_t *pause_ms) {
    return ky_msg_promote_resp_decode(body, len, head_seq, pause_ms);
}

/* REPL_HANDOVER has REPL_ACK's layout: epoch, head seq, head hash. */
int ky_msg_repl_handover_encode(const ky_msg_repl_ack *in, uint8_t *out, size_t cap, size_t *len) {
    return ky_msg_repl_ack_encode(in, out, cap, len);
}

int ky_msg_repl_handover_decode(const uint8_t *body, size_t len, ky_msg_repl_ack *out) {
    return ky_msg_repl_ack_decode(body, len, out);
}
