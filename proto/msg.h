/*
 * msg.h — message types and the strict codecs of every message body.
 *
 * Why: the node, the replica and the client library must agree on every byte of every
 * body, and a node must survive any body a hostile peer sends. Each body has one encoder
 * and one decoder here, written once and fuzzed once; docs/PROTOCOL.md gives the layouts
 * byte by byte. Layering: proto/ includes only common/; it never includes ledger/ (the
 * client library links proto/ but not the ledger), so events and results have wire-level
 * structs of their own and entries travel as opaque bytes.
 *
 * Ownership: pure codecs; no allocation, no I/O, no printing; every buffer is the
 * caller's. Decoded pointers (payloads, names, entries) borrow the body that was decoded
 * and live as long as it does. Any thread; a writer struct belongs to one thread.
 *
 * Rules for every decoder:
 *   1. Integers are little-endian; signed amounts are two's complement.
 *   2. Every length and count is compared with its limit (KY_WIRE_* in ky_limits.h) and
 *      with the bytes remaining before anything is read or looped over: count x minimum
 *      element size must fit the remaining bytes. Nothing is read past `len`.
 *   3. Errors, in the order they are checked: limit errors (specific codes such as
 *      KY_E_BATCH_TOO_LARGE, KY_E_PAYLOAD_TOO_LARGE, KY_E_MSG_FIELD_TOO_LONG) as each
 *      length is read, KY_E_MSG_TRUNCATED when the body ends early, KY_E_MSG_TRAILING_BYTES
 *      when bytes are left over, then value checks (KY_E_MSG_MALFORMED and the specific
 *      codes named per function). On error the outputs hold no meaningful value.
 *   4. Text fields (client name, ERROR what and message) are printable ASCII (0x20–0x7E),
 *      so they can be logged as they are. They are not NUL-terminated.
 *   5. Encoders check the same rules as decoders, so a peer never builds a body the other
 *      side must refuse; they return KY_E_BUFFER_TOO_SMALL when cap is short and then
 *      write nothing.
 * Per-event business rules (kinds, amounts, contracts) are the ledger's, not these
 * decoders': one bad event must not refuse its whole batch.
 */
#ifndef KY_MSG_H
#define KY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ky_limits.h"
#include "frame.h"

/* Message types: u8 values, frozen (never renumbered). A response carries the request's
 * type with KY_FRAME_FLAG_RESPONSE; ERROR is a response to any request. */
typedef enum ky_msg_type {
    KY_MSG_HELLO = 1,
    KY_MSG_APPEND = 2,
    KY_MSG_GET = 3,
    KY_MSG_RANGE = 4,
    KY_MSG_CONTRACT = 5,
    KY_MSG_HISTORY = 6,
    KY_MSG_STATUS = 7,
    KY_MSG_REPL_SUBSCRIBE = 8,        /* replica -> primary; responses: REPL_ENTRIES stream */
    KY_MSG_REPL_ACK = 9,              /* replica -> primary; never answered */
    KY_MSG_REPL_ENTRIES = 10,         /* primary -> replica, responses to REPL_SUBSCRIBE only */
    KY_MSG_PROMOTE = 11,              /* operator: make this replica the primary (new epoch) */
    KY_MSG_SWITCHOVER = 12,           /* operator -> primary: planned handover to the replica */
    KY_MSG_REPL_HANDOVER = 13,        /* primary -> replica on the stream: take over now */
    KY_MSG_DEGRADE = 14,              /* operator -> primary: run standalone (recorded) */
    KY_MSG_RESTORE_SYNC = 15,         /* operator -> primary: back to strict (recorded) */
    KY_MSG_REPL_SUBSCRIBE_ASYNC = 16, /* read replica -> primary: as 8, never waited for */
    KY_MSG_ERROR = 255,
} ky_msg_type;

/* Node roles in HELLO and STATUS responses. */
typedef enum ky_wire_role {
    KY_WIRE_ROLE_PRIMARY = 1,
    KY_WIRE_ROLE_REPLICA = 2,
    KY_WIRE_ROLE_STANDALONE = 3,
} ky_wire_role;

#define KY_WIRE_NODE_ID_BYTES  16u /* random node identity */
#define KY_WIRE_HASH_BYTES     32u /* SHA-256 */
#define KY_WIRE_IDEM_KEY_BYTES 16u /* client-chosen idempotency key */

/* Fixed body sizes, bytes (docs/PROTOCOL.md). */
#define KY_MSG_HELLO_FIXED_BYTES        5u /* before the name */
#define KY_MSG_HELLO_RESP_BYTES         43u
#define KY_MSG_APPEND_EVENT_FIXED_BYTES 56u /* one event before its payload */
#define KY_MSG_APPEND_RESULT_BYTES      12u
#define KY_MSG_SEQ_BYTES                8u /* GET, CONTRACT requests */
#define KY_MSG_RANGE_BYTES              20u
#define KY_MSG_HISTORY_BYTES            20u
#define KY_MSG_STATUS_RESP_BYTES        183u
#define KY_MSG_ERROR_FIXED_BYTES        5u /* status, what_len, msg_len */
#define KY_MSG_REPL_SUBSCRIBE_BYTES     72u
#define KY_MSG_REPL_ACK_BYTES           48u
#define KY_MSG_REPL_ENTRIES_FIXED_BYTES 28u  /* epoch, acked_seq, first_seq, count */
#define KY_MSG_PROMOTE_BYTES            1u   /* flags */
#define KY_MSG_PROMOTE_RESP_BYTES       16u  /* epoch, head_seq */
#define KY_MSG_SWITCHOVER_RESP_BYTES    16u  /* head_seq handed over, pause_ms */
#define KY_MSG_REPL_HANDOVER_BYTES      48u  /* epoch, head_seq, head_hash */
#define KY_PROMOTE_FORCE                0x1u /* failover: the primary is gone */
#define KY_PROMOTE_ACCEPT_LOSS          0x2u /* promote even if behind the acked seq */
#define KY_MSG_COUNT_BYTES              4u   /* u32 count / u32 length prefix */

_Static_assert(KY_MSG_COUNT_BYTES + KY_WIRE_BATCH_COUNT_MAX * KY_MSG_APPEND_EVENT_FIXED_BYTES <=
                   KY_WIRE_FRAME_BODY_BYTES_MAX,
               "a full batch of payload-less events fits one frame");
_Static_assert(KY_MSG_COUNT_BYTES + KY_MSG_APPEND_EVENT_FIXED_BYTES + KY_WIRE_PAYLOAD_BYTES_MAX <=
                   KY_WIRE_FRAME_BODY_BYTES_MIN,
               "one event with a full payload fits the smallest allowed frame");
_Static_assert(KY_MSG_APPEND_RESULT_BYTES <= KY_MSG_APPEND_EVENT_FIXED_BYTES,
               "the response to any APPEND that fits a frame fits the same frame");

/* True for the eight types above. */
bool ky_msg_type_known(uint8_t type);

/* The type's name ("HELLO", "ERROR"), or "UNKNOWN". Static; never NULL. */
const char *ky_msg_type_name(uint8_t type);

/* The message layer's check of a decoded header: KY_OK, or KY_E_FRAME_TYPE for an
 * unknown type or an ERROR frame without KY_FRAME_FLAG_RESPONSE. The direction is the
 * receiver's to check (a node refuses frames with KY_FRAME_FLAG_RESPONSE, a client frames
 * without it), also with KY_E_FRAME_TYPE. The node answers KY_E_FRAME_TYPE with an ERROR
 * frame naming the type and keeps the connection (the stream itself is intact). */
int ky_msg_header_check(const ky_frame_header *h);

/* A borrowed run of opaque bytes (an entry, a contract state). */
typedef struct ky_wire_blob {
    const uint8_t *data; /* borrowed from the decoded body */
    uint32_t data_bytes; /* bytes at data, >= 1 */
} ky_wire_blob;

/* ---- HELLO ------------------------------------------------------------------------------ */

/* HELLO request: u16 version_min, u16 version_max, u8 client_name_len, name. */
typedef struct ky_msg_hello {
    uint16_t version_min;      /* 1 <= version_min <= version_max */
    uint16_t version_max;      /* highest protocol version the client speaks */
    uint8_t client_name_bytes; /* <= KY_WIRE_CLIENT_NAME_BYTES_MAX */
    const char *client_name;   /* printable ASCII, borrowed; may be NULL when empty */
} ky_msg_hello;

/* Encode / decode the HELLO request body. Errors: KY_E_MSG_FIELD_TOO_LONG (name),
 * KY_E_MSG_MALFORMED (version range, non-printable name), KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_hello_encode(const ky_msg_hello *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_hello_decode(const uint8_t *body, size_t len, ky_msg_hello *out);

/* HELLO response (43 bytes): the node's choice and limits. */
typedef struct ky_msg_hello_resp {
    uint16_t version;                       /* chosen protocol version, >= 1 */
    uint8_t role;                           /* ky_wire_role */
    uint64_t epoch;                         /* node's current epoch */
    uint8_t node_id[KY_WIRE_NODE_ID_BYTES]; /* node identity */
    uint64_t head_seq;                      /* last committed seq, 0 when empty */
    uint32_t frame_body_bytes_max;          /* node's body limit, bytes, in [MIN, MAX] */
    uint32_t batch_count_max;               /* events per APPEND, 1..KY_WIRE_BATCH_COUNT_MAX */
} ky_msg_hello_resp;

/* Errors: KY_E_MSG_MALFORMED (version 0, role, limits outside their wire bounds),
 * KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_hello_resp_encode(const ky_msg_hello_resp *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_hello_resp_decode(const uint8_t *body, size_t len, ky_msg_hello_resp *out);

/* ---- APPEND ----------------------------------------------------------------------------- */

/* One event as it travels in an APPEND request (56 fixed bytes + payload). */
typedef struct ky_wire_event {
    uint8_t kind;                             /* ledger kind; judged by the ledger */
    uint8_t scheme;                           /* ledger scheme */
    uint16_t flags;                           /* event flags (bit 0 LINKED) */
    uint16_t subtype;                         /* member type / reason / loan type */
    uint16_t months;                          /* month count, or 0 */
    uint32_t period_yyyymm;                   /* month the event is for, or 0 */
    uint64_t contract_id;                     /* contract number */
    uint64_t ref_seq;                         /* referenced seq (reversals), or 0 */
    int64_t amount_jpy;                       /* JPY */
    uint8_t idem_key[KY_WIRE_IDEM_KEY_BYTES]; /* idempotency key */
    uint32_t payload_bytes;                   /* <= KY_WIRE_PAYLOAD_BYTES_MAX */
    const uint8_t *payload;                   /* borrowed; NULL when payload_bytes == 0 */
} ky_wire_event;

/* Streaming APPEND encoder: the client writes events straight into its frame buffer
 * (typically frame + KY_WIRE_HEADER_BYTES, then ky_frame_seal), with no staging copy. */
typedef struct ky_msg_append_writer {
    uint8_t *out;       /* caller's body buffer */
    size_t cap;         /* bytes at out; pass at most the node's frame_body_bytes_max */
    size_t len;         /* bytes written so far, including the count */
    uint32_t count;     /* events written */
    uint32_t count_max; /* the node's batch_count_max */
} ky_msg_append_writer;

/* Starts a batch in out[0..cap). count_max is the node's batch_count_max
 * (1..KY_WIRE_BATCH_COUNT_MAX, asserted). Returns KY_OK or KY_E_BUFFER_TOO_SMALL. */
int ky_msg_append_begin(ky_msg_append_writer *w, uint8_t *out, size_t cap, uint32_t count_max);

/* Appends one event (copies its payload). Returns KY_OK, KY_E_PAYLOAD_TOO_LARGE,
 * KY_E_BATCH_TOO_LARGE (count_max events already written) or KY_E_BUFFER_TOO_SMALL (the
 * event does not fit cap); on error the writer is unchanged, so the caller can finish
 * and send this batch and start the next with the refused event. */
int ky_msg_append_add(ky_msg_append_writer *w, const ky_wire_event *e);

/* Writes the count and gives the body length. Returns KY_OK or KY_E_BATCH_EMPTY. */
int ky_msg_append_finish(ky_msg_append_writer *w, size_t *len);

/* Strict decode of an APPEND body into events[0..*count). cap is the caller's array
 * size and acts as its batch limit. Returns KY_OK, KY_E_BATCH_EMPTY, KY_E_BATCH_TOO_LARGE
 * (count > KY_WIRE_BATCH_COUNT_MAX or > cap), KY_E_PAYLOAD_TOO_LARGE, KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES. Payload pointers borrow body. */
int ky_msg_append_decode(const uint8_t *body, size_t len, ky_wire_event *events, uint32_t cap,
                         uint32_t *count);

#define KY_WIRE_RESULT_DUPLICATE   0x0001u /* the event was already in the ledger */
#define KY_WIRE_RESULT_FLAGS_KNOWN KY_WIRE_RESULT_DUPLICATE

/* One event's outcome in an APPEND response (12 bytes). */
typedef struct ky_wire_append_result {
    uint16_t status; /* wire status (status.h); OK when the event is in the ledger */
    uint16_t flags;  /* KY_WIRE_RESULT_*; DUPLICATE only with status OK */
    uint64_t seq;    /* the entry's seq (>= 1) when status is OK, else 0 */
} ky_wire_append_result;

/* APPEND response: u32 count, then count results in request order. Errors:
 * KY_E_BATCH_EMPTY, KY_E_BATCH_TOO_LARGE (count > KY_WIRE_BATCH_COUNT_MAX; decode also
 * when count > cap), KY_E_MSG_MALFORMED (unknown flag bits, DUPLICATE without OK, seq 0
 * with OK or non-zero without), KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES,
 * KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_append_resp_encode(const ky_wire_append_result *results, uint32_t count, uint8_t *out,
                              size_t cap, size_t *len);
int ky_msg_append_resp_decode(const uint8_t *body, size_t len, ky_wire_append_result *results,
                              uint32_t cap, uint32_t *count);

/* ---- GET, RANGE, CONTRACT, HISTORY, STATUS requests ------------------------------------- */

/* GET request: u64 seq (>= 1). CONTRACT request: u64 contract_id (1..KY_CONTRACT_ID_MAX).
 * Errors: KY_E_SEQ_RANGE_INVALID / KY_E_CONTRACT_ID_INVALID, KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_get_encode(uint64_t seq, uint8_t *out, size_t cap, size_t *len);
int ky_msg_get_decode(const uint8_t *body, size_t len, uint64_t *seq);
int ky_msg_contract_encode(uint64_t contract_id, uint8_t *out, size_t cap, size_t *len);
int ky_msg_contract_decode(const uint8_t *body, size_t len, uint64_t *contract_id);

/* RANGE request: entries with from_seq <= seq <= to_seq, at most count_max of them. */
typedef struct ky_msg_range {
    uint64_t from_seq;  /* >= 1 */
    uint64_t to_seq;    /* >= from_seq */
    uint32_t count_max; /* 1..KY_WIRE_READ_COUNT_MAX */
} ky_msg_range;

/* Errors: KY_E_SEQ_RANGE_INVALID, KY_E_READ_COUNT_INVALID, KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_range_encode(const ky_msg_range *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_range_decode(const uint8_t *body, size_t len, ky_msg_range *out);

/* HISTORY request: a contract's entries with contract_seq > after_contract_seq. */
typedef struct ky_msg_history {
    uint64_t contract_id;        /* 1..KY_CONTRACT_ID_MAX */
    uint64_t after_contract_seq; /* 0 for the first page */
    uint32_t count_max;          /* 1..KY_WIRE_READ_COUNT_MAX */
} ky_msg_history;

/* Errors: KY_E_CONTRACT_ID_INVALID, KY_E_READ_COUNT_INVALID, KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_history_encode(const ky_msg_history *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_history_decode(const uint8_t *body, size_t len, ky_msg_history *out);

/* STATUS request: the body is empty (send body_bytes = 0). KY_OK or
 * KY_E_MSG_TRAILING_BYTES. */
int ky_msg_status_decode(const uint8_t *body, size_t len);

/* ---- GET and CONTRACT responses ---------------------------------------------------------- */

/* GET response: u32 entry_bytes (1..KY_WIRE_ENTRY_BYTES_MAX), entry. CONTRACT response:
 * u32 len (1..KY_WIRE_CONTRACT_STATE_BYTES_MAX), state. Both opaque to proto. For zero
 * copy, the data may already sit at out + KY_MSG_COUNT_BYTES. Errors:
 * KY_E_MSG_FIELD_TOO_LONG, KY_E_MSG_MALFORMED (empty), KY_E_MSG_TRUNCATED,
 * KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_get_resp_encode(const uint8_t *entry, uint32_t entry_bytes, uint8_t *out, size_t cap,
                           size_t *len);
int ky_msg_get_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *entry);
int ky_msg_contract_resp_encode(const uint8_t *state, uint32_t state_bytes, uint8_t *out,
                                size_t cap, size_t *len);
int ky_msg_contract_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *state);

/* ---- RANGE and HISTORY responses --------------------------------------------------------- */

/* Streaming page encoder: the node copies each entry straight from the ledger into the
 * frame buffer and stops when the page is full.
 *   RANGE:   u32 count, then count x (u32 len, entry)
 *   HISTORY: u64 next_after_contract_seq (0 when the history is done), then as RANGE */
typedef struct ky_msg_entries_writer {
    uint8_t *out;       /* caller's body buffer */
    size_t cap;         /* bytes at out */
    size_t len;         /* bytes written so far, including the prefix */
    size_t count_at;    /* offset of the u32 count */
    uint32_t count;     /* entries written */
    uint32_t count_max; /* the request's count_max */
    uint8_t type;       /* KY_MSG_RANGE or KY_MSG_HISTORY */
} ky_msg_entries_writer;

/* Starts a RANGE or HISTORY page (type; asserted) of at most count_max entries
 * (1..KY_WIRE_READ_COUNT_MAX, asserted). Returns KY_OK or KY_E_BUFFER_TOO_SMALL. */
int ky_msg_entries_begin(ky_msg_entries_writer *w, uint8_t type, uint32_t count_max, uint8_t *out,
                         size_t cap);

/* Adds one entry (copied). Returns KY_OK; KY_E_BUFFER_TOO_SMALL when the page is full
 * (count_max entries, or the entry does not fit cap), writer unchanged: finish the page;
 * KY_E_INVALID_ARG for an entry that is empty or longer than KY_WIRE_ENTRY_BYTES_MAX. */
int ky_msg_entries_add(ky_msg_entries_writer *w, const uint8_t *entry, uint32_t entry_bytes);

/* Writes the count (and for HISTORY next_after_contract_seq; must be 0 for RANGE,
 * asserted) and gives the body length. Always KY_OK. */
int ky_msg_entries_finish(ky_msg_entries_writer *w, uint64_t next_after_contract_seq, size_t *len);

/* Decode a RANGE / HISTORY response into entries[0..*count). Errors:
 * KY_E_READ_COUNT_INVALID (count > KY_WIRE_READ_COUNT_MAX), KY_E_BUFFER_TOO_SMALL
 * (count > cap), KY_E_MSG_FIELD_TOO_LONG (entry > KY_WIRE_ENTRY_BYTES_MAX),
 * KY_E_MSG_MALFORMED (empty entry), KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES. */
int ky_msg_range_resp_decode(const uint8_t *body, size_t len, ky_wire_blob *entries, uint32_t cap,
                             uint32_t *count);
int ky_msg_history_resp_decode(const uint8_t *body, size_t len, uint64_t *next_after_contract_seq,
                               ky_wire_blob *entries, uint32_t cap, uint32_t *count);

/* ---- STATUS response --------------------------------------------------------------------- */

/* STATUS response (183 bytes): the node's state, counters since start, replication. */
typedef struct ky_msg_status_resp {
    uint8_t role;                            /* ky_wire_role */
    uint64_t epoch;                          /* current epoch */
    uint64_t head_seq;                       /* last committed seq */
    uint8_t head_hash[KY_WIRE_HASH_BYTES];   /* leaf hash of head_seq */
    uint8_t merkle_root[KY_WIRE_HASH_BYTES]; /* RFC 9162 root of 1..head_seq */
    uint8_t node_id[KY_WIRE_NODE_ID_BYTES];  /* node identity */
    uint64_t uptime_ms;                      /* ms since the node started */
    uint32_t connections;                    /* client connections open now */
    uint64_t appends_total;                  /* APPEND requests answered */
    uint64_t events_total;                   /* events accepted (new entries) */
    uint64_t refused_total;                  /* events refused by a rule or limit */
    uint64_t batches_total;                  /* group commits written */
    /* replication (0 where it does not apply) */
    uint8_t mode;                 /* ky_wire_mode: strict, standalone, replica streaming/not */
    uint64_t acked_seq;           /* highest seq acknowledged to clients (known here) */
    uint64_t replica_durable_seq; /* primary: replica's durable seq; replica: its own head */
    uint64_t replica_lag_entries; /* primary: head - replica_durable_seq */
    uint64_t replica_lag_ms;      /* primary: ms since the replica last acknowledged */
    uint64_t quarantine_count;    /* entries quarantined on this node */
    uint8_t peer_connected;       /* primary: a replica streams; replica: streaming */
} ky_msg_status_resp;

/* Replication modes in STATUS. */
typedef enum ky_wire_mode {
    KY_WIRE_MODE_NONE = 0,       /* standalone node, no replication configured */
    KY_WIRE_MODE_STRICT = 1,     /* primary: answers wait for the replica */
    KY_WIRE_MODE_STANDALONE = 2, /* primary: answers without a replica (after a failover) */
    KY_WIRE_MODE_REPLICA = 3,    /* replica */
} ky_wire_mode;

/* Errors: KY_E_MSG_MALFORMED (role), KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES,
 * KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_status_resp_encode(const ky_msg_status_resp *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_status_resp_decode(const uint8_t *body, size_t len, ky_msg_status_resp *out);

/* ---- replication (docs/PROTOCOL.md §3.9) ------------------------------------------------- */

/* REPL_SUBSCRIBE (72 bytes): what the replica holds. The primary answers with a stream of
 * REPL_ENTRIES responses carrying the subscribe's request id, starting at head_seq + 1, or
 * an ERROR (not a primary, diverged, lower epoch). */
typedef struct ky_msg_repl_subscribe {
    uint64_t epoch;                         /* replica's current epoch */
    uint64_t head_seq;                      /* replica's last durable seq, 0 when empty */
    uint8_t head_hash[KY_WIRE_HASH_BYTES];  /* its leaf hash (zeros when empty) */
    uint8_t node_id[KY_WIRE_NODE_ID_BYTES]; /* replica's identity */
    uint64_t acked_seq;                     /* highest seq it knows was acknowledged */
} ky_msg_repl_subscribe;

/* REPL_ACK (48 bytes): the replica has made everything up to durable_seq durable. */
typedef struct ky_msg_repl_ack {
    uint64_t epoch;                        /* replica's epoch */
    uint64_t durable_seq;                  /* last seq durable on the replica */
    uint8_t head_hash[KY_WIRE_HASH_BYTES]; /* leaf hash of durable_seq */
} ky_msg_repl_ack;

/* REPL_ENTRIES: u64 epoch, u64 acked_seq, u64 first_seq, u32 count, then count x
 * (u32 length, entry bytes). Entries are consecutive seqs from first_seq; count is
 * 0..KY_WIRE_BATCH_COUNT_MAX (an empty message carries a new acked_seq only): one message
 * is one replica transaction, so it never holds more than one ledger batch. */
typedef struct ky_msg_repl_entries {
    uint64_t epoch;     /* primary's epoch */
    uint64_t acked_seq; /* highest seq the primary has acknowledged to clients */
    uint64_t first_seq; /* seq of entries[0] */
    uint32_t count;     /* entries decoded */
} ky_msg_repl_entries;

/* Errors: KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). */
int ky_msg_repl_subscribe_encode(const ky_msg_repl_subscribe *in, uint8_t *out, size_t cap,
                                 size_t *len);
int ky_msg_repl_subscribe_decode(const uint8_t *body, size_t len, ky_msg_repl_subscribe *out);
int ky_msg_repl_ack_encode(const ky_msg_repl_ack *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_repl_ack_decode(const uint8_t *body, size_t len, ky_msg_repl_ack *out);

/* Writes the fixed part of REPL_ENTRIES; entries are then added with ky_msg_repl_entry_add
 * (returns KY_E_BUFFER_TOO_SMALL when the next entry does not fit, KY_E_BATCH_TOO_LARGE
 * when the message already holds KY_WIRE_BATCH_COUNT_MAX: send what is there; the body is
 * then unchanged). Asserted: entry_bytes in 1..KY_WIRE_ENTRY_BYTES_MAX, and a
 * first_seq >= 1 once entries are added. */
int ky_msg_repl_entries_begin(const ky_msg_repl_entries *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_repl_entry_add(uint8_t *out, size_t cap, size_t *len, const uint8_t *entry,
                          uint32_t entry_bytes);

/* Decodes into *out and entries[0..count); entries borrow body. Errors: KY_E_BATCH_TOO_LARGE
 * (count > KY_WIRE_BATCH_COUNT_MAX), KY_E_BUFFER_TOO_SMALL (count > cap), KY_E_MSG_FIELD_TOO_LONG
 * (entry > KY_WIRE_ENTRY_BYTES_MAX), KY_E_MSG_MALFORMED (empty entry, first_seq 0 with entries),
 * KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES. */
int ky_msg_repl_entries_decode(const uint8_t *body, size_t len, ky_msg_repl_entries *out,
                               ky_wire_blob *entries, uint32_t cap);

/* PROMOTE request: u8 flags (KY_PROMOTE_*; other bits MSG_MALFORMED). Response: u64 new
 * epoch, u64 head seq after the epoch_started entry. */
int ky_msg_promote_encode(uint8_t flags, uint8_t *out, size_t cap, size_t *len);
int ky_msg_promote_decode(const uint8_t *body, size_t len, uint8_t *flags);
int ky_msg_promote_resp_encode(uint64_t epoch, uint64_t head_seq, uint8_t *out, size_t cap,
                               size_t *len);
int ky_msg_promote_resp_decode(const uint8_t *body, size_t len, uint64_t *epoch,
                               uint64_t *head_seq);

/* DEGRADE and RESTORE_SYNC: empty requests; the response has PROMOTE's layout: u64 epoch,
 * u64 seq of the mode_changed system entry that records the change.
 * SWITCHOVER: empty request. Response: u64 head_seq handed over, u64 write pause so far ms.
 * REPL_HANDOVER (48 bytes, on the replication stream): u64 epoch, u64 head_seq, head hash:
 * the replica, holding exactly that head, starts epoch + 1 as the primary. */
int ky_msg_switchover_resp_encode(uint64_t head_seq, uint64_t pause_ms, uint8_t *out, size_t cap,
                                  size_t *len);
int ky_msg_switchover_resp_decode(const uint8_t *body, size_t len, uint64_t *head_seq,
                                  uint64_t *pause_ms);
int ky_msg_repl_handover_encode(const ky_msg_repl_ack *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_repl_handover_decode(const uint8_t *body, size_t len, ky_msg_repl_ack *out);

/* ---- ERROR response ---------------------------------------------------------------------- */

/* ERROR (type 255, a response to any request): u16 status, u8 what_len, what,
 * u16 msg_len, message. */
typedef struct ky_msg_error {
    uint16_t status;        /* wire status, never OK (0) */
    uint8_t what_bytes;     /* <= KY_WIRE_ERROR_WHAT_BYTES_MAX */
    const char *what;       /* rule or limit name, printable ASCII; NULL allowed when empty */
    uint16_t message_bytes; /* <= KY_WIRE_ERROR_MESSAGE_BYTES_MAX */
    const char *message;    /* human-readable, printable ASCII; NULL allowed when empty */
} ky_msg_error;

/* Errors: KY_E_MSG_FIELD_TOO_LONG, KY_E_MSG_MALFORMED (status OK, non-printable text),
 * KY_E_MSG_TRUNCATED, KY_E_MSG_TRAILING_BYTES, KY_E_BUFFER_TOO_SMALL (encode). A status
 * unknown to this build is accepted (ky_wire_status_to_err gives KY_E_PROTOCOL). */
int ky_msg_error_encode(const ky_msg_error *in, uint8_t *out, size_t cap, size_t *len);
int ky_msg_error_decode(const uint8_t *body, size_t len, ky_msg_error *out);

#endif
