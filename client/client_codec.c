/*
 * client_codec.c — the client library's pure parts: error codes and strings, idempotency
 * keys, endpoint parsing, and decoding of entries and contract states.
 *
 * Why a separate file: none of this touches a socket, so it is unit-tested directly
 * (tests/unit/test_client.c), and the entry and contract-state layouts — copied here
 * because client/ must not include ledger/ — sit in one place with their offsets.
 *
 * Public codes are negated wire statuses (proto/status.h); the static asserts below tie
 * every KYOSAI_E_* constant of kyosai.h to its status, so a status added to the list
 * without a public constant is a compile error.
 *
 * Thread-safety: every function may be called from any thread. kyosai_strerror builds its
 * table once under pthread_once; after that the table is immutable.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"
#include "../proto/status.h"
#include "client_int.h"

/* ---- codes ------------------------------------------------------------------------------ */

#define KYOSAI_E_OK KYOSAI_OK /* so the list's OK row has a constant to check */
#define CHECK_CODE_(name, value, err)                                                              \
    _Static_assert(KYOSAI_E_##name == -(value), "KYOSAI_E_" #name " is -(wire status)");
KY_WIRE_STATUS_LIST(CHECK_CODE_)
#undef CHECK_CODE_
#undef KYOSAI_E_OK

_Static_assert(KYOSAI_IDEM_KEY_BYTES == KY_WIRE_IDEM_KEY_BYTES, "idem key size");
_Static_assert(KYOSAI_HASH_BYTES == KY_WIRE_HASH_BYTES, "hash size");
_Static_assert(KYOSAI_NODE_ID_BYTES == KY_WIRE_NODE_ID_BYTES, "node id size");
_Static_assert(KYOSAI_PAYLOAD_BYTES_MAX == KY_WIRE_PAYLOAD_BYTES_MAX, "payload limit");
_Static_assert(KYOSAI_BATCH_COUNT_MAX == KY_WIRE_BATCH_COUNT_MAX, "batch limit");
_Static_assert(KYOSAI_ENTRY_BYTES_MAX <= KY_WIRE_ENTRY_BYTES_MAX, "entry limit");
_Static_assert(KYOSAI_CLIENT_NAME_BYTES_MAX == KY_WIRE_CLIENT_NAME_BYTES_MAX, "name limit");
_Static_assert(KYOSAI_READ_COUNT_MAX == KY_WIRE_READ_COUNT_MAX, "read count limit");
_Static_assert(KYOSAI_EVENT_LINKED == 0x0001u, "LINKED is wire event flag bit 0");
_Static_assert(KYOSAI_RESULT_DUPLICATE == KY_WIRE_RESULT_DUPLICATE, "DUPLICATE flag");

int ky_client_code(int err) {
    return -(int)ky_wire_status_from_err(err);
}

int ky_client_code_from_status(uint16_t status) {
    /* The round trip maps a status unknown to this build to PROTOCOL. */
    return ky_client_code(ky_wire_status_to_err(status));
}

/* ---- kyosai_strerror -------------------------------------------------------------------- */

enum {
#define STATUS_IDX_(name, value, err) STATUS_IDX_##name,
    KY_WIRE_STATUS_LIST(STATUS_IDX_)
#undef STATUS_IDX_
        STATUS_IDX_COUNT
};

#define STRERROR_BYTES_MAX 192u /* "KYOSAI_E_" + name + ": " + a ky_err sentence */

static char strerror_table[STATUS_IDX_COUNT][STRERROR_BYTES_MAX];
static pthread_once_t strerror_once = PTHREAD_ONCE_INIT;

static int status_index(uint16_t status) {
    switch (status) {
#define STATUS_CASE_(name, value, err)                                                             \
    case value: return STATUS_IDX_##name;
        KY_WIRE_STATUS_LIST(STATUS_CASE_)
#undef STATUS_CASE_
    default: return -1;
    }
}

static void strerror_build(void) {
    for (size_t i = 0; i < ky_wire_status_count(); i++) {
        uint16_t st = ky_wire_status_at(i);
        int idx = status_index(st);
        KY_ASSERT(idx >= 0 && idx < STATUS_IDX_COUNT);
        const char *msg = ky_strerror(ky_wire_status_to_err(st)); /* "KY_E_NAME: sentence" */
        const char *sentence = strstr(msg, ": ");
        KY_ASSERT(sentence != NULL);
        int n;
        if (st == KY_WIRE_STATUS_OK)
            n = snprintf(strerror_table[idx], STRERROR_BYTES_MAX, "KYOSAI_OK%s", sentence);
        else
            n = snprintf(strerror_table[idx], STRERROR_BYTES_MAX, "KYOSAI_E_%s%s",
                         ky_wire_status_name(st), sentence);
        KY_ASSERT(n > 0 && (size_t)n < STRERROR_BYTES_MAX);
    }
}

const char *kyosai_strerror(int code) {
    int idx = code <= 0 && code >= -0xFFFF ? status_index((uint16_t)-code) : -1;
    if (idx < 0) return "KYOSAI_E_UNKNOWN: unknown error code";
    int rc = pthread_once(&strerror_once, strerror_build);
    KY_ASSERT(rc == 0);
    return strerror_table[idx];
}

/* ---- idempotency keys, version, sizes --------------------------------------------------- */

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_start(void) {
    /* -1 only when no entropy source exists; randombytes_buf then aborts, which is the
     * right outcome for a library asked for keys that must never repeat. */
    if (sodium_init() < 0) return;
}

void kyosai_idem_key_generate(uint8_t key[KYOSAI_IDEM_KEY_BYTES]) {
    KY_ASSERT(key != NULL);
    int rc = pthread_once(&sodium_once, sodium_start);
    KY_ASSERT(rc == 0);
    struct timespec ts;
    rc = clock_gettime(CLOCK_REALTIME, &ts);
    KY_ASSERT(rc == 0);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t be[8];
    ky_put_u64be(be, ms & 0xFFFFFFFFFFFFull); /* 48 bits last until the year 10889 */
    memcpy(key, be + 2, 6);
    randombytes_buf(key + 6, KYOSAI_IDEM_KEY_BYTES - 6);
}

const char *kyosai_version(void) {
    return "0.1.0";
}

size_t kyosai_payload_bytes_max(void) {
    return KYOSAI_PAYLOAD_BYTES_MAX;
}

size_t kyosai_entry_bytes_max(void) {
    return KYOSAI_ENTRY_BYTES_MAX;
}

size_t kyosai_batch_count_max(void) {
    return KYOSAI_BATCH_COUNT_MAX;
}

size_t kyosai_idem_key_bytes(void) {
    return KYOSAI_IDEM_KEY_BYTES;
}

/* ---- endpoints -------------------------------------------------------------------------- */

int ky_client_endpoint_parse(const char *text, ky_client_endpoint *out) {
    KY_ASSERT(text != NULL && out != NULL);
    size_t len = strnlen(text, KYOSAI_ENDPOINT_BYTES_MAX + 1);
    if (len > KYOSAI_ENDPOINT_BYTES_MAX) return KYOSAI_E_INVALID_ARG;
    const char *colon = memchr(text, ':', len);
    if (colon == NULL || colon == text) return KYOSAI_E_INVALID_ARG;
    char host[INET_ADDRSTRLEN];
    size_t host_len = (size_t)(colon - text);
    if (host_len >= sizeof host) return KYOSAI_E_INVALID_ARG;
    memcpy(host, text, host_len);
    host[host_len] = '\0';
    const char *p = colon + 1;
    uint32_t port = 0;
    size_t digits = 0;
    for (; *p >= '0' && *p <= '9' && digits < 5; p++, digits++)
        port = port * 10u + (uint32_t)(*p - '0');
    if (*p != '\0' || digits == 0 || port == 0 || port > 65535u || (digits > 1 && colon[1] == '0'))
        return KYOSAI_E_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->addr.sin_family = AF_INET;
    out->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->addr.sin_addr) != 1) return KYOSAI_E_INVALID_ARG;
    char canon[INET_ADDRSTRLEN];
    const char *ok = inet_ntop(AF_INET, &out->addr.sin_addr, canon, sizeof canon);
    KY_ASSERT(ok != NULL); /* cannot fail: AF_INET and a large enough buffer */
    int n = snprintf(out->text, sizeof out->text, "%s:%u", canon, (unsigned)port);
    KY_ASSERT(n > 0 && (size_t)n < sizeof out->text);
    return KYOSAI_OK;
}

/* ---- entries (docs/LEDGER-FORMAT.md, format 1) ------------------------------------------ */

enum {
    ENT_VERSION = 0,
    ENT_KIND = 1,
    ENT_SCHEME = 2,
    ENT_FLAGS = 3,
    ENT_SUBTYPE = 4,
    ENT_MONTHS = 6,
    ENT_PERIOD = 8,
    ENT_PAYLOAD_BYTES = 12,
    ENT_SEQ = 16,
    ENT_EPOCH = 24,
    ENT_TIMESTAMP = 32,
    ENT_CONTRACT = 40,
    ENT_CONTRACT_SEQ = 48,
    ENT_AMOUNT = 56,
    ENT_REF_SEQ = 64,
    ENT_IDEM = 72,
    ENT_PREV_HASH = 88,
    ENT_CONTRACT_PREV = 120,
    ENT_HEADER_BYTES = 152,
};
#define ENTRY_FORMAT_VERSION 1u
_Static_assert(ENT_CONTRACT_PREV + KYOSAI_HASH_BYTES == ENT_HEADER_BYTES, "entry layout");
_Static_assert(ENT_HEADER_BYTES + KYOSAI_PAYLOAD_BYTES_MAX == KYOSAI_ENTRY_BYTES_MAX,
               "KYOSAI_ENTRY_BYTES_MAX is one format-1 entry");

static void entry_leaf_hash(const uint8_t *b, size_t len, uint8_t out[KYOSAI_HASH_BYTES]) {
    static const uint8_t leaf_prefix = 0x00; /* RFC 9162 leaf domain separation */
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, &leaf_prefix, 1);
    crypto_hash_sha256_update(&st, b, len);
    crypto_hash_sha256_final(&st, out);
}

int ky_client_entry_decode(const uint8_t *b, size_t len, kyosai_entry *e) {
    KY_ASSERT(e != NULL);
    if (b == NULL || len < ENT_HEADER_BYTES || len > KYOSAI_ENTRY_BYTES_MAX)
        return KYOSAI_E_CORRUPT;
    uint32_t payload_bytes = ky_get_u32le(b + ENT_PAYLOAD_BYTES);
    if (b[ENT_VERSION] != ENTRY_FORMAT_VERSION || b[ENT_FLAGS] != 0 ||
        payload_bytes != len - ENT_HEADER_BYTES)
        return KYOSAI_E_CORRUPT;
    memset(e, 0, sizeof *e);
    e->kind = b[ENT_KIND];
    e->scheme = b[ENT_SCHEME];
    e->subtype = ky_get_u16le(b + ENT_SUBTYPE);
    e->months = ky_get_u16le(b + ENT_MONTHS);
    e->period_yyyymm = ky_get_u32le(b + ENT_PERIOD);
    e->seq = ky_get_u64le(b + ENT_SEQ);
    e->epoch = ky_get_u64le(b + ENT_EPOCH);
    e->timestamp_us = ky_get_u64le(b + ENT_TIMESTAMP);
    e->contract_id = ky_get_u64le(b + ENT_CONTRACT);
    e->contract_seq = ky_get_u64le(b + ENT_CONTRACT_SEQ);
    e->amount_jpy = (int64_t)ky_get_u64le(b + ENT_AMOUNT);
    e->ref_seq = ky_get_u64le(b + ENT_REF_SEQ);
    memcpy(e->idem_key, b + ENT_IDEM, KYOSAI_IDEM_KEY_BYTES);
    memcpy(e->prev_hash, b + ENT_PREV_HASH, KYOSAI_HASH_BYTES);
    memcpy(e->contract_prev_hash, b + ENT_CONTRACT_PREV, KYOSAI_HASH_BYTES);
    e->payload = payload_bytes ? b + ENT_HEADER_BYTES : NULL;
    e->payload_bytes = payload_bytes;
    if (e->seq == 0) return KYOSAI_E_CORRUPT;
    entry_leaf_hash(b, len, e->leaf_hash);
    return KYOSAI_OK;
}

/* ---- contract state (ky_contract_state_encode in ledger/rules.c, version 1) ------------- */

enum {
    CS_VERSION = 0,
    CS_SCHEME = 1,
    CS_STATUS = 2,
    CS_MEMBER_TYPE = 4,
    CS_MONTHS_PAID = 8,
    CS_CONTRACT = 16,
    CS_MONTHLY = 24,
    CS_TOTAL_PAID = 32,
    CS_LOAN = 40,
    CS_OPENED = 48,
    CS_CLOSED = 56,
    CS_LAST = 64,
    CS_COUNT = 72,
    CS_LAST_HASH = 80,
    CS_BYTES = 112,
};
#define CONTRACT_STATE_VERSION 1u
#define CONTRACT_STATUS_OPEN   1u
#define CONTRACT_STATUS_CLOSED 2u
_Static_assert(CS_LAST_HASH + KYOSAI_HASH_BYTES == CS_BYTES, "contract state layout");
_Static_assert(CS_BYTES <= KY_WIRE_CONTRACT_STATE_BYTES_MAX, "state fits the wire bound");

int ky_client_contract_decode(const uint8_t *b, size_t len, kyosai_contract *out) {
    KY_ASSERT(out != NULL);
    if (b == NULL || len != CS_BYTES || b[CS_VERSION] != CONTRACT_STATE_VERSION)
        return KYOSAI_E_CORRUPT;
    if (b[CS_STATUS] != CONTRACT_STATUS_OPEN && b[CS_STATUS] != CONTRACT_STATUS_CLOSED)
        return KYOSAI_E_CORRUPT;
    memset(out, 0, sizeof *out);
    out->scheme = b[CS_SCHEME];
    out->status = b[CS_STATUS];
    out->member_type = ky_get_u16le(b + CS_MEMBER_TYPE);
    out->months_paid = ky_get_u32le(b + CS_MONTHS_PAID);
    out->contract_id = ky_get_u64le(b + CS_CONTRACT);
    out->monthly_premium_jpy = (int64_t)ky_get_u64le(b + CS_MONTHLY);
    out->total_paid_jpy = (int64_t)ky_get_u64le(b + CS_TOTAL_PAID);
    out->loan_balance_jpy = (int64_t)ky_get_u64le(b + CS_LOAN);
    out->opened_seq = ky_get_u64le(b + CS_OPENED);
    out->closed_seq = ky_get_u64le(b + CS_CLOSED);
    out->last_seq = ky_get_u64le(b + CS_LAST);
    out->entry_count = ky_get_u64le(b + CS_COUNT);
    memcpy(out->last_leaf_hash, b + CS_LAST_HASH, KYOSAI_HASH_BYTES);
    return KYOSAI_OK;
}
