/*
 * test_ledger.c — the LMDB ledger: batch append, every contract rule, linked events,
 * idempotent retries, reads, reindex and verify, on real LMDB files in a temp directory.
 *
 * Goal: each refusal code of DESIGN §3.4 is produced at least once and writes nothing;
 * accepted edge values pass; linked chains are all-or-nothing; a retry returns the
 * original seq; reindex reproduces the stored state; verify accepts a good ledger.
 * Method: a fresh ledger per test; after each refused event the head seq and the state
 * digest are compared with their values before, so "writes nothing" is checked, not assumed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/ky_err.h"
#include "../../ledger/ledger.h"
#include "../../ledger/verify.h"

typedef struct fixture {
    char dir[64];
    ky_ledger *l;
    uint64_t key_counter;
} fixture;

static int setup(void **state) {
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/ky-test-ledger-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = f->dir;
    o.create = true;
    o.map_bytes = 1ull << 30;
    if (ky_ledger_open(&f->l, &o) != KY_OK) return -1;
    if (ky_ledger_epoch_begin(f->l, 1, NULL) != KY_OK) return -1;
    *state = f;
    return 0;
}

static int teardown(void **state) {
    fixture *f = *state;
    ky_ledger_close(f->l);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) return -1;
    free(f);
    return 0;
}

static ky_event ev_make(fixture *f, uint8_t kind, uint8_t scheme, uint64_t contract,
                        int64_t amount) {
    ky_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.scheme = scheme;
    e.contract_id = contract;
    e.amount_jpy = amount;
    ky_put_u64be(e.idem_key, 0x0190000000000000ull + (++f->key_counter));
    return e;
}

static ky_event ev_open(fixture *f, uint8_t scheme, uint64_t c, int64_t premium) {
    ky_event e = ev_make(f, KY_KIND_CONTRACT_OPENED, scheme, c, premium);
    e.subtype = 1;
    return e;
}

static ky_event ev_paid(fixture *f, uint8_t scheme, uint64_t c, int64_t amt, uint32_t period) {
    ky_event e = ev_make(f, KY_KIND_PREMIUM_PAID, scheme, c, amt);
    e.period_yyyymm = period;
    return e;
}

/* Appends one event; returns its result code; asserts a refusal wrote nothing. */
static int post1(fixture *f, const ky_event *e, uint64_t *seq) {
    ky_ledger_head before, after;
    uint8_t d1[32], d2[32];
    assert_int_equal(ky_ledger_head_get(f->l, &before), KY_OK);
    assert_int_equal(ky_ledger_state_digest(f->l, d1), KY_OK);
    ky_event_result r;
    assert_int_equal(ky_ledger_append(f->l, e, 1, &r), KY_OK);
    if (seq) *seq = r.seq;
    if (r.code != KY_OK || (r.flags & KY_RESULT_DUPLICATE)) {
        assert_int_equal(ky_ledger_head_get(f->l, &after), KY_OK);
        assert_int_equal(after.seq, before.seq);
        assert_int_equal(ky_ledger_state_digest(f->l, d2), KY_OK);
        assert_memory_equal(d1, d2, 32);
    }
    return r.code;
}

static void test_open_pay_read(void **state) {
    fixture *f = *state;
    uint64_t s1, s2;
    ky_event o = ev_open(f, KY_SCHEME_SHOKIBO, 100000000001ull, 42000);
    assert_int_equal(post1(f, &o, &s1), KY_OK);
    assert_int_equal(s1, 2); /* seq 1 is epoch_started */
    ky_event p = ev_paid(f, KY_SCHEME_SHOKIBO, 100000000001ull, 42000, 202604);
    assert_int_equal(post1(f, &p, &s2), KY_OK);
    assert_int_equal(s2, 3);
    ky_contract_state cs;
    assert_int_equal(ky_ledger_contract_get(f->l, 100000000001ull, &cs), KY_OK);
    assert_int_equal(cs.months_paid, 1);
    assert_true(cs.total_paid_jpy == 42000);
    assert_int_equal(cs.entry_count, 2);
    assert_int_equal(cs.last_seq, 3);
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    ky_entry e;
    assert_int_equal(ky_ledger_get(f->l, 3, buf, sizeof buf, &n), KY_OK);
    assert_int_equal(ky_entry_decode(buf, n, &e), KY_OK);
    assert_int_equal(e.contract_seq, 2);
    assert_int_equal(e.epoch, 1);
    assert_memory_equal(e.contract_prev_hash, cs.last_leaf_hash, 0); /* trivially */
    uint64_t seqs[8];
    uint32_t count;
    assert_int_equal(ky_ledger_history(f->l, 100000000001ull, 0, seqs, 8, &count), KY_OK);
    assert_int_equal(count, 2);
    assert_int_equal(seqs[0], 2);
    assert_int_equal(seqs[1], 3);
    assert_int_equal(ky_ledger_history(f->l, 100000000001ull, 1, seqs, 8, &count), KY_OK);
    assert_int_equal(count, 1);
    assert_int_equal(ky_ledger_get(f->l, 99, buf, sizeof buf, &n), KY_E_NOT_FOUND);
}

static void test_premium_rules(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull, s = 200000000001ull;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, c, 999);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_RANGE);
    e = ev_open(f, KY_SCHEME_SHOKIBO, c, 70500);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_RANGE);
    e = ev_open(f, KY_SCHEME_SHOKIBO, c, 1250);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_STEP);
    e = ev_open(f, KY_SCHEME_SHOKIBO, c, 1000); /* lower edge */
    e.subtype = 4;
    assert_int_equal(post1(f, &e, NULL), KY_E_MEMBER_TYPE_INVALID);
    e.subtype = 3;
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_open(f, KY_SCHEME_SHOKIBO, c, 70000);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_EXISTS);
    e = ev_open(f, KY_SCHEME_SAFETY, s, 200000); /* upper edge */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 7500, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_STEP);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 205000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_RANGE);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, s, 5000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_SCHEME_MISMATCH);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 5000, 202613);
    assert_int_equal(post1(f, &e, NULL), KY_E_PERIOD_INVALID);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 5000, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_PERIOD_INVALID);
    e = ev_paid(f, KY_SCHEME_SAFETY, 200000000002ull, 5000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_UNKNOWN);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 5000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 5000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTH_ALREADY_PAID);
    e = ev_make(f, KY_KIND_PREMIUM_CHANGED, KY_SCHEME_SAFETY, s, 200000);
    assert_int_equal(post1(f, &e, NULL), KY_E_PREMIUM_UNCHANGED);
    e = ev_make(f, KY_KIND_PREMIUM_CHANGED, KY_SCHEME_SAFETY, s, 100000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
}

static void test_shape_and_envelope(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, c, 10000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, KY_SCHEME_SHOKIBO, c, 5);
    assert_int_equal(post1(f, &e, NULL), KY_E_AMOUNT_NOT_ALLOWED);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 0, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_AMOUNT_INVALID);
    e = ev_make(f, KY_KIND_LOAN_REPAID, KY_SCHEME_SHOKIBO, c, KY_AMOUNT_JPY_MAX + 1);
    assert_int_equal(post1(f, &e, NULL), KY_E_AMOUNT_INVALID);
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, KY_SCHEME_SHOKIBO, c, 0);
    e.period_yyyymm = 202604;
    assert_int_equal(post1(f, &e, NULL), KY_E_PERIOD_NOT_ALLOWED);
    e.period_yyyymm = 0;
    e.months = 1;
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTHS_NOT_ALLOWED);
    e.months = 0;
    e.subtype = 1;
    assert_int_equal(post1(f, &e, NULL), KY_E_SUBTYPE_NOT_ALLOWED);
    e.subtype = 0;
    e.ref_seq = 2;
    assert_int_equal(post1(f, &e, NULL), KY_E_REF_NOT_ALLOWED);
    e.ref_seq = 0;
    e.flags = 0x8000;
    assert_int_equal(post1(f, &e, NULL), KY_E_FLAGS_INVALID);
    e.flags = 0;
    memset(e.idem_key, 0, sizeof e.idem_key);
    assert_int_equal(post1(f, &e, NULL), KY_E_IDEM_KEY_MISSING);
    e = ev_make(f, KY_KIND_EPOCH_STARTED, KY_SCHEME_SHOKIBO, c, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_KIND_SYSTEM_ONLY);
    e = ev_make(f, 99, KY_SCHEME_SHOKIBO, c, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_ENTRY_KIND);
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, 7, c, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_ENTRY_SCHEME);
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, KY_SCHEME_SHOKIBO, 0, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_ID_INVALID);
    e.contract_id = KY_CONTRACT_ID_MAX + 1;
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_ID_INVALID);
    static uint8_t big[KY_ENTRY_PAYLOAD_BYTES_MAX + 1];
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, KY_SCHEME_SHOKIBO, c, 0);
    e.payload = big;
    e.payload_bytes = KY_ENTRY_PAYLOAD_BYTES_MAX + 1;
    assert_int_equal(post1(f, &e, NULL), KY_E_PAYLOAD_TOO_LARGE);
    e.payload_bytes = KY_ENTRY_PAYLOAD_BYTES_MAX; /* max is accepted */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
}

static void test_reversal(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull, other = 100000000002ull, p1, p2;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, c, 30000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_open(f, KY_SCHEME_SHOKIBO, other, 30000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 30000, 202604);
    assert_int_equal(post1(f, &e, &p1), KY_OK);
    e = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, c, 30000);
    assert_int_equal(post1(f, &e, NULL), KY_E_REVERSAL_TARGET); /* no ref */
    e.ref_seq = 2;                                              /* contract_opened */
    assert_int_equal(post1(f, &e, NULL), KY_E_REVERSAL_TARGET);
    e.ref_seq = 9999;
    assert_int_equal(post1(f, &e, NULL), KY_E_REVERSAL_TARGET);
    e.ref_seq = p1;
    e.amount_jpy = 29500;
    assert_int_equal(post1(f, &e, NULL), KY_E_REVERSAL_AMOUNT);
    ky_event x = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, other, 30000);
    x.ref_seq = p1;
    assert_int_equal(post1(f, &x, NULL), KY_E_REVERSAL_TARGET); /* other contract */
    e.amount_jpy = 30000;
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    ky_contract_state cs;
    assert_int_equal(ky_ledger_contract_get(f->l, c, &cs), KY_OK);
    assert_int_equal(cs.months_paid, 0);
    assert_true(cs.total_paid_jpy == 0);
    ky_event again = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, c, 30000);
    again.ref_seq = p1;
    assert_int_equal(post1(f, &again, NULL), KY_E_ALREADY_REVERSED);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 30000, 202604); /* the month is free again */
    assert_int_equal(post1(f, &e, &p2), KY_OK);
    assert_true(p2 > p1);
    again = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, c, 30000);
    again.ref_seq = p1; /* the old entry no longer holds the month */
    assert_int_equal(post1(f, &again, NULL), KY_E_ALREADY_REVERSED);
}

static void test_prepaid_carried(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull, pp;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, c, 10000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202605);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_PREMIUM_PREPAID, KY_SCHEME_SHOKIBO, c, 120000);
    e.period_yyyymm = 202601;
    e.months = 13;
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTHS_INVALID);
    e.months = 12;
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTH_ALREADY_PAID); /* 202605 inside */
    e.period_yyyymm = 202606;
    e.amount_jpy = 110000;
    assert_int_equal(post1(f, &e, NULL), KY_E_PREPAID_AMOUNT);
    e.amount_jpy = 120000; /* 2026-06 .. 2027-05 */
    assert_int_equal(post1(f, &e, &pp), KY_OK);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202705);
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTH_ALREADY_PAID);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202706);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    ky_event r = ev_make(f, KY_KIND_PREMIUM_REVERSED, KY_SCHEME_SHOKIBO, c, 120000);
    r.ref_seq = pp;
    assert_int_equal(post1(f, &r, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202705); /* freed by the reversal */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_MONTHS_CARRIED_OVER, KY_SCHEME_SHOKIBO, c, 500000);
    e.months = 0;
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTHS_INVALID);
    e.months = KY_CARRIED_MONTHS_MAX + 1;
    assert_int_equal(post1(f, &e, NULL), KY_E_MONTHS_INVALID);
    e.months = KY_CARRIED_MONTHS_MAX;
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    ky_contract_state cs;
    assert_int_equal(ky_ledger_contract_get(f->l, c, &cs), KY_OK);
    assert_int_equal(cs.months_paid, 3 + KY_CARRIED_MONTHS_MAX);
    assert_true(cs.total_paid_jpy == 30000 + 500000);
}

static void test_safety_cap(void **state) {
    fixture *f = *state;
    uint64_t s = 200000000001ull;
    ky_event e = ev_open(f, KY_SCHEME_SAFETY, s, 200000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_MONTHS_CARRIED_OVER, KY_SCHEME_SAFETY, s, 7800000);
    e.months = 39;
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 200000, 202604); /* exactly 8,000,000: allowed */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 5000, 202605); /* one step more: refused */
    assert_int_equal(post1(f, &e, NULL), KY_E_SAFETY_CAP);
}

static void test_loans_benefit_close(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull, s = 200000000001ull;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, c, 10000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SHOKIBO, c, 1000);
    assert_int_equal(post1(f, &e, NULL), KY_E_LOAN_LIMIT); /* nothing paid yet */
    e = ev_make(f, KY_KIND_MONTHS_CARRIED_OVER, KY_SCHEME_SHOKIBO, c, 120000);
    e.months = 12;
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SHOKIBO, c, 84001); /* 70 % + 1 */
    assert_int_equal(post1(f, &e, NULL), KY_E_LOAN_LIMIT);
    e = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SHOKIBO, c, 84000); /* exactly 70 % */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_LOAN_REPAID, KY_SCHEME_SHOKIBO, c, 84001);
    assert_int_equal(post1(f, &e, NULL), KY_E_LOAN_REPAY_EXCEEDS);
    e = ev_make(f, KY_KIND_LOAN_REPAID, KY_SCHEME_SHOKIBO, c, 4000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_BENEFIT_PAID, KY_SCHEME_SHOKIBO, c, 1000000);
    e.subtype = 5;
    assert_int_equal(post1(f, &e, NULL), KY_E_BENEFIT_REASON);
    e.subtype = 1; /* A */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_CLOSED);
    e = ev_make(f, KY_KIND_LOAN_REPAID, KY_SCHEME_SHOKIBO, c, 80000); /* collection goes on */
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_CONTRACT_AMENDED, KY_SCHEME_SHOKIBO, c, 0);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_CONTRACT_CLOSED, KY_SCHEME_SHOKIBO, c, 0);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_CLOSED);
    /* safety: 10x premiums paid; only the cancellation reason */
    e = ev_open(f, KY_SCHEME_SAFETY, s, 50000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_paid(f, KY_SCHEME_SAFETY, s, 50000, 202604);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SAFETY, s, 500001);
    assert_int_equal(post1(f, &e, NULL), KY_E_LOAN_LIMIT);
    e = ev_make(f, KY_KIND_LOAN_DISBURSED, KY_SCHEME_SAFETY, s, 500000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_BENEFIT_PAID, KY_SCHEME_SAFETY, s, 40000);
    e.subtype = KY_BENEFIT_A;
    assert_int_equal(post1(f, &e, NULL), KY_E_BENEFIT_REASON);
    e = ev_make(f, KY_KIND_CONTRACT_CLOSED, KY_SCHEME_SAFETY, s, 0);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    e = ev_make(f, KY_KIND_PREMIUM_CHANGED, KY_SCHEME_SAFETY, s, 5000);
    assert_int_equal(post1(f, &e, NULL), KY_E_CONTRACT_CLOSED);
}

static void test_idempotency(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull, s1, s2;
    ky_event o = ev_open(f, KY_SCHEME_SHOKIBO, c, 10000);
    assert_int_equal(post1(f, &o, &s1), KY_OK);
    ky_event_result r;
    assert_int_equal(ky_ledger_append(f->l, &o, 1, &r), KY_OK); /* retry */
    assert_int_equal(r.code, KY_OK);
    assert_int_equal(r.seq, s1);
    assert_int_equal(r.flags, KY_RESULT_DUPLICATE);
    ky_event other = o;
    other.amount_jpy = 20000; /* same key, different event */
    assert_int_equal(post1(f, &other, NULL), KY_E_IDEM_KEY_REUSED);
    /* a refused event leaves no trace: its retry is judged afresh */
    ky_event p = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202613);
    assert_int_equal(post1(f, &p, NULL), KY_E_PERIOD_INVALID);
    p.period_yyyymm = 202612;
    assert_int_equal(post1(f, &p, &s2), KY_OK);
    /* duplicates inside one batch: the second is the first's retry */
    ky_event b[2] = {ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202611), {0}};
    b[1] = b[0];
    ky_event_result rr[2];
    assert_int_equal(ky_ledger_append(f->l, b, 2, rr), KY_OK);
    assert_int_equal(rr[0].code, KY_OK);
    assert_int_equal(rr[1].code, KY_OK);
    assert_int_equal(rr[1].seq, rr[0].seq);
    assert_int_equal(rr[1].flags, KY_RESULT_DUPLICATE);
}

static void test_linked(void **state) {
    fixture *f = *state;
    uint64_t c = 100000000001ull;
    ky_ledger_head h0, h1;
    assert_int_equal(ky_ledger_head_get(f->l, &h0), KY_OK);
    ky_event b[4] = {
        ev_open(f, KY_SCHEME_SHOKIBO, c, 10000), ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202604),
        ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202604), /* same month: refused */
        ev_open(f, KY_SCHEME_SHOKIBO, c + 1, 10000),     /* independent */
    };
    b[0].flags = b[1].flags = KY_EVENT_LINKED;
    ky_event_result r[4];
    assert_int_equal(ky_ledger_append(f->l, b, 4, r), KY_OK);
    assert_int_equal(r[0].code, KY_E_LINKED_FAILED);
    assert_int_equal(r[1].code, KY_E_LINKED_FAILED);
    assert_int_equal(r[2].code, KY_E_MONTH_ALREADY_PAID);
    assert_int_equal(r[3].code, KY_OK);
    assert_int_equal(r[3].seq, h0.seq + 1); /* the chain left no seq behind */
    ky_contract_state cs;
    assert_int_equal(ky_ledger_contract_get(f->l, c, &cs), KY_E_NOT_FOUND);
    /* the same chain, fixed, succeeds as a whole */
    b[2].period_yyyymm = 202605;
    ky_put_u64be(b[2].idem_key, 0x0191000000000001ull);
    assert_int_equal(ky_ledger_append(f->l, b, 3, r), KY_OK);
    for (int i = 0; i < 3; i++) assert_int_equal(r[i].code, KY_OK);
    /* a chain open at the end of the batch */
    ky_event t = ev_paid(f, KY_SCHEME_SHOKIBO, c, 10000, 202606);
    t.flags = KY_EVENT_LINKED;
    assert_int_equal(ky_ledger_append(f->l, &t, 1, r), KY_OK);
    assert_int_equal(r[0].code, KY_E_LINKED_OPEN);
    assert_int_equal(ky_ledger_head_get(f->l, &h1), KY_OK);
    assert_int_equal(h1.seq, h0.seq + 4);
}

static void test_batch_limits(void **state) {
    fixture *f = *state;
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX + 1];
    static ky_event_result r[KY_LEDGER_BATCH_COUNT_MAX + 1];
    assert_int_equal(ky_ledger_append(f->l, ev, 0, r), KY_E_BATCH_EMPTY);
    assert_int_equal(ky_ledger_append(f->l, ev, KY_LEDGER_BATCH_COUNT_MAX + 1, r),
                     KY_E_BATCH_TOO_LARGE);
    for (uint32_t i = 0; i < KY_LEDGER_BATCH_COUNT_MAX; i++)
        ev[i] = ev_open(f, KY_SCHEME_SHOKIBO, 100000000001ull + i, 70000);
    assert_int_equal(ky_ledger_append(f->l, ev, KY_LEDGER_BATCH_COUNT_MAX, r), KY_OK);
    for (uint32_t i = 0; i < KY_LEDGER_BATCH_COUNT_MAX; i++) assert_int_equal(r[i].code, KY_OK);
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->l, &h), KY_OK);
    assert_int_equal(h.seq, 1 + KY_LEDGER_BATCH_COUNT_MAX);
}

static uint64_t stepped_clock(void *ctx) {
    uint64_t *t = ctx;
    *t = *t == 5000 ? 1000 : *t + 1; /* the clock steps back once */
    return *t;
}

static void test_timestamps_never_decrease(void **state) {
    fixture *f = *state;
    uint64_t t = 4990;
    ky_ledger_set_clock(f->l, stepped_clock, &t);
    uint64_t prev = 0;
    for (int i = 0; i < 30; i++) {
        ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, 100000000001ull + (uint64_t)i, 10000);
        uint64_t seq;
        assert_int_equal(post1(f, &e, &seq), KY_OK);
        uint8_t buf[KY_ENTRY_BYTES_MAX];
        size_t n;
        ky_entry d;
        assert_int_equal(ky_ledger_get(f->l, seq, buf, sizeof buf, &n), KY_OK);
        assert_int_equal(ky_entry_decode(buf, n, &d), KY_OK);
        assert_true(d.timestamp_us >= prev);
        prev = d.timestamp_us;
    }
    ky_ledger_set_clock(f->l, NULL, NULL);
}

/* A mixed workload, then reindex must reproduce the state and verify must pass. */
static void test_reindex_and_verify(void **state) {
    fixture *f = *state;
    test_reversal(state);               /* premiums, a reversal, a re-payment */
    for (uint64_t i = 0; i < 50; i++) { /* a year for 50 contracts, both schemes */
        uint8_t sch = i % 4 == 0 ? KY_SCHEME_SAFETY : KY_SCHEME_SHOKIBO;
        uint64_t c = (sch == KY_SCHEME_SAFETY ? 200000000100ull : 100000000100ull) + i;
        int64_t prem = sch == KY_SCHEME_SAFETY ? 50000 : 42000;
        ky_event e = ev_open(f, sch, c, prem);
        assert_int_equal(post1(f, &e, NULL), KY_OK);
        for (uint32_t m = 0; m < 12; m++) {
            e = ev_paid(f, sch, c, prem, ky_rules_period_add(202501, m));
            assert_int_equal(post1(f, &e, NULL), KY_OK);
        }
        e = ev_make(f, KY_KIND_LOAN_DISBURSED, sch, c, 100000);
        assert_int_equal(post1(f, &e, NULL), KY_OK);
        e = ev_make(f, KY_KIND_LOAN_REPAID, sch, c, 40000);
        assert_int_equal(post1(f, &e, NULL), KY_OK);
        if (i % 10 == 0) {
            e = ev_make(f, KY_KIND_CONTRACT_CLOSED, sch, c, 0);
            assert_int_equal(post1(f, &e, NULL), KY_OK);
        }
    }
    uint8_t d1[32], d2[32];
    assert_int_equal(ky_ledger_state_digest(f->l, d1), KY_OK);
    bool equal = false;
    assert_int_equal(ky_ledger_reindex(f->l, true, &equal, NULL, NULL), KY_OK);
    assert_true(equal);
    assert_int_equal(ky_ledger_reindex(f->l, false, &equal, NULL, NULL), KY_OK);
    assert_true(equal);
    assert_int_equal(ky_ledger_state_digest(f->l, d2), KY_OK);
    assert_memory_equal(d1, d2, 32);
    ky_verify_report rep;
    assert_int_equal(ky_verify_range(f->l, 1, 0, NULL, NULL, &rep), KY_OK);
    assert_int_equal(rep.first_bad_seq, 0);
    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->l, &h), KY_OK);
    assert_int_equal(rep.checked_count, h.seq);
    assert_memory_equal(rep.merkle_root, h.merkle_root, 32);
    assert_int_equal(ky_verify_range(f->l, 3, 5, NULL, NULL, &rep), KY_OK);
    assert_int_equal(rep.checked_count, 3);
}

static void test_reopen_and_lock(void **state) {
    fixture *f = *state;
    ky_event e = ev_open(f, KY_SCHEME_SHOKIBO, 100000000001ull, 10000);
    assert_int_equal(post1(f, &e, NULL), KY_OK);
    ky_ledger_head h1, h2;
    assert_int_equal(ky_ledger_head_get(f->l, &h1), KY_OK);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = f->dir;
    ky_ledger *second = NULL;
    assert_int_equal(ky_ledger_open(&second, &o), KY_E_LOCKED);
    assert_null(second);
    o.read_only = true; /* auditors read while the writer runs */
    assert_int_equal(ky_ledger_open(&second, &o), KY_OK);
    assert_int_equal(ky_ledger_append(second, &e, 1, &(ky_event_result){0}), KY_E_READ_ONLY);
    ky_ledger_head hr;
    assert_int_equal(ky_ledger_head_get(second, &hr), KY_OK); /* reads work read-only */
    assert_int_equal(hr.seq, h1.seq);
    ky_contract_state csr;
    assert_int_equal(ky_ledger_contract_get(second, 100000000001ull, &csr), KY_OK);
    ky_verify_report vr;
    assert_int_equal(ky_verify_range(second, 1, 0, NULL, NULL, &vr), KY_OK);
    assert_int_equal(vr.first_bad_seq, 0);
    assert_int_equal(vr.checked_count, h1.seq);
    ky_ledger_close(second);
    ky_ledger_close(f->l);
    o.read_only = false;
    assert_int_equal(ky_ledger_open(&f->l, &o), KY_OK);
    assert_int_equal(ky_ledger_head_get(f->l, &h2), KY_OK);
    assert_int_equal(h1.seq, h2.seq);
    assert_memory_equal(h1.hash, h2.hash, 32);
    assert_memory_equal(h1.merkle_root, h2.merkle_root, 32);
    assert_memory_equal(h1.node_id, h2.node_id, KY_NODE_ID_BYTES);
    assert_int_equal(post1(f, &e, NULL), KY_OK); /* retry after reopen: duplicate */
    o.dir_path = "/tmp/ky-test-does-not-exist";
    assert_int_equal(ky_ledger_open(&second, &o), KY_E_NOT_FOUND);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_pay_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_premium_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shape_and_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reversal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepaid_carried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_safety_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loans_benefit_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idempotency, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timestamps_never_decrease, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reindex_and_verify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_and_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
