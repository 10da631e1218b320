/*
 * test_client.c — the pure parts of libkyosai: codes, strings, keys, endpoints, decoding.
 *
 * Goal: public codes are the negated wire statuses and every one has a
 * "KYOSAI_E_NAME: sentence" string; idempotency keys are time-ordered, non-zero and
 * distinct; endpoint parsing accepts exactly numeric IPv4 "a.b.c.d:port"; the client's
 * copies of the entry and contract-state layouts (client/ may not include ledger/) decode
 * what the ledger's own encoders write, byte for byte, and refuse anything else.
 * Method: the public API plus the library's internal functions (client_int.h), which the
 * static library exposes to tests; the ledger's encoders (ledger/entry.h, ledger/rules.h)
 * produce the reference bytes; every single-byte truncation and one trailing byte are
 * refused; limits at max and max + 1. Socket behaviour (connect, retry, timeouts, failover)
 * needs real nodes and is tested by tests/system/test_client.py.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../client/client_int.h"
#include "../../client/kyosai.h"
#include "../../common/ky_err.h"
#include "../../ledger/entry.h"
#include "../../ledger/rules.h"
#include "../../proto/status.h"

/* ---- codes and strings ------------------------------------------------------------------ */

static void test_codes_are_negated_statuses(void **state) {
    (void)state;
    for (size_t i = 0; i < ky_wire_status_count(); i++) {
        uint16_t st = ky_wire_status_at(i);
        int code = ky_client_code_from_status(st);
        assert_int_equal(code, -(int)st);
        assert_int_equal(ky_client_code(ky_wire_status_to_err(st)), -(int)st);
    }
    assert_int_equal(ky_client_code(KY_OK), KYOSAI_OK);
    assert_int_equal(ky_client_code(KY_E_BUFFER_TOO_SMALL), KYOSAI_E_INTERNAL); /* unlisted */
    /* A status from a newer node is a protocol error, never success (PROTOCOL.md rule 8). */
    assert_int_equal(ky_client_code_from_status(98), KYOSAI_E_PROTOCOL);
    assert_int_equal(ky_client_code_from_status(65535), KYOSAI_E_PROTOCOL);
}

static void test_strerror_every_code(void **state) {
    (void)state;
    assert_string_equal(kyosai_strerror(KYOSAI_OK), "KYOSAI_OK: success");
    for (size_t i = 1; i < ky_wire_status_count(); i++) {
        uint16_t st = ky_wire_status_at(i);
        char want[128];
        snprintf(want, sizeof want, "KYOSAI_E_%s: ", ky_wire_status_name(st));
        const char *s = kyosai_strerror(-(int)st);
        assert_non_null(s);
        assert_memory_equal(s, want, strlen(want));
        assert_true(strlen(s) > strlen(want) + 3); /* a sentence follows */
        const char *ky = strstr(ky_strerror(ky_wire_status_to_err(st)), ": ");
        assert_string_equal(s + strlen(want) - 2, ky);  /* the same sentence as ky_strerror */
        assert_ptr_equal(kyosai_strerror(-(int)st), s); /* static, stable */
    }
    assert_string_equal(kyosai_strerror(KYOSAI_E_MONTH_ALREADY_PAID),
                        "KYOSAI_E_MONTH_ALREADY_PAID: a premium for this contract and month is "
                        "already posted");
    const int unknown[] = {1, 299 + 1, -15, -300, -65535, -65536, -2147483647 - 1, 2147483647};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
        assert_string_equal(kyosai_strerror(unknown[i]), "KYOSAI_E_UNKNOWN: unknown error code");
}

/* ---- keys ------------------------------------------------------------------------------- */

static uint64_t key_ms(const uint8_t *k) {
    uint64_t v = 0;
    for (int i = 0; i < 6; i++) v = (v << 8) | k[i];
    return v;
}

static void test_idem_keys_time_ordered(void **state) {
    (void)state;
    enum { N = 1000 };
    static uint8_t keys[N][KYOSAI_IDEM_KEY_BYTES];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < N; i++) kyosai_idem_key_generate(keys[i]);
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t after = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    for (int i = 0; i < N; i++) {
        uint64_t ms = key_ms(keys[i]);
        assert_true(ms >= before && ms <= after);
        if (i > 0) assert_true(ms >= key_ms(keys[i - 1])); /* never goes back */
        for (int j = 0; j < i; j++) assert_memory_not_equal(keys[i], keys[j], 16);
    }
    /* Keys made in a later millisecond sort after earlier ones, byte-wise. */
    uint8_t a[16], b[16];
    kyosai_idem_key_generate(a);
    struct timespec pause = {0, 3 * 1000000L};
    nanosleep(&pause, NULL);
    kyosai_idem_key_generate(b);
    assert_true(memcmp(a, b, 16) < 0);
    assert_int_equal(kyosai_idem_key_bytes(), 16);
}

/* ---- endpoints -------------------------------------------------------------------------- */

static void test_endpoint_parse(void **state) {
    (void)state;
    ky_client_endpoint ep;
    assert_int_equal(ky_client_endpoint_parse("127.0.0.1:7400", &ep), KYOSAI_OK);
    assert_string_equal(ep.text, "127.0.0.1:7400");
    assert_int_equal(ntohs(ep.addr.sin_port), 7400);
    assert_int_equal(ntohl(ep.addr.sin_addr.s_addr), 0x7F000001u);
    assert_int_equal(ky_client_endpoint_parse("255.255.255.255:65535", &ep), KYOSAI_OK);
    assert_int_equal(strlen(ep.text), KYOSAI_ENDPOINT_BYTES_MAX); /* the longest: max */
    assert_int_equal(ky_client_endpoint_parse("10.0.0.1:1", &ep), KYOSAI_OK);
    const char *bad[] = {"",
                         ":7400",
                         "127.0.0.1",
                         "127.0.0.1:",
                         "127.0.0.1:0",
                         "127.0.0.1:65536",
                         "127.0.0.1:07400",
                         "127.0.0.1:7400x",
                         "127.0.0.1:+740",
                         "127.0.0.1: 7400",
                         "127.0.0.1:7400:1",
                         "localhost:7400",
                         "[::1]:7400",
                         "256.0.0.1:7400",
                         "1.2.3:7400",
                         "255.255.255.255:065535", /* max + 1 bytes */
                         "127.0.0.1:1234567"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&ep, 0xAB, sizeof ep);
        assert_int_equal(ky_client_endpoint_parse(bad[i], &ep), KYOSAI_E_INVALID_ARG);
    }
}

/* ---- entries ---------------------------------------------------------------------------- */

static size_t sample_entry(uint8_t *buf, size_t cap, uint32_t payload_bytes, ky_entry *e) {
    static uint8_t payload[KY_ENTRY_PAYLOAD_BYTES_MAX];
    for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 7 + 1);
    *e = (ky_entry){.version = KY_ENTRY_VERSION,
                    .kind = KY_KIND_PREMIUM_PREPAID,
                    .scheme = KY_SCHEME_SAFETY,
                    .subtype = 0x1234,
                    .months = 12,
                    .period_yyyymm = 202604,
                    .payload_bytes = payload_bytes,
                    .seq = 0x0102030405060708ull,
                    .epoch = 7,
                    .timestamp_us = 1790000000123456ull,
                    .contract_id = 999999999999999ull,
                    .contract_seq = 42,
                    .amount_jpy = -1234567890123ll,
                    .ref_seq = 0x8877665544332211ull,
                    .payload = payload_bytes ? payload : NULL};
    for (int i = 0; i < 16; i++) e->idem_key[i] = (uint8_t)(0xA0 + i);
    for (int i = 0; i < 32; i++) e->prev_hash[i] = (uint8_t)i;
    for (int i = 0; i < 32; i++) e->contract_prev_hash[i] = (uint8_t)(0xFF - i);
    size_t len = 0;
    assert_int_equal(ky_entry_encode(e, buf, cap, &len), KY_OK);
    return len;
}

static void entry_matches(const kyosai_entry *k, const ky_entry *e, const uint8_t *b, size_t len) {
    assert_int_equal(k->kind, e->kind);
    assert_int_equal(k->scheme, e->scheme);
    assert_int_equal(k->subtype, e->subtype);
    assert_int_equal(k->months, e->months);
    assert_int_equal(k->period_yyyymm, e->period_yyyymm);
    assert_true(k->seq == e->seq && k->epoch == e->epoch && k->timestamp_us == e->timestamp_us);
    assert_true(k->contract_id == e->contract_id && k->contract_seq == e->contract_seq);
    assert_true(k->amount_jpy == e->amount_jpy && k->ref_seq == e->ref_seq);
    assert_memory_equal(k->idem_key, e->idem_key, 16);
    assert_memory_equal(k->prev_hash, e->prev_hash, 32);
    assert_memory_equal(k->contract_prev_hash, e->contract_prev_hash, 32);
    assert_int_equal(k->payload_bytes, e->payload_bytes);
    if (e->payload_bytes) assert_ptr_equal(k->payload, b + 152);
    if (e->payload_bytes) assert_memory_equal(k->payload, e->payload, e->payload_bytes);
    uint8_t leaf[32];
    ky_entry_leaf_hash(b, len, leaf);
    assert_memory_equal(k->leaf_hash, leaf, 32);
}

static void test_entry_decode_matches_ledger(void **state) {
    (void)state;
    static uint8_t buf[KY_ENTRY_BYTES_MAX + 1];
    const uint32_t sizes[] = {0, 1, 100, KY_ENTRY_PAYLOAD_BYTES_MAX};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        ky_entry e;
        size_t len = sample_entry(buf, sizeof buf, sizes[s], &e);
        kyosai_entry k;
        assert_int_equal(ky_client_entry_decode(buf, len, &k), KYOSAI_OK);
        entry_matches(&k, &e, buf, len);
        /* Every truncation, in an exact-size heap copy so ASan sees any over-read. */
        for (size_t cut = 0; cut < len; cut++) {
            uint8_t *copy = malloc(cut ? cut : 1);
            memcpy(copy, buf, cut);
            assert_int_equal(ky_client_entry_decode(copy, cut, &k), KYOSAI_E_CORRUPT);
            free(copy);
        }
        assert_int_equal(ky_client_entry_decode(buf, len + 1, &k), KYOSAI_E_CORRUPT);
    }
    assert_int_equal(KYOSAI_ENTRY_BYTES_MAX, KY_ENTRY_BYTES_MAX);
    assert_int_equal(kyosai_entry_bytes_max(), KY_ENTRY_BYTES_MAX);
    assert_int_equal(kyosai_payload_bytes_max(), KY_ENTRY_PAYLOAD_BYTES_MAX);
    assert_int_equal(kyosai_batch_count_max(), KY_LEDGER_BATCH_COUNT_MAX);
}

static void test_entry_decode_refuses(void **state) {
    (void)state;
    static uint8_t buf[KY_ENTRY_BYTES_MAX + 8];
    ky_entry e;
    kyosai_entry k;
    size_t len = sample_entry(buf, sizeof buf, 10, &e);
    buf[0] = 2; /* unknown format version */
    assert_int_equal(ky_client_entry_decode(buf, len, &k), KYOSAI_E_CORRUPT);
    buf[0] = 1;
    buf[3] = 1; /* reserved flags */
    assert_int_equal(ky_client_entry_decode(buf, len, &k), KYOSAI_E_CORRUPT);
    buf[3] = 0;
    buf[12] = 11; /* payload_bytes disagrees with the length */
    assert_int_equal(ky_client_entry_decode(buf, len, &k), KYOSAI_E_CORRUPT);
    buf[12] = 10;
    memset(buf + 16, 0, 8); /* seq 0 */
    assert_int_equal(ky_client_entry_decode(buf, len, &k), KYOSAI_E_CORRUPT);
    assert_int_equal(ky_client_entry_decode(NULL, 0, &k), KYOSAI_E_CORRUPT);
    /* A payload of max + 1 bytes: longer than any format-1 entry. */
    memset(buf, 0, sizeof buf);
    buf[0] = 1;
    buf[16] = 1;
    buf[12] = (KY_ENTRY_PAYLOAD_BYTES_MAX + 1) & 0xFF;
    buf[13] = (KY_ENTRY_PAYLOAD_BYTES_MAX + 1) >> 8;
    assert_int_equal(ky_client_entry_decode(buf, 152 + KY_ENTRY_PAYLOAD_BYTES_MAX + 1, &k),
                     KYOSAI_E_CORRUPT);
}

/* ---- contract state --------------------------------------------------------------------- */

static void test_contract_decode_matches_ledger(void **state) {
    (void)state;
    ky_contract_state cs = {.contract_id = 100000000001ull,
                            .scheme = KY_SCHEME_SHOKIBO,
                            .status = KY_CONTRACT_CLOSED,
                            .member_type = 3,
                            .months_paid = 481,
                            .monthly_premium_jpy = 70000,
                            .total_paid_jpy = 33670000,
                            .loan_balance_jpy = -5,
                            .opened_seq = 2,
                            .closed_seq = 900,
                            .last_seq = 900,
                            .entry_count = 483};
    for (int i = 0; i < 32; i++) cs.last_leaf_hash[i] = (uint8_t)(i * 3);
    uint8_t b[KY_CONTRACT_STATE_BYTES + 1];
    ky_contract_state_encode(&cs, b);
    kyosai_contract k;
    assert_int_equal(ky_client_contract_decode(b, KY_CONTRACT_STATE_BYTES, &k), KYOSAI_OK);
    assert_true(k.contract_id == cs.contract_id && k.scheme == cs.scheme);
    assert_true(k.status == cs.status && k.member_type == cs.member_type);
    assert_true(k.months_paid == cs.months_paid);
    assert_true(k.monthly_premium_jpy == cs.monthly_premium_jpy);
    assert_true(k.total_paid_jpy == cs.total_paid_jpy);
    assert_true(k.loan_balance_jpy == cs.loan_balance_jpy);
    assert_true(k.opened_seq == cs.opened_seq && k.closed_seq == cs.closed_seq);
    assert_true(k.last_seq == cs.last_seq && k.entry_count == cs.entry_count);
    assert_memory_equal(k.last_leaf_hash, cs.last_leaf_hash, 32);
    for (size_t cut = 0; cut < KY_CONTRACT_STATE_BYTES; cut++)
        assert_int_equal(ky_client_contract_decode(b, cut, &k), KYOSAI_E_CORRUPT);
    assert_int_equal(ky_client_contract_decode(b, KY_CONTRACT_STATE_BYTES + 1, &k),
                     KYOSAI_E_CORRUPT);
    b[0] = 2; /* unknown state version */
    assert_int_equal(ky_client_contract_decode(b, KY_CONTRACT_STATE_BYTES, &k), KYOSAI_E_CORRUPT);
    b[0] = 1;
    b[2] = 3; /* unknown status */
    assert_int_equal(ky_client_contract_decode(b, KY_CONTRACT_STATE_BYTES, &k), KYOSAI_E_CORRUPT);
}

/* ---- argument checks that need no node -------------------------------------------------- */

static void test_connect_refuses_bad_arguments(void **state) {
    (void)state;
    kyosai_client *c = (kyosai_client *)(uintptr_t)1;
    const char *eps[KYOSAI_ENDPOINTS_MAX + 1];
    for (size_t i = 0; i <= KYOSAI_ENDPOINTS_MAX; i++) eps[i] = "127.0.0.1:7400";
    assert_int_equal(kyosai_connect(&c, eps, 0, NULL), KYOSAI_E_INVALID_ARG);
    assert_null(c);
    assert_int_equal(kyosai_connect(&c, eps, KYOSAI_ENDPOINTS_MAX + 1, NULL), KYOSAI_E_INVALID_ARG);
    const char *bad[] = {"127.0.0.1:7400", "nope"};
    assert_int_equal(kyosai_connect(&c, bad, 2, NULL), KYOSAI_E_INVALID_ARG);
    const char *null_ep[] = {NULL};
    assert_int_equal(kyosai_connect(&c, null_ep, 1, NULL), KYOSAI_E_INVALID_ARG);
    char name[KYOSAI_CLIENT_NAME_BYTES_MAX + 2];
    memset(name, 'n', sizeof name);
    name[KYOSAI_CLIENT_NAME_BYTES_MAX + 1] = '\0'; /* max + 1 bytes */
    kyosai_options o = {.client_name = name};
    assert_int_equal(kyosai_connect(&c, eps, 1, &o), KYOSAI_E_INVALID_ARG);
    o = (kyosai_options){.client_name = "tab\there"};
    assert_int_equal(kyosai_connect(&c, eps, 1, &o), KYOSAI_E_INVALID_ARG);
    o = (kyosai_options){.retry_count_max = KYOSAI_RETRY_COUNT_MAX + 1};
    assert_int_equal(kyosai_connect(&c, eps, 1, &o), KYOSAI_E_INVALID_ARG);
    o = (kyosai_options){.request_timeout_ms = KYOSAI_TIMEOUT_MS_MAX + 1};
    assert_int_equal(kyosai_connect(&c, eps, 1, &o), KYOSAI_E_INVALID_ARG);
    o = (kyosai_options){.connect_timeout_ms = KYOSAI_TIMEOUT_MS_MAX + 1};
    assert_int_equal(kyosai_connect(&c, eps, 1, &o), KYOSAI_E_INVALID_ARG);
    assert_null(c);
    kyosai_close(NULL);
    assert_string_equal(kyosai_version(), "0.1.0");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codes_are_negated_statuses),
        cmocka_unit_test(test_strerror_every_code),
        cmocka_unit_test(test_idem_keys_time_ordered),
        cmocka_unit_test(test_endpoint_parse),
        cmocka_unit_test(test_entry_decode_matches_ledger),
        cmocka_unit_test(test_entry_decode_refuses),
        cmocka_unit_test(test_contract_decode_matches_ledger),
        cmocka_unit_test(test_connect_refuses_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
