/*
 * frame.c — frame header codec, checksums and the incremental frame reader.
 *
 * Why this shape: the header is encoded field by field through ky_bytes.h (never a raw
 * struct), so the layout is the same on every host, and the reader copies stream bytes
 * into one caller buffer sized for the largest allowed frame, so a connection's memory is
 * fixed at accept time (STYLE rule 19). See frame.h for the layout, rules and states.
 */
#include "frame.h"

#include <string.h>
#include <xxhash.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"

/* Header field offsets; the static asserts pin the layout documented in frame.h. */
enum {
    OFF_MAGIC = 0,
    OFF_VERSION = 4,
    OFF_TYPE = 5,
    OFF_FLAGS = 6,
    OFF_REQUEST_ID = 8,
    OFF_BODY_BYTES = 16,
    OFF_RESERVED = 20,
    OFF_BODY_XXH3 = 24,
    OFF_END = 32,
};
_Static_assert(OFF_END == KY_WIRE_HEADER_BYTES, "header is 32 bytes");
_Static_assert(OFF_BODY_XXH3 + 8 == OFF_END, "checksum is the last header field");
_Static_assert(OFF_RESERVED + 4 == OFF_BODY_XXH3, "reserved precedes the checksum");
_Static_assert(OFF_REQUEST_ID % 8 == 0 && OFF_BODY_XXH3 % 8 == 0, "u64 fields are aligned");

enum { ST_HEADER = 0, ST_BODY = 1, ST_READY = 2, ST_FAILED = 3 };

static uint64_t body_hash(const uint8_t *body, size_t body_bytes) {
    static const uint8_t empty[1] = {0};
    return XXH3_64bits(body_bytes ? (const void *)body : (const void *)empty, body_bytes);
}

void ky_frame_header_encode(const ky_frame_header *h, uint8_t out[KY_WIRE_HEADER_BYTES]) {
    KY_ASSERT(h != NULL && out != NULL);
    KY_ASSERT((h->flags & ~KY_FRAME_FLAGS_KNOWN) == 0);
    KY_ASSERT(h->body_bytes <= KY_WIRE_FRAME_BODY_BYTES_MAX);
    ky_put_u32le(out + OFF_MAGIC, KY_WIRE_MAGIC);
    out[OFF_VERSION] = h->version;
    out[OFF_TYPE] = h->type;
    ky_put_u16le(out + OFF_FLAGS, h->flags);
    ky_put_u64le(out + OFF_REQUEST_ID, h->request_id);
    ky_put_u32le(out + OFF_BODY_BYTES, h->body_bytes);
    ky_put_u32le(out + OFF_RESERVED, 0);
    ky_put_u64le(out + OFF_BODY_XXH3, h->body_xxh3);
}

int ky_frame_header_decode(const uint8_t in[KY_WIRE_HEADER_BYTES], uint32_t body_bytes_max,
                           ky_frame_header *out) {
    KY_ASSERT(in != NULL && out != NULL);
    KY_ASSERT(body_bytes_max <= KY_WIRE_FRAME_BODY_BYTES_MAX);
    if (ky_get_u32le(in + OFF_MAGIC) != KY_WIRE_MAGIC) return KY_E_FRAME_MAGIC;
    if (in[OFF_VERSION] != KY_WIRE_VERSION) return KY_E_FRAME_VERSION;
    uint16_t flags = ky_get_u16le(in + OFF_FLAGS);
    if ((flags & ~KY_FRAME_FLAGS_KNOWN) != 0) return KY_E_FRAME_FLAGS;
    if (ky_get_u32le(in + OFF_RESERVED) != 0) return KY_E_FRAME_RESERVED;
    out->version = in[OFF_VERSION];
    out->type = in[OFF_TYPE];
    out->flags = flags;
    out->request_id = ky_get_u64le(in + OFF_REQUEST_ID);
    out->body_bytes = ky_get_u32le(in + OFF_BODY_BYTES);
    out->body_xxh3 = ky_get_u64le(in + OFF_BODY_XXH3);
    if (out->body_bytes > body_bytes_max) return KY_E_FRAME_TOO_LARGE;
    return KY_OK;
}

int ky_frame_body_check(const ky_frame_header *hdr, const uint8_t *body) {
    KY_ASSERT(hdr != NULL);
    KY_ASSERT(body != NULL || hdr->body_bytes == 0);
    return body_hash(body, hdr->body_bytes) == hdr->body_xxh3 ? KY_OK : KY_E_FRAME_CHECKSUM;
}

int ky_frame_seal(uint8_t type, uint16_t flags, uint64_t request_id, uint32_t body_bytes,
                  uint8_t *frame, size_t frame_cap, size_t *frame_bytes) {
    KY_ASSERT(frame != NULL && frame_bytes != NULL);
    if (body_bytes > KY_WIRE_FRAME_BODY_BYTES_MAX) return KY_E_FRAME_TOO_LARGE;
    if ((flags & ~KY_FRAME_FLAGS_KNOWN) != 0) return KY_E_FRAME_FLAGS;
    if (frame_cap < KY_WIRE_HEADER_BYTES || frame_cap - KY_WIRE_HEADER_BYTES < body_bytes)
        return KY_E_BUFFER_TOO_SMALL;
    ky_frame_header h = {
        .version = KY_WIRE_VERSION,
        .type = type,
        .flags = flags,
        .request_id = request_id,
        .body_bytes = body_bytes,
        .body_xxh3 = body_hash(frame + KY_WIRE_HEADER_BYTES, body_bytes),
    };
    ky_frame_header_encode(&h, frame);
    *frame_bytes = (size_t)KY_WIRE_HEADER_BYTES + body_bytes;
    return KY_OK;
}

int ky_frame_encode(uint8_t type, uint16_t flags, uint64_t request_id, const uint8_t *body,
                    size_t body_bytes, uint8_t *out, size_t cap, size_t *frame_bytes) {
    KY_ASSERT(out != NULL && frame_bytes != NULL);
    KY_ASSERT(body != NULL || body_bytes == 0);
    if (body_bytes > KY_WIRE_FRAME_BODY_BYTES_MAX) return KY_E_FRAME_TOO_LARGE;
    if ((flags & ~KY_FRAME_FLAGS_KNOWN) != 0) return KY_E_FRAME_FLAGS;
    if (cap < KY_WIRE_HEADER_BYTES || cap - KY_WIRE_HEADER_BYTES < body_bytes)
        return KY_E_BUFFER_TOO_SMALL;
    if (body_bytes > 0 && body != out + KY_WIRE_HEADER_BYTES)
        memmove(out + KY_WIRE_HEADER_BYTES, body, body_bytes);
    return ky_frame_seal(type, flags, request_id, (uint32_t)body_bytes, out, cap, frame_bytes);
}

int ky_frame_decode(const uint8_t *buf, size_t len, uint32_t body_bytes_max, ky_frame_header *hdr,
                    const uint8_t **body, size_t *frame_bytes) {
    KY_ASSERT(buf != NULL || len == 0);
    KY_ASSERT(hdr != NULL && body != NULL && frame_bytes != NULL);
    if (len < KY_WIRE_HEADER_BYTES) {
        /* Report a bad magic as soon as it is visible, as the reader does. */
        if (len >= 4 && ky_get_u32le(buf) != KY_WIRE_MAGIC) return KY_E_FRAME_MAGIC;
        return KY_E_FRAME_TRUNCATED;
    }
    int rc = ky_frame_header_decode(buf, body_bytes_max, hdr);
    if (rc != KY_OK) return rc;
    if (len - KY_WIRE_HEADER_BYTES < hdr->body_bytes) return KY_E_FRAME_TRUNCATED;
    const uint8_t *b = hdr->body_bytes ? buf + KY_WIRE_HEADER_BYTES : NULL;
    rc = ky_frame_body_check(hdr, b);
    if (rc != KY_OK) return rc;
    *body = b;
    *frame_bytes = (size_t)KY_WIRE_HEADER_BYTES + hdr->body_bytes;
    return KY_OK;
}

/* ---- incremental reader ------------------------------------------------------------- */

void ky_frame_reader_init(ky_frame_reader *r, uint8_t *buf, size_t buf_cap,
                          uint32_t body_bytes_max) {
    KY_ASSERT(r != NULL && buf != NULL);
    KY_ASSERT(body_bytes_max <= KY_WIRE_FRAME_BODY_BYTES_MAX);
    KY_ASSERT(buf_cap >= (size_t)KY_WIRE_HEADER_BYTES + body_bytes_max);
    memset(r, 0, sizeof *r);
    r->buf = buf;
    r->buf_cap = buf_cap;
    r->body_bytes_max = body_bytes_max;
    ky_frame_reader_reset(r);
}

void ky_frame_reader_reset(ky_frame_reader *r) {
    KY_ASSERT(r != NULL && r->buf != NULL);
    r->have = 0;
    r->hdr_valid = false;
    r->state = ST_HEADER;
    r->error = KY_OK;
}

static int reader_fail(ky_frame_reader *r, int err) {
    KY_ASSERT(err < 0);
    r->state = ST_FAILED;
    r->error = err;
    return err;
}

/* Copies up to `want` more bytes of the current frame from the stream into r->buf. */
static size_t reader_take(ky_frame_reader *r, const uint8_t *bytes, size_t n, size_t want) {
    size_t k = n < want ? n : want;
    KY_ASSERT(r->have + k <= r->buf_cap);
    if (k > 0) memcpy(r->buf + r->have, bytes, k);
    r->have += k;
    return k;
}

/* HEADER state: gathers the 32 header bytes and decodes them. Returns KY_OK when the state
 * advanced (to BODY or READY), KY_STEP_NEED_MORE, or an error (reader FAILED). */
static int reader_header(ky_frame_reader *r, const uint8_t *bytes, size_t n, size_t *used) {
    KY_ASSERT(r->have < KY_WIRE_HEADER_BYTES);
    *used += reader_take(r, bytes, n, KY_WIRE_HEADER_BYTES - r->have);
    if (r->have >= 4 && ky_get_u32le(r->buf) != KY_WIRE_MAGIC)
        return reader_fail(r, KY_E_FRAME_MAGIC);
    if (r->have < KY_WIRE_HEADER_BYTES) return KY_STEP_NEED_MORE;
    int rc = ky_frame_header_decode(r->buf, r->body_bytes_max, &r->hdr);
    if (rc == KY_E_FRAME_TOO_LARGE) r->hdr_valid = true; /* so its request_id can be echoed */
    if (rc != KY_OK) return reader_fail(r, rc);
    r->hdr_valid = true;
    r->state = ST_BODY;
    return KY_OK;
}

/* BODY state: gathers body_bytes and checks the checksum. Returns KY_STEP_FRAME,
 * KY_STEP_NEED_MORE or KY_E_FRAME_CHECKSUM (reader FAILED). */
static int reader_body(ky_frame_reader *r, const uint8_t *bytes, size_t n, size_t *used) {
    size_t total = (size_t)KY_WIRE_HEADER_BYTES + r->hdr.body_bytes;
    KY_ASSERT(r->hdr_valid && r->have >= KY_WIRE_HEADER_BYTES && r->have <= total);
    KY_ASSERT(total <= r->buf_cap);
    *used += reader_take(r, bytes, n, total - r->have);
    if (r->have < total) return KY_STEP_NEED_MORE;
    if (ky_frame_body_check(&r->hdr, r->buf + KY_WIRE_HEADER_BYTES) != KY_OK)
        return reader_fail(r, KY_E_FRAME_CHECKSUM);
    r->state = ST_READY;
    return KY_STEP_FRAME;
}

int ky_frame_reader_feed(ky_frame_reader *r, const uint8_t *bytes, size_t n, size_t *consumed) {
    KY_ASSERT(r != NULL && consumed != NULL);
    KY_ASSERT(bytes != NULL || n == 0);
    *consumed = 0;
    if (r->state == ST_FAILED) return r->error;
    if (r->state == ST_READY) ky_frame_reader_reset(r); /* release the delivered frame */
    size_t used = 0;
    int rc = KY_OK;
    if (r->state == ST_HEADER) rc = reader_header(r, bytes, n, &used);
    /* An empty body completes here too, without waiting for more bytes. */
    if (rc == KY_OK && r->state == ST_BODY) {
        const uint8_t *rest = n > 0 ? bytes + used : NULL; /* no arithmetic on NULL */
        rc = reader_body(r, rest, n - used, &used);
    }
    KY_ASSERT(rc != KY_OK);
    KY_ASSERT(used <= n);
    KY_ASSERT(rc != KY_STEP_NEED_MORE || used == n);
    *consumed = used;
    return rc;
}

const ky_frame_header *ky_frame_reader_header(const ky_frame_reader *r) {
    KY_ASSERT(r != NULL);
    if (r->state == ST_READY) return &r->hdr;
    if (r->state == ST_FAILED && r->hdr_valid) return &r->hdr;
    return NULL;
}

const uint8_t *ky_frame_reader_body(const ky_frame_reader *r) {
    KY_ASSERT(r != NULL);
    if (r->state != ST_READY) return NULL;
    KY_ASSERT(r->have == (size_t)KY_WIRE_HEADER_BYTES + r->hdr.body_bytes);
    return r->buf + KY_WIRE_HEADER_BYTES;
}

int ky_frame_reader_at_eof(const ky_frame_reader *r) {
    KY_ASSERT(r != NULL);
    if (r->state == ST_FAILED) return r->error;
    if (r->state == ST_READY) return KY_OK;
    return r->have == 0 ? KY_OK : KY_E_FRAME_TRUNCATED;
}
