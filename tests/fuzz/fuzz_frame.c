/*
 * fuzz_frame.c — libFuzzer harness for the incremental frame reader in proto/frame.h.
 *
 * Why: the frame reader is the first code that touches bytes from any TCP peer, and it is
 * a resumable state machine, whose bugs hide at chunk boundaries no hand-written test
 * splits on. So the stream arrives in pseudo-random chunks (sizes 0 to the whole rest,
 * from a seed in the input) and the reader's output is compared with ky_frame_decode run
 * over the same bytes in one piece: the two must deliver the same frames with the same
 * headers and bodies, and end with the same error (or the same clean end). Each whole
 * frame's header must re-encode to its own 32 bytes, and its body goes on to the message
 * decoder its type and direction select (msg_check.h), as a node or client would do.
 *
 * Input: byte 0 flags (bit 0: patch each frame's checksum so bodies get through; bits 1-2:
 * the receiver's body limit), bytes 1..4 the chunk seed, the rest is the stream.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "../../common/ky_bytes.h"
#include "../../common/ky_err.h"
#include "../../proto/frame.h"
#include "msg_check.h"

#define PREFIX_BYTES   5u     /* flags, u32 chunk seed */
#define BODY_LIMIT_MAX 65536u /* largest receiver limit the harness picks, bytes */
#define FLAG_FIX_SUMS  0x01u  /* patch body_xxh3 of every frame in the stream */
#define FLAG_LIMIT(f)  (((f) >> 1) & 3u)

static const uint32_t body_limits[4] = {0, 64, 4096, BODY_LIMIT_MAX};
static uint8_t reader_buf[KY_WIRE_HEADER_BYTES + BODY_LIMIT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int a, int b) {
    fprintf(stderr, "fuzz_frame: %s (reader %d %s, decode %d %s)\n", what, a, ky_strerror(a), b,
            ky_strerror(b));
    abort();
}

/* Makes the stream's frames pass the checksum, so mutations reach the bodies. */
static void fix_checksums(uint8_t *s, size_t len) {
    size_t off = 0;
    while (len - off >= KY_WIRE_HEADER_BYTES) {
        uint32_t body_bytes = ky_get_u32le(s + off + 16);
        size_t have = len - off - KY_WIRE_HEADER_BYTES;
        size_t n = body_bytes < have ? body_bytes : have;
        static const uint8_t empty[1] = {0};
        const void *body = n ? (const void *)(s + off + KY_WIRE_HEADER_BYTES) : (const void *)empty;
        ky_put_u64le(s + off + 24, XXH3_64bits(body, n));
        if (body_bytes > have) break;
        off += KY_WIRE_HEADER_BYTES + (size_t)body_bytes;
    }
}

/* Field by field: the struct has padding, which memcmp would compare too. */
static bool header_equal(const ky_frame_header *a, const ky_frame_header *b) {
    return a->version == b->version && a->type == b->type && a->flags == b->flags &&
           a->request_id == b->request_id && a->body_bytes == b->body_bytes &&
           a->body_xxh3 == b->body_xxh3;
}

static uint32_t rng_next(uint32_t *x) { /* xorshift32; a zero state yields 1-byte chunks */
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    return *x;
}

static size_t chunk_bytes(uint32_t *rng, size_t left) {
    uint32_t r = rng_next(rng);
    size_t n;
    switch (r & 3u) {
    case 0: n = 1 + (r >> 2) % 8; break;
    case 1: n = (r >> 2) % 65; break;
    case 2: n = (r >> 2) % 4097; break;
    default: n = left; break;
    }
    return n < left ? n : left;
}

/* A delivered frame must be the reference decoder's next frame, byte for byte. */
static void check_frame(const ky_frame_reader *r, const uint8_t *s, size_t len, size_t *ref_off) {
    ky_frame_header ref;
    const uint8_t *ref_body = NULL;
    size_t ref_bytes = 0;
    int rc = ky_frame_decode(s + *ref_off, len - *ref_off, r->body_bytes_max, &ref, &ref_body,
                             &ref_bytes);
    if (rc != KY_OK) fail("reader delivered a frame the decoder refuses", KY_STEP_FRAME, rc);
    const ky_frame_header *h = ky_frame_reader_header(r);
    const uint8_t *body = ky_frame_reader_body(r);
    if (h == NULL || body == NULL) fail("delivered frame without header or body", 0, rc);
    if (!header_equal(h, &ref) || ref_bytes != KY_WIRE_HEADER_BYTES + h->body_bytes)
        fail("header differs from the one-piece decode", 0, rc);
    if (h->body_bytes > 0 && memcmp(body, ref_body, h->body_bytes) != 0)
        fail("body differs from the one-piece decode", 0, rc);
    uint8_t again[KY_WIRE_HEADER_BYTES];
    ky_frame_header_encode(h, again);
    if (memcmp(again, s + *ref_off, KY_WIRE_HEADER_BYTES) != 0)
        fail("header does not re-encode to its bytes", 0, rc);
    *ref_off += ref_bytes;

    unsigned which = fuzz_msg_decoder_for(h);
    if (which == FUZZ_MSG_DECODER_COUNT) return;
    uint8_t *copy = h->body_bytes ? malloc(h->body_bytes) : NULL; /* exact size, for ASan */
    if (h->body_bytes > 0 && copy == NULL) abort();
    if (copy != NULL) memcpy(copy, body, h->body_bytes);
    (void)fuzz_msg_check(which, copy, h->body_bytes);
    free(copy);
}

/* The reader's final state (error, or end of stream) must match the one-piece decode. */
static void check_end(const ky_frame_reader *r, int reader_rc, const uint8_t *s, size_t len,
                      size_t ref_off) {
    ky_frame_header ref;
    const uint8_t *ref_body = NULL;
    size_t ref_bytes = 0;
    int rc = KY_OK;
    if (ref_off < len)
        rc = ky_frame_decode(s + ref_off, len - ref_off, r->body_bytes_max, &ref, &ref_body,
                             &ref_bytes);
    if (rc != reader_rc) fail("final result differs", reader_rc, rc);
    if (rc == KY_E_FRAME_TOO_LARGE || rc == KY_E_FRAME_CHECKSUM) {
        const ky_frame_header *h = ky_frame_reader_header(r);
        if (h == NULL || !header_equal(h, &ref))
            fail("refused frame's header differs", reader_rc, rc);
    }
}

static void run_stream(const uint8_t *s, size_t len, uint32_t limit, uint32_t seed) {
    ky_frame_reader r;
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, limit);
    size_t pos = 0, ref_off = 0;
    int rc = KY_OK;
    while (pos < len && rc >= 0) {
        size_t n = chunk_bytes(&seed, len - pos);
        do {
            size_t used = 0;
            rc = ky_frame_reader_feed(&r, n ? s + pos : NULL, n, &used);
            if (used > n) fail("consumed more than offered", rc, 0);
            pos += used;
            n -= used;
            if (rc == KY_STEP_FRAME) check_frame(&r, s, len, &ref_off);
        } while (rc == KY_STEP_FRAME && n > 0);
    }
    if (rc >= 0) rc = ky_frame_reader_at_eof(&r);
    check_end(&r, rc, s, len, ref_off);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < PREFIX_BYTES) return 0;
    uint8_t flags = data[0];
    uint32_t seed = ky_get_u32le(data + 1);
    size_t len = size - PREFIX_BYTES;
    uint8_t *s = malloc(len ? len : 1); /* exact size: ASan guards the stream's end */
    if (s == NULL) abort();
    memcpy(s, data + PREFIX_BYTES, len);
    if (flags & FLAG_FIX_SUMS) fix_checksums(s, len);
    run_stream(s, len, body_limits[FLAG_LIMIT(flags)], seed);
    free(s);
    return 0;
}
