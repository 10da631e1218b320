/*
 * client_int.h — private structures and functions shared by the client library's files.
 *
 * Why a private header: the library is split by responsibility (client.c: the public
 * append API and the request/retry loop; client_read.c: reads; client_io.c: sockets,
 * deadlines and the HELLO handshake; client_codec.c: pure decoding, keys and error
 * strings), and those files share the kyosai_client struct. Nothing here is installed or
 * exported (the library is built with -fvisibility=hidden); unit tests link the static
 * library and may call the pure functions.
 *
 * Layering: client/ includes only common/ and proto/, never ledger/ (the library must not
 * link LMDB or OpenSSL). Entry and contract-state layouts are copied from
 * docs/LEDGER-FORMAT.md and ledger/rules.c, with their offsets asserted in client_codec.c.
 *
 * Ownership: a kyosai_client owns one socket (fd, -1 when disconnected), two frame buffers
 * of KY_WIRE_HEADER_BYTES + KY_WIRE_FRAME_BODY_BYTES_MAX bytes allocated once by
 * kyosai_connect, and the append-result array. One thread at a time (kyosai.h).
 *
 * Connection states (client_io.c):
 *
 *   DISCONNECTED (fd -1) --ky_client_connect_any: TCP connect + HELLO ok--> CONNECTED
 *   CONNECTED --transport error, timeout, bad frame, NOT_PRIMARY/UNAVAILABLE answer,
 *               ky_client_disconnect--> DISCONNECTED (pipelined batches in flight forgotten)
 *   Every public call that needs the node connects first when DISCONNECTED.
 */
#ifndef KY_CLIENT_INT_H
#define KY_CLIENT_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ky_limits.h"
#include "../proto/frame.h"
#include "../proto/msg.h"
#include "../secure/channel.h"
#include "../secure/keys.h"
#include "kyosai.h"

#define KY_CLIENT_IN_BYTES    65536u /* socket read staging buffer, bytes */
#define KY_CLIENT_FRAME_BYTES (KY_WIRE_HEADER_BYTES + KY_WIRE_FRAME_BODY_BYTES_MAX)
/* sealed request: the frame plus a length and a tag per record, with room to spare */
#define KY_CLIENT_SEALED_BYTES (KY_CLIENT_FRAME_BYTES + KY_CLIENT_FRAME_BYTES / 1024u + 64u)
/* ciphertext received: up to two whole records */
#define KY_CLIENT_CIN_RECORD_BYTES           (KY_CHAN_LENGTH_BYTES + KY_CHAN_RECORD_BYTES_MAX)
#define KY_CLIENT_CIN_BYTES                  (2u * KY_CLIENT_CIN_RECORD_BYTES)
#define KY_CLIENT_CONNECT_TIMEOUT_MS_DEFAULT 2000u
#define KY_CLIENT_REQUEST_TIMEOUT_MS_DEFAULT 30000u
#define KY_CLIENT_RETRY_COUNT_DEFAULT        3u
#define KY_CLIENT_BACKOFF_MS_FIRST           50u   /* wait before the first retry; doubles */
#define KY_CLIENT_BACKOFF_MS_MAX             1000u /* longest wait between retries */
#define KY_CLIENT_NAME_DEFAULT               "libkyosai"

/* One parsed endpoint. */
typedef struct ky_client_endpoint {
    struct sockaddr_in addr;                  /* IPv4 address and port, network order */
    char text[KYOSAI_ENDPOINT_BYTES_MAX + 1]; /* canonical "a.b.c.d:port", NUL-terminated */
} ky_client_endpoint;

/* One pipelined APPEND in flight. */
typedef struct ky_client_pending {
    uint64_t request_id; /* id sent in the frame header */
    uint32_t count;      /* events in the batch = results expected */
} ky_client_pending;

struct kyosai_client {
    ky_client_endpoint endpoints[KYOSAI_ENDPOINTS_MAX]; /* in the caller's order */
    uint32_t endpoint_count;                            /* 1..KYOSAI_ENDPOINTS_MAX */
    uint32_t endpoint_index;                            /* connected or last tried */
    uint32_t connect_timeout_ms;                        /* per endpoint attempt, ms */
    uint32_t request_timeout_ms;                        /* per request attempt, ms */
    uint32_t retry_count_max;                           /* retries per call */
    uint8_t client_name_bytes;                          /* bytes in client_name */
    char client_name[KYOSAI_CLIENT_NAME_BYTES_MAX + 1]; /* sent in HELLO */

    int fd;                   /* connected socket, -1 when disconnected */
    uint8_t role;             /* ky_wire_role from HELLO */
    uint64_t epoch;           /* node's epoch from HELLO */
    uint64_t head_seq;        /* node's head seq from HELLO */
    uint32_t body_bytes_max;  /* node's frame_body_bytes_max from HELLO, bytes */
    uint32_t batch_count_max; /* node's batch_count_max from HELLO */
    uint64_t next_request_id; /* never 0 (PROTOCOL.md rule 1) */

    uint8_t *out;           /* request frame buffer, KY_CLIENT_FRAME_BYTES */
    uint8_t *rbuf;          /* frame reader buffer, KY_CLIENT_FRAME_BYTES */
    ky_frame_reader reader; /* limit: the node's body_bytes_max once connected */
    uint8_t *in;            /* socket read staging, KY_CLIENT_IN_BYTES */
    size_t in_pos, in_len;  /* unconsumed bytes are in[in_pos..in_len) */

    char last_error[KYOSAI_ERROR_TEXT_BYTES_MAX + 1];      /* kyosai_last_error */
    bool secure;                                           /* keys given: channel on */
    uint8_t static_sk[KY_KEY_BYTES];                       /* ours; wiped on close */
    uint8_t server_pk[KYOSAI_ENDPOINTS_MAX][KY_KEY_BYTES]; /* pinned, per endpoint */
    ky_chan chan;                                          /* this connection's channel */
    uint8_t *sealed; /* sealed request bytes, KY_CLIENT_SEALED_BYTES */
    uint8_t *cin;    /* ciphertext received, not yet a whole record, KY_CLIENT_CIN_BYTES */
    size_t cin_len;  /* bytes in cin */

    ky_client_pending pending[KYOSAI_INFLIGHT_REQUESTS_MAX]; /* pipelined appends */
    uint32_t pending_count;                                  /* entries in pending[] */
    ky_wire_append_result *results;                          /* KY_WIRE_BATCH_COUNT_MAX */
    ky_wire_blob blobs[KY_WIRE_READ_COUNT_MAX];              /* page decode scratch */
};

/* A received response: header and body borrowed from the reader until the next read. */
typedef struct ky_client_resp {
    const ky_frame_header *hdr; /* type, request id, body_bytes */
    const uint8_t *body;        /* hdr->body_bytes bytes */
} ky_client_resp;

/* ---- codes (client_codec.c) ---------------------------------------------------------- */

/* The public code of a ky_err: -(wire status), so KY_OK gives KYOSAI_OK and every unlisted
 * ky_err gives KYOSAI_E_INTERNAL. */
int ky_client_code(int err);

/* The public code of a wire status read from the node; an unknown status gives
 * KYOSAI_E_PROTOCOL (PROTOCOL.md rule 8: never success). */
int ky_client_code_from_status(uint16_t status);

/* ---- pure decoding (client_codec.c) --------------------------------------------------- */

/* Parses a numeric IPv4 "a.b.c.d:port" (port 1..65535, nothing else) into *out, with its
 * canonical text. Returns KYOSAI_OK or KYOSAI_E_INVALID_ARG. Any thread. */
int ky_client_endpoint_parse(const char *text, ky_client_endpoint *out);

/* Decodes a format-1 entry (152-byte header, then payload_bytes of payload, nothing more)
 * and computes its leaf hash SHA-256(0x00 || bytes). e->payload borrows b.
 * Returns KYOSAI_OK or KYOSAI_E_CORRUPT. Any thread. */
int ky_client_entry_decode(const uint8_t *b, size_t len, kyosai_entry *e);

/* Decodes the 112-byte version-1 contract state. Returns KYOSAI_OK or KYOSAI_E_CORRUPT. */
int ky_client_contract_decode(const uint8_t *b, size_t len, kyosai_contract *out);

/* ---- I/O (client_io.c) ---------------------------------------------------------------- */

/* Monotonic clock, ms. */
uint64_t ky_client_now_ms(void);

/* Connects to the endpoints in order starting at index `first` (mod count), each once,
 * with TCP connect + HELLO under connect_timeout_ms. On success fd, role and limits are
 * set and the reader is bound to the node's limit. Returns KYOSAI_OK or the last
 * endpoint's code. */
int ky_client_connect_any(kyosai_client *c, uint32_t first);

/* Closes the socket, forgets pipelined batches and buffered bytes. Idempotent. */
void ky_client_disconnect(kyosai_client *c);

/* Connects when disconnected (next endpoint after the last one used). */
int ky_client_ensure_connected(kyosai_client *c);

/* Seals the body already written at c->out + KY_WIRE_HEADER_BYTES as a request of `type`
 * with a fresh request id (*request_id_out) and sends it whole before deadline_ms.
 * On a transport error the client is disconnected and the code returned. */
int ky_client_send(kyosai_client *c, uint8_t type, size_t body_bytes, uint64_t deadline_ms,
                   uint64_t *request_id_out);

/* Reads the next whole response frame before deadline_ms and checks its header
 * (ky_msg_header_check). Returns KYOSAI_OK with *resp borrowed until the next read, or a
 * transport / frame / protocol code after disconnecting. */
int ky_client_recv(kyosai_client *c, uint64_t deadline_ms, ky_client_resp *resp);

/* The same with no overall deadline: it fails (KYOSAI_E_TIMEOUT) only when no byte has
 * arrived for silence_ms, so a large frame on a slow link still arrives while a dead or
 * silent peer is noticed within silence_ms. For streams that carry heartbeats. */
int ky_client_recv_until_silent(kyosai_client *c, uint32_t silence_ms, ky_client_resp *resp);

/* For an ERROR response: decodes it and returns its (negative) code; an undecodable ERROR
 * disconnects and returns KYOSAI_E_PROTOCOL. A frame-level status disconnects too (the
 * node closes after those). */
int ky_client_error_code(kyosai_client *c, const ky_client_resp *resp);

/* ---- request loop (client.c) ---------------------------------------------------------- */

/* Writes a request body into out[0..cap) (cap = the node's body limit), *len its length;
 * returns KYOSAI_OK or a public code (nothing is sent then). */
typedef int (*ky_client_encode_fn)(kyosai_client *c, void *ctx, uint8_t *out, size_t cap,
                                   size_t *len);
/* Reads a response body of the expected type; returns KYOSAI_OK or a public code. */
typedef int (*ky_client_decode_fn)(kyosai_client *c, void *ctx, const uint8_t *body, size_t len);

/* One synchronous request with the retry policy of kyosai_append: connect if needed,
 * encode, send, wait for the matching response, decode. Encoding is repeated per attempt
 * because a reconnect may reach a node with other limits. */
int ky_client_call(kyosai_client *c, uint8_t type, ky_client_encode_fn encode,
                   ky_client_decode_fn decode, void *ctx);

#endif
