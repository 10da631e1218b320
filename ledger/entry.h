/*
 * entry.h — the canonical byte encoding of one ledger entry (format version 1).
 *
 * Why: money records live for 40+ years and must stay verifiable by tools that do
 * not exist yet, so an entry is a fixed, documented byte layout (docs/LEDGER-FORMAT.md)
 * — fixed-width little-endian fields, a format-version byte, an explicit payload
 * length, no padding, no host struct written raw (DESIGN §3.1). The leaf hash
 * SHA-256(0x00 || entry_bytes) is at once the hash-chain link and the RFC 9162 Merkle
 * leaf (DESIGN §3.2).
 *
 * Layout v1 (offsets in bytes, all integers little-endian):
 *     0 u8  version (1)        1 u8  kind            2 u8  scheme       3 u8 flags (0)
 *     4 u16 subtype            6 u16 months          8 u32 period_yyyymm
 *    12 u32 payload_bytes     16 u64 seq            24 u64 epoch
 *    32 u64 timestamp_us      40 u64 contract_id    48 u64 contract_seq
 *    56 i64 amount_jpy        64 u64 ref_seq        72 [16] idem_key
 *    88 [32] prev_hash       120 [32] contract_prev_hash
 *   152 payload (payload_bytes bytes), then nothing.
 *
 * Invariants:
 *   1. ky_entry_decode accepts exactly the byte strings ky_entry_encode produces for
 *      entries that pass ky_entry_check_fields; anything else is a specific error.
 *   2. encode(decode(b)) == b for every accepted b (canonical: one encoding per entry).
 *
 * Thread-safety: pure functions; any thread.
 */
#ifndef KY_ENTRY_H
#define KY_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/ky_bytes.h"
#include "../common/ky_limits.h"
#include "sha256.h"

#define KY_ENTRY_VERSION      1u
#define KY_ENTRY_HEADER_BYTES 152u
#define KY_ENTRY_BYTES_MAX    (KY_ENTRY_HEADER_BYTES + KY_ENTRY_PAYLOAD_BYTES_MAX)
#define KY_IDEM_KEY_BYTES     16u
#define KY_HASH_BYTES         KY_SHA256_BYTES
_Static_assert(KY_ENTRY_BYTES_MAX <= KY_WIRE_ENTRY_BYTES_MAX, "an entry fits a wire blob");
_Static_assert(KY_ENTRY_HEADER_BYTES == 152u, "ky_limits.h spells the header size as 152");

/* Entry kinds. Values are part of the format and never renumbered. */
typedef enum ky_kind {
    KY_KIND_CONTRACT_OPENED = 1,     /* subtype = member type; amount = monthly premium */
    KY_KIND_PREMIUM_CHANGED = 2,     /* amount = new monthly premium */
    KY_KIND_PREMIUM_PAID = 3,        /* amount, period = the month paid */
    KY_KIND_PREMIUM_REVERSED = 4,    /* ref_seq = reversed premium entry; amount equal to it */
    KY_KIND_PREMIUM_PREPAID = 5,     /* period = first month, months = count, amount */
    KY_KIND_MONTHS_CARRIED_OVER = 6, /* months and amount from an earlier contract */
    KY_KIND_LOAN_DISBURSED = 7,      /* amount; subtype = loan type (scheme-defined) */
    KY_KIND_LOAN_REPAID = 8,         /* amount */
    KY_KIND_BENEFIT_PAID = 9,        /* subtype = reason; amount; closes the contract */
    KY_KIND_CONTRACT_AMENDED = 10,   /* payload only */
    KY_KIND_CONTRACT_CLOSED = 11,    /* subtype = reason code (application-defined) */
    KY_KIND_CLIENT_LAST_ = 11,
    /* System entries: written by the node, contract_id 0, scheme 0. */
    KY_KIND_EPOCH_STARTED = 128, /* first entry of every epoch (seq 1 opens epoch 1);
                                    payload = 16-byte id of the node that started it */
    KY_KIND_MODE_CHANGED = 129,  /* subtype = new replication mode */
    KY_KIND_LOSS_ACCEPTED = 130, /* operator accepted a named loss on promotion */
    KY_KIND_SYSTEM_FIRST_ = 128,
    KY_KIND_SYSTEM_LAST_ = 130,
} ky_kind;

typedef enum ky_scheme {
    KY_SCHEME_NONE = 0,    /* system entries only */
    KY_SCHEME_SHOKIBO = 1, /* Small Enterprise Mutual Aid (小規模企業共済) */
    KY_SCHEME_SAFETY = 2,  /* Business Safety Mutual Aid (経営セーフティ共済) */
} ky_scheme;

/* Event flags (client side; not stored in entries). */
#define KY_EVENT_LINKED      0x0001u /* succeeds or fails together with the next event */
#define KY_EVENT_FLAGS_KNOWN KY_EVENT_LINKED

/* An event as a client submits it: everything the ledger does not assign. The
 * payload is borrowed for the duration of the call that receives the event. */
typedef struct ky_event {
    uint8_t kind;                        /* ky_kind, client kinds only */
    uint8_t scheme;                      /* ky_scheme */
    uint16_t flags;                      /* KY_EVENT_* */
    uint16_t subtype;                    /* member type / benefit reason / loan type */
    uint16_t months;                     /* month count for prepaid / carried over */
    uint32_t period_yyyymm;              /* month the event is for, or 0 */
    uint32_t payload_bytes;              /* <= KY_ENTRY_PAYLOAD_BYTES_MAX */
    uint64_t contract_id;                /* 1..KY_CONTRACT_ID_MAX */
    uint64_t ref_seq;                    /* earlier entry referenced (reversals), or 0 */
    int64_t amount_jpy;                  /* JPY, integer */
    uint8_t idem_key[KY_IDEM_KEY_BYTES]; /* client-chosen, time-ordered, non-zero */
    const uint8_t *payload;              /* borrowed; NULL when payload_bytes == 0 */
} ky_event;

/* A decoded entry. `payload` points into the bytes that were decoded (borrowed for
 * as long as those bytes live). */
typedef struct ky_entry {
    uint8_t version;                           /* KY_ENTRY_VERSION */
    uint8_t kind;                              /* ky_kind */
    uint8_t scheme;                            /* ky_scheme */
    uint8_t flags;                             /* reserved, 0 */
    uint16_t subtype;                          /* see ky_kind */
    uint16_t months;                           /* month count */
    uint32_t period_yyyymm;                    /* yyyymm or 0 */
    uint32_t payload_bytes;                    /* bytes at payload */
    uint64_t seq;                              /* 1, 2, 3, ... no gaps */
    uint64_t epoch;                            /* primary's term that wrote it */
    uint64_t timestamp_us;                     /* µs since 1970 UTC, never decreasing */
    uint64_t contract_id;                      /* 0 for system entries */
    uint64_t contract_seq;                     /* 1, 2, ... within the contract; 0 system */
    int64_t amount_jpy;                        /* JPY */
    uint64_t ref_seq;                          /* referenced seq or 0 */
    uint8_t idem_key[KY_IDEM_KEY_BYTES];       /* from the client (or node for system) */
    uint8_t prev_hash[KY_HASH_BYTES];          /* leaf hash of seq-1; zeros for seq 1 */
    uint8_t contract_prev_hash[KY_HASH_BYTES]; /* leaf hash of the contract's previous */
    const uint8_t *payload;                    /* borrowed, see above */
} ky_entry;

/* Structural field checks shared by encoder and decoder: version, known kind,
 * scheme allowed for the kind, flags zero, payload bound, seq >= 1.
 * Returns KY_OK or KY_E_ENTRY_VERSION / _KIND / _SCHEME / _FLAGS / _SEQ /
 * KY_E_PAYLOAD_TOO_LARGE. */
int ky_entry_check_fields(const ky_entry *e);

/* Bytes ky_entry_encode writes for e: KY_ENTRY_HEADER_BYTES + payload_bytes. */
size_t ky_entry_encoded_bytes(const ky_entry *e);

/* Encodes e into out (capacity out_cap). On success *out_len is the length.
 * Returns KY_OK, a ky_entry_check_fields error, or KY_E_BUFFER_TOO_SMALL. */
int ky_entry_encode(const ky_entry *e, uint8_t *out, size_t out_cap, size_t *out_len);

/* Strict decode of exactly `len` bytes. e->payload points into `bytes`.
 * Returns KY_OK, KY_E_ENTRY_TRUNCATED, KY_E_ENTRY_TRAILING_BYTES, or a
 * ky_entry_check_fields error. On error *e is unspecified. */
int ky_entry_decode(const uint8_t *bytes, size_t len, ky_entry *e);

/* leaf = SHA-256(0x00 || bytes): RFC 6962 leaf hash of encoded entry bytes. */
void ky_entry_leaf_hash(const uint8_t *bytes, size_t len, uint8_t leaf[KY_HASH_BYTES]);

/* True for kinds 128.. (written by the node). */
bool ky_kind_is_system(uint8_t kind);
/* True for any kind defined in format version 1. */
bool ky_kind_is_known(uint8_t kind);
/* Stable lower-case names: "premium_paid", "epoch_started", ...; "unknown" otherwise. */
const char *ky_kind_name(uint8_t kind);
/* Inverse of ky_kind_name; returns 0 when unknown. */
uint8_t ky_kind_from_name(const char *name);
/* "shokibo", "safety", "none"; "unknown" otherwise. */
const char *ky_scheme_name(uint8_t scheme);
/* Inverse of ky_scheme_name for client schemes; 0 when unknown. */
uint8_t ky_scheme_from_name(const char *name);

#endif
