/*
 * client.c — libkyosai's lifecycle and appends: connect, close, reconnect, the synchronous
 * request loop with retries, and the synchronous and pipelined APPEND calls.
 *
 * Why here: an append is the one call whose retry must be exactly right. The events are
 * checked and given their idempotency keys once, before the first attempt; every attempt
 * then encodes the same events with the same keys, so a retry after a lost response or a
 * failover can only come back as DUPLICATE, never as a second posting (PROTOCOL.md §4).
 *
 * Retry policy (ky_client_call): an attempt is retried, up to retry_count_max times with a
 * 50 ms backoff doubling to 1 s, when the connection failed (connect, send, receive,
 * timeout, damaged frame) or the node answered NOT_PRIMARY or UNAVAILABLE (both move to
 * the next endpoint), or REPLICA_UNAVAILABLE, RETRY_LATER, QUEUE_FULL or TIMEOUT (same
 * connection). A refusal before sending, a protocol violation and every other answer are
 * returned at once.
 *
 * Ownership: kyosai_connect allocates the client and its buffers; kyosai_close frees
 * them. Never prints, never exits (STYLE rule 12). One thread per client.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "client_int.h"

/* ---- lifecycle -------------------------------------------------------------------------- */

/* The secure-channel keys: both or neither; one server key, or one per endpoint. */
static int keys_load(kyosai_client *c, const kyosai_options *o) {
    if (o->key_file == NULL && o->server_key_count == 0) return KYOSAI_OK; /* plaintext */
    if (o->key_file == NULL || o->server_keys == NULL ||
        (o->server_key_count != 1 && o->server_key_count != c->endpoint_count))
        return KYOSAI_E_INVALID_ARG;
    char err[256];
    uint8_t pk[KY_KEY_BYTES];
    if (ky_key_secret_load(o->key_file, c->static_sk, pk, err, sizeof err) != KY_OK)
        return KYOSAI_E_KEY_INVALID;
    for (uint32_t i = 0; i < c->endpoint_count; i++) {
        const char *k = o->server_keys[o->server_key_count == 1 ? 0 : i];
        if (k == NULL || ky_key_public_load(k, c->server_pk[i], err, sizeof err) != KY_OK)
            return KYOSAI_E_KEY_INVALID;
    }
    c->secure = true;
    return KYOSAI_OK;
}

static int options_load(kyosai_client *c, const kyosai_options *o) {
    kyosai_options d = {0};
    if (o == NULL) o = &d;
    c->connect_timeout_ms =
        o->connect_timeout_ms ? o->connect_timeout_ms : KY_CLIENT_CONNECT_TIMEOUT_MS_DEFAULT;
    c->request_timeout_ms =
        o->request_timeout_ms ? o->request_timeout_ms : KY_CLIENT_REQUEST_TIMEOUT_MS_DEFAULT;
    c->retry_count_max = o->retry_count_max ? o->retry_count_max : KY_CLIENT_RETRY_COUNT_DEFAULT;
    if (c->connect_timeout_ms > KYOSAI_TIMEOUT_MS_MAX ||
        c->request_timeout_ms > KYOSAI_TIMEOUT_MS_MAX ||
        c->retry_count_max > KYOSAI_RETRY_COUNT_MAX)
        return KYOSAI_E_INVALID_ARG;
    const char *name = o->client_name ? o->client_name : KY_CLIENT_NAME_DEFAULT;
    size_t len = strnlen(name, KYOSAI_CLIENT_NAME_BYTES_MAX + 1);
    if (len > KYOSAI_CLIENT_NAME_BYTES_MAX) return KYOSAI_E_INVALID_ARG;
    for (size_t i = 0; i < len; i++)
        if (name[i] < 0x20 || name[i] > 0x7E) return KYOSAI_E_INVALID_ARG;
    memcpy(c->client_name, name, len);
    c->client_name[len] = '\0';
    c->client_name_bytes = (uint8_t)len;
    return keys_load(c, o);
}

void kyosai_close(kyosai_client *c) {
    if (c == NULL) return;
    ky_client_disconnect(c);
    sodium_memzero(c->static_sk, sizeof c->static_sk);
    free(c->sealed);
    free(c->cin);
    free(c->out);
    free(c->rbuf);
    free(c->in);
    free(c->results);
    free(c);
}

int kyosai_connect(kyosai_client **out, const char *const *endpoints, size_t endpoint_count,
                   const kyosai_options *opts) {
    KY_ASSERT(out != NULL && endpoints != NULL);
    *out = NULL;
    if (endpoint_count == 0 || endpoint_count > KYOSAI_ENDPOINTS_MAX) return KYOSAI_E_INVALID_ARG;
    kyosai_client *c = calloc(1, sizeof *c);
    if (c == NULL) return KYOSAI_E_NOMEM;
    c->fd = -1;
    c->next_request_id = 1;
    c->endpoint_count = (uint32_t)endpoint_count;
    int rc = KYOSAI_OK;
    for (size_t i = 0; rc == KYOSAI_OK && i < endpoint_count; i++)
        rc = endpoints[i] == NULL ? KYOSAI_E_INVALID_ARG
                                  : ky_client_endpoint_parse(endpoints[i], &c->endpoints[i]);
    if (rc == KYOSAI_OK) rc = options_load(c, opts);
    if (rc != KYOSAI_OK) goto fail_free;
    /* Allocated once, at the largest limit any node may announce: a reconnect to a node
     * with another limit needs no allocation, and pages are touched only as used. */
    c->out = malloc(KY_CLIENT_FRAME_BYTES);
    c->rbuf = malloc(KY_CLIENT_FRAME_BYTES);
    c->in = malloc(KY_CLIENT_IN_BYTES);
    c->results = calloc(KY_WIRE_BATCH_COUNT_MAX, sizeof *c->results);
    if (c->secure) {
        c->sealed = malloc(KY_CLIENT_SEALED_BYTES);
        c->cin = malloc(KY_CLIENT_CIN_BYTES);
        KY_ASSERT(ky_chan_sealed_bytes(KY_CLIENT_FRAME_BYTES) <= KY_CLIENT_SEALED_BYTES);
    }
    if (c->out == NULL || c->rbuf == NULL || c->in == NULL || c->results == NULL ||
        (c->secure && (c->sealed == NULL || c->cin == NULL))) {
        rc = KYOSAI_E_NOMEM;
        goto fail_free;
    }
    rc = ky_client_connect_any(c, 0);
    if (rc != KYOSAI_OK) goto fail_free;
    *out = c;
    return KYOSAI_OK;
fail_free:
    kyosai_close(c);
    return rc;
}

int kyosai_reconnect(kyosai_client *c) {
    KY_ASSERT(c != NULL);
    return ky_client_connect_any(c, (c->endpoint_index + 1) % c->endpoint_count);
}

const char *kyosai_last_error(const kyosai_client *c) {
    KY_ASSERT(c != NULL);
    return c->last_error;
}

const char *kyosai_endpoint(const kyosai_client *c) {
    KY_ASSERT(c != NULL && c->endpoint_index < c->endpoint_count);
    return c->endpoints[c->endpoint_index].text;
}

/* ---- the synchronous request loop ------------------------------------------------------- */

static void backoff(uint32_t attempt) {
    KY_ASSERT(attempt >= 1);
    uint64_t ms = KY_CLIENT_BACKOFF_MS_FIRST;
    for (uint32_t i = 1; i < attempt && ms < KY_CLIENT_BACKOFF_MS_MAX; i++) ms *= 2;
    if (ms > KY_CLIENT_BACKOFF_MS_MAX) ms = KY_CLIENT_BACKOFF_MS_MAX;
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* What to do with a node's ERROR answer: retry on another endpoint, here, or not at all. */
static bool error_retry(kyosai_client *c, int code) {
    switch (code) {
    case KYOSAI_E_NOT_PRIMARY:
    case KYOSAI_E_UNAVAILABLE: ky_client_disconnect(c); return true;
    case KYOSAI_E_REPLICA_UNAVAILABLE:
    case KYOSAI_E_RETRY_LATER:
    case KYOSAI_E_QUEUE_FULL:
    case KYOSAI_E_TIMEOUT: return c->fd >= 0;
    default: return false;
    }
}

/* One attempt of ky_client_call; *retry says whether another attempt may help. */
static int call_once(kyosai_client *c, uint8_t type, ky_client_encode_fn encode,
                     ky_client_decode_fn decode, void *ctx, bool *retry) {
    *retry = false;
    int rc = ky_client_ensure_connected(c);
    if (rc != KYOSAI_OK) {
        *retry = true;
        return rc;
    }
    size_t len = 0;
    rc = encode(c, ctx, c->out + KY_WIRE_HEADER_BYTES, c->body_bytes_max, &len);
    if (rc != KYOSAI_OK) return rc; /* refused before sending */
    uint64_t deadline = ky_client_now_ms() + c->request_timeout_ms, rid = 0;
    ky_client_resp r;
    rc = ky_client_send(c, type, len, deadline, &rid);
    if (rc == KYOSAI_OK) rc = ky_client_recv(c, deadline, &r);
    if (rc != KYOSAI_OK) {
        *retry = rc != KYOSAI_E_PROTOCOL; /* transport: the client is disconnected */
        return rc;
    }
    if (r.hdr->type == KY_MSG_ERROR && (r.hdr->request_id == rid || r.hdr->request_id == 0)) {
        rc = ky_client_error_code(c, &r);
        *retry = error_retry(c, rc);
        return rc;
    }
    if (r.hdr->request_id != rid || r.hdr->type != type) {
        ky_client_disconnect(c); /* one request in flight: anything else is a violation */
        return KYOSAI_E_PROTOCOL;
    }
    rc = decode(c, ctx, r.body, r.hdr->body_bytes);
    if (rc == KYOSAI_E_PROTOCOL) ky_client_disconnect(c);
    return rc;
}

int ky_client_call(kyosai_client *c, uint8_t type, ky_client_encode_fn encode,
                   ky_client_decode_fn decode, void *ctx) {
    KY_ASSERT(c != NULL && encode != NULL && decode != NULL);
    if (c->pending_count != 0) return KYOSAI_E_INVALID_ARG; /* responses would interleave */
    int rc = KYOSAI_E_UNAVAILABLE;
    for (uint32_t attempt = 0; attempt <= c->retry_count_max; attempt++) {
        if (attempt > 0) backoff(attempt);
        bool retry = false;
        rc = call_once(c, type, encode, decode, ctx, &retry);
        if (!retry) return rc;
    }
    KY_ASSERT(rc < 0);
    return rc;
}

/* ---- appends ---------------------------------------------------------------------------- */

typedef struct append_ctx {
    const kyosai_event *events; /* caller's, keys already filled */
    uint32_t count;             /* events in the batch */
    kyosai_result *results;     /* caller's, count of them */
} append_ctx;

/* Checks what does not depend on the node, then fills zero keys (written back). */
static int events_prepare(kyosai_event *events, uint32_t count) {
    if (count == 0) return KYOSAI_E_BATCH_EMPTY;
    if (count > KYOSAI_BATCH_COUNT_MAX) return KYOSAI_E_BATCH_TOO_LARGE;
    for (uint32_t i = 0; i < count; i++) {
        if (events[i].payload_bytes > KYOSAI_PAYLOAD_BYTES_MAX) return KYOSAI_E_PAYLOAD_TOO_LARGE;
        if (events[i].payload == NULL && events[i].payload_bytes != 0) return KYOSAI_E_INVALID_ARG;
    }
    static const uint8_t zero[KYOSAI_IDEM_KEY_BYTES];
    for (uint32_t i = 0; i < count; i++)
        if (memcmp(events[i].idem_key, zero, sizeof zero) == 0)
            kyosai_idem_key_generate(events[i].idem_key);
    return KYOSAI_OK;
}

static int append_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    const append_ctx *a = ctx;
    if (a->count > c->batch_count_max) return KYOSAI_E_BATCH_TOO_LARGE;
    ky_msg_append_writer w;
    if (ky_msg_append_begin(&w, out, cap, c->batch_count_max) != KY_OK)
        return KYOSAI_E_FRAME_TOO_LARGE;
    for (uint32_t i = 0; i < a->count; i++) {
        const kyosai_event *e = &a->events[i];
        ky_wire_event we = {.kind = e->kind,
                            .scheme = e->scheme,
                            .flags = e->flags,
                            .subtype = e->subtype,
                            .months = e->months,
                            .period_yyyymm = e->period_yyyymm,
                            .contract_id = e->contract_id,
                            .ref_seq = e->ref_seq,
                            .amount_jpy = e->amount_jpy,
                            .payload_bytes = e->payload_bytes,
                            .payload = e->payload_bytes ? e->payload : NULL};
        memcpy(we.idem_key, e->idem_key, KY_WIRE_IDEM_KEY_BYTES);
        int rc = ky_msg_append_add(&w, &we);
        if (rc == KY_E_BUFFER_TOO_SMALL) return KYOSAI_E_FRAME_TOO_LARGE;
        if (rc != KY_OK) return ky_client_code(rc);
    }
    int rc = ky_msg_append_finish(&w, len);
    KY_ASSERT(rc == KY_OK); /* count >= 1 */
    return KYOSAI_OK;
}

/* Decodes an APPEND response for a batch of count events into results. */
static int append_results(kyosai_client *c, const uint8_t *body, size_t len, uint32_t count,
                          kyosai_result *results) {
    KY_ASSERT(count >= 1 && count <= KY_WIRE_BATCH_COUNT_MAX);
    uint32_t n = 0;
    if (ky_msg_append_resp_decode(body, len, c->results, count, &n) != KY_OK || n != count)
        return KYOSAI_E_PROTOCOL;
    for (uint32_t i = 0; i < n; i++) {
        results[i].code = ky_client_code_from_status(c->results[i].status);
        results[i].flags =
            (c->results[i].flags & KY_WIRE_RESULT_DUPLICATE) ? KYOSAI_RESULT_DUPLICATE : 0;
        results[i].seq = results[i].code == KYOSAI_OK ? c->results[i].seq : 0;
    }
    return KYOSAI_OK;
}

static int append_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    const append_ctx *a = ctx;
    return append_results(c, body, len, a->count, a->results);
}

int kyosai_append(kyosai_client *c, kyosai_event *events, uint32_t count, kyosai_result *results) {
    KY_ASSERT(c != NULL && events != NULL && results != NULL);
    int rc = events_prepare(events, count);
    if (rc != KYOSAI_OK) return rc;
    append_ctx a = {events, count, results};
    return ky_client_call(c, KY_MSG_APPEND, append_encode, append_decode, &a);
}

int kyosai_append_send(kyosai_client *c, kyosai_event *events, uint32_t count,
                       uint64_t *request_id_out) {
    KY_ASSERT(c != NULL && events != NULL && request_id_out != NULL);
    *request_id_out = 0;
    int rc = events_prepare(events, count);
    if (rc != KYOSAI_OK) return rc;
    if (c->pending_count >= KYOSAI_INFLIGHT_REQUESTS_MAX) return KYOSAI_E_QUEUE_FULL;
    rc = ky_client_ensure_connected(c);
    if (rc != KYOSAI_OK) return rc;
    append_ctx a = {events, count, NULL};
    size_t len = 0;
    rc = append_encode(c, &a, c->out + KY_WIRE_HEADER_BYTES, c->body_bytes_max, &len);
    if (rc != KYOSAI_OK) return rc;
    uint64_t rid = 0;
    rc = ky_client_send(c, KY_MSG_APPEND, len, ky_client_now_ms() + c->request_timeout_ms, &rid);
    if (rc != KYOSAI_OK) return rc;
    c->pending[c->pending_count++] = (ky_client_pending){rid, count};
    *request_id_out = rid;
    return KYOSAI_OK;
}

int kyosai_append_recv(kyosai_client *c, uint64_t *request_id_out, kyosai_result *results,
                       uint32_t results_cap, uint32_t *count_out) {
    KY_ASSERT(c != NULL && request_id_out != NULL && results != NULL && count_out != NULL);
    *request_id_out = 0;
    *count_out = 0;
    if (c->pending_count == 0) return KYOSAI_E_INVALID_ARG;
    for (uint32_t i = 0; i < c->pending_count; i++)
        if (c->pending[i].count > results_cap) return KYOSAI_E_INVALID_ARG;
    ky_client_resp r;
    int rc = ky_client_recv(c, ky_client_now_ms() + c->request_timeout_ms, &r);
    if (rc != KYOSAI_OK) return rc; /* disconnected: every batch in flight is forgotten */
    uint32_t i = 0;
    while (i < c->pending_count && c->pending[i].request_id != r.hdr->request_id) i++;
    if (i == c->pending_count || (r.hdr->type != KY_MSG_APPEND && r.hdr->type != KY_MSG_ERROR)) {
        ky_client_disconnect(c);
        return KYOSAI_E_PROTOCOL;
    }
    ky_client_pending p = c->pending[i];
    c->pending[i] = c->pending[--c->pending_count];
    *request_id_out = p.request_id;
    if (r.hdr->type == KY_MSG_ERROR) return ky_client_error_code(c, &r);
    rc = append_results(c, r.body, r.hdr->body_bytes, p.count, results);
    if (rc != KYOSAI_OK) {
        ky_client_disconnect(c);
        *request_id_out = 0;
        return rc;
    }
    *count_out = p.count;
    return KYOSAI_OK;
}
