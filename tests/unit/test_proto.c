/*
 * test_proto.c — the wire layer: frames, the frame reader, message codecs, status codes.
 *
 * Goal: every frame and message the encoders write decodes back to the same values; every
 * malformed input a hostile peer can send is refused with its specific code and never
 * read past its end; the stream reader delivers the same frames however the bytes are
 * split; every wire limit holds at its maximum and refuses maximum + 1; the status
 * mapping is a bijection and docs/PROTOCOL.md shows the same status table as the code.
 * Method: round trips of every message; for every decoder, every truncation of a valid
 * body (each copied into an exact-size heap buffer so ASan catches any over-read), one
 * trailing byte, counts that lie in both directions and oversized length fields; single
 * field mutations for each value rule; the reader fed byte by byte, in seeded random
 * chunks and with pipelined frames in one buffer; limits at max and max + 1. Run with
 * `--status-table` to print the Markdown status table that docs/PROTOCOL.md embeds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/ky_bytes.h"
#include "../../common/ky_err.h"
#include "../../common/ky_limits.h"
#include "../../proto/frame.h"
#include "../../proto/msg.h"
#include "../../proto/status.h"

#define FRAME_MAX ((size_t)KY_WIRE_HEADER_BYTES + KY_WIRE_FRAME_BODY_BYTES_MAX)
#define BODY_MAX  ((size_t)KY_WIRE_FRAME_BODY_BYTES_MAX)

static uint8_t frame_buf[FRAME_MAX + 64]; /* one frame, room for max + 1 */
static uint8_t reader_buf[FRAME_MAX];     /* the reader's buffer */
static uint8_t stream_buf[1 << 20];       /* several pipelined frames */
static uint8_t body_buf[BODY_MAX + 64];   /* message bodies */
static ky_wire_event events[KY_WIRE_BATCH_COUNT_MAX + 1];
static ky_wire_append_result results[KY_WIRE_BATCH_COUNT_MAX + 1];
static ky_wire_blob blobs[KY_WIRE_READ_COUNT_MAX + 1];
static uint8_t payload[KY_WIRE_PAYLOAD_BYTES_MAX + 1];
static uint8_t entry[KY_WIRE_ENTRY_BYTES_MAX + 1];

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rng(void) { /* xorshift64*: deterministic, seeded above */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static void fill(uint8_t *p, size_t n, uint8_t seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed + i * 31u);
}

static void *dup_exact(const uint8_t *p, size_t n) { /* exact-size copy: ASan guards the end */
    uint8_t *d = malloc(n ? n : 1);
    assert_non_null(d);
    if (n) memcpy(d, p, n);
    return d;
}

/* ====================================================================================== */
/* frames                                                                                  */
/* ====================================================================================== */

static ky_frame_header sample_header(void) {
    return (ky_frame_header){.version = KY_WIRE_VERSION,
                             .type = KY_MSG_RANGE,
                             .flags = KY_FRAME_FLAG_RESPONSE,
                             .request_id = 0x1122334455667788ull,
                             .body_bytes = 0x00030201u,
                             .body_xxh3 = 0xA1A2A3A4A5A6A7A8ull};
}

static void test_header_layout(void **state) {
    (void)state;
    ky_frame_header h = sample_header(), d;
    uint8_t b[KY_WIRE_HEADER_BYTES];
    ky_frame_header_encode(&h, b);
    static const uint8_t want[KY_WIRE_HEADER_BYTES] = {
        0x31, 0x4C, 0x59, 0x4B, 1, 4, 0x01, 0x00, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
        0x01, 0x02, 0x03, 0x00, 0, 0, 0,    0,    0xA8, 0xA7, 0xA6, 0xA5, 0xA4, 0xA3, 0xA2, 0xA1};
    assert_memory_equal(b, want, sizeof want);
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MAX, &d), KY_OK);
    assert_int_equal(d.version, h.version);
    assert_int_equal(d.type, h.type);
    assert_int_equal(d.flags, h.flags);
    assert_int_equal(d.request_id, h.request_id);
    assert_int_equal(d.body_bytes, h.body_bytes);
    assert_int_equal(d.body_xxh3, h.body_xxh3);
}

static void test_header_refusals(void **state) {
    (void)state;
    ky_frame_header h = sample_header(), d;
    uint8_t good[KY_WIRE_HEADER_BYTES], b[KY_WIRE_HEADER_BYTES];
    h.body_bytes = 10;
    ky_frame_header_encode(&h, good);
    for (int i = 0; i < 4; i++) { /* any magic byte wrong */
        memcpy(b, good, sizeof b);
        b[i] ^= 0x20;
        assert_int_equal(ky_frame_header_decode(b, 100, &d), KY_E_FRAME_MAGIC);
    }
    uint8_t versions[] = {0, 2, 255};
    for (int i = 0; i < 3; i++) {
        memcpy(b, good, sizeof b);
        b[4] = versions[i];
        assert_int_equal(ky_frame_header_decode(b, 100, &d), KY_E_FRAME_VERSION);
    }
    for (int bit = 1; bit < 16; bit++) { /* every unknown flag bit */
        memcpy(b, good, sizeof b);
        ky_put_u16le(b + 6, (uint16_t)(1u << bit));
        assert_int_equal(ky_frame_header_decode(b, 100, &d), KY_E_FRAME_FLAGS);
    }
    for (int i = 20; i < 24; i++) { /* any reserved byte non-zero */
        memcpy(b, good, sizeof b);
        b[i] = 1;
        assert_int_equal(ky_frame_header_decode(b, 100, &d), KY_E_FRAME_RESERVED);
    }
}

static void test_header_body_limit(void **state) {
    (void)state;
    ky_frame_header h = sample_header(), d;
    uint8_t b[KY_WIRE_HEADER_BYTES];
    h.body_bytes = KY_WIRE_FRAME_BODY_BYTES_MAX; /* max */
    ky_frame_header_encode(&h, b);
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MAX, &d), KY_OK);
    ky_put_u32le(b + 16, KY_WIRE_FRAME_BODY_BYTES_MAX + 1u); /* max + 1 */
    memset(&d, 0, sizeof d);
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MAX, &d),
                     KY_E_FRAME_TOO_LARGE);
    assert_int_equal(d.request_id, h.request_id); /* filled so it can be echoed */
    ky_put_u32le(b + 16, 0xFFFFFFFFu);
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MAX, &d),
                     KY_E_FRAME_TOO_LARGE);
    ky_put_u32le(b + 16, KY_WIRE_FRAME_BODY_BYTES_MIN); /* a node configured lower */
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MIN, &d), KY_OK);
    ky_put_u32le(b + 16, KY_WIRE_FRAME_BODY_BYTES_MIN + 1u);
    assert_int_equal(ky_frame_header_decode(b, KY_WIRE_FRAME_BODY_BYTES_MIN, &d),
                     KY_E_FRAME_TOO_LARGE);
}

static void test_unknown_type_passes_header(void **state) {
    (void)state;
    uint8_t unknown[] = {0, 17, 18, 100, 254};
    for (int i = 0; i < 5; i++) {
        size_t n;
        const uint8_t *body;
        ky_frame_header d;
        assert_int_equal(ky_frame_encode(unknown[i], 0, 7, NULL, 0, frame_buf, 64, &n), KY_OK);
        assert_int_equal(ky_frame_decode(frame_buf, n, 100, &d, &body, &n), KY_OK);
        assert_int_equal(d.type, unknown[i]);
        assert_false(ky_msg_type_known(unknown[i]));
        assert_string_equal(ky_msg_type_name(unknown[i]), "UNKNOWN");
        assert_int_equal(ky_msg_header_check(&d), KY_E_FRAME_TYPE);
        d.flags = KY_FRAME_FLAG_RESPONSE;
        assert_int_equal(ky_msg_header_check(&d), KY_E_FRAME_TYPE);
    }
    const char *names[] = {"HELLO",         "APPEND",       "GET",          "RANGE",
                           "CONTRACT",      "HISTORY",      "STATUS",       "REPL_SUBSCRIBE",
                           "REPL_ACK",      "REPL_ENTRIES", "PROMOTE",      "SWITCHOVER",
                           "REPL_HANDOVER", "DEGRADE",      "RESTORE_SYNC", "REPL_SUBSCRIBE_ASYNC"};
    for (uint8_t t = 1; t <= 16; t++) {
        ky_frame_header h = {.version = 1, .type = t};
        assert_true(ky_msg_type_known(t));
        assert_string_equal(ky_msg_type_name(t), names[t - 1]);
        assert_int_equal(ky_msg_header_check(&h), KY_OK);
        h.flags = KY_FRAME_FLAG_RESPONSE;
        assert_int_equal(ky_msg_header_check(&h), KY_OK);
    }
    ky_frame_header e = {.version = 1, .type = KY_MSG_ERROR};
    assert_int_equal(ky_msg_header_check(&e), KY_E_FRAME_TYPE); /* ERROR is never a request */
    e.flags = KY_FRAME_FLAG_RESPONSE;
    assert_int_equal(ky_msg_header_check(&e), KY_OK);
    assert_string_equal(ky_msg_type_name(KY_MSG_ERROR), "ERROR");
}

static void test_frame_round_trip_and_checksum(void **state) {
    (void)state;
    size_t sizes[] = {0, 1, 1000};
    for (int s = 0; s < 3; s++) {
        uint8_t body[1000];
        fill(body, sizes[s], (uint8_t)s);
        size_t n, m;
        const uint8_t *got;
        ky_frame_header h;
        assert_int_equal(
            ky_frame_encode(KY_MSG_GET, 0, 42 + s, body, sizes[s], frame_buf, sizeof frame_buf, &n),
            KY_OK);
        assert_int_equal(n, KY_WIRE_HEADER_BYTES + sizes[s]);
        assert_int_equal(ky_frame_decode(frame_buf, n, 4096, &h, &got, &m), KY_OK);
        assert_int_equal(m, n);
        assert_int_equal(h.request_id, 42 + s);
        assert_int_equal(ky_frame_body_check(&h, got), KY_OK);
        if (sizes[s]) assert_memory_equal(got, body, sizes[s]);
        frame_buf[24] ^= 1; /* checksum byte */
        assert_int_equal(ky_frame_decode(frame_buf, n, 4096, &h, &got, &m), KY_E_FRAME_CHECKSUM);
        frame_buf[24] ^= 1;
        if (sizes[s] == 0) continue;
        frame_buf[n - 1] ^= 0x80; /* body byte */
        assert_int_equal(ky_frame_decode(frame_buf, n, 4096, &h, &got, &m), KY_E_FRAME_CHECKSUM);
    }
}

static void test_frame_truncated_every_length(void **state) {
    (void)state;
    uint8_t body[40];
    fill(body, sizeof body, 9);
    size_t n, m;
    assert_int_equal(
        ky_frame_encode(KY_MSG_APPEND, 0, 1, body, sizeof body, frame_buf, sizeof frame_buf, &n),
        KY_OK);
    for (size_t len = 0; len < n; len++) {
        uint8_t *p = dup_exact(frame_buf, len);
        ky_frame_header h;
        const uint8_t *got;
        assert_int_equal(ky_frame_decode(p, len, 4096, &h, &got, &m), KY_E_FRAME_TRUNCATED);
        free(p);
    }
    uint8_t junk[8] = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T'};
    ky_frame_header h;
    const uint8_t *got;
    assert_int_equal(ky_frame_decode(junk, 8, 4096, &h, &got, &m), KY_E_FRAME_MAGIC);
}

static void test_frame_encode_limits(void **state) {
    (void)state;
    size_t n, m;
    ky_frame_header h;
    const uint8_t *got;
    fill(frame_buf + KY_WIRE_HEADER_BYTES, BODY_MAX + 1, 3);
    /* max: sealed in place (zero copy), decodes and checks */
    assert_int_equal(ky_frame_encode(KY_MSG_APPEND, 0, 5, frame_buf + KY_WIRE_HEADER_BYTES,
                                     BODY_MAX, frame_buf, FRAME_MAX, &n),
                     KY_OK);
    assert_int_equal(n, FRAME_MAX);
    assert_int_equal(ky_frame_decode(frame_buf, n, KY_WIRE_FRAME_BODY_BYTES_MAX, &h, &got, &m),
                     KY_OK);
    /* max + 1 */
    assert_int_equal(ky_frame_encode(KY_MSG_APPEND, 0, 5, frame_buf + KY_WIRE_HEADER_BYTES,
                                     BODY_MAX + 1, frame_buf, sizeof frame_buf, &n),
                     KY_E_FRAME_TOO_LARGE);
    assert_int_equal(ky_frame_seal(KY_MSG_APPEND, 0, 5, KY_WIRE_FRAME_BODY_BYTES_MAX + 1u,
                                   frame_buf, sizeof frame_buf, &n),
                     KY_E_FRAME_TOO_LARGE);
    uint8_t small[40];
    memset(small, 0, sizeof small);
    assert_int_equal(ky_frame_encode(KY_MSG_GET, 0, 1, small, 9, small, 40, &n),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_frame_encode(KY_MSG_GET, 0, 1, NULL, 0, small, 31, &n),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_frame_encode(KY_MSG_GET, 2, 1, NULL, 0, small, 40, &n), KY_E_FRAME_FLAGS);
    assert_int_equal(ky_frame_seal(KY_MSG_GET, 0, 1, 8, small, 40, &n), KY_OK);
    assert_int_equal(ky_frame_seal(KY_MSG_GET, 0, 1, 9, small, 40, &n), KY_E_BUFFER_TOO_SMALL);
}

/* ---- frame reader ------------------------------------------------------------------------ */

#define STREAM_FRAMES 12

typedef struct stream {
    size_t len;                      /* bytes in stream_buf */
    size_t at[STREAM_FRAMES];        /* offset of each frame */
    size_t frame_len[STREAM_FRAMES]; /* bytes of each frame */
} stream;

/* Builds STREAM_FRAMES frames with bodies of assorted sizes, including empty ones. */
static stream build_stream(void) {
    static const size_t sizes[STREAM_FRAMES] = {0, 1, 31, 32, 33, 0, 4096, 7, 65536, 0, 2, 100};
    stream s = {0};
    for (int i = 0; i < STREAM_FRAMES; i++) {
        uint8_t body[65536];
        fill(body, sizes[i], (uint8_t)(i * 17));
        size_t n;
        assert_int_equal(ky_frame_encode((uint8_t)(1 + i % 7), (uint16_t)(i & 1), 1000u + i, body,
                                         sizes[i], stream_buf + s.len, sizeof stream_buf - s.len,
                                         &n),
                         KY_OK);
        s.at[i] = s.len;
        s.frame_len[i] = n;
        s.len += n;
    }
    return s;
}

static void check_frame(const ky_frame_reader *r, const stream *s, int i) {
    const ky_frame_header *h = ky_frame_reader_header(r);
    assert_non_null(h);
    assert_int_equal(h->request_id, 1000u + i);
    assert_int_equal(h->type, 1 + i % 7);
    assert_int_equal(h->flags, i & 1);
    assert_int_equal(KY_WIRE_HEADER_BYTES + h->body_bytes, s->frame_len[i]);
    assert_non_null(ky_frame_reader_body(r));
    assert_memory_equal(ky_frame_reader_body(r), stream_buf + s->at[i] + KY_WIRE_HEADER_BYTES,
                        h->body_bytes);
}

/* Feeds the stream in chunks of random size in [min_chunk, max_chunk] and checks that
 * every frame arrives, in order, exactly once. */
static void feed_stream(const stream *s, size_t min_chunk, size_t max_chunk) {
    ky_frame_reader r;
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, KY_WIRE_FRAME_BODY_BYTES_MAX);
    size_t pos = 0;
    int got = 0;
    while (pos < s->len) {
        size_t n = min_chunk + (size_t)(rng() % (max_chunk - min_chunk + 1));
        if (n > s->len - pos) n = s->len - pos;
        size_t off = 0;
        while (off < n) {
            size_t used;
            int rc = ky_frame_reader_feed(&r, stream_buf + pos + off, n - off, &used);
            off += used;
            if (rc == KY_STEP_NEED_MORE) {
                assert_int_equal(off, n);
                assert_null(ky_frame_reader_body(&r));
                continue;
            }
            assert_int_equal(rc, KY_STEP_FRAME);
            assert_true(got < STREAM_FRAMES);
            check_frame(&r, s, got++);
        }
        pos += n;
    }
    assert_int_equal(got, STREAM_FRAMES);
    assert_int_equal(ky_frame_reader_at_eof(&r), KY_OK);
}

static void test_reader_byte_by_byte(void **state) {
    (void)state;
    stream s = build_stream();
    feed_stream(&s, 1, 1);
}

static void test_reader_random_chunks(void **state) {
    (void)state;
    stream s = build_stream();
    size_t max_chunks[] = {3, 40, 700, 5000, 100000};
    for (int i = 0; i < 5; i++)
        for (int round = 0; round < 20; round++) feed_stream(&s, 1, max_chunks[i]);
}

static void test_reader_pipelined_one_buffer(void **state) {
    (void)state;
    stream s = build_stream();
    feed_stream(&s, s.len, s.len); /* everything in one read */
    ky_frame_reader r;
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, KY_WIRE_FRAME_BODY_BYTES_MAX);
    size_t pos = 0;
    for (int i = 0; i < STREAM_FRAMES; i++) { /* one frame per call, consumed reported */
        size_t used;
        assert_int_equal(ky_frame_reader_feed(&r, stream_buf + pos, s.len - pos, &used),
                         KY_STEP_FRAME);
        assert_int_equal(used, s.frame_len[i]);
        check_frame(&r, &s, i);
        pos += used;
    }
    size_t used = 99;
    assert_int_equal(ky_frame_reader_feed(&r, NULL, 0, &used), KY_STEP_NEED_MORE);
    assert_int_equal(used, 0);
    assert_null(ky_frame_reader_header(&r));
}

static void test_reader_errors_are_sticky(void **state) {
    (void)state;
    ky_frame_reader r;
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, KY_WIRE_FRAME_BODY_BYTES_MIN);
    size_t used;
    /* a stranger protocol fails as soon as 4 bytes are in */
    assert_int_equal(ky_frame_reader_feed(&r, (const uint8_t *)"GET", 3, &used), KY_STEP_NEED_MORE);
    assert_int_equal(ky_frame_reader_feed(&r, (const uint8_t *)" /", 2, &used), KY_E_FRAME_MAGIC);
    assert_null(ky_frame_reader_header(&r));
    stream s = build_stream();
    assert_int_equal(ky_frame_reader_feed(&r, stream_buf, s.len, &used), KY_E_FRAME_MAGIC);
    assert_int_equal(used, 0);
    assert_int_equal(ky_frame_reader_at_eof(&r), KY_E_FRAME_MAGIC);
    ky_frame_reader_reset(&r); /* reset recovers */
    assert_int_equal(ky_frame_reader_feed(&r, stream_buf, s.len, &used), KY_STEP_FRAME);
    /* checksum failure: header still available to echo the request id */
    size_t n;
    assert_int_equal(ky_frame_encode(KY_MSG_GET, 0, 77, (const uint8_t *)"12345678", 8, frame_buf,
                                     sizeof frame_buf, &n),
                     KY_OK);
    frame_buf[n - 1] ^= 1;
    ky_frame_reader_reset(&r);
    assert_int_equal(ky_frame_reader_feed(&r, frame_buf, n, &used), KY_E_FRAME_CHECKSUM);
    assert_non_null(ky_frame_reader_header(&r));
    assert_int_equal(ky_frame_reader_header(&r)->request_id, 77);
    assert_null(ky_frame_reader_body(&r));
    assert_int_equal(ky_frame_reader_feed(&r, stream_buf, 1, &used), KY_E_FRAME_CHECKSUM);
}

static void test_reader_body_limit(void **state) {
    (void)state;
    ky_frame_reader r;
    size_t used, n;
    ky_frame_reader_init(&r, reader_buf, KY_WIRE_HEADER_BYTES + KY_WIRE_FRAME_BODY_BYTES_MIN,
                         KY_WIRE_FRAME_BODY_BYTES_MIN);
    fill(body_buf, BODY_MAX + 1, 5);
    assert_int_equal(ky_frame_encode(KY_MSG_APPEND, 0, 8, body_buf, KY_WIRE_FRAME_BODY_BYTES_MIN,
                                     frame_buf, sizeof frame_buf, &n),
                     KY_OK);
    assert_int_equal(ky_frame_reader_feed(&r, frame_buf, n, &used), KY_STEP_FRAME); /* max */
    assert_int_equal(ky_frame_encode(KY_MSG_APPEND, 0, 9, body_buf,
                                     KY_WIRE_FRAME_BODY_BYTES_MIN + 1u, frame_buf, sizeof frame_buf,
                                     &n),
                     KY_OK);
    /* max + 1: refused from the header alone, before any body byte is buffered */
    assert_int_equal(ky_frame_reader_feed(&r, frame_buf, KY_WIRE_HEADER_BYTES, &used),
                     KY_E_FRAME_TOO_LARGE);
    assert_int_equal(used, KY_WIRE_HEADER_BYTES);
    assert_int_equal(ky_frame_reader_header(&r)->request_id, 9);
    /* the protocol maximum through a maximal reader, in 64 KiB reads */
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, KY_WIRE_FRAME_BODY_BYTES_MAX);
    assert_int_equal(
        ky_frame_encode(KY_MSG_APPEND, 0, 10, body_buf, BODY_MAX, frame_buf, sizeof frame_buf, &n),
        KY_OK);
    int rc = KY_STEP_NEED_MORE;
    for (size_t pos = 0; pos < n; pos += used) {
        size_t k = n - pos < 65536 ? n - pos : 65536;
        rc = ky_frame_reader_feed(&r, frame_buf + pos, k, &used);
    }
    assert_int_equal(rc, KY_STEP_FRAME);
    assert_memory_equal(ky_frame_reader_body(&r), body_buf, BODY_MAX);
}

static void test_reader_eof(void **state) {
    (void)state;
    ky_frame_reader r;
    ky_frame_reader_init(&r, reader_buf, sizeof reader_buf, KY_WIRE_FRAME_BODY_BYTES_MAX);
    stream s = build_stream();
    assert_int_equal(ky_frame_reader_at_eof(&r), KY_OK);
    for (size_t cut = 1; cut < s.frame_len[1]; cut++) { /* inside header, then inside body */
        size_t used;
        ky_frame_reader_reset(&r);
        assert_int_equal(ky_frame_reader_feed(&r, stream_buf + s.at[1], cut, &used),
                         KY_STEP_NEED_MORE);
        assert_int_equal(ky_frame_reader_at_eof(&r), KY_E_FRAME_TRUNCATED);
    }
}

/* ====================================================================================== */
/* messages                                                                                */
/* ====================================================================================== */

static ky_wire_event sample_event(uint32_t i, uint32_t payload_bytes) {
    ky_wire_event e = {.kind = (uint8_t)(1 + i % 11),
                       .scheme = (uint8_t)(1 + i % 2),
                       .flags = (uint16_t)(i & 1),
                       .subtype = (uint16_t)(0x1234 + i),
                       .months = (uint16_t)(i % 13),
                       .period_yyyymm = 202604,
                       .contract_id = 100000000001ull + i,
                       .ref_seq = i * 3ull,
                       .amount_jpy = (i % 3 == 0)   ? INT64_MIN + i
                                     : (i % 3 == 1) ? -42000 - (int64_t)i
                                                    : INT64_MAX - i,
                       .payload_bytes = payload_bytes,
                       .payload = payload_bytes ? payload : NULL};
    for (unsigned k = 0; k < KY_WIRE_IDEM_KEY_BYTES; k++) e.idem_key[k] = (uint8_t)(i + k + 1);
    return e;
}

static void assert_event_equal(const ky_wire_event *a, const ky_wire_event *b) {
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->scheme, b->scheme);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->subtype, b->subtype);
    assert_int_equal(a->months, b->months);
    assert_int_equal(a->period_yyyymm, b->period_yyyymm);
    assert_int_equal(a->contract_id, b->contract_id);
    assert_int_equal(a->ref_seq, b->ref_seq);
    assert_true(a->amount_jpy == b->amount_jpy);
    assert_memory_equal(a->idem_key, b->idem_key, KY_WIRE_IDEM_KEY_BYTES);
    assert_int_equal(a->payload_bytes, b->payload_bytes);
    assert_true((a->payload == NULL) == (b->payload == NULL));
    if (a->payload_bytes) assert_memory_equal(a->payload, b->payload, a->payload_bytes);
}

/* Encodes events sample_event(0..count) with payload sizes cycling through `sizes`. */
static size_t encode_batch(uint32_t count, const uint32_t *sizes, int nsizes) {
    ky_msg_append_writer w;
    size_t len;
    assert_int_equal(ky_msg_append_begin(&w, body_buf, BODY_MAX, KY_WIRE_BATCH_COUNT_MAX), KY_OK);
    for (uint32_t i = 0; i < count; i++) {
        ky_wire_event e = sample_event(i, sizes[i % (uint32_t)nsizes]);
        assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    }
    assert_int_equal(ky_msg_append_finish(&w, &len), KY_OK);
    return len;
}

static void test_append_round_trip(void **state) {
    (void)state;
    fill(payload, sizeof payload, 11);
    const uint32_t sizes[] = {0, 1, 100, KY_WIRE_PAYLOAD_BYTES_MAX};
    size_t len = encode_batch(9, sizes, 4);
    uint32_t count = 0;
    assert_int_equal(ky_msg_append_decode(body_buf, len, events, 9, &count), KY_OK);
    assert_int_equal(count, 9);
    for (uint32_t i = 0; i < count; i++) {
        ky_wire_event e = sample_event(i, sizes[i % 4]);
        assert_event_equal(&e, &events[i]);
    }
    /* layout spot checks: count, then the first event's fields, little-endian */
    assert_int_equal(ky_get_u32le(body_buf), 9);
    assert_int_equal(body_buf[4], 1);                              /* kind */
    assert_int_equal(ky_get_u32le(body_buf + 4 + 8), 202604);      /* period */
    assert_int_equal(ky_get_u64le(body_buf + 4 + 28), 1ull << 63); /* INT64_MIN */
    assert_int_equal(ky_get_u32le(body_buf + 4 + 52), 0);          /* payload_bytes */
}

static void test_append_writer_limits(void **state) {
    (void)state;
    ky_msg_append_writer w;
    size_t len;
    ky_wire_event e = sample_event(1, KY_WIRE_PAYLOAD_BYTES_MAX + 1);
    assert_int_equal(ky_msg_append_begin(&w, body_buf, 3, 10), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_append_begin(&w, body_buf, 4 + 56 + 10, 2), KY_OK);
    assert_int_equal(ky_msg_append_finish(&w, &len), KY_E_BATCH_EMPTY);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_E_PAYLOAD_TOO_LARGE); /* payload max + 1 */
    e.payload_bytes = 11;
    assert_int_equal(ky_msg_append_add(&w, &e), KY_E_BUFFER_TOO_SMALL); /* unchanged */
    e.payload_bytes = 10;
    assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    e.payload_bytes = 0;
    assert_int_equal(ky_msg_append_add(&w, &e), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_append_finish(&w, &len), KY_OK);
    assert_int_equal(len, 4 + 56 + 10);
    assert_int_equal(ky_msg_append_begin(&w, body_buf, BODY_MAX, 2), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_E_BATCH_TOO_LARGE); /* count_max + 1 */
    assert_int_equal(ky_msg_append_finish(&w, &len), KY_OK);
    uint32_t count;
    assert_int_equal(ky_msg_append_decode(body_buf, len, events, 1, &count),
                     KY_E_BATCH_TOO_LARGE); /* the caller's cap is its batch limit */
    assert_int_equal(ky_msg_append_decode(body_buf, len, events, 2, &count), KY_OK);
}

static void test_append_batch_limit(void **state) {
    (void)state;
    const uint32_t zero[] = {0};
    size_t len = encode_batch(KY_WIRE_BATCH_COUNT_MAX, zero, 1); /* max */
    assert_int_equal(len, 4 + KY_WIRE_BATCH_COUNT_MAX * 56u);
    uint32_t count;
    assert_int_equal(
        ky_msg_append_decode(body_buf, len, events, KY_WIRE_BATCH_COUNT_MAX + 1, &count), KY_OK);
    assert_int_equal(count, KY_WIRE_BATCH_COUNT_MAX);
    ky_msg_append_writer w; /* max + 1 through the writer */
    assert_int_equal(ky_msg_append_begin(&w, body_buf, BODY_MAX, KY_WIRE_BATCH_COUNT_MAX), KY_OK);
    ky_wire_event e = sample_event(0, 0);
    for (uint32_t i = 0; i < KY_WIRE_BATCH_COUNT_MAX; i++)
        assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_E_BATCH_TOO_LARGE);
    /* max + 1 on the wire: one more event appended by hand */
    memcpy(body_buf + len, body_buf + 4, 56);
    ky_put_u32le(body_buf, KY_WIRE_BATCH_COUNT_MAX + 1);
    assert_int_equal(
        ky_msg_append_decode(body_buf, len + 56, events, KY_WIRE_BATCH_COUNT_MAX + 1, &count),
        KY_E_BATCH_TOO_LARGE);
}

static void test_append_counts_and_lengths_lie(void **state) {
    (void)state;
    const uint32_t sizes[] = {5, 0, 7};
    fill(payload, sizeof payload, 2);
    size_t len = encode_batch(3, sizes, 3);
    uint8_t *b = body_buf;
    uint32_t count;
    ky_put_u32le(b, 4); /* claims more than it holds */
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_MSG_TRUNCATED);
    ky_put_u32le(b, 2); /* claims fewer */
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(b, 0);
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_BATCH_EMPTY);
    ky_put_u32le(b, 0xFFFFFFFFu);
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_BATCH_TOO_LARGE);
    ky_put_u32le(b, KY_WIRE_BATCH_COUNT_MAX); /* huge count, tiny body: refused before looping */
    assert_int_equal(ky_msg_append_decode(b, len, events, KY_WIRE_BATCH_COUNT_MAX, &count),
                     KY_E_MSG_TRUNCATED);
    ky_put_u32le(b, 3);
    size_t last = 4 + (56 + 5) + (56 + 0) + 52; /* the last event's payload_bytes */
    ky_put_u32le(b + last, 8);                  /* claims one byte more than present */
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_MSG_TRUNCATED);
    ky_put_u32le(b + last, 6); /* one byte less: a byte is left over */
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(b + last, 7);
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_OK);
    ky_put_u32le(b + 4 + 52, KY_WIRE_PAYLOAD_BYTES_MAX + 1); /* payload max + 1 */
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_PAYLOAD_TOO_LARGE);
    ky_put_u32le(b + 4 + 52, 0xFFFFFFFFu);
    assert_int_equal(ky_msg_append_decode(b, len, events, 16, &count), KY_E_PAYLOAD_TOO_LARGE);
    /* payload at max decodes (covered in round trip); max + 1 with the bytes present */
    ky_wire_event e = sample_event(0, KY_WIRE_PAYLOAD_BYTES_MAX);
    ky_msg_append_writer w;
    assert_int_equal(ky_msg_append_begin(&w, b, BODY_MAX, 1), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    assert_int_equal(ky_msg_append_finish(&w, &len), KY_OK);
    b[len] = 0;
    ky_put_u32le(b + 4 + 52, KY_WIRE_PAYLOAD_BYTES_MAX + 1);
    assert_int_equal(ky_msg_append_decode(b, len + 1, events, 1, &count), KY_E_PAYLOAD_TOO_LARGE);
}

static void test_append_resp(void **state) {
    (void)state;
    ky_wire_append_result in[3] = {{KY_WIRE_STATUS_OK, 0, 17},
                                   {KY_WIRE_STATUS_OK, KY_WIRE_RESULT_DUPLICATE, 5},
                                   {KY_WIRE_STATUS_PREMIUM_STEP, 0, 0}};
    size_t len;
    uint32_t count;
    assert_int_equal(ky_msg_append_resp_encode(in, 3, body_buf, 100, &len), KY_OK);
    assert_int_equal(len, 4 + 3 * 12);
    assert_int_equal(ky_msg_append_resp_decode(body_buf, len, results, 3, &count), KY_OK);
    assert_int_equal(count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(results[i].status, in[i].status);
        assert_int_equal(results[i].flags, in[i].flags);
        assert_int_equal(results[i].seq, in[i].seq);
    }
    assert_int_equal(ky_msg_append_resp_decode(body_buf, len, results, 2, &count),
                     KY_E_BATCH_TOO_LARGE);
    ky_put_u32le(body_buf, 4);
    assert_int_equal(ky_msg_append_resp_decode(body_buf, len, results, 9, &count),
                     KY_E_MSG_TRUNCATED);
    ky_put_u32le(body_buf, 2);
    assert_int_equal(ky_msg_append_resp_decode(body_buf, len, results, 9, &count),
                     KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(body_buf, 0);
    assert_int_equal(ky_msg_append_resp_decode(body_buf, len, results, 9, &count),
                     KY_E_BATCH_EMPTY);
    assert_int_equal(ky_msg_append_resp_encode(in, 3, body_buf, len - 1, &len),
                     KY_E_BUFFER_TOO_SMALL);
}

static void test_append_resp_rules_and_limit(void **state) {
    (void)state;
    ky_wire_append_result bad[] = {
        {KY_WIRE_STATUS_OK, 2, 1},                                  /* unknown flag */
        {KY_WIRE_STATUS_PREMIUM_STEP, KY_WIRE_RESULT_DUPLICATE, 0}, /* duplicate of a refusal */
        {KY_WIRE_STATUS_OK, 0, 0},                                  /* accepted without seq */
        {KY_WIRE_STATUS_PREMIUM_STEP, 0, 9},                        /* refused with a seq */
    };
    size_t len;
    uint32_t count;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ky_msg_append_resp_encode(&bad[i], 1, body_buf, 100, &len),
                         KY_E_MSG_MALFORMED);
        ky_put_u32le(body_buf, 1);
        ky_put_u16le(body_buf + 4, bad[i].status);
        ky_put_u16le(body_buf + 6, bad[i].flags);
        ky_put_u64le(body_buf + 8, bad[i].seq);
        assert_int_equal(ky_msg_append_resp_decode(body_buf, 16, results, 1, &count),
                         KY_E_MSG_MALFORMED);
    }
    for (uint32_t i = 0; i <= KY_WIRE_BATCH_COUNT_MAX; i++)
        results[i] = (ky_wire_append_result){KY_WIRE_STATUS_OK, 0, i + 1};
    assert_int_equal(
        ky_msg_append_resp_encode(results, KY_WIRE_BATCH_COUNT_MAX, body_buf, BODY_MAX, &len),
        KY_OK); /* max */
    assert_int_equal(
        ky_msg_append_resp_decode(body_buf, len, results, KY_WIRE_BATCH_COUNT_MAX, &count), KY_OK);
    assert_int_equal(
        ky_msg_append_resp_encode(results, KY_WIRE_BATCH_COUNT_MAX + 1, body_buf, BODY_MAX, &len),
        KY_E_BATCH_TOO_LARGE); /* max + 1 */
    ky_put_u32le(body_buf, KY_WIRE_BATCH_COUNT_MAX + 1);
    assert_int_equal(
        ky_msg_append_resp_decode(body_buf, len, results, KY_WIRE_BATCH_COUNT_MAX + 1, &count),
        KY_E_BATCH_TOO_LARGE);
    assert_int_equal(ky_msg_append_resp_encode(results, 0, body_buf, 100, &len), KY_E_BATCH_EMPTY);
}

/* ---- HELLO ------------------------------------------------------------------------------- */

static char name_buf[KY_WIRE_CLIENT_NAME_BYTES_MAX + 2];

static void test_hello(void **state) {
    (void)state;
    memset(name_buf, 'n', sizeof name_buf);
    ky_msg_hello in = {1, 3, KY_WIRE_CLIENT_NAME_BYTES_MAX, name_buf}, out;
    size_t len;
    assert_int_equal(ky_msg_hello_encode(&in, body_buf, 100, &len), KY_OK); /* name at max */
    assert_int_equal(len, 5 + KY_WIRE_CLIENT_NAME_BYTES_MAX);
    assert_int_equal(ky_msg_hello_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(out.version_min, 1);
    assert_int_equal(out.version_max, 3);
    assert_int_equal(out.client_name_bytes, KY_WIRE_CLIENT_NAME_BYTES_MAX);
    assert_memory_equal(out.client_name, name_buf, KY_WIRE_CLIENT_NAME_BYTES_MAX);
    in.client_name_bytes = KY_WIRE_CLIENT_NAME_BYTES_MAX + 1; /* max + 1 */
    assert_int_equal(ky_msg_hello_encode(&in, body_buf, 100, &len), KY_E_MSG_FIELD_TOO_LONG);
    body_buf[4] = KY_WIRE_CLIENT_NAME_BYTES_MAX + 1;
    body_buf[5 + KY_WIRE_CLIENT_NAME_BYTES_MAX] = 'n';
    assert_int_equal(ky_msg_hello_decode(body_buf, 5 + KY_WIRE_CLIENT_NAME_BYTES_MAX + 1u, &out),
                     KY_E_MSG_FIELD_TOO_LONG);
    body_buf[4] = 255;
    assert_int_equal(ky_msg_hello_decode(body_buf, 5, &out), KY_E_MSG_FIELD_TOO_LONG);
    ky_msg_hello empty = {1, 1, 0, NULL};
    assert_int_equal(ky_msg_hello_encode(&empty, body_buf, 5, &len), KY_OK);
    assert_int_equal(ky_msg_hello_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(out.client_name_bytes, 0);
    ky_msg_hello bad[] = {
        {0, 1, 0, NULL}, {2, 1, 0, NULL}, {1, 1, 1, "\x1f"}, {1, 1, 1, "\x7f"}, {1, 1, 2, "a\x80"}};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ky_msg_hello_encode(&bad[i], body_buf, 100, &len), KY_E_MSG_MALFORMED);
        ky_put_u16le(body_buf, bad[i].version_min);
        ky_put_u16le(body_buf + 2, bad[i].version_max);
        body_buf[4] = bad[i].client_name_bytes;
        memcpy(body_buf + 5, bad[i].client_name ? bad[i].client_name : "",
               bad[i].client_name_bytes);
        assert_int_equal(ky_msg_hello_decode(body_buf, 5u + bad[i].client_name_bytes, &out),
                         KY_E_MSG_MALFORMED);
    }
    assert_int_equal(ky_msg_hello_encode(&in, body_buf, 4, &len), KY_E_MSG_FIELD_TOO_LONG);
    in.client_name_bytes = 3;
    assert_int_equal(ky_msg_hello_encode(&in, body_buf, 7, &len), KY_E_BUFFER_TOO_SMALL);
}

static ky_msg_hello_resp sample_hello_resp(void) {
    ky_msg_hello_resp m = {.version = 1,
                           .role = KY_WIRE_ROLE_PRIMARY,
                           .epoch = 3,
                           .head_seq = 123456789,
                           .frame_body_bytes_max = KY_WIRE_FRAME_BODY_BYTES_MAX,
                           .batch_count_max = KY_WIRE_BATCH_COUNT_MAX};
    fill(m.node_id, KY_WIRE_NODE_ID_BYTES, 0x40);
    return m;
}

static void test_hello_resp(void **state) {
    (void)state;
    ky_msg_hello_resp in = sample_hello_resp(), out;
    size_t len;
    assert_int_equal(ky_msg_hello_resp_encode(&in, body_buf, 100, &len), KY_OK);
    assert_int_equal(len, KY_MSG_HELLO_RESP_BYTES);
    assert_int_equal(ky_msg_hello_resp_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(out.version, 1);
    assert_int_equal(out.role, KY_WIRE_ROLE_PRIMARY);
    assert_int_equal(out.epoch, 3);
    assert_int_equal(out.head_seq, 123456789);
    assert_memory_equal(out.node_id, in.node_id, KY_WIRE_NODE_ID_BYTES);
    assert_int_equal(out.frame_body_bytes_max, KY_WIRE_FRAME_BODY_BYTES_MAX);
    assert_int_equal(out.batch_count_max, KY_WIRE_BATCH_COUNT_MAX);
    struct {
        uint32_t body_max, batch_max;
        int want;
    } cases[] = {
        {KY_WIRE_FRAME_BODY_BYTES_MIN, 1, KY_OK},
        {KY_WIRE_FRAME_BODY_BYTES_MIN - 1, 1, KY_E_MSG_MALFORMED},
        {KY_WIRE_FRAME_BODY_BYTES_MAX + 1, 1, KY_E_MSG_MALFORMED},
        {KY_WIRE_FRAME_BODY_BYTES_MAX, 0, KY_E_MSG_MALFORMED},
        {KY_WIRE_FRAME_BODY_BYTES_MAX, KY_WIRE_BATCH_COUNT_MAX + 1, KY_E_MSG_MALFORMED},
    };
    for (int i = 0; i < 5; i++) {
        ky_msg_hello_resp m = sample_hello_resp();
        m.frame_body_bytes_max = cases[i].body_max;
        m.batch_count_max = cases[i].batch_max;
        assert_int_equal(ky_msg_hello_resp_encode(&m, body_buf, 100, &len), cases[i].want);
        ky_put_u32le(body_buf + 35, cases[i].body_max);
        ky_put_u32le(body_buf + 39, cases[i].batch_max);
        assert_int_equal(ky_msg_hello_resp_decode(body_buf, 43, &out), cases[i].want);
    }
    uint8_t roles[] = {0, 4, 255};
    ky_msg_hello_resp m = sample_hello_resp();
    assert_int_equal(ky_msg_hello_resp_encode(&m, body_buf, 100, &len), KY_OK);
    for (int i = 0; i < 3; i++) {
        body_buf[2] = roles[i];
        assert_int_equal(ky_msg_hello_resp_decode(body_buf, len, &out), KY_E_MSG_MALFORMED);
    }
    body_buf[2] = 1;
    ky_put_u16le(body_buf, 0); /* version 0 */
    assert_int_equal(ky_msg_hello_resp_decode(body_buf, len, &out), KY_E_MSG_MALFORMED);
}

/* ---- reads --------------------------------------------------------------------------------- */

static void test_fixed_requests(void **state) {
    (void)state;
    size_t len;
    uint64_t v;
    assert_int_equal(ky_msg_get_encode(0xFFFFFFFFFFFFFFFFull, body_buf, 8, &len), KY_OK);
    assert_int_equal(ky_msg_get_decode(body_buf, len, &v), KY_OK);
    assert_true(v == 0xFFFFFFFFFFFFFFFFull);
    assert_int_equal(ky_msg_get_encode(0, body_buf, 8, &len), KY_E_SEQ_RANGE_INVALID);
    assert_int_equal(ky_msg_get_encode(1, body_buf, 7, &len), KY_E_BUFFER_TOO_SMALL);
    ky_put_u64le(body_buf, 0);
    assert_int_equal(ky_msg_get_decode(body_buf, 8, &v), KY_E_SEQ_RANGE_INVALID);
    assert_int_equal(ky_msg_contract_encode(KY_CONTRACT_ID_MAX, body_buf, 8, &len), KY_OK);
    assert_int_equal(ky_msg_contract_decode(body_buf, len, &v), KY_OK);
    assert_int_equal(v, KY_CONTRACT_ID_MAX);
    assert_int_equal(ky_msg_contract_encode(0, body_buf, 8, &len), KY_E_CONTRACT_ID_INVALID);
    assert_int_equal(ky_msg_contract_encode(KY_CONTRACT_ID_MAX + 1, body_buf, 8, &len),
                     KY_E_CONTRACT_ID_INVALID);
    ky_put_u64le(body_buf, KY_CONTRACT_ID_MAX + 1);
    assert_int_equal(ky_msg_contract_decode(body_buf, 8, &v), KY_E_CONTRACT_ID_INVALID);
    assert_int_equal(ky_msg_status_decode(NULL, 0), KY_OK);
    assert_int_equal(ky_msg_status_decode(body_buf, 1), KY_E_MSG_TRAILING_BYTES);
}

static void test_range_and_history_requests(void **state) {
    (void)state;
    size_t len;
    ky_msg_range r = {5, 5, KY_WIRE_READ_COUNT_MAX}, ro; /* count_max at max */
    assert_int_equal(ky_msg_range_encode(&r, body_buf, 20, &len), KY_OK);
    assert_int_equal(ky_msg_range_decode(body_buf, len, &ro), KY_OK);
    assert_int_equal(ro.from_seq, 5);
    assert_int_equal(ro.to_seq, 5);
    assert_int_equal(ro.count_max, KY_WIRE_READ_COUNT_MAX);
    ky_msg_range bad_r[] = {{0, 5, 1}, {6, 5, 1}, {1, 5, 0}, {1, 5, KY_WIRE_READ_COUNT_MAX + 1}};
    int want_r[] = {KY_E_SEQ_RANGE_INVALID, KY_E_SEQ_RANGE_INVALID, KY_E_READ_COUNT_INVALID,
                    KY_E_READ_COUNT_INVALID};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ky_msg_range_encode(&bad_r[i], body_buf, 20, &len), want_r[i]);
        ky_put_u64le(body_buf, bad_r[i].from_seq);
        ky_put_u64le(body_buf + 8, bad_r[i].to_seq);
        ky_put_u32le(body_buf + 16, bad_r[i].count_max);
        assert_int_equal(ky_msg_range_decode(body_buf, 20, &ro), want_r[i]);
    }
    ky_msg_history h = {KY_CONTRACT_ID_MAX, 77, KY_WIRE_READ_COUNT_MAX}, ho;
    assert_int_equal(ky_msg_history_encode(&h, body_buf, 20, &len), KY_OK);
    assert_int_equal(ky_msg_history_decode(body_buf, len, &ho), KY_OK);
    assert_int_equal(ho.contract_id, KY_CONTRACT_ID_MAX);
    assert_int_equal(ho.after_contract_seq, 77);
    assert_int_equal(ho.count_max, KY_WIRE_READ_COUNT_MAX);
    ky_msg_history bad_h[] = {
        {0, 0, 1}, {KY_CONTRACT_ID_MAX + 1, 0, 1}, {1, 0, 0}, {1, 0, KY_WIRE_READ_COUNT_MAX + 1}};
    int want_h[] = {KY_E_CONTRACT_ID_INVALID, KY_E_CONTRACT_ID_INVALID, KY_E_READ_COUNT_INVALID,
                    KY_E_READ_COUNT_INVALID};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ky_msg_history_encode(&bad_h[i], body_buf, 20, &len), want_h[i]);
        ky_put_u64le(body_buf, bad_h[i].contract_id);
        ky_put_u64le(body_buf + 8, 0);
        ky_put_u32le(body_buf + 16, bad_h[i].count_max);
        assert_int_equal(ky_msg_history_decode(body_buf, 20, &ho), want_h[i]);
    }
    assert_int_equal(ky_msg_history_encode(&h, body_buf, 19, &len), KY_E_BUFFER_TOO_SMALL);
}

static void test_blob_responses(void **state) {
    (void)state;
    size_t len;
    ky_wire_blob b;
    fill(entry, sizeof entry, 4);
    assert_int_equal(
        ky_msg_get_resp_encode(entry, KY_WIRE_ENTRY_BYTES_MAX, body_buf, BODY_MAX, &len),
        KY_OK); /* max */
    assert_int_equal(ky_msg_get_resp_decode(body_buf, len, &b), KY_OK);
    assert_int_equal(b.data_bytes, KY_WIRE_ENTRY_BYTES_MAX);
    assert_memory_equal(b.data, entry, KY_WIRE_ENTRY_BYTES_MAX);
    assert_int_equal(
        ky_msg_get_resp_encode(entry, KY_WIRE_ENTRY_BYTES_MAX + 1, body_buf, BODY_MAX, &len),
        KY_E_MSG_FIELD_TOO_LONG); /* max + 1 */
    memcpy(body_buf + 4, entry, KY_WIRE_ENTRY_BYTES_MAX + 1);
    ky_put_u32le(body_buf, KY_WIRE_ENTRY_BYTES_MAX + 1);
    assert_int_equal(ky_msg_get_resp_decode(body_buf, 4 + KY_WIRE_ENTRY_BYTES_MAX + 1, &b),
                     KY_E_MSG_FIELD_TOO_LONG);
    ky_put_u32le(body_buf, 0xFFFFFFFFu);
    assert_int_equal(ky_msg_get_resp_decode(body_buf, 8, &b), KY_E_MSG_FIELD_TOO_LONG);
    assert_int_equal(ky_msg_get_resp_encode(entry, 0, body_buf, 100, &len), KY_E_MSG_MALFORMED);
    ky_put_u32le(body_buf, 0);
    assert_int_equal(ky_msg_get_resp_decode(body_buf, 4, &b), KY_E_MSG_MALFORMED);
    /* zero copy: the data already sits where the body needs it */
    fill(body_buf + 4, 10, 99);
    memcpy(entry, body_buf + 4, 10);
    assert_int_equal(ky_msg_get_resp_encode(body_buf + 4, 10, body_buf, 14, &len), KY_OK);
    assert_int_equal(ky_msg_get_resp_decode(body_buf, len, &b), KY_OK);
    assert_memory_equal(b.data, entry, 10);
    uint32_t max = KY_WIRE_CONTRACT_STATE_BYTES_MAX;
    assert_int_equal(ky_msg_contract_resp_encode(entry, max, body_buf, BODY_MAX, &len), KY_OK);
    assert_int_equal(ky_msg_contract_resp_decode(body_buf, len, &b), KY_OK);
    assert_int_equal(b.data_bytes, max);
    assert_int_equal(ky_msg_contract_resp_encode(entry, max + 1, body_buf, BODY_MAX, &len),
                     KY_E_MSG_FIELD_TOO_LONG);
    ky_put_u32le(body_buf, max + 1);
    assert_int_equal(ky_msg_contract_resp_decode(body_buf, 4 + max + 1, &b),
                     KY_E_MSG_FIELD_TOO_LONG);
    assert_int_equal(ky_msg_contract_resp_encode(entry, 9, body_buf, 12, &len),
                     KY_E_BUFFER_TOO_SMALL);
}

/* Fills a page of `type` with entries of 1, 2, 3, ... bytes until the writer says full. */
static size_t build_page(uint8_t type, uint32_t count_max, size_t cap, uint64_t next,
                         uint32_t *written) {
    ky_msg_entries_writer w;
    size_t len;
    fill(entry, sizeof entry, 8);
    assert_int_equal(ky_msg_entries_begin(&w, type, count_max, body_buf, cap), KY_OK);
    uint32_t n = 0;
    while (ky_msg_entries_add(&w, entry, 1 + n % KY_WIRE_ENTRY_BYTES_MAX) == KY_OK) n++;
    assert_int_equal(ky_msg_entries_finish(&w, next, &len), KY_OK);
    *written = n;
    return len;
}

static void test_range_history_responses(void **state) {
    (void)state;
    uint32_t n, count;
    uint64_t next;
    size_t len = build_page(KY_MSG_RANGE, 10, BODY_MAX, 0, &n); /* stops at count_max */
    assert_int_equal(n, 10);
    assert_int_equal(ky_msg_range_resp_decode(body_buf, len, blobs, 10, &count), KY_OK);
    assert_int_equal(count, 10);
    for (uint32_t i = 0; i < count; i++) {
        assert_int_equal(blobs[i].data_bytes, i + 1);
        assert_memory_equal(blobs[i].data, entry, i + 1);
    }
    assert_int_equal(ky_msg_range_resp_decode(body_buf, len, blobs, 9, &count),
                     KY_E_BUFFER_TOO_SMALL);
    len = build_page(KY_MSG_HISTORY, 1000, 8 + 4 + 5 + 6 + 6, 42, &n); /* stops when full */
    assert_int_equal(n, 2);
    assert_int_equal(ky_msg_history_resp_decode(body_buf, len, &next, blobs, 1000, &count), KY_OK);
    assert_int_equal(next, 42);
    assert_int_equal(count, 2);
    len = build_page(KY_MSG_RANGE, KY_WIRE_READ_COUNT_MAX, BODY_MAX, 0, &n); /* max */
    assert_int_equal(n, KY_WIRE_READ_COUNT_MAX);
    assert_int_equal(
        ky_msg_range_resp_decode(body_buf, len, blobs, KY_WIRE_READ_COUNT_MAX + 1, &count), KY_OK);
    ky_put_u32le(body_buf, KY_WIRE_READ_COUNT_MAX + 1); /* max + 1 */
    assert_int_equal(
        ky_msg_range_resp_decode(body_buf, len, blobs, KY_WIRE_READ_COUNT_MAX + 1, &count),
        KY_E_READ_COUNT_INVALID);
    ky_msg_entries_writer w;
    assert_int_equal(ky_msg_entries_begin(&w, KY_MSG_HISTORY, 5, body_buf, 11),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_entries_begin(&w, KY_MSG_RANGE, 5, body_buf, 100), KY_OK);
    assert_int_equal(ky_msg_entries_add(&w, entry, 0), KY_E_INVALID_ARG);
    assert_int_equal(ky_msg_entries_add(&w, entry, KY_WIRE_ENTRY_BYTES_MAX + 1), KY_E_INVALID_ARG);
    assert_int_equal(ky_msg_entries_finish(&w, 0, &len), KY_OK); /* an empty page */
    assert_int_equal(ky_msg_range_resp_decode(body_buf, len, blobs, 0, &count), KY_OK);
    assert_int_equal(count, 0);
}

static void test_entry_lists_lie(void **state) {
    (void)state;
    uint32_t n, count;
    uint64_t next;
    size_t len = build_page(KY_MSG_HISTORY, 3, BODY_MAX, 7, &n); /* entries of 1, 2, 3 bytes */
    uint8_t *b = body_buf;
    ky_put_u32le(b + 8, 4);
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_MSG_TRUNCATED);
    ky_put_u32le(b + 8, 2);
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(b + 8, KY_WIRE_READ_COUNT_MAX); /* big count, small body */
    assert_int_equal(
        ky_msg_history_resp_decode(b, len, &next, blobs, KY_WIRE_READ_COUNT_MAX, &count),
        KY_E_MSG_TRUNCATED);
    ky_put_u32le(b + 8, 0xFFFFFFFFu);
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_READ_COUNT_INVALID);
    ky_put_u32le(b + 8, 3);
    ky_put_u32le(b + 23, 4); /* the last entry (3 bytes) claims one byte more */
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_MSG_TRUNCATED);
    ky_put_u32le(b + 23, 2); /* one byte less: a byte is left over */
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(b + 23, 3);
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count), KY_OK);
    ky_put_u32le(b + 12, KY_WIRE_ENTRY_BYTES_MAX + 1);
    assert_int_equal(ky_msg_history_resp_decode(b, len, &next, blobs, 9, &count),
                     KY_E_MSG_FIELD_TOO_LONG);
    /* an empty entry that is otherwise well-formed: 1 entry of length 0 */
    ky_put_u32le(b, 1);
    ky_put_u32le(b + 4, 0);
    assert_int_equal(ky_msg_range_resp_decode(b, 8, blobs, 9, &count), KY_E_MSG_MALFORMED);
}

/* ---- STATUS and ERROR ------------------------------------------------------------------------ */

static void test_status_resp(void **state) {
    (void)state;
    ky_msg_status_resp in = {.role = KY_WIRE_ROLE_STANDALONE,
                             .epoch = 9,
                             .head_seq = 1000,
                             .uptime_ms = 86400000,
                             .connections = 12,
                             .appends_total = 1,
                             .events_total = 2,
                             .refused_total = 3,
                             .batches_total = UINT64_MAX},
                       out;
    fill(in.head_hash, 32, 1);
    fill(in.merkle_root, 32, 2);
    fill(in.node_id, 16, 3);
    size_t len;
    assert_int_equal(ky_msg_status_resp_encode(&in, body_buf, 200, &len), KY_OK);
    assert_int_equal(len, KY_MSG_STATUS_RESP_BYTES);
    assert_int_equal(ky_msg_status_resp_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(out.role, in.role);
    assert_int_equal(out.epoch, 9);
    assert_int_equal(out.head_seq, 1000);
    assert_memory_equal(out.head_hash, in.head_hash, 32);
    assert_memory_equal(out.merkle_root, in.merkle_root, 32);
    assert_memory_equal(out.node_id, in.node_id, 16);
    assert_int_equal(out.uptime_ms, 86400000);
    assert_int_equal(out.connections, 12);
    assert_int_equal(out.appends_total, 1);
    assert_int_equal(out.events_total, 2);
    assert_int_equal(out.refused_total, 3);
    assert_true(out.batches_total == UINT64_MAX);
    body_buf[0] = 0;
    assert_int_equal(ky_msg_status_resp_decode(body_buf, len, &out), KY_E_MSG_MALFORMED);
    in.role = 4;
    assert_int_equal(ky_msg_status_resp_encode(&in, body_buf, 200, &len), KY_E_MSG_MALFORMED);
    in.role = 1;
    assert_int_equal(ky_msg_status_resp_encode(&in, body_buf, 140, &len), KY_E_BUFFER_TOO_SMALL);
}

static char what_buf[KY_WIRE_ERROR_WHAT_BYTES_MAX + 1];
static char message_buf[KY_WIRE_ERROR_MESSAGE_BYTES_MAX + 1];

static void test_error(void **state) {
    (void)state;
    memset(what_buf, 'w', sizeof what_buf);
    memset(message_buf, 'm', sizeof message_buf);
    ky_msg_error in = {KY_WIRE_STATUS_FRAME_TOO_LARGE, KY_WIRE_ERROR_WHAT_BYTES_MAX, what_buf,
                       KY_WIRE_ERROR_MESSAGE_BYTES_MAX, message_buf},
                 out; /* both texts at max */
    size_t len;
    assert_int_equal(ky_msg_error_encode(&in, body_buf, 1000, &len), KY_OK);
    assert_int_equal(len, 5 + KY_WIRE_ERROR_WHAT_BYTES_MAX + KY_WIRE_ERROR_MESSAGE_BYTES_MAX);
    assert_int_equal(ky_msg_error_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(out.status, KY_WIRE_STATUS_FRAME_TOO_LARGE);
    assert_int_equal(out.what_bytes, KY_WIRE_ERROR_WHAT_BYTES_MAX);
    assert_memory_equal(out.what, what_buf, KY_WIRE_ERROR_WHAT_BYTES_MAX);
    assert_int_equal(out.message_bytes, KY_WIRE_ERROR_MESSAGE_BYTES_MAX);
    assert_memory_equal(out.message, message_buf, KY_WIRE_ERROR_MESSAGE_BYTES_MAX);
    ky_msg_error w1 = in, m1 = in; /* max + 1 */
    w1.what_bytes++;
    m1.message_bytes++;
    assert_int_equal(ky_msg_error_encode(&w1, body_buf, 1000, &len), KY_E_MSG_FIELD_TOO_LONG);
    assert_int_equal(ky_msg_error_encode(&m1, body_buf, 1000, &len), KY_E_MSG_FIELD_TOO_LONG);
    assert_int_equal(ky_msg_error_encode(&in, body_buf, 1000, &len), KY_OK);
    body_buf[2] = KY_WIRE_ERROR_WHAT_BYTES_MAX + 1;
    assert_int_equal(ky_msg_error_decode(body_buf, len, &out), KY_E_MSG_FIELD_TOO_LONG);
    body_buf[2] = KY_WIRE_ERROR_WHAT_BYTES_MAX;
    ky_put_u16le(body_buf + 3 + KY_WIRE_ERROR_WHAT_BYTES_MAX, KY_WIRE_ERROR_MESSAGE_BYTES_MAX + 1);
    assert_int_equal(ky_msg_error_decode(body_buf, len + 1, &out), KY_E_MSG_FIELD_TOO_LONG);
    ky_put_u16le(body_buf + 3 + KY_WIRE_ERROR_WHAT_BYTES_MAX, 0xFFFF);
    assert_int_equal(ky_msg_error_decode(body_buf, len, &out), KY_E_MSG_FIELD_TOO_LONG);
    ky_msg_error bad[] = {{KY_WIRE_STATUS_OK, 0, NULL, 0, NULL},
                          {KY_WIRE_STATUS_IO, 1, "\n", 0, NULL},
                          {KY_WIRE_STATUS_IO, 0, NULL, 2, "a\t"}};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(ky_msg_error_encode(&bad[i], body_buf, 100, &len), KY_E_MSG_MALFORMED);
        ky_put_u16le(body_buf, bad[i].status);
        body_buf[2] = bad[i].what_bytes;
        memcpy(body_buf + 3, bad[i].what ? bad[i].what : "", bad[i].what_bytes);
        ky_put_u16le(body_buf + 3 + bad[i].what_bytes, bad[i].message_bytes);
        memcpy(body_buf + 5 + bad[i].what_bytes, bad[i].message ? bad[i].message : "",
               bad[i].message_bytes);
        len = 5u + bad[i].what_bytes + bad[i].message_bytes;
        assert_int_equal(ky_msg_error_decode(body_buf, len, &out), KY_E_MSG_MALFORMED);
    }
    ky_msg_error future = {4000, 0, NULL, 0, NULL}; /* a status this build does not know */
    assert_int_equal(ky_msg_error_encode(&future, body_buf, 100, &len), KY_OK);
    assert_int_equal(ky_msg_error_decode(body_buf, len, &out), KY_OK);
    assert_int_equal(ky_wire_status_to_err(out.status), KY_E_PROTOCOL);
}

/* ---- replication and PROMOTE (docs/PROTOCOL.md §3.9) ---------------------------------------- */

/* Entries of 1 byte in a 64 KiB frame: the most a minimum-size frame can carry. */
#define REPL_ONE_BYTE_ENTRIES_MAX                                                                  \
    ((KY_WIRE_FRAME_BODY_BYTES_MIN - KY_MSG_REPL_ENTRIES_FIXED_BYTES) / (KY_MSG_COUNT_BYTES + 1u))

/* ... which is more than one message may hold: KY_WIRE_BATCH_COUNT_MAX, one replica batch. */
_Static_assert(REPL_ONE_BYTE_ENTRIES_MAX > KY_WIRE_BATCH_COUNT_MAX, "the count limit binds");

static ky_wire_blob repl_blobs[REPL_ONE_BYTE_ENTRIES_MAX + 1];
static uint8_t repl_src[KY_WIRE_ENTRY_BYTES_MAX + 7]; /* entry i starts at repl_src + i % 7 */

static ky_msg_repl_subscribe sample_subscribe(void) {
    ky_msg_repl_subscribe m = {
        .epoch = 0x0102030405060708ull, .head_seq = 0x1112131415161718ull, .acked_seq = UINT64_MAX};
    fill(m.head_hash, KY_WIRE_HASH_BYTES, 0x50);
    fill(m.node_id, KY_WIRE_NODE_ID_BYTES, 0x60);
    return m;
}

static void test_repl_subscribe(void **state) {
    (void)state;
    ky_msg_repl_subscribe in = sample_subscribe(), out;
    size_t len;
    assert_int_equal(ky_msg_repl_subscribe_encode(&in, body_buf, 100, &len), KY_OK);
    assert_int_equal(len, KY_MSG_REPL_SUBSCRIBE_BYTES);
    assert_int_equal(len, 72);
    assert_true(ky_get_u64le(body_buf) == in.epoch); /* the offsets docs/PROTOCOL.md gives */
    assert_true(ky_get_u64le(body_buf + 8) == in.head_seq);
    assert_memory_equal(body_buf + 16, in.head_hash, KY_WIRE_HASH_BYTES);
    assert_memory_equal(body_buf + 48, in.node_id, KY_WIRE_NODE_ID_BYTES);
    assert_true(ky_get_u64le(body_buf + 64) == UINT64_MAX);
    memset(&out, 0xEE, sizeof out);
    assert_int_equal(ky_msg_repl_subscribe_decode(body_buf, len, &out), KY_OK);
    assert_true(out.epoch == in.epoch);
    assert_true(out.head_seq == in.head_seq);
    assert_memory_equal(out.head_hash, in.head_hash, KY_WIRE_HASH_BYTES);
    assert_memory_equal(out.node_id, in.node_id, KY_WIRE_NODE_ID_BYTES);
    assert_true(out.acked_seq == UINT64_MAX);
    ky_msg_repl_subscribe empty = {0}; /* a new replica: everything zero is a valid body */
    assert_int_equal(ky_msg_repl_subscribe_encode(&empty, body_buf, 72, &len), KY_OK);
    assert_int_equal(ky_msg_repl_subscribe_decode(body_buf, len, &out), KY_OK);
    assert_true(out.epoch == 0 && out.head_seq == 0 && out.acked_seq == 0);
    memset(body_buf, 0xAB, 80); /* one byte short: refused, nothing written */
    assert_int_equal(ky_msg_repl_subscribe_encode(&in, body_buf, 71, &len), KY_E_BUFFER_TOO_SMALL);
    for (int i = 0; i < 80; i++) assert_int_equal(body_buf[i], 0xAB);
}

static void test_repl_ack(void **state) {
    (void)state;
    ky_msg_repl_ack in = {.epoch = 7, .durable_seq = 0xA1A2A3A4A5A6A7A8ull}, out;
    fill(in.head_hash, KY_WIRE_HASH_BYTES, 0x70);
    size_t len;
    assert_int_equal(ky_msg_repl_ack_encode(&in, body_buf, 100, &len), KY_OK);
    assert_int_equal(len, KY_MSG_REPL_ACK_BYTES);
    assert_int_equal(len, 48);
    assert_true(ky_get_u64le(body_buf) == 7);
    assert_true(ky_get_u64le(body_buf + 8) == in.durable_seq);
    assert_memory_equal(body_buf + 16, in.head_hash, KY_WIRE_HASH_BYTES);
    memset(&out, 0xEE, sizeof out);
    assert_int_equal(ky_msg_repl_ack_decode(body_buf, len, &out), KY_OK);
    assert_true(out.epoch == 7);
    assert_true(out.durable_seq == in.durable_seq);
    assert_memory_equal(out.head_hash, in.head_hash, KY_WIRE_HASH_BYTES);
    memset(body_buf, 0xAB, 60);
    assert_int_equal(ky_msg_repl_ack_encode(&in, body_buf, 47, &len), KY_E_BUFFER_TOO_SMALL);
    for (int i = 0; i < 60; i++) assert_int_equal(body_buf[i], 0xAB);
}

/* Starts a REPL_ENTRIES body in body_buf[0..cap) and adds `count` entries whose sizes cycle
 * through sizes[]; entry i is copied from repl_src + i % 7. Returns the body length. */
static size_t build_repl(uint64_t first_seq, size_t cap, uint32_t count, const uint32_t *sizes,
                         int nsizes) {
    ky_msg_repl_entries m = {
        .epoch = 3, .acked_seq = 0x0F0E0D0C0B0A0908ull, .first_seq = first_seq};
    size_t len = 0;
    fill(repl_src, sizeof repl_src, 12);
    assert_int_equal(ky_msg_repl_entries_begin(&m, body_buf, cap, &len), KY_OK);
    assert_int_equal(len, KY_MSG_REPL_ENTRIES_FIXED_BYTES);
    for (uint32_t i = 0; i < count; i++)
        assert_int_equal(
            ky_msg_repl_entry_add(body_buf, cap, &len, repl_src + i % 7, sizes[i % nsizes]), KY_OK);
    return len;
}

/* Decodes body_buf[0..len) and checks it holds what build_repl wrote. */
static void check_repl(size_t len, uint64_t first_seq, uint32_t count, const uint32_t *sizes,
                       int nsizes) {
    ky_msg_repl_entries out;
    memset(&out, 0xEE, sizeof out);
    assert_int_equal(ky_msg_repl_entries_decode(body_buf, len, &out, repl_blobs, count), KY_OK);
    assert_int_equal(out.epoch, 3);
    assert_true(out.acked_seq == 0x0F0E0D0C0B0A0908ull);
    assert_true(out.first_seq == first_seq);
    assert_int_equal(out.count, count);
    size_t at = KY_MSG_REPL_ENTRIES_FIXED_BYTES;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t n = sizes[i % nsizes];
        assert_int_equal(repl_blobs[i].data_bytes, n);
        assert_ptr_equal(repl_blobs[i].data, body_buf + at + KY_MSG_COUNT_BYTES); /* borrowed */
        assert_memory_equal(repl_blobs[i].data, repl_src + i % 7, n);
        at += KY_MSG_COUNT_BYTES + n;
    }
    assert_int_equal(at, len);
}

static void test_repl_entries_round_trip(void **state) {
    (void)state;
    const uint32_t one[] = {1}, max[] = {KY_WIRE_ENTRY_BYTES_MAX};
    const uint32_t mixed[] = {1, 152, 4000, 2, KY_WIRE_ENTRY_BYTES_MAX, 168, 3};
    /* 0 entries: a heartbeat, 28 bytes; decodes with no entries array at all */
    size_t len = build_repl(42, BODY_MAX, 0, one, 1);
    assert_int_equal(len, 28);
    assert_true(ky_get_u64le(body_buf) == 3); /* the offsets docs/PROTOCOL.md gives */
    assert_true(ky_get_u64le(body_buf + 8) == 0x0F0E0D0C0B0A0908ull);
    assert_true(ky_get_u64le(body_buf + 16) == 42);
    assert_int_equal(ky_get_u32le(body_buf + 24), 0);
    ky_msg_repl_entries out;
    assert_int_equal(ky_msg_repl_entries_decode(body_buf, len, &out, NULL, 0), KY_OK);
    assert_int_equal(out.count, 0);
    assert_true(out.first_seq == 42);
    check_repl(len, 42, 0, one, 1);
    len = build_repl(0, BODY_MAX, 0, one, 1); /* first_seq 0 is fine without entries */
    check_repl(len, 0, 0, one, 1);
    len = build_repl(1, BODY_MAX, 1, one, 1); /* one entry of 1 byte */
    assert_int_equal(len, 28 + 4 + 1);
    assert_int_equal(ky_get_u32le(body_buf + 24), 1);
    assert_int_equal(ky_get_u32le(body_buf + 28), 1);
    check_repl(len, 1, 1, one, 1);
    len = build_repl(9, BODY_MAX, 1, max, 1); /* one entry at KY_WIRE_ENTRY_BYTES_MAX */
    assert_int_equal(len, 28 + 4 + KY_WIRE_ENTRY_BYTES_MAX);
    check_repl(len, 9, 1, max, 1);
    len = build_repl(UINT64_MAX - 1000, BODY_MAX, 1000, mixed, 7); /* many, mixed sizes */
    check_repl(len, UINT64_MAX - 1000, 1000, mixed, 7);
    len = build_repl(5, KY_WIRE_FRAME_BODY_BYTES_MIN, KY_WIRE_BATCH_COUNT_MAX, one, 1);
    check_repl(len, 5, KY_WIRE_BATCH_COUNT_MAX, one, 1); /* the most entries a message holds */
}

/* ky_msg_repl_entry_add fills a frame and then refuses, leaving the body as it was. */
static void test_repl_entries_fill(void **state) {
    (void)state;
    static uint8_t before[KY_WIRE_FRAME_BODY_BYTES_MIN];
    const uint32_t cap = KY_WIRE_FRAME_BODY_BYTES_MIN;
    const uint32_t max[] = {KY_WIRE_ENTRY_BYTES_MAX}, one[] = {1};
    size_t len = build_repl(100, cap, 0, max, 1);
    uint32_t n = 0;
    while (ky_msg_repl_entry_add(body_buf, cap, &len, repl_src + n % 7, KY_WIRE_ENTRY_BYTES_MAX) ==
           KY_OK)
        n++;
    uint32_t fit = (cap - KY_MSG_REPL_ENTRIES_FIXED_BYTES) / (4u + KY_WIRE_ENTRY_BYTES_MAX);
    assert_int_equal(n, fit); /* the full-size entries the smallest frame holds */
    assert_true(n >= 4);      /* ky_limits.h promises several */
    assert_int_equal(len, 28 + (size_t)n * (4 + KY_WIRE_ENTRY_BYTES_MAX));
    memcpy(before, body_buf, len);
    size_t len_before = len;
    assert_int_equal(ky_msg_repl_entry_add(body_buf, cap, &len, entry, KY_WIRE_ENTRY_BYTES_MAX),
                     KY_E_BUFFER_TOO_SMALL); /* refused again: nothing changed */
    assert_int_equal(len, len_before);
    assert_memory_equal(body_buf, before, len);
    check_repl(len, 100, n, max, 1); /* "send what is there" */
    /* the rest of the frame still takes a smaller entry: exactly, then not one byte more */
    uint32_t rest = (uint32_t)(cap - len - KY_MSG_COUNT_BYTES);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, cap, &len, entry, rest + 1),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, cap, &len, entry, rest), KY_OK);
    assert_int_equal(len, cap);
    assert_int_equal(ky_get_u32le(body_buf + 24), n + 1);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, cap, &len, entry, 1), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(len, cap);
    ky_msg_repl_entries out;
    assert_int_equal(ky_msg_repl_entries_decode(body_buf, len, &out, repl_blobs, n + 1), KY_OK);
    assert_int_equal(out.count, n + 1);
    assert_int_equal(repl_blobs[n].data_bytes, rest);
    /* 1-byte entries: the frame would hold more, but a message stops at one replica batch */
    len = build_repl(100, cap, 0, one, 1);
    n = 0;
    while (ky_msg_repl_entry_add(body_buf, cap, &len, repl_src + n % 7, 1) == KY_OK) n++;
    assert_int_equal(n, KY_WIRE_BATCH_COUNT_MAX);
    len_before = len;
    memcpy(before, body_buf, len < sizeof before ? len : sizeof before);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, cap, &len, entry, 1), KY_E_BATCH_TOO_LARGE);
    assert_int_equal(len, len_before);
    assert_memory_equal(body_buf, before, len);
    check_repl(len, 100, n, one, 1);
    /* the fixed part alone: begin needs 28 bytes, and then no entry fits */
    ky_msg_repl_entries m = {1, 1, 1, 0};
    memset(body_buf, 0xAB, 40);
    assert_int_equal(ky_msg_repl_entries_begin(&m, body_buf, 27, &len), KY_E_BUFFER_TOO_SMALL);
    for (int i = 0; i < 40; i++) assert_int_equal(body_buf[i], 0xAB);
    assert_int_equal(ky_msg_repl_entries_begin(&m, body_buf, 28, &len), KY_OK);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, 28, &len, entry, 1), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, 32, &len, entry, 1), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_msg_repl_entry_add(body_buf, 33, &len, entry, 1), KY_OK);
}

static int repl_decode(size_t len, uint32_t cap) {
    ky_msg_repl_entries out;
    return ky_msg_repl_entries_decode(body_buf, len, &out, repl_blobs, cap);
}

static void test_repl_entries_refused(void **state) {
    (void)state;
    const uint32_t sizes[] = {1, 2, 3}; /* lengths at 28, 33, 39; body 46 bytes */
    size_t len = build_repl(10, BODY_MAX, 3, sizes, 3);
    assert_int_equal(len, 46);
    assert_int_equal(repl_decode(len, 3), KY_OK);
    /* count above cap (the caller's array): at cap, and cap + 1 */
    assert_int_equal(repl_decode(len, 2), KY_E_BUFFER_TOO_SMALL);
    ky_put_u32le(body_buf + 24, 9);
    assert_int_equal(repl_decode(len, 8), KY_E_BUFFER_TOO_SMALL);
    /* above one replica batch, whatever the caller's array: the limit before the bytes */
    ky_put_u32le(body_buf + 24, KY_WIRE_BATCH_COUNT_MAX + 1);
    assert_int_equal(repl_decode(len, REPL_ONE_BYTE_ENTRIES_MAX + 1), KY_E_BATCH_TOO_LARGE);
    ky_put_u32le(body_buf + 24, 0xFFFFFFFFu);
    assert_int_equal(repl_decode(len, REPL_ONE_BYTE_ENTRIES_MAX + 1), KY_E_BATCH_TOO_LARGE);
    /* counts that lie */
    ky_put_u32le(body_buf + 24, KY_WIRE_BATCH_COUNT_MAX); /* big count, small body */
    assert_int_equal(repl_decode(len, REPL_ONE_BYTE_ENTRIES_MAX + 1), KY_E_MSG_TRUNCATED);
    ky_put_u32le(body_buf + 24, 4);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_TRUNCATED);
    ky_put_u32le(body_buf + 24, 2);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(body_buf + 24, 3);
    /* the last entry's length: one byte more, one byte less */
    ky_put_u32le(body_buf + 39, 4);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_TRUNCATED);
    ky_put_u32le(body_buf + 39, 2);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_TRAILING_BYTES);
    ky_put_u32le(body_buf + 39, 3);
    assert_int_equal(repl_decode(len, 9), KY_OK);
    /* an empty entry that is otherwise well-formed */
    ky_put_u32le(body_buf + 24, 1);
    ky_put_u32le(body_buf + 28, 0);
    assert_int_equal(repl_decode(32, 9), KY_E_MSG_MALFORMED);
    ky_put_u32le(body_buf + 24, 2); /* ... followed by an entry cut short: truncation first */
    ky_put_u32le(body_buf + 32, 9);
    assert_int_equal(repl_decode(40, 9), KY_E_MSG_TRUNCATED);
    assert_int_equal(repl_decode(32, 9), KY_E_MSG_TRUNCATED);
    /* first_seq 0 with entries (without entries it is fine: test_repl_entries_round_trip) */
    len = build_repl(1, BODY_MAX, 3, sizes, 3);
    ky_put_u64le(body_buf + 16, 0);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_MALFORMED);
    assert_int_equal(repl_decode(len - 1, 9), KY_E_MSG_TRUNCATED); /* framing before values */
    assert_int_equal(repl_decode(len, 2), KY_E_BUFFER_TOO_SMALL);  /* limits before values */
    /* an entry at KY_WIRE_ENTRY_BYTES_MAX, and at max + 1 */
    ky_msg_repl_entries m = {3, 0, 1, 0};
    assert_int_equal(ky_msg_repl_entries_begin(&m, body_buf, BODY_MAX, &len), KY_OK);
    ky_put_u32le(body_buf + 24, 1);
    ky_put_u32le(body_buf + 28, KY_WIRE_ENTRY_BYTES_MAX);
    fill(body_buf + 32, KY_WIRE_ENTRY_BYTES_MAX + 1, 5);
    assert_int_equal(repl_decode(32 + KY_WIRE_ENTRY_BYTES_MAX, 1), KY_OK);
    ky_put_u32le(body_buf + 28, KY_WIRE_ENTRY_BYTES_MAX + 1);
    assert_int_equal(repl_decode(32 + KY_WIRE_ENTRY_BYTES_MAX + 1, 1), KY_E_MSG_FIELD_TOO_LONG);
    ky_put_u32le(body_buf + 28, 0xFFFFFFFFu); /* the limit is checked before the bytes */
    assert_int_equal(repl_decode(32, 1), KY_E_MSG_FIELD_TOO_LONG);
    /* ... also behind a good entry */
    len = build_repl(1, BODY_MAX, 2, sizes, 3);
    ky_put_u32le(body_buf + 33, KY_WIRE_ENTRY_BYTES_MAX + 1);
    assert_int_equal(repl_decode(len, 9), KY_E_MSG_FIELD_TOO_LONG);
}

static void test_promote(void **state) {
    (void)state;
    size_t len;
    uint8_t flags;
    for (unsigned v = 0; v < 256; v++) { /* every flags byte: only FORCE and ACCEPT_LOSS known */
        bool known = (v & ~(unsigned)(KY_PROMOTE_FORCE | KY_PROMOTE_ACCEPT_LOSS)) == 0;
        len = 99;
        int rc = ky_msg_promote_encode((uint8_t)v, body_buf, 1, &len);
        assert_int_equal(rc, known ? KY_OK : KY_E_MSG_MALFORMED);
        if (known) assert_int_equal(len, KY_MSG_PROMOTE_BYTES);
        body_buf[0] = (uint8_t)v;
        flags = (uint8_t)~v;
        rc = ky_msg_promote_decode(body_buf, 1, &flags);
        assert_int_equal(rc, known ? KY_OK : KY_E_MSG_MALFORMED);
        if (known) assert_int_equal(flags, v);
    }
    body_buf[0] = 0xAB;
    assert_int_equal(ky_msg_promote_encode(KY_PROMOTE_FORCE, body_buf, 0, &len),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(body_buf[0], 0xAB);
    assert_int_equal(ky_msg_promote_decode(NULL, 0, &flags), KY_E_MSG_TRUNCATED);
    body_buf[0] = 0xFC; /* unknown bits and a trailing byte: framing is judged first */
    assert_int_equal(ky_msg_promote_decode(body_buf, 2, &flags), KY_E_MSG_TRAILING_BYTES);
    /* the response: u64 new epoch, u64 head seq */
    uint64_t epoch = 0, head = 0;
    assert_int_equal(
        ky_msg_promote_resp_encode(0x0102030405060708ull, UINT64_MAX, body_buf, 16, &len), KY_OK);
    assert_int_equal(len, KY_MSG_PROMOTE_RESP_BYTES);
    assert_int_equal(len, 16);
    assert_true(ky_get_u64le(body_buf) == 0x0102030405060708ull);
    assert_true(ky_get_u64le(body_buf + 8) == UINT64_MAX);
    assert_int_equal(ky_msg_promote_resp_decode(body_buf, len, &epoch, &head), KY_OK);
    assert_true(epoch == 0x0102030405060708ull);
    assert_true(head == UINT64_MAX);
    memset(body_buf, 0xAB, 20);
    assert_int_equal(ky_msg_promote_resp_encode(2, 9, body_buf, 15, &len), KY_E_BUFFER_TOO_SMALL);
    for (int i = 0; i < 20; i++) assert_int_equal(body_buf[i], 0xAB);
}

/* ---- every decoder: every truncation, one trailing byte ------------------------------------ */

typedef int (*decode_fn)(const uint8_t *body, size_t len);

static int dec_hello(const uint8_t *b, size_t n) {
    ky_msg_hello m;
    return ky_msg_hello_decode(b, n, &m);
}
static int dec_hello_resp(const uint8_t *b, size_t n) {
    ky_msg_hello_resp m;
    return ky_msg_hello_resp_decode(b, n, &m);
}
static int dec_append(const uint8_t *b, size_t n) {
    uint32_t c;
    return ky_msg_append_decode(b, n, events, 16, &c);
}
static int dec_append_resp(const uint8_t *b, size_t n) {
    uint32_t c;
    return ky_msg_append_resp_decode(b, n, results, 16, &c);
}
static int dec_get(const uint8_t *b, size_t n) {
    uint64_t v;
    return ky_msg_get_decode(b, n, &v);
}
static int dec_contract(const uint8_t *b, size_t n) {
    uint64_t v;
    return ky_msg_contract_decode(b, n, &v);
}
static int dec_range(const uint8_t *b, size_t n) {
    ky_msg_range m;
    return ky_msg_range_decode(b, n, &m);
}
static int dec_history(const uint8_t *b, size_t n) {
    ky_msg_history m;
    return ky_msg_history_decode(b, n, &m);
}
static int dec_status(const uint8_t *b, size_t n) {
    return ky_msg_status_decode(b, n);
}
static int dec_get_resp(const uint8_t *b, size_t n) {
    ky_wire_blob e;
    return ky_msg_get_resp_decode(b, n, &e);
}
static int dec_contract_resp(const uint8_t *b, size_t n) {
    ky_wire_blob e;
    return ky_msg_contract_resp_decode(b, n, &e);
}
static int dec_range_resp(const uint8_t *b, size_t n) {
    uint32_t c;
    return ky_msg_range_resp_decode(b, n, blobs, 16, &c);
}
static int dec_history_resp(const uint8_t *b, size_t n) {
    uint32_t c;
    uint64_t next;
    return ky_msg_history_resp_decode(b, n, &next, blobs, 16, &c);
}
static int dec_status_resp(const uint8_t *b, size_t n) {
    ky_msg_status_resp m;
    return ky_msg_status_resp_decode(b, n, &m);
}
static int dec_error(const uint8_t *b, size_t n) {
    ky_msg_error m;
    return ky_msg_error_decode(b, n, &m);
}
static int dec_repl_subscribe(const uint8_t *b, size_t n) {
    ky_msg_repl_subscribe m;
    return ky_msg_repl_subscribe_decode(b, n, &m);
}
static int dec_repl_ack(const uint8_t *b, size_t n) {
    ky_msg_repl_ack m;
    return ky_msg_repl_ack_decode(b, n, &m);
}
static int dec_promote(const uint8_t *b, size_t n) {
    uint8_t flags;
    return ky_msg_promote_decode(b, n, &flags);
}
static int dec_repl_entries(const uint8_t *b, size_t n) {
    ky_msg_repl_entries m;
    return ky_msg_repl_entries_decode(b, n, &m, repl_blobs, 16);
}
static int dec_promote_resp(const uint8_t *b, size_t n) {
    uint64_t epoch, head;
    return ky_msg_promote_resp_decode(b, n, &epoch, &head);
}

/* A valid body is decoded OK; every shorter prefix (in an exact-size heap copy) is
 * KY_E_MSG_TRUNCATED; one extra byte is KY_E_MSG_TRAILING_BYTES. */
static void check_framing(const char *name, decode_fn fn, const uint8_t *body, size_t len) {
    uint8_t *p = dup_exact(body, len);
    if (fn(p, len) != KY_OK) fail_msg("%s: valid body refused", name);
    free(p);
    for (size_t cut = 0; cut < len; cut++) {
        p = dup_exact(body, cut);
        int rc = fn(p, cut);
        free(p);
        if (rc != KY_E_MSG_TRUNCATED)
            fail_msg("%s cut at %zu/%zu: %s", name, cut, len, ky_errname(rc));
    }
    uint8_t *longer = malloc(len + 1);
    assert_non_null(longer);
    memcpy(longer, body, len);
    longer[len] = 0x41;
    int rc = fn(longer, len + 1);
    free(longer);
    if (rc != KY_E_MSG_TRAILING_BYTES) fail_msg("%s + 1 byte: %s", name, ky_errname(rc));
}

static size_t sample_requests(uint8_t *out, int which) {
    size_t len = 0;
    const uint32_t sizes[] = {3, 0, 1};
    ky_msg_hello h = {1, 2, 5, "kyctl"};
    ky_msg_range r = {1, 9, 5};
    ky_msg_history y = {12, 3, 4};
    ky_msg_repl_subscribe sub = sample_subscribe();
    ky_msg_repl_ack ack = {2, 5, {9}};
    switch (which) {
    case 0: assert_int_equal(ky_msg_hello_encode(&h, out, 100, &len), KY_OK); break;
    case 1:
        len = encode_batch(3, sizes, 3);
        memmove(out, body_buf, len);
        break;
    case 2: assert_int_equal(ky_msg_get_encode(7, out, 8, &len), KY_OK); break;
    case 3: assert_int_equal(ky_msg_contract_encode(7, out, 8, &len), KY_OK); break;
    case 4: assert_int_equal(ky_msg_range_encode(&r, out, 20, &len), KY_OK); break;
    case 5: assert_int_equal(ky_msg_history_encode(&y, out, 20, &len), KY_OK); break;
    case 6: break; /* STATUS, empty */
    case 7: assert_int_equal(ky_msg_repl_subscribe_encode(&sub, out, 72, &len), KY_OK); break;
    case 8: assert_int_equal(ky_msg_repl_ack_encode(&ack, out, 48, &len), KY_OK); break;
    default: assert_int_equal(ky_msg_promote_encode(KY_PROMOTE_FORCE, out, 1, &len), KY_OK);
    }
    return len;
}

static size_t sample_responses(uint8_t *out, int which) {
    size_t len = 0;
    uint32_t n;
    ky_msg_hello_resp hr = sample_hello_resp();
    ky_wire_append_result ar[2] = {{0, 1, 4}, {KY_WIRE_STATUS_LINKED_FAILED, 0, 0}};
    ky_msg_status_resp sr = {.role = 2};
    ky_msg_error er = {KY_WIRE_STATUS_NOT_PRIMARY, 4, "role", 3, "no!"};
    const uint32_t sizes[] = {1, 200, 7};
    switch (which) {
    case 0: assert_int_equal(ky_msg_hello_resp_encode(&hr, out, 100, &len), KY_OK); break;
    case 1: assert_int_equal(ky_msg_append_resp_encode(ar, 2, out, 100, &len), KY_OK); break;
    case 2: assert_int_equal(ky_msg_get_resp_encode(entry, 9, out, 100, &len), KY_OK); break;
    case 3: assert_int_equal(ky_msg_contract_resp_encode(entry, 2, out, 100, &len), KY_OK); break;
    case 4: len = build_page(KY_MSG_RANGE, 4, BODY_MAX, 0, &n); break;
    case 5: len = build_page(KY_MSG_HISTORY, 4, BODY_MAX, 9, &n); break;
    case 6: assert_int_equal(ky_msg_status_resp_encode(&sr, out, 200, &len), KY_OK); break;
    case 7: assert_int_equal(ky_msg_error_encode(&er, out, 100, &len), KY_OK); break;
    case 8: len = build_repl(17, BODY_MAX, 3, sizes, 3); break;
    case 9: len = build_repl(18, BODY_MAX, 0, sizes, 3); break; /* heartbeat */
    default: assert_int_equal(ky_msg_promote_resp_encode(4, 99, out, 16, &len), KY_OK); break;
    }
    if (which == 4 || which == 5 || which == 8 || which == 9) memmove(out, body_buf, len);
    return len;
}

static void test_every_decoder_framing(void **state) {
    (void)state;
    static uint8_t sample[70000];
    const char *req_names[] = {"hello",    "append",  "get",    "contract",
                               "range",    "history", "status", "repl_subscribe",
                               "repl_ack", "promote"};
    decode_fn req_fns[] = {dec_hello,    dec_append,  dec_get,    dec_contract,
                           dec_range,    dec_history, dec_status, dec_repl_subscribe,
                           dec_repl_ack, dec_promote};
    fill(payload, sizeof payload, 1);
    for (int i = 0; i < 10; i++)
        check_framing(req_names[i], req_fns[i], sample, sample_requests(sample, i));
    const char *resp_names[] = {
        "hello_resp",   "append_resp", "get_resp", "contract_resp", "range_resp",
        "history_resp", "status_resp", "error",    "repl_entries",  "repl_entries_heartbeat",
        "promote_resp"};
    decode_fn resp_fns[] = {dec_hello_resp,   dec_append_resp,  dec_get_resp,    dec_contract_resp,
                            dec_range_resp,   dec_history_resp, dec_status_resp, dec_error,
                            dec_repl_entries, dec_repl_entries, dec_promote_resp};
    for (int i = 0; i < 11; i++)
        check_framing(resp_names[i], resp_fns[i], sample, sample_responses(sample, i));
}

/* Whole frame, zero copy: the client encodes the APPEND body in place and seals it. */
static void test_zero_copy_append_frame(void **state) {
    (void)state;
    ky_msg_append_writer w;
    size_t body_len, n, m;
    ky_wire_event e = sample_event(3, 20);
    uint8_t *body = frame_buf + KY_WIRE_HEADER_BYTES;
    assert_int_equal(ky_msg_append_begin(&w, body, KY_WIRE_FRAME_BODY_BYTES_MIN, 100), KY_OK);
    assert_int_equal(ky_msg_append_add(&w, &e), KY_OK);
    assert_int_equal(ky_msg_append_finish(&w, &body_len), KY_OK);
    assert_int_equal(
        ky_frame_seal(KY_MSG_APPEND, 0, 99, (uint32_t)body_len, frame_buf, sizeof frame_buf, &n),
        KY_OK);
    ky_frame_header h;
    const uint8_t *got;
    assert_int_equal(ky_frame_decode(frame_buf, n, KY_WIRE_FRAME_BODY_BYTES_MIN, &h, &got, &m),
                     KY_OK);
    assert_int_equal(ky_msg_header_check(&h), KY_OK);
    uint32_t count;
    assert_int_equal(ky_msg_append_decode(got, h.body_bytes, events, 10, &count), KY_OK);
    assert_int_equal(count, 1);
    assert_event_equal(&e, &events[0]);
}

/* ====================================================================================== */
/* status codes                                                                            */
/* ====================================================================================== */

/* ky_err codes that never reach a client: they map to INTERNAL by design. Adding a
 * ky_err code fails test_status_every_err_classified until it is listed here or given a
 * wire status. */
static const int internal_only[] = {
    KY_E_HANDSHAKE_REPLAYED, /* the node only logs these: the peer learns nothing */
    KY_E_KEY_UNKNOWN,
    KY_E_LOCKED,
    KY_E_EXISTS,
    KY_E_FORMAT_VERSION,
    KY_E_BUFFER_TOO_SMALL,
    KY_E_ENTRY_TRUNCATED,
    KY_E_ENTRY_TRAILING_BYTES,
    KY_E_ENTRY_VERSION,
    KY_E_ENTRY_FLAGS,
    KY_E_ENTRY_SEQ,
    KY_E_PARSE,
    KY_E_PROOF_INVALID,
    KY_E_NOTE_MALFORMED,
    KY_E_NOTE_TOO_LARGE,
    KY_E_NOTE_SIGNATURES_TOO_MANY,
    KY_E_NOTE_UNVERIFIED,
    KY_E_NOTE_SIGNATURE_INVALID,
    KY_E_NOTE_KEY_INVALID,
    KY_E_NOTE_KEY_NAME_TOO_LONG,
    KY_E_CHECKPOINT_MALFORMED,
    KY_E_RANGE,
    KY_E_REPLAY_INVALID,
    KY_E_QUARANTINE_ACKED, /* ledger-local: catch-up and kyosaictl, never sent to a peer */
};

static void test_status_bijection(void **state) {
    (void)state;
    size_t n = ky_wire_status_count();
    assert_true(n > 60);
    for (size_t i = 0; i < n; i++) {
        uint16_t s = ky_wire_status_at(i);
        int e = ky_wire_status_to_err(s);
        assert_int_equal(ky_wire_status_from_err(e), s);
        for (size_t j = 0; j < i; j++) { /* values and ky_err codes unique */
            assert_int_not_equal(ky_wire_status_at(j), s);
            assert_int_not_equal(ky_wire_status_to_err(ky_wire_status_at(j)), e);
        }
        const char *name = ky_wire_status_name(s);
        if (e == KY_OK) {
            assert_string_equal(name, "OK");
            assert_int_equal(s, 0);
        } else {
            assert_string_equal(name, ky_errname(e) + strlen("KY_E_")); /* names follow */
        }
        /* ranges: frame and channel codes 1-19 (connection closed), rule codes 100-199,
         * INTERNAL at 299 */
        bool channel = s >= KY_WIRE_STATUS_PLAINTEXT_REFUSED && s <= KY_WIRE_STATUS_NONCE_EXHAUSTED;
        assert_true((strncmp(name, "FRAME_", 6) == 0 || channel) == (s >= 1 && s <= 19));
        assert_true(s < 300);
    }
    assert_int_equal(KY_WIRE_STATUS_INTERNAL, 299);
    assert_int_equal(ky_wire_status_from_err(KY_E_PREMIUM_STEP), 113);
    assert_true(KY_WIRE_STATUS_ENTRY_KIND == 100 && KY_WIRE_STATUS_LINKED_OPEN < 200);
}

static void test_status_every_err_classified(void **state) {
    (void)state;
    size_t ni = sizeof internal_only / sizeof internal_only[0];
    for (int e = -1; e >= -KY_E__COUNT; e--) {
        uint16_t s = ky_wire_status_from_err(e);
        bool internal = false;
        for (size_t k = 0; k < ni; k++) internal = internal || internal_only[k] == e;
        if (internal) {
            if (s != KY_WIRE_STATUS_INTERNAL) fail_msg("%s is listed as internal", ky_errname(e));
        } else if (s == KY_WIRE_STATUS_INTERNAL && e != KY_E_INTERNAL) {
            fail_msg("%s has no wire status and is not listed internal_only", ky_errname(e));
        } else {
            assert_int_equal(ky_wire_status_to_err(s), e);
        }
    }
    assert_int_equal(ky_wire_status_from_err(12345), KY_WIRE_STATUS_INTERNAL);
    assert_int_equal(ky_wire_status_from_err(-KY_E__COUNT - 1), KY_WIRE_STATUS_INTERNAL);
    uint16_t unknown[] = {15, 19, 99, 134, 199, 214, 298, 300, 65535};
    for (int i = 0; i < 9; i++) {
        assert_int_equal(ky_wire_status_to_err(unknown[i]), KY_E_PROTOCOL);
        assert_string_equal(ky_wire_status_name(unknown[i]), "UNKNOWN");
    }
}

/* The Markdown table docs/PROTOCOL.md embeds between its status-table markers. */
static size_t status_table(char *out, size_t cap) {
    size_t len = 0;
    len += (size_t)snprintf(out + len, cap - len, "| Status | Value | Meaning |\n|---|---:|---|\n");
    for (size_t i = 0; i < ky_wire_status_count() && len < cap; i++) {
        uint16_t s = ky_wire_status_at(i);
        const char *msg = ky_strerror(ky_wire_status_to_err(s));
        const char *colon = strstr(msg, ": ");
        len += (size_t)snprintf(out + len, cap - len, "| `%s` | %u | %s. |\n",
                                ky_wire_status_name(s), (unsigned)s, colon ? colon + 2 : msg);
    }
    assert_true(len < cap);
    return len;
}

static void test_status_table_in_docs(void **state) {
    (void)state;
    static char want[32768], doc[262144];
    status_table(want, sizeof want);
    const char *dir = getenv("KY_DOCS_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/PROTOCOL.md", dir ? dir : "docs");
    FILE *f = fopen(path, "r");
    if (f == NULL)
        fail_msg("cannot open %s (run from the repository root or set KY_DOCS_DIR)", path);
    size_t n = fread(doc, 1, sizeof doc - 1, f);
    fclose(f);
    doc[n] = 0;
    const char *begin = strstr(doc, "<!-- status-table:begin -->\n");
    const char *end = strstr(doc, "<!-- status-table:end -->");
    if (begin == NULL || end == NULL) fail_msg("%s lacks the status-table markers", path);
    begin += strlen("<!-- status-table:begin -->\n");
    if ((size_t)(end - begin) != strlen(want) || memcmp(begin, want, strlen(want)) != 0)
        fail_msg("%s status table differs from the code; regenerate it with "
                 "`test_proto --status-table`",
                 path);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--status-table") == 0) {
        static char table[32768];
        fwrite(table, 1, status_table(table, sizeof table), stdout);
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_layout),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_header_body_limit),
        cmocka_unit_test(test_unknown_type_passes_header),
        cmocka_unit_test(test_frame_round_trip_and_checksum),
        cmocka_unit_test(test_frame_truncated_every_length),
        cmocka_unit_test(test_frame_encode_limits),
        cmocka_unit_test(test_reader_byte_by_byte),
        cmocka_unit_test(test_reader_random_chunks),
        cmocka_unit_test(test_reader_pipelined_one_buffer),
        cmocka_unit_test(test_reader_errors_are_sticky),
        cmocka_unit_test(test_reader_body_limit),
        cmocka_unit_test(test_reader_eof),
        cmocka_unit_test(test_append_round_trip),
        cmocka_unit_test(test_append_writer_limits),
        cmocka_unit_test(test_append_batch_limit),
        cmocka_unit_test(test_append_counts_and_lengths_lie),
        cmocka_unit_test(test_append_resp),
        cmocka_unit_test(test_append_resp_rules_and_limit),
        cmocka_unit_test(test_hello),
        cmocka_unit_test(test_hello_resp),
        cmocka_unit_test(test_fixed_requests),
        cmocka_unit_test(test_range_and_history_requests),
        cmocka_unit_test(test_blob_responses),
        cmocka_unit_test(test_range_history_responses),
        cmocka_unit_test(test_entry_lists_lie),
        cmocka_unit_test(test_status_resp),
        cmocka_unit_test(test_error),
        cmocka_unit_test(test_repl_subscribe),
        cmocka_unit_test(test_repl_ack),
        cmocka_unit_test(test_repl_entries_round_trip),
        cmocka_unit_test(test_repl_entries_fill),
        cmocka_unit_test(test_repl_entries_refused),
        cmocka_unit_test(test_promote),
        cmocka_unit_test(test_every_decoder_framing),
        cmocka_unit_test(test_zero_copy_append_frame),
        cmocka_unit_test(test_status_bijection),
        cmocka_unit_test(test_status_every_err_classified),
        cmocka_unit_test(test_status_table_in_docs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
