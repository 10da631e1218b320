/*
 * kyosai.h — libkyosai, the C client library of kyosai-ledger (the only installed header).
 *
 * Application services post contract events and read ledger state through this library.
 * It connects to a list of node endpoints, speaks the binary protocol (docs/PROTOCOL.md),
 * generates time-ordered idempotency keys, and retries with the same keys, so a retry
 * never double-posts.
 *
 * Thread-safety: a kyosai_client is NOT thread-safe: use one client per thread (clients
 * are cheap: one TCP connection each). Different clients may be used concurrently.
 * kyosai_strerror, kyosai_idem_key_generate and kyosai_version are thread-safe.
 *
 * Errors: every call returns KYOSAI_OK (0) or a negative KYOSAI_E_* code; per-event
 * results of an append carry their own codes. kyosai_strerror(code) gives
 * "KYOSAI_E_NAME: sentence". The numeric values are those of docs/PROTOCOL.md's status
 * table, negated, so they are stable across versions.
 *
 * Ownership: the library never keeps pointers to caller memory after a call returns;
 * buffers it fills are the caller's.
 *
 * Quick start (see client/examples/post_premium.c):
 *     kyosai_client *c;
 *     const char *eps[] = {"127.0.0.1:7400"};
 *     if (kyosai_connect(&c, eps, 1, NULL) != KYOSAI_OK) ...
 *     kyosai_event ev = {.kind = KYOSAI_KIND_PREMIUM_PAID, .scheme = KYOSAI_SCHEME_SHOKIBO,
 *                        .contract_id = 100000000001, .amount_jpy = 42000,
 *                        .period_yyyymm = 202604};
 *     kyosai_result res;
 *     int rc = kyosai_append(c, &ev, 1, &res);   // rc: transport; res.code: the rule
 *     kyosai_close(c);
 */
#ifndef KYOSAI_H
#define KYOSAI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KYOSAI_BUILDING)
#define KYOSAI_EXPORT __attribute__((visibility("default")))
#else
#define KYOSAI_EXPORT
#endif
#define KYOSAI_NODISCARD __attribute__((warn_unused_result))
/* nonnull tells callers' compilers which pointers must not be NULL. The library itself is
 * built without it, so that its own NULL checks (which abort with a message, like every
 * misuse) are not optimised away for callers that bypass the header, e.g. FFI bindings. */
#if defined(KYOSAI_BUILDING)
#define KYOSAI_NONNULL(...)
#define KYOSAI_NONNULL_ALL
#else
#define KYOSAI_NONNULL(...) __attribute__((nonnull(__VA_ARGS__)))
#define KYOSAI_NONNULL_ALL  __attribute__((nonnull))
#endif

#define KYOSAI_OK                    0
#define KYOSAI_IDEM_KEY_BYTES        16u
#define KYOSAI_HASH_BYTES            32u
#define KYOSAI_NODE_ID_BYTES         16u
#define KYOSAI_PAYLOAD_BYTES_MAX     4096u          /* per event */
#define KYOSAI_BATCH_COUNT_MAX       10000u         /* events per append call */
#define KYOSAI_ENTRY_BYTES_MAX       (152u + 4096u) /* one encoded entry */
#define KYOSAI_ENDPOINTS_MAX         8u
#define KYOSAI_ERROR_TEXT_BYTES_MAX  (64u + 2u + 512u) /* kyosai_last_error */
#define KYOSAI_ENDPOINT_BYTES_MAX    21u               /* "255.255.255.255:65535" */
#define KYOSAI_CLIENT_NAME_BYTES_MAX 64u               /* printable ASCII */
#define KYOSAI_READ_COUNT_MAX        1000u             /* count_max of range and history */
#define KYOSAI_INFLIGHT_REQUESTS_MAX 64u      /* pipelined appends sent and not yet received */
#define KYOSAI_RETRY_COUNT_MAX       100u     /* largest retry_count_max */
#define KYOSAI_TIMEOUT_MS_MAX        3600000u /* largest connect / request timeout: 1 hour */

/* Error codes: the wire status values of docs/PROTOCOL.md section 5, negated (frozen: a value
 * is never renumbered). A status this build does not know arrives as KYOSAI_E_PROTOCOL.
 * Codes the library itself produces: KYOSAI_E_UNAVAILABLE (no endpoint reachable, connection
 * refused, reset or closed), KYOSAI_E_TIMEOUT (connect or request deadline passed),
 * KYOSAI_E_PROTOCOL (the node broke the protocol), KYOSAI_E_FRAME_* (a damaged frame),
 * KYOSAI_E_INVALID_ARG (bad argument or call order), KYOSAI_E_CORRUPT (an entry or contract
 * state the library cannot decode), KYOSAI_E_NOMEM and KYOSAI_E_IO (local resources). */
enum {
    KYOSAI_E_FRAME_TOO_LARGE = -1,
    KYOSAI_E_FRAME_MAGIC = -2,
    KYOSAI_E_FRAME_VERSION = -3,
    KYOSAI_E_FRAME_FLAGS = -4,
    KYOSAI_E_FRAME_RESERVED = -5,
    KYOSAI_E_FRAME_CHECKSUM = -6,
    KYOSAI_E_FRAME_TYPE = -7,
    KYOSAI_E_FRAME_TRUNCATED = -8,
    KYOSAI_E_PLAINTEXT_REFUSED = -9,   /* node requires the secure channel (set keys) */
    KYOSAI_E_HANDSHAKE_FAILED = -10,   /* our key unknown to the node, or wrong node key */
    KYOSAI_E_KEY_INVALID = -11,        /* key file or key text malformed or unreadable */
    KYOSAI_E_DECRYPT_FAILED = -12,     /* a record failed authentication */
    KYOSAI_E_CIPHER_UNAVAILABLE = -13, /* node does not allow the cipher we offered */
    KYOSAI_E_NONCE_EXHAUSTED = -14,    /* channel used up; reconnect */
    KYOSAI_E_MSG_MALFORMED = -20,
    KYOSAI_E_MSG_TRUNCATED = -21,
    KYOSAI_E_MSG_TRAILING_BYTES = -22,
    KYOSAI_E_MSG_FIELD_TOO_LONG = -23,
    KYOSAI_E_VERSION_UNSUPPORTED = -24,
    KYOSAI_E_PROTOCOL = -25,
    KYOSAI_E_INVALID_ARG = -26,
    KYOSAI_E_SEQ_RANGE_INVALID = -27,
    KYOSAI_E_FORBIDDEN = -28,
    KYOSAI_E_PAYLOAD_TOO_LARGE = -40,
    KYOSAI_E_BATCH_TOO_LARGE = -41,
    KYOSAI_E_BATCH_EMPTY = -42,
    KYOSAI_E_READ_COUNT_INVALID = -43,
    KYOSAI_E_CONNECTION_LIMIT = -44,
    KYOSAI_E_QUEUE_FULL = -45,
    KYOSAI_E_TIMEOUT = -46,
    KYOSAI_E_ENTRY_KIND = -100,
    KYOSAI_E_ENTRY_SCHEME = -101,
    KYOSAI_E_FLAGS_INVALID = -102,
    KYOSAI_E_IDEM_KEY_MISSING = -103,
    KYOSAI_E_IDEM_KEY_REUSED = -104,
    KYOSAI_E_KIND_SYSTEM_ONLY = -105,
    KYOSAI_E_CONTRACT_ID_INVALID = -106,
    KYOSAI_E_CONTRACT_UNKNOWN = -107,
    KYOSAI_E_CONTRACT_EXISTS = -108,
    KYOSAI_E_CONTRACT_CLOSED = -109,
    KYOSAI_E_SCHEME_MISMATCH = -110,
    KYOSAI_E_MEMBER_TYPE_INVALID = -111,
    KYOSAI_E_PREMIUM_RANGE = -112,
    KYOSAI_E_PREMIUM_STEP = -113,
    KYOSAI_E_PREMIUM_UNCHANGED = -114,
    KYOSAI_E_PERIOD_INVALID = -115,
    KYOSAI_E_PERIOD_NOT_ALLOWED = -116,
    KYOSAI_E_MONTH_ALREADY_PAID = -117,
    KYOSAI_E_SAFETY_CAP = -118,
    KYOSAI_E_REF_NOT_ALLOWED = -119,
    KYOSAI_E_REVERSAL_TARGET = -120,
    KYOSAI_E_ALREADY_REVERSED = -121,
    KYOSAI_E_REVERSAL_AMOUNT = -122,
    KYOSAI_E_MONTHS_INVALID = -123,
    KYOSAI_E_MONTHS_NOT_ALLOWED = -124,
    KYOSAI_E_PREPAID_AMOUNT = -125,
    KYOSAI_E_AMOUNT_INVALID = -126,
    KYOSAI_E_AMOUNT_NOT_ALLOWED = -127,
    KYOSAI_E_LOAN_LIMIT = -128,
    KYOSAI_E_LOAN_REPAY_EXCEEDS = -129,
    KYOSAI_E_BENEFIT_REASON = -130,
    KYOSAI_E_SUBTYPE_NOT_ALLOWED = -131,
    KYOSAI_E_LINKED_FAILED = -132,
    KYOSAI_E_LINKED_OPEN = -133,
    KYOSAI_E_NOT_FOUND = -200,
    KYOSAI_E_CORRUPT = -201,
    KYOSAI_E_CHAIN_BROKEN = -202,
    KYOSAI_E_STORAGE = -203,
    KYOSAI_E_IO = -204,
    KYOSAI_E_NOMEM = -205,
    KYOSAI_E_MAP_FULL = -206,
    KYOSAI_E_LEDGER_FAILED = -207,
    KYOSAI_E_READ_ONLY = -208,
    KYOSAI_E_NOT_PRIMARY = -209,
    KYOSAI_E_UNAVAILABLE = -210,
    KYOSAI_E_RETRY_LATER = -211,
    KYOSAI_E_REPLICA_UNAVAILABLE = -212,
    KYOSAI_E_PROMOTE_REFUSED = -213, /* kyosai_last_error names the reason */
    KYOSAI_E_INTERNAL = -299,
};

/* Event kinds and schemes: the values of docs/LEDGER-FORMAT.md. */
enum {
    KYOSAI_KIND_CONTRACT_OPENED = 1,
    KYOSAI_KIND_PREMIUM_CHANGED = 2,
    KYOSAI_KIND_PREMIUM_PAID = 3,
    KYOSAI_KIND_PREMIUM_REVERSED = 4,
    KYOSAI_KIND_PREMIUM_PREPAID = 5,
    KYOSAI_KIND_MONTHS_CARRIED_OVER = 6,
    KYOSAI_KIND_LOAN_DISBURSED = 7,
    KYOSAI_KIND_LOAN_REPAID = 8,
    KYOSAI_KIND_BENEFIT_PAID = 9,
    KYOSAI_KIND_CONTRACT_AMENDED = 10,
    KYOSAI_KIND_CONTRACT_CLOSED = 11,
};
enum { KYOSAI_SCHEME_SHOKIBO = 1, KYOSAI_SCHEME_SAFETY = 2 };
#define KYOSAI_EVENT_LINKED     0x0001u /* succeeds or fails together with the next event */
#define KYOSAI_RESULT_DUPLICATE 0x1u    /* an earlier append already holds this event */

/* One event to append. idem_key all zero = the library generates one (time-ordered) and
 * writes it back into the caller's event, so the caller can retry with it later. */
typedef struct kyosai_event {
    uint8_t kind;                            /* KYOSAI_KIND_* */
    uint8_t scheme;                          /* KYOSAI_SCHEME_* */
    uint16_t flags;                          /* KYOSAI_EVENT_LINKED */
    uint16_t subtype;                        /* member type / benefit reason / loan type */
    uint16_t months;                         /* prepaid / carried-over month count */
    uint32_t period_yyyymm;                  /* month, or 0 */
    uint64_t contract_id;                    /* contract number */
    uint64_t ref_seq;                        /* reversed entry, or 0 */
    int64_t amount_jpy;                      /* JPY */
    uint8_t idem_key[KYOSAI_IDEM_KEY_BYTES]; /* in/out, see above */
    const void *payload;    /* business document bytes (ids and hashes, not personal data) */
    uint32_t payload_bytes; /* <= KYOSAI_PAYLOAD_BYTES_MAX */
} kyosai_event;

typedef struct kyosai_result {
    int32_t code;   /* KYOSAI_OK or the negative code of the rule or limit that refused it */
    uint32_t flags; /* KYOSAI_RESULT_DUPLICATE */
    uint64_t seq;   /* ledger seq of the entry when code == KYOSAI_OK */
} kyosai_result;

/* Connection options. A zero field (NULL name) takes its default, so a zero-initialised
 * struct is the defaults. Timeouts are at most KYOSAI_TIMEOUT_MS_MAX, retry_count_max at most
 * KYOSAI_RETRY_COUNT_MAX, the name at most KYOSAI_CLIENT_NAME_BYTES_MAX printable ASCII
 * bytes; anything else is KYOSAI_E_INVALID_ARG from kyosai_connect. */
typedef struct kyosai_options {
    uint32_t connect_timeout_ms; /* TCP connect + HELLO, per endpoint attempt (default 2000) */
    uint32_t request_timeout_ms; /* send + response, per request attempt (default 30000) */
    uint32_t retry_count_max;    /* reconnect-and-resend attempts per call (default 3) */
    const char *client_name;     /* shown in node logs (default "libkyosai") */
    /* Secure channel (docs/SECURITY.md). key_file: this client's X25519 secret key file
     * (kyosaictl keygen --channel; mode 0600). server_keys: the nodes' public keys, each
     * "x25519:<64 hex>" or the path of a .pub file, one per endpoint in the same order, or
     * a single one for every endpoint. Both NULL: plaintext, which only a node configured
     * plaintext on loopback accepts (others answer KYOSAI_E_PLAINTEXT_REFUSED). */
    const char *key_file;
    const char *const *server_keys;
    size_t server_key_count;
} kyosai_options;

typedef struct kyosai_status {
    uint8_t role;                           /* 1 primary, 2 replica, 3 standalone */
    uint64_t epoch;                         /* current epoch */
    uint64_t head_seq;                      /* last seq */
    uint8_t head_hash[KYOSAI_HASH_BYTES];   /* its leaf hash */
    uint8_t merkle_root[KYOSAI_HASH_BYTES]; /* RFC 9162 root of 1..head_seq */
    uint8_t node_id[KYOSAI_NODE_ID_BYTES];  /* node identity */
    uint64_t uptime_ms;                     /* since start */
    uint32_t connections;                   /* open client connections */
    uint64_t appends_total, events_total, refused_total, batches_total; /* counters */
    uint8_t mode;                 /* 0 none, 1 strict, 2 standalone (primary), 3 replica */
    uint64_t acked_seq;           /* highest seq acknowledged to clients, as known here */
    uint64_t replica_durable_seq; /* primary: the replica's durable seq; replica: its head */
    uint64_t replica_lag_entries; /* primary: entries the replica still lacks */
    uint64_t replica_lag_ms;      /* primary: ms since the replica last acknowledged */
    uint64_t quarantine_count;    /* entries quarantined here (never deleted) */
    uint8_t peer_connected;       /* primary: a replica streams; replica: it is streaming */
} kyosai_status;

typedef struct kyosai_contract {
    uint64_t contract_id;
    uint8_t scheme; /* KYOSAI_SCHEME_* */
    uint8_t status; /* 1 open, 2 closed */
    uint16_t member_type;
    uint32_t months_paid;
    int64_t monthly_premium_jpy;
    int64_t total_paid_jpy;
    int64_t loan_balance_jpy;
    uint64_t opened_seq, closed_seq, last_seq, entry_count;
    uint8_t last_leaf_hash[KYOSAI_HASH_BYTES];
} kyosai_contract;

/* A decoded ledger entry. payload points into the caller's entry buffer. */
typedef struct kyosai_entry {
    uint8_t kind, scheme;
    uint16_t subtype, months;
    uint32_t period_yyyymm;
    uint64_t seq, epoch, timestamp_us, contract_id, contract_seq, ref_seq;
    int64_t amount_jpy;
    uint8_t idem_key[KYOSAI_IDEM_KEY_BYTES];
    uint8_t prev_hash[KYOSAI_HASH_BYTES];
    uint8_t contract_prev_hash[KYOSAI_HASH_BYTES];
    uint8_t leaf_hash[KYOSAI_HASH_BYTES]; /* computed by the library from the bytes */
    const uint8_t *payload;
    uint32_t payload_bytes;
} kyosai_entry;

typedef struct kyosai_client kyosai_client;

/* Connects to the first reachable endpoint, in order, and says hello. Endpoints are numeric
 * IPv4 "a.b.c.d:port" (no name lookup: it could block without a deadline); 1 to
 * KYOSAI_ENDPOINTS_MAX of them; the strings are copied. opts may be NULL (defaults).
 * Allocates the client and its frame buffers (about 8 MiB of address space, touched only as
 * frames need it). On failure *out is NULL and nothing is left open.
 * Returns KYOSAI_OK, KYOSAI_E_INVALID_ARG (endpoint or option), KYOSAI_E_NOMEM, or the error
 * of the last endpoint tried (KYOSAI_E_UNAVAILABLE, KYOSAI_E_TIMEOUT, KYOSAI_E_PROTOCOL,
 * or an ERROR status the node answered HELLO with, e.g. KYOSAI_E_CONNECTION_LIMIT). */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_connect(kyosai_client **out, const char *const *endpoints,
                                                  size_t endpoint_count, const kyosai_options *opts)
    KYOSAI_NONNULL(1, 2);

/* Closes the connection and frees the client. NULL allowed. */
KYOSAI_EXPORT void kyosai_close(kyosai_client *c);

/* Appends count events (1..KYOSAI_BATCH_COUNT_MAX, and at most the node's batch_count_max)
 * as one batch and waits for the node's durable acknowledgement. Zero idempotency keys are
 * generated and written back into events[] first. On a dropped connection, a timeout, or a
 * batch-wide NOT_PRIMARY / UNAVAILABLE / REPLICA_UNAVAILABLE / RETRY_LATER / QUEUE_FULL
 * answer it waits briefly (50 ms, doubling, at most 1 s), reconnects when needed (next
 * endpoint first) and resends the same batch with the same keys, up to retry_count_max
 * times: events the node already holds come back with KYOSAI_RESULT_DUPLICATE and their
 * original seq. results has room for count results.
 * Returns KYOSAI_OK when results[] is filled (look at each code). Refused before anything
 * is sent: KYOSAI_E_BATCH_EMPTY, KYOSAI_E_BATCH_TOO_LARGE, KYOSAI_E_PAYLOAD_TOO_LARGE,
 * KYOSAI_E_FRAME_TOO_LARGE (the encoded batch exceeds the node's frame limit: split it),
 * KYOSAI_E_INVALID_ARG (payload NULL with payload_bytes > 0, pipelined appends in flight).
 * Any other negative code: the batch's fate is unknown after all retries, or the node
 * refused the whole batch (e.g. KYOSAI_E_LEDGER_FAILED); retry later with the same events. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_append(kyosai_client *c, kyosai_event *events,
                                                 uint32_t count, kyosai_result *results)
    KYOSAI_NONNULL(1, 2, 4);

/* Pipelined appends for high-throughput callers: send up to KYOSAI_INFLIGHT_REQUESTS_MAX
 * batches before reading their results. kyosai_append_send fills keys, checks and sends
 * like kyosai_append (same refusals before sending, plus KYOSAI_E_QUEUE_FULL when
 * KYOSAI_INFLIGHT_REQUESTS_MAX batches are in flight) and returns a request id; it connects
 * first if the client is disconnected. kyosai_append_recv waits up to request_timeout_ms for
 * the next completed batch (any order), sets *request_id_out to its id and fills results
 * and *count_out. results_cap must be at least the count of every batch in flight (checked
 * before reading: KYOSAI_E_INVALID_ARG; also when nothing is in flight). When the node
 * refused that whole batch, recv returns its code with *request_id_out set and *count_out 0.
 * No automatic retry here: on a transport error (*request_id_out 0) every batch in flight
 * has an unknown fate; reconnect with kyosai_reconnect and resend them (same keys). The
 * synchronous calls return KYOSAI_E_INVALID_ARG while pipelined batches are in flight. Do
 * not send so much that the node's per-connection limits stall it while nobody reads. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_append_send(kyosai_client *c, kyosai_event *events,
                                                      uint32_t count, uint64_t *request_id_out)
    KYOSAI_NONNULL(1, 2, 4);
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_append_recv(kyosai_client *c, uint64_t *request_id_out,
                                                      kyosai_result *results, uint32_t results_cap,
                                                      uint32_t *count_out)
    KYOSAI_NONNULL(1, 2, 3, 5);

/* Drops the connection (batches in flight are forgotten) and connects again, trying the
 * endpoints after the last one used first and that one last. Returns as kyosai_connect; on
 * failure the client stays disconnected and the next call tries again. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_reconnect(kyosai_client *c) KYOSAI_NONNULL_ALL;

/* Reads one entry: its raw bytes into buf (KYOSAI_ENTRY_BYTES_MAX suffices) and, if
 * entry is not NULL, the decoded fields (payload points into buf). Returns KYOSAI_OK,
 * KYOSAI_E_SEQ_RANGE_INVALID (seq 0), KYOSAI_E_NOT_FOUND (beyond the head),
 * KYOSAI_E_INVALID_ARG (buf_cap too small; *len_out gets the size needed),
 * KYOSAI_E_CORRUPT (bytes are not a format-1 entry, or not the seq asked for), or a
 * transport code after retry_count_max retries. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_get(kyosai_client *c, uint64_t seq, uint8_t *buf,
                                              size_t buf_cap, size_t *len_out, kyosai_entry *entry)
    KYOSAI_NONNULL(1, 3, 5);

/* Calls cb for each entry from_seq..to_seq in seq order, at most count_max
 * (1..KYOSAI_READ_COUNT_MAX) of them per call, asking the node for as many pages as that
 * takes. *next_seq_out (may be NULL) is where to continue, or 0 when to_seq or the head of
 * the ledger was reached. cb returns 0 to go on; any other value stops the call, which then
 * returns KYOSAI_OK with *next_seq_out just after the entry cb stopped at. entry and bytes
 * are borrowed until cb returns; cb must not call this client. Returns KYOSAI_OK,
 * KYOSAI_E_SEQ_RANGE_INVALID, KYOSAI_E_READ_COUNT_INVALID, KYOSAI_E_CORRUPT (an entry that
 * does not decode), KYOSAI_E_PROTOCOL (entries out of order or outside the range), or a
 * transport code; entries already given to cb stay given. */
typedef int (*kyosai_entry_cb)(void *ctx, const kyosai_entry *entry, const uint8_t *bytes,
                               size_t len);
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_range(kyosai_client *c, uint64_t from_seq,
                                                uint64_t to_seq, uint32_t count_max,
                                                kyosai_entry_cb cb, void *ctx,
                                                uint64_t *next_seq_out) KYOSAI_NONNULL(1, 5);

/* Contract state. KYOSAI_OK, KYOSAI_E_NOT_FOUND when the contract is unknown,
 * KYOSAI_E_CONTRACT_ID_INVALID, KYOSAI_E_CORRUPT (a state layout this build cannot read), or
 * a transport code. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_contract_get(kyosai_client *c, uint64_t contract_id,
                                                       kyosai_contract *out) KYOSAI_NONNULL(1, 3);

/* One page of a contract's history (entries with contract_seq > after_contract_seq, at
 * most count_max, 1..KYOSAI_READ_COUNT_MAX), in contract_seq order, through cb as in
 * kyosai_range. *next_after_out (may be NULL) is the cursor for the next page, 0 when done;
 * if cb stops the page it is the contract_seq of the entry cb stopped at. Returns as
 * kyosai_range, plus KYOSAI_E_CONTRACT_ID_INVALID (an unknown contract has an empty
 * history). */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_history(kyosai_client *c, uint64_t contract_id,
                                                  uint64_t after_contract_seq, uint32_t count_max,
                                                  kyosai_entry_cb cb, void *ctx,
                                                  uint64_t *next_after_out) KYOSAI_NONNULL(1, 5);

/* Node status. Returns KYOSAI_OK or a node or transport code. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_status_get(kyosai_client *c,
                                                     kyosai_status *out) KYOSAI_NONNULL_ALL;

/* The endpoint currently connected ("host:port"); borrowed until the next call. */
KYOSAI_EXPORT const char *kyosai_endpoint(const kyosai_client *c) KYOSAI_NONNULL_ALL;

/* "KYOSAI_E_NAME: sentence" ("KYOSAI_OK: success") for any int; unknown values give
 * "KYOSAI_E_UNKNOWN: unknown error code". Static, immutable; never NULL. */
KYOSAI_EXPORT const char *kyosai_strerror(int code);

/* ---- operator calls (role operator) ---------------------------------------------------- */

#define KYOSAI_PROMOTE_FORCE       0x1u /* failover: the primary is gone or unreachable */
#define KYOSAI_PROMOTE_ACCEPT_LOSS 0x2u /* promote although acknowledged entries are missing */

/* Makes the connected DR replica the primary: it stops streaming, starts epoch + 1 with an
 * epoch_started entry and runs standalone (no replica) until the old primary rejoins.
 * Without KYOSAI_PROMOTE_FORCE nothing happens (planned handovers use switchover). The node
 * refuses (KYOSAI_E_PROMOTE_REFUSED, kyosai_last_error says why) when it is not a replica,
 * when it still streams from a live primary, when it holds no entries (new or wiped), or
 * when its head is behind the highest seq the primary acknowledged to clients — naming
 * the missing range — unless KYOSAI_PROMOTE_ACCEPT_LOSS. On KYOSAI_OK *epoch_out and
 * *head_seq_out give the new epoch and the seq of its epoch_started entry. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_promote(kyosai_client *c, uint32_t flags,
                                                  uint64_t *epoch_out, uint64_t *head_seq_out)
    KYOSAI_NONNULL(1, 3, 4);

/* Planned handover, sent to the primary: it stops admitting appends (clients get the
 * retryable KYOSAI_E_RETRY_LATER), waits until the replica holds its head, hands over (the
 * replica starts epoch + 1 as primary) and follows the new primary as its replica.
 * *head_seq_out = the head handed over; *pause_ms_out = the write pause on this node.
 * KYOSAI_E_PROMOTE_REFUSED when not a primary with a streaming replica and a configured
 * peer; KYOSAI_E_RETRY_LATER when the replica did not catch up within 10 s (writes resumed). */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_switchover(kyosai_client *c, uint64_t *head_seq_out,
                                                     uint64_t *pause_ms_out)
    KYOSAI_NONNULL(1, 2, 3);

/* Switches the primary to standalone (answers without the replica) — explicitly, never by
 * a timer — and records it in the ledger as a mode_changed entry (*seq_out). Restore-sync
 * returns to strict mode, refused (KYOSAI_E_PROMOTE_REFUSED) until the replica holds the
 * primary's head. */
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_degrade(kyosai_client *c, uint64_t *seq_out)
    KYOSAI_NONNULL(1, 2);
KYOSAI_EXPORT KYOSAI_NODISCARD int kyosai_restore_sync(kyosai_client *c, uint64_t *seq_out)
    KYOSAI_NONNULL(1, 2);

/* The node's own words on its most recent ERROR answer on this client: "what: message",
 * e.g. "role: client 'app1' has role reader, which may not append". Empty when the node
 * has refused nothing yet. Valid until the next call on c; at most
 * KYOSAI_ERROR_TEXT_BYTES_MAX bytes. */
KYOSAI_EXPORT const char *kyosai_last_error(const kyosai_client *c) KYOSAI_NONNULL(1);

/* A new time-ordered key: 48-bit Unix ms time in the high bits, then randomness. */
KYOSAI_EXPORT void kyosai_idem_key_generate(uint8_t key[KYOSAI_IDEM_KEY_BYTES]) KYOSAI_NONNULL_ALL;

/* Library version, e.g. "0.1.0". */
KYOSAI_EXPORT const char *kyosai_version(void);

/* The size constants above as functions, for bindings that cannot read macros. */
KYOSAI_EXPORT size_t kyosai_payload_bytes_max(void);
KYOSAI_EXPORT size_t kyosai_entry_bytes_max(void);
KYOSAI_EXPORT size_t kyosai_batch_count_max(void);
KYOSAI_EXPORT size_t kyosai_idem_key_bytes(void);

#ifdef __cplusplus
}
#endif
#endif
