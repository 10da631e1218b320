/*
 * entry.c — encoder and strict decoder for ledger entries, format version 1.
 *
 * Why hand-written field by field: the byte layout is the 40-year contract with
 * auditors, so no host struct is ever written raw; every field goes through an
 * explicit little-endian put/get at the offset docs/LEDGER-FORMAT.md gives.
 * Pure functions, no allocation; any thread.
 */
#include "entry.h"

#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

enum {
    OFF_VERSION = 0,
    OFF_KIND = 1,
    OFF_SCHEME = 2,
    OFF_FLAGS = 3,
    OFF_SUBTYPE = 4,
    OFF_MONTHS = 6,
    OFF_PERIOD = 8,
    OFF_PAYLOAD_BYTES = 12,
    OFF_SEQ = 16,
    OFF_EPOCH = 24,
    OFF_TIMESTAMP = 32,
    OFF_CONTRACT = 40,
    OFF_CONTRACT_SEQ = 48,
    OFF_AMOUNT = 56,
    OFF_REF_SEQ = 64,
    OFF_IDEM_KEY = 72,
    OFF_PREV_HASH = 88,
    OFF_CONTRACT_PREV_HASH = 120,
    OFF_PAYLOAD = 152,
};
_Static_assert(OFF_PAYLOAD == KY_ENTRY_HEADER_BYTES, "header size");
_Static_assert(OFF_IDEM_KEY + KY_IDEM_KEY_BYTES == OFF_PREV_HASH, "layout");
_Static_assert(OFF_PREV_HASH + KY_HASH_BYTES == OFF_CONTRACT_PREV_HASH, "layout");
_Static_assert(OFF_CONTRACT_PREV_HASH + KY_HASH_BYTES == OFF_PAYLOAD, "layout");

static const char *const kind_names[256] = {
    [KY_KIND_CONTRACT_OPENED] = "contract_opened",
    [KY_KIND_PREMIUM_CHANGED] = "premium_changed",
    [KY_KIND_PREMIUM_PAID] = "premium_paid",
    [KY_KIND_PREMIUM_REVERSED] = "premium_reversed",
    [KY_KIND_PREMIUM_PREPAID] = "premium_prepaid",
    [KY_KIND_MONTHS_CARRIED_OVER] = "months_carried_over",
    [KY_KIND_LOAN_DISBURSED] = "loan_disbursed",
    [KY_KIND_LOAN_REPAID] = "loan_repaid",
    [KY_KIND_BENEFIT_PAID] = "benefit_paid",
    [KY_KIND_CONTRACT_AMENDED] = "contract_amended",
    [KY_KIND_CONTRACT_CLOSED] = "contract_closed",
    [KY_KIND_EPOCH_STARTED] = "epoch_started",
    [KY_KIND_MODE_CHANGED] = "mode_changed",
    [KY_KIND_LOSS_ACCEPTED] = "loss_accepted",
};

bool ky_kind_is_system(uint8_t kind) {
    return kind >= KY_KIND_SYSTEM_FIRST_ && kind <= KY_KIND_SYSTEM_LAST_;
}

bool ky_kind_is_known(uint8_t kind) {
    return (kind >= 1 && kind <= KY_KIND_CLIENT_LAST_) || ky_kind_is_system(kind);
}

const char *ky_kind_name(uint8_t kind) {
    return ky_kind_is_known(kind) ? kind_names[kind] : "unknown";
}

uint8_t ky_kind_from_name(const char *name) {
    if (name == NULL) return 0;
    for (unsigned k = 1; k < 256; k++) {
        if (kind_names[k] != NULL && strcmp(kind_names[k], name) == 0) return (uint8_t)k;
    }
    return 0;
}

const char *ky_scheme_name(uint8_t scheme) {
    switch (scheme) {
    case KY_SCHEME_NONE: return "none";
    case KY_SCHEME_SHOKIBO: return "shokibo";
    case KY_SCHEME_SAFETY: return "safety";
    default: return "unknown";
    }
}

uint8_t ky_scheme_from_name(const char *name) {
    if (name == NULL) return 0;
    if (strcmp(name, "shokibo") == 0) return KY_SCHEME_SHOKIBO;
    if (strcmp(name, "safety") == 0) return KY_SCHEME_SAFETY;
    return 0;
}

int ky_entry_check_fields(const ky_entry *e) {
    KY_ASSERT(e != NULL);
    if (e->version != KY_ENTRY_VERSION) return KY_E_ENTRY_VERSION;
    if (!ky_kind_is_known(e->kind)) return KY_E_ENTRY_KIND;
    if (ky_kind_is_system(e->kind)) {
        if (e->scheme != KY_SCHEME_NONE) return KY_E_ENTRY_SCHEME;
    } else if (e->scheme != KY_SCHEME_SHOKIBO && e->scheme != KY_SCHEME_SAFETY) {
        return KY_E_ENTRY_SCHEME;
    }
    if (e->flags != 0) return KY_E_ENTRY_FLAGS;
    if (e->payload_bytes > KY_ENTRY_PAYLOAD_BYTES_MAX) return KY_E_PAYLOAD_TOO_LARGE;
    if (e->seq == 0) return KY_E_ENTRY_SEQ;
    return KY_OK;
}

size_t ky_entry_encoded_bytes(const ky_entry *e) {
    return (size_t)KY_ENTRY_HEADER_BYTES + e->payload_bytes;
}

int ky_entry_encode(const ky_entry *e, uint8_t *out, size_t out_cap, size_t *out_len) {
    KY_ASSERT(e != NULL && out != NULL && out_len != NULL);
    int rc = ky_entry_check_fields(e);
    if (rc != KY_OK) return rc;
    size_t len = ky_entry_encoded_bytes(e);
    if (len > out_cap) return KY_E_BUFFER_TOO_SMALL;
    KY_ASSERT(e->payload_bytes == 0 || e->payload != NULL);

    out[OFF_VERSION] = e->version;
    out[OFF_KIND] = e->kind;
    out[OFF_SCHEME] = e->scheme;
    out[OFF_FLAGS] = e->flags;
    ky_put_u16le(out + OFF_SUBTYPE, e->subtype);
    ky_put_u16le(out + OFF_MONTHS, e->months);
    ky_put_u32le(out + OFF_PERIOD, e->period_yyyymm);
    ky_put_u32le(out + OFF_PAYLOAD_BYTES, e->payload_bytes);
    ky_put_u64le(out + OFF_SEQ, e->seq);
    ky_put_u64le(out + OFF_EPOCH, e->epoch);
    ky_put_u64le(out + OFF_TIMESTAMP, e->timestamp_us);
    ky_put_u64le(out + OFF_CONTRACT, e->contract_id);
    ky_put_u64le(out + OFF_CONTRACT_SEQ, e->contract_seq);
    ky_put_u64le(out + OFF_AMOUNT, (uint64_t)e->amount_jpy);
    ky_put_u64le(out + OFF_REF_SEQ, e->ref_seq);
    memcpy(out + OFF_IDEM_KEY, e->idem_key, KY_IDEM_KEY_BYTES);
    memcpy(out + OFF_PREV_HASH, e->prev_hash, KY_HASH_BYTES);
    memcpy(out + OFF_CONTRACT_PREV_HASH, e->contract_prev_hash, KY_HASH_BYTES);
    if (e->payload_bytes > 0) memcpy(out + OFF_PAYLOAD, e->payload, e->payload_bytes);
    *out_len = len;
    return KY_OK;
}

int ky_entry_decode(const uint8_t *bytes, size_t len, ky_entry *e) {
    KY_ASSERT(e != NULL);
    if (bytes == NULL || len < KY_ENTRY_HEADER_BYTES) return KY_E_ENTRY_TRUNCATED;
    e->version = bytes[OFF_VERSION];
    if (e->version != KY_ENTRY_VERSION) return KY_E_ENTRY_VERSION;
    e->kind = bytes[OFF_KIND];
    e->scheme = bytes[OFF_SCHEME];
    e->flags = bytes[OFF_FLAGS];
    e->subtype = ky_get_u16le(bytes + OFF_SUBTYPE);
    e->months = ky_get_u16le(bytes + OFF_MONTHS);
    e->period_yyyymm = ky_get_u32le(bytes + OFF_PERIOD);
    e->payload_bytes = ky_get_u32le(bytes + OFF_PAYLOAD_BYTES);
    e->seq = ky_get_u64le(bytes + OFF_SEQ);
    e->epoch = ky_get_u64le(bytes + OFF_EPOCH);
    e->timestamp_us = ky_get_u64le(bytes + OFF_TIMESTAMP);
    e->contract_id = ky_get_u64le(bytes + OFF_CONTRACT);
    e->contract_seq = ky_get_u64le(bytes + OFF_CONTRACT_SEQ);
    e->amount_jpy = (int64_t)ky_get_u64le(bytes + OFF_AMOUNT);
    e->ref_seq = ky_get_u64le(bytes + OFF_REF_SEQ);
    memcpy(e->idem_key, bytes + OFF_IDEM_KEY, KY_IDEM_KEY_BYTES);
    memcpy(e->prev_hash, bytes + OFF_PREV_HASH, KY_HASH_BYTES);
    memcpy(e->contract_prev_hash, bytes + OFF_CONTRACT_PREV_HASH, KY_HASH_BYTES);
    e->payload = e->payload_bytes > 0 ? bytes + OFF_PAYLOAD : NULL;

    int rc = ky_entry_check_fields(e);
    if (rc != KY_OK) return rc;
    /* Compare lengths without overflow: payload_bytes is already bounded. */
    size_t want = (size_t)KY_ENTRY_HEADER_BYTES + e->payload_bytes;
    if (len < want) return KY_E_ENTRY_TRUNCATED;
    if (len > want) return KY_E_ENTRY_TRAILING_BYTES;
    return KY_OK;
}

void ky_entry_leaf_hash(const uint8_t *bytes, size_t len, uint8_t leaf[KY_HASH_BYTES]) {
    KY_ASSERT(bytes != NULL && len >= KY_ENTRY_HEADER_BYTES);
    ky_sha256_prefixed(0x00, bytes, len, leaf);
}
