/*
 * frame.h — the wire frame: a fixed 32-byte header and a checksummed body.
 *
 * Why: node, replication and client all speak in frames, and every byte a peer sends is
 * hostile until checked. A fixed header with an explicit body length lets a reader refuse
 * an oversized frame before buffering its body, the XXH3-64 of the body catches torn or
 * corrupted bodies, and a request id lets many requests be in flight on one connection
 * (pipelining) with responses returned in any order. The secure channel (a later issue)
 * wraps whole frames as opaque bytes, so nothing here changes when it arrives: the sender
 * encrypts the output of ky_frame_encode, the receiver feeds decrypted bytes to a
 * ky_frame_reader.
 *
 * Header layout (all integers little-endian; docs/PROTOCOL.md is the byte-level spec):
 *
 *    0 u32 magic        0x4B594C31, so the bytes on the wire are 31 4C 59 4B
 *    4 u8  version      KY_WIRE_VERSION (1)
 *    5 u8  type         message type (proto/msg.h); checked by the message layer
 *    6 u16 flags        bit 0 KY_FRAME_FLAG_RESPONSE; every other bit must be 0
 *    8 u64 request_id   chosen by the requester, echoed in the response
 *   16 u32 body_bytes   bytes of body after the header, <= frame_body_bytes_max
 *   20 u32 reserved     must be 0
 *   24 u64 body_xxh3    XXH3-64 (seed 0) of the body bytes
 *   32 body
 *
 * Ownership: pure codecs. Nothing here allocates, owns fds or prints; every buffer is the
 * caller's. Any thread may call any function; a ky_frame_reader belongs to one thread at a
 * time (the connection's loop thread).
 *
 * Rules:
 *   1. The header decoder checks magic, version, flags, reserved and the body limit, in
 *      that order. It does NOT check the type, so that a peer sending an unknown type can
 *      be answered with an ERROR frame naming it (ky_msg_header_check does that).
 *   2. A frame-level error (any KY_E_FRAME_*) means the byte stream can no longer be
 *      trusted: the receiver closes the connection after at most one ERROR frame.
 *   3. A ky_frame_reader never buffers more than KY_WIRE_HEADER_BYTES + body_bytes_max,
 *      and refuses an oversized frame as soon as its header is complete.
 *
 * Reader states (ky_frame_reader_feed drives every transition):
 *
 *   init/reset -> HEADER --32 bytes, header ok--> BODY --body in, checksum ok--> READY
 *                   ^                                                             |
 *                   +------------------ next ky_frame_reader_feed ----------------+
 *   HEADER --bad magic/version/flags/reserved, too large--> FAILED
 *   BODY   --checksum mismatch--> FAILED        (FAILED is sticky until reset)
 *   A header with body_bytes == 0 goes from HEADER straight to READY.
 */
#ifndef KY_FRAME_H
#define KY_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ky_limits.h"

#define KY_WIRE_MAGIC          0x4B594C31u /* bytes 31 4C 59 4B on the wire (little-endian) */
#define KY_WIRE_VERSION        1u          /* the only frame/protocol version of this code */
#define KY_FRAME_FLAG_RESPONSE 0x0001u     /* set on every response, including ERROR */
#define KY_FRAME_FLAGS_KNOWN   KY_FRAME_FLAG_RESPONSE

/* Results of ky_frame_reader_feed besides the negative ky_err codes. Positive, so they
 * never collide with KY_OK (0) or an error. */
enum ky_frame_step {
    KY_STEP_NEED_MORE = 1, /* every byte was taken; no whole frame yet */
    KY_STEP_FRAME = 2,     /* a whole, checked frame is available */
};

/* A decoded header. The magic is implied; `reserved` is always 0 once decoded. */
typedef struct ky_frame_header {
    uint8_t version;     /* KY_WIRE_VERSION */
    uint8_t type;        /* ky_msg_type value; not checked by the frame layer */
    uint16_t flags;      /* KY_FRAME_FLAG_* */
    uint64_t request_id; /* requester's id, echoed in the response */
    uint32_t body_bytes; /* bytes of body following the header */
    uint64_t body_xxh3;  /* XXH3-64 of the body, seed 0 */
} ky_frame_header;

/* Writes the 32-byte encoding of h (magic, h's fields, reserved = 0) to out. h->flags must
 * hold only known bits and h->body_bytes must not exceed KY_WIRE_FRAME_BODY_BYTES_MAX
 * (asserted: a caller building a bad header is a bug). Any thread. */
void ky_frame_header_encode(const ky_frame_header *h, uint8_t out[KY_WIRE_HEADER_BYTES]);

/* Decodes and checks the 32 bytes at in. body_bytes_max (<= KY_WIRE_FRAME_BODY_BYTES_MAX,
 * asserted) is the receiver's limit. Returns KY_OK, KY_E_FRAME_MAGIC, KY_E_FRAME_VERSION,
 * KY_E_FRAME_FLAGS, KY_E_FRAME_RESERVED or KY_E_FRAME_TOO_LARGE. On KY_OK and on
 * KY_E_FRAME_TOO_LARGE *out holds the header (so the receiver can echo request_id in an
 * ERROR frame before it closes); after other errors *out is unspecified. Any thread. */
int ky_frame_header_decode(const uint8_t in[KY_WIRE_HEADER_BYTES], uint32_t body_bytes_max,
                           ky_frame_header *out);

/* Checks that the hdr->body_bytes bytes at body (NULL allowed when 0) hash to
 * hdr->body_xxh3. Returns KY_OK or KY_E_FRAME_CHECKSUM. Any thread. */
int ky_frame_body_check(const ky_frame_header *hdr, const uint8_t *body);

/* Completes a frame whose body the caller already wrote at frame + KY_WIRE_HEADER_BYTES
 * (the zero-copy path: encode the body in place, then seal). Writes the header with the
 * body's checksum. frame_cap is the bytes available at frame. Returns KY_OK, or
 * KY_E_FRAME_TOO_LARGE (body_bytes > KY_WIRE_FRAME_BODY_BYTES_MAX), KY_E_FRAME_FLAGS
 * (unknown flag bits), KY_E_BUFFER_TOO_SMALL (header + body exceed frame_cap); on error
 * nothing is written. *frame_bytes gets KY_WIRE_HEADER_BYTES + body_bytes. Any thread. */
int ky_frame_seal(uint8_t type, uint16_t flags, uint64_t request_id, uint32_t body_bytes,
                  uint8_t *frame, size_t frame_cap, size_t *frame_bytes);

/* Encodes a whole frame (header + copy of body) into out. body may be NULL when
 * body_bytes == 0, and may already sit at out + KY_WIRE_HEADER_BYTES (then nothing is
 * copied). Returns as ky_frame_seal. Any thread. */
int ky_frame_encode(uint8_t type, uint16_t flags, uint64_t request_id, const uint8_t *body,
                    size_t body_bytes, uint8_t *out, size_t cap, size_t *frame_bytes);

/* Decodes the first frame in buf[0..len): header checks as ky_frame_header_decode, then
 * KY_E_FRAME_TRUNCATED if buf holds less than the whole frame, then the checksum.
 * On KY_OK, *body points into buf (borrowed for as long as buf lives; NULL when the body
 * is empty) and *frame_bytes is the frame's length, so pipelined frames in one buffer can
 * be decoded one after another. Any thread. */
int ky_frame_decode(const uint8_t *buf, size_t len, uint32_t body_bytes_max, ky_frame_header *hdr,
                    const uint8_t **body, size_t *frame_bytes);

/* A resumable, incremental frame reader over a byte stream. Caller-allocated; fields are
 * private to frame.c (read them only through the accessors). */
typedef struct ky_frame_reader {
    uint8_t *buf;            /* caller's buffer: header then body of the current frame */
    size_t buf_cap;          /* bytes at buf, >= KY_WIRE_HEADER_BYTES + body_bytes_max */
    uint32_t body_bytes_max; /* largest body accepted, bytes */
    size_t have;             /* bytes of the current frame held in buf */
    ky_frame_header hdr;     /* valid once the header is decoded (BODY, READY, some FAILED) */
    bool hdr_valid;          /* hdr holds the current frame's header */
    uint8_t state;           /* HEADER, BODY, READY or FAILED (frame.c) */
    int error;               /* the sticky ky_err in FAILED, else KY_OK */
} ky_frame_reader;

/* Prepares r to read frames into buf. buf_cap must be at least KY_WIRE_HEADER_BYTES +
 * body_bytes_max and body_bytes_max at most KY_WIRE_FRAME_BODY_BYTES_MAX (both asserted:
 * sizes come from validated config). buf stays the caller's and must outlive r. */
void ky_frame_reader_init(ky_frame_reader *r, uint8_t *buf, size_t buf_cap,
                          uint32_t body_bytes_max);

/* Forgets any partial or delivered frame and any error; the next feed starts a frame. */
void ky_frame_reader_reset(ky_frame_reader *r);

/* Takes bytes[0..n) from the stream (bytes may be NULL when n == 0). *consumed gets how
 * many were taken. Returns:
 *   KY_STEP_NEED_MORE  all n bytes taken, no whole frame yet;
 *   KY_STEP_FRAME      a whole frame whose header passed ky_frame_header_decode and whose
 *                      body passed ky_frame_body_check is available through the
 *                      accessors; *consumed may be < n: feed the rest after handling this
 *                      frame (pipelined frames are delivered one at a time);
 *   KY_E_FRAME_*       magic, version, flags, reserved, too large or checksum (see
 *                      ky_frame_header_decode); the reader is FAILED and returns the same
 *                      error until reset. The connection must be closed (rule 2).
 * The next call after KY_STEP_FRAME releases the delivered frame before taking bytes.
 * The magic is checked as soon as 4 bytes are in, so a stranger protocol fails fast. */
int ky_frame_reader_feed(ky_frame_reader *r, const uint8_t *bytes, size_t n, size_t *consumed);

/* The header of the delivered frame after KY_STEP_FRAME, or of the refused frame after
 * KY_E_FRAME_TOO_LARGE / KY_E_FRAME_CHECKSUM (to echo its request_id in an ERROR frame);
 * otherwise NULL. Borrowed from r until the next feed or reset. */
const ky_frame_header *ky_frame_reader_header(const ky_frame_reader *r);

/* The body of the delivered frame after KY_STEP_FRAME (header's body_bytes long; a valid
 * pointer even when empty), otherwise NULL. Borrowed from r's buffer until the next feed
 * or reset: a caller that keeps decoded pointers into it must not feed before it is done. */
const uint8_t *ky_frame_reader_body(const ky_frame_reader *r);

/* For the end of the stream (peer closed): KY_OK when no partial frame is buffered,
 * KY_E_FRAME_TRUNCATED when the stream ended inside a frame, or the sticky error. */
int ky_frame_reader_at_eof(const ky_frame_reader *r);

#endif
