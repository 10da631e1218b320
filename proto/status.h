/*
 * status.h — wire status codes: the frozen numbering of errors a peer can receive.
 *
 * Why separate from ky_err: ky_err values may be renumbered from one build to the next,
 * but a status code on the wire is read by clients built years apart, so each has an
 * explicit uint16 value that is never changed or reused (STYLE rule 11; SQLite: exposed
 * values "cannot be changed without a compatibility break"). ky_wire_status_from_err is
 * the one place that maps one to the other.
 *
 * Ranges:   0        OK
 *           1–19     frame (the node closes the connection after these)
 *          20–39     message structure and protocol use
 *          40–99     limits (batch, payload, read count, connections, queues, time)
 *         100–199    ledger rules: the event was judged and refused
 *         200–299    node and storage state (299 INTERNAL: no wire status for the cause)
 *
 * Rules:
 *   1. A value, once released, is never renumbered or reused; new codes take new values
 *      at the end of their range. Names are frozen too (docs and tools print them).
 *   2. The list below is the single source: the enum, both mapping functions, the names
 *      and the table in docs/PROTOCOL.md (checked by tests/unit/test_proto.c) come from it.
 *   3. Both mappings are switch statements generated from the list, so a value or a
 *      ky_err listed twice is a compile error (duplicate case): the map is a bijection
 *      between the listed statuses and the listed ky_err codes. Every other ky_err maps
 *      to INTERNAL, and an unknown status read from the wire maps to KY_E_PROTOCOL.
 *
 * Pure functions; any thread.
 */
#ifndef KY_STATUS_H
#define KY_STATUS_H

#include <stddef.h>
#include <stdint.h>

/* X(NAME, value, ky_err): NAME is the ky_err symbol without KY_E_ (tested). */
#define KY_WIRE_STATUS_LIST(X)                                                                     \
    X(OK, 0, KY_OK)                                                                                \
    X(FRAME_TOO_LARGE, 1, KY_E_FRAME_TOO_LARGE)                                                    \
    X(FRAME_MAGIC, 2, KY_E_FRAME_MAGIC)                                                            \
    X(FRAME_VERSION, 3, KY_E_FRAME_VERSION)                                                        \
    X(FRAME_FLAGS, 4, KY_E_FRAME_FLAGS)                                                            \
    X(FRAME_RESERVED, 5, KY_E_FRAME_RESERVED)                                                      \
    X(FRAME_CHECKSUM, 6, KY_E_FRAME_CHECKSUM)                                                      \
    X(FRAME_TYPE, 7, KY_E_FRAME_TYPE)                                                              \
    X(FRAME_TRUNCATED, 8, KY_E_FRAME_TRUNCATED)                                                    \
    X(PLAINTEXT_REFUSED, 9, KY_E_PLAINTEXT_REFUSED)                                                \
    X(HANDSHAKE_FAILED, 10, KY_E_HANDSHAKE_FAILED)                                                 \
    X(KEY_INVALID, 11, KY_E_KEY_INVALID)                                                           \
    X(DECRYPT_FAILED, 12, KY_E_DECRYPT_FAILED)                                                     \
    X(CIPHER_UNAVAILABLE, 13, KY_E_CIPHER_UNAVAILABLE)                                             \
    X(NONCE_EXHAUSTED, 14, KY_E_NONCE_EXHAUSTED)                                                   \
    X(MSG_MALFORMED, 20, KY_E_MSG_MALFORMED)                                                       \
    X(MSG_TRUNCATED, 21, KY_E_MSG_TRUNCATED)                                                       \
    X(MSG_TRAILING_BYTES, 22, KY_E_MSG_TRAILING_BYTES)                                             \
    X(MSG_FIELD_TOO_LONG, 23, KY_E_MSG_FIELD_TOO_LONG)                                             \
    X(VERSION_UNSUPPORTED, 24, KY_E_VERSION_UNSUPPORTED)                                           \
    X(PROTOCOL, 25, KY_E_PROTOCOL)                                                                 \
    X(INVALID_ARG, 26, KY_E_INVALID_ARG)                                                           \
    X(SEQ_RANGE_INVALID, 27, KY_E_SEQ_RANGE_INVALID)                                               \
    X(FORBIDDEN, 28, KY_E_FORBIDDEN)                                                               \
    X(PAYLOAD_TOO_LARGE, 40, KY_E_PAYLOAD_TOO_LARGE)                                               \
    X(BATCH_TOO_LARGE, 41, KY_E_BATCH_TOO_LARGE)                                                   \
    X(BATCH_EMPTY, 42, KY_E_BATCH_EMPTY)                                                           \
    X(READ_COUNT_INVALID, 43, KY_E_READ_COUNT_INVALID)                                             \
    X(CONNECTION_LIMIT, 44, KY_E_CONNECTION_LIMIT)                                                 \
    X(QUEUE_FULL, 45, KY_E_QUEUE_FULL)                                                             \
    X(TIMEOUT, 46, KY_E_TIMEOUT)                                                                   \
    X(ENTRY_KIND, 100, KY_E_ENTRY_KIND)                                                            \
    X(ENTRY_SCHEME, 101, KY_E_ENTRY_SCHEME)                                                        \
    X(FLAGS_INVALID, 102, KY_E_FLAGS_INVALID)                                                      \
    X(IDEM_KEY_MISSING, 103, KY_E_IDEM_KEY_MISSING)                                                \
    X(IDEM_KEY_REUSED, 104, KY_E_IDEM_KEY_REUSED)                                                  \
    X(KIND_SYSTEM_ONLY, 105, KY_E_KIND_SYSTEM_ONLY)                                                \
    X(CONTRACT_ID_INVALID, 106, KY_E_CONTRACT_ID_INVALID)                                          \
    X(CONTRACT_UNKNOWN, 107, KY_E_CONTRACT_UNKNOWN)                                                \
    X(CONTRACT_EXISTS, 108, KY_E_CONTRACT_EXISTS)                                                  \
    X(CONTRACT_CLOSED, 109, KY_E_CONTRACT_CLOSED)                                                  \
    X(SCHEME_MISMATCH, 110, KY_E_SCHEME_MISMATCH)                                                  \
    X(MEMBER_TYPE_INVALID, 111, KY_E_MEMBER_TYPE_INVALID)                                          \
    X(PREMIUM_RANGE, 112, KY_E_PREMIUM_RANGE)                                                      \
    X(PREMIUM_STEP, 113, KY_E_PREMIUM_STEP)                                                        \
    X(PREMIUM_UNCHANGED, 114, KY_E_PREMIUM_UNCHANGED)                                              \
    X(PERIOD_INVALID, 115, KY_E_PERIOD_INVALID)                                                    \
    X(PERIOD_NOT_ALLOWED, 116, KY_E_PERIOD_NOT_ALLOWED)                                            \
    X(MONTH_ALREADY_PAID, 117, KY_E_MONTH_ALREADY_PAID)                                            \
    X(SAFETY_CAP, 118, KY_E_SAFETY_CAP)                                                            \
    X(REF_NOT_ALLOWED, 119, KY_E_REF_NOT_ALLOWED)                                                  \
    X(REVERSAL_TARGET, 120, KY_E_REVERSAL_TARGET)                                                  \
    X(ALREADY_REVERSED, 121, KY_E_ALREADY_REVERSED)                                                \
    X(REVERSAL_AMOUNT, 122, KY_E_REVERSAL_AMOUNT)                                                  \
    X(MONTHS_INVALID, 123, KY_E_MONTHS_INVALID)                                                    \
    X(MONTHS_NOT_ALLOWED, 124, KY_E_MONTHS_NOT_ALLOWED)                                            \
    X(PREPAID_AMOUNT, 125, KY_E_PREPAID_AMOUNT)                                                    \
    X(AMOUNT_INVALID, 126, KY_E_AMOUNT_INVALID)                                                    \
    X(AMOUNT_NOT_ALLOWED, 127, KY_E_AMOUNT_NOT_ALLOWED)                                            \
    X(LOAN_LIMIT, 128, KY_E_LOAN_LIMIT)                                                            \
    X(LOAN_REPAY_EXCEEDS, 129, KY_E_LOAN_REPAY_EXCEEDS)                                            \
    X(BENEFIT_REASON, 130, KY_E_BENEFIT_REASON)                                                    \
    X(SUBTYPE_NOT_ALLOWED, 131, KY_E_SUBTYPE_NOT_ALLOWED)                                          \
    X(LINKED_FAILED, 132, KY_E_LINKED_FAILED)                                                      \
    X(LINKED_OPEN, 133, KY_E_LINKED_OPEN)                                                          \
    X(NOT_FOUND, 200, KY_E_NOT_FOUND)                                                              \
    X(CORRUPT, 201, KY_E_CORRUPT)                                                                  \
    X(CHAIN_BROKEN, 202, KY_E_CHAIN_BROKEN)                                                        \
    X(STORAGE, 203, KY_E_STORAGE)                                                                  \
    X(IO, 204, KY_E_IO)                                                                            \
    X(NOMEM, 205, KY_E_NOMEM)                                                                      \
    X(MAP_FULL, 206, KY_E_MAP_FULL)                                                                \
    X(LEDGER_FAILED, 207, KY_E_LEDGER_FAILED)                                                      \
    X(READ_ONLY, 208, KY_E_READ_ONLY)                                                              \
    X(NOT_PRIMARY, 209, KY_E_NOT_PRIMARY)                                                          \
    X(UNAVAILABLE, 210, KY_E_UNAVAILABLE)                                                          \
    X(RETRY_LATER, 211, KY_E_RETRY_LATER)                                                          \
    X(REPLICA_UNAVAILABLE, 212, KY_E_REPLICA_UNAVAILABLE)                                          \
    X(PROMOTE_REFUSED, 213, KY_E_PROMOTE_REFUSED)                                                  \
    X(INTERNAL, 299, KY_E_INTERNAL)

/* The status values, KY_WIRE_STATUS_<NAME>. */
enum ky_wire_status {
#define KY_WIRE_STATUS_ENUM_(name, value, err) KY_WIRE_STATUS_##name = value,
    KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_ENUM_)
#undef KY_WIRE_STATUS_ENUM_
};

/* The wire status for a ky_err code: the listed status for every listed code, and
 * KY_WIRE_STATUS_INTERNAL for every other code (causes that only the node's log explains,
 * such as KY_E_LOCKED or KY_E_BUFFER_TOO_SMALL). The one ky_err -> status mapping. */
uint16_t ky_wire_status_from_err(int code);

/* The ky_err for a wire status: the listed code, or KY_E_PROTOCOL for a value this build
 * does not know (a newer peer's code). ky_wire_status_to_err(ky_wire_status_from_err(e))
 * == e for every listed e. */
int ky_wire_status_to_err(uint16_t status);

/* The frozen name ("OK", "PREMIUM_STEP"), or "UNKNOWN". Static, immutable; never NULL. */
const char *ky_wire_status_name(uint16_t status);

/* Iteration over the list, in list order, for tests and documentation generators:
 * ky_wire_status_count() entries, index 0 .. count - 1 (index < count asserted). */
size_t ky_wire_status_count(void);
uint16_t ky_wire_status_at(size_t index);

#endif
