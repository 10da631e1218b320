/*
 * test_entry.c — the canonical entry codec.
 *
 * Goal: every entry the encoder writes decodes back to the same fields and re-encodes to
 * the same bytes, and every malformed-input class is refused with its specific code.
 * Method: round trips at the limits (empty payload, payload at max), then mutation of a
 * valid encoding one field class at a time (version, kind, scheme, flags, seq, length,
 * truncation at every length, trailing bytes, payload max + 1).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../common/ky_err.h"
#include "../../ledger/entry.h"

static uint8_t payload_max[KY_ENTRY_PAYLOAD_BYTES_MAX + 1];

static ky_entry sample_entry(uint32_t payload_bytes) {
    ky_entry e;
    memset(&e, 0, sizeof e);
    e.version = KY_ENTRY_VERSION;
    e.kind = KY_KIND_PREMIUM_PAID;
    e.scheme = KY_SCHEME_SHOKIBO;
    e.subtype = 0x1234;
    e.months = 7;
    e.period_yyyymm = 202604;
    e.payload_bytes = payload_bytes;
    e.seq = 0x0102030405060708ull;
    e.epoch = 3;
    e.timestamp_us = 1780000000000000ull;
    e.contract_id = 100000000001ull;
    e.contract_seq = 9;
    e.amount_jpy = -42000; /* the codec carries any int64; rules judge the sign */
    e.ref_seq = 77;
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) e.idem_key[i] = (uint8_t)(i + 1);
    for (unsigned i = 0; i < KY_HASH_BYTES; i++) {
        e.prev_hash[i] = (uint8_t)(0xA0 + i);
        e.contract_prev_hash[i] = (uint8_t)(0x10 + i);
    }
    e.payload = payload_bytes ? payload_max : NULL;
    return e;
}

static void assert_same(const ky_entry *a, const ky_entry *b) {
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->scheme, b->scheme);
    assert_int_equal(a->subtype, b->subtype);
    assert_int_equal(a->months, b->months);
    assert_int_equal(a->period_yyyymm, b->period_yyyymm);
    assert_int_equal(a->seq, b->seq);
    assert_int_equal(a->epoch, b->epoch);
    assert_int_equal(a->timestamp_us, b->timestamp_us);
    assert_int_equal(a->contract_id, b->contract_id);
    assert_int_equal(a->contract_seq, b->contract_seq);
    assert_true(a->amount_jpy == b->amount_jpy);
    assert_int_equal(a->ref_seq, b->ref_seq);
    assert_memory_equal(a->idem_key, b->idem_key, KY_IDEM_KEY_BYTES);
    assert_memory_equal(a->prev_hash, b->prev_hash, KY_HASH_BYTES);
    assert_memory_equal(a->contract_prev_hash, b->contract_prev_hash, KY_HASH_BYTES);
    assert_int_equal(a->payload_bytes, b->payload_bytes);
    if (a->payload_bytes) assert_memory_equal(a->payload, b->payload, a->payload_bytes);
}

static void test_round_trip(void **state) {
    (void)state;
    for (unsigned i = 0; i < sizeof payload_max; i++) payload_max[i] = (uint8_t)(i * 7);
    uint32_t sizes[] = {0, 1, 100, KY_ENTRY_PAYLOAD_BYTES_MAX};
    for (unsigned s = 0; s < 4; s++) {
        ky_entry e = sample_entry(sizes[s]), d;
        uint8_t buf[KY_ENTRY_BYTES_MAX], buf2[KY_ENTRY_BYTES_MAX];
        size_t n = 0, n2 = 0;
        assert_int_equal(ky_entry_encode(&e, buf, sizeof buf, &n), KY_OK);
        assert_int_equal(n, KY_ENTRY_HEADER_BYTES + sizes[s]);
        assert_int_equal(ky_entry_decode(buf, n, &d), KY_OK);
        assert_same(&e, &d);
        assert_int_equal(ky_entry_encode(&d, buf2, sizeof buf2, &n2), KY_OK);
        assert_int_equal(n, n2);
        assert_memory_equal(buf, buf2, n); /* canonical */
    }
}

static void test_layout_is_little_endian(void **state) {
    (void)state;
    ky_entry e = sample_entry(0);
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    assert_int_equal(ky_entry_encode(&e, buf, sizeof buf, &n), KY_OK);
    assert_int_equal(buf[0], 1);
    assert_int_equal(buf[1], KY_KIND_PREMIUM_PAID);
    assert_int_equal(buf[4], 0x34);  /* subtype low byte first */
    assert_int_equal(buf[16], 0x08); /* seq low byte first */
    assert_int_equal(buf[23], 0x01);
    assert_int_equal(buf[72], 1);    /* idem key */
    assert_int_equal(buf[88], 0xA0); /* prev_hash */
}

static void encode_ok(ky_entry *e, uint8_t *buf, size_t *n) {
    assert_int_equal(ky_entry_encode(e, buf, KY_ENTRY_BYTES_MAX + 16, n), KY_OK);
}

static void test_malformed(void **state) {
    (void)state;
    ky_entry e = sample_entry(10), d;
    uint8_t buf[KY_ENTRY_BYTES_MAX + 16];
    size_t n;
    encode_ok(&e, buf, &n);
    for (size_t len = 0; len < n; len++) /* every truncation */
        assert_int_not_equal(ky_entry_decode(len ? buf : NULL, len, &d), KY_OK);
    assert_int_equal(ky_entry_decode(buf, n - 1, &d), KY_E_ENTRY_TRUNCATED);
    assert_int_equal(ky_entry_decode(buf, 10, &d), KY_E_ENTRY_TRUNCATED);
    buf[n] = 0;
    assert_int_equal(ky_entry_decode(buf, n + 1, &d), KY_E_ENTRY_TRAILING_BYTES);
    struct {
        size_t off;
        uint8_t val;
        int want;
    } muts[] = {
        {0, 2, KY_E_ENTRY_VERSION}, {0, 0, KY_E_ENTRY_VERSION}, {1, 0, KY_E_ENTRY_KIND},
        {1, 12, KY_E_ENTRY_KIND},   {1, 200, KY_E_ENTRY_KIND},  {2, 0, KY_E_ENTRY_SCHEME},
        {2, 3, KY_E_ENTRY_SCHEME},  {3, 1, KY_E_ENTRY_FLAGS},   {1, 128, KY_E_ENTRY_SCHEME},
    };
    for (unsigned i = 0; i < sizeof muts / sizeof muts[0]; i++) {
        uint8_t m[sizeof buf];
        memcpy(m, buf, n);
        m[muts[i].off] = muts[i].val;
        assert_int_equal(ky_entry_decode(m, n, &d), muts[i].want);
    }
    uint8_t m[sizeof buf];
    memcpy(m, buf, n);
    memset(m + 16, 0, 8); /* seq 0 */
    assert_int_equal(ky_entry_decode(m, n, &d), KY_E_ENTRY_SEQ);
    memcpy(m, buf, n);
    ky_put_u32le(m + 12, 11); /* payload length says one more byte than present */
    assert_int_equal(ky_entry_decode(m, n, &d), KY_E_ENTRY_TRUNCATED);
    ky_put_u32le(m + 12, 9);
    assert_int_equal(ky_entry_decode(m, n, &d), KY_E_ENTRY_TRAILING_BYTES);
    ky_put_u32le(m + 12, 0xFFFFFFFFu); /* no overflow on huge lengths */
    assert_int_equal(ky_entry_decode(m, n, &d), KY_E_PAYLOAD_TOO_LARGE);
}

static void test_payload_limit(void **state) {
    (void)state;
    ky_entry e = sample_entry(KY_ENTRY_PAYLOAD_BYTES_MAX);
    uint8_t buf[KY_ENTRY_BYTES_MAX + 1];
    size_t n;
    assert_int_equal(ky_entry_encode(&e, buf, sizeof buf, &n), KY_OK); /* max */
    e.payload_bytes = KY_ENTRY_PAYLOAD_BYTES_MAX + 1;                  /* max + 1 */
    assert_int_equal(ky_entry_encode(&e, buf, sizeof buf, &n), KY_E_PAYLOAD_TOO_LARGE);
    e.payload_bytes = 10;
    assert_int_equal(ky_entry_encode(&e, buf, 100, &n), KY_E_BUFFER_TOO_SMALL);
}

static void test_names(void **state) {
    (void)state;
    for (unsigned k = 0; k < 256; k++) {
        if (!ky_kind_is_known((uint8_t)k)) {
            assert_string_equal(ky_kind_name((uint8_t)k), "unknown");
            continue;
        }
        assert_int_equal(ky_kind_from_name(ky_kind_name((uint8_t)k)), k);
    }
    assert_int_equal(ky_kind_from_name("nope"), 0);
    assert_int_equal(ky_scheme_from_name("safety"), KY_SCHEME_SAFETY);
    assert_int_equal(ky_scheme_from_name("none"), 0);
    assert_true(ky_kind_is_system(KY_KIND_EPOCH_STARTED));
    assert_false(ky_kind_is_system(KY_KIND_PREMIUM_PAID));
}

static void test_leaf_hash_is_rfc6962(void **state) {
    (void)state;
    /* RFC 6962 leaf of the empty string: SHA-256(0x00) = 6e340b9c... */
    uint8_t out[32];
    ky_sha256_prefixed(0x00, "", 0, out);
    assert_int_equal(out[0], 0x6e);
    assert_int_equal(out[1], 0x34);
    assert_int_equal(out[31], 0x1d);
}

static void test_strerror(void **state) {
    (void)state;
    assert_string_equal(ky_errname(KY_OK), "KY_OK");
    for (int c = -1; c >= -KY_E__COUNT; c--) {
        const char *m = ky_strerror(c);
        assert_non_null(m);
        assert_memory_equal(m, ky_errname(c), strlen(ky_errname(c))); /* starts with name */
    }
    assert_string_equal(ky_errname(-KY_E__COUNT - 1), "KY_E_UNKNOWN");
    assert_string_equal(ky_errname(5), "KY_E_UNKNOWN");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip), cmocka_unit_test(test_layout_is_little_endian),
        cmocka_unit_test(test_malformed),  cmocka_unit_test(test_payload_limit),
        cmocka_unit_test(test_names),      cmocka_unit_test(test_leaf_hash_is_rfc6962),
        cmocka_unit_test(test_strerror),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
