/*
 * sample.c — deterministic realistic workload generator (see sample.h for the model).
 *
 * How: every contract's attributes and events are a pure function of (seed, contract index)
 * through a splitmix64 stream of its own, so the generator needs no per-contract table and
 * any visiting order yields the same events per contract. The full mode walks one contract
 * at a time through a small state machine:
 *
 *     OPEN --> [ CHANGE -> LOAN -> REPAY -> AMEND -> PREMIUM ] x month_count --> next contract
 *
 * where each bracketed stage yields an event only when this contract's plan says so.
 *
 * Invariants:
 *   1. Every yielded premium is within its scheme's range and step.
 *   2. A safety contract's premiums never total more than 8,000,000 JPY.
 *   3. A loan never exceeds 70 % of the premiums paid before it and is given only after 12
 *      or more premiums; a repayment never exceeds the outstanding balance.
 *   4. Idem keys strictly increase along one stream (counter grows, tag fixed).
 */
#include "sample.h"

#include <stdio.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"
#include "../ledger/sha256.h"

#define SAFETY_TOTAL_JPY_MAX   8000000 /* safety premiums stop here (DESIGN §1) */
#define LOAN_SHARE_PERCENT_MAX 70      /* shokibo loans from 12 months paid (rules default) */
#define LOAN_MONTHS_PAID_MIN   12u
/* Mixed into the tag of ky_sample_contract_opened keys ("opened" in ASCII). */
#define OPENED_TAG 0x6f70656e65640000ull

enum { STAGE_OPEN, STAGE_CHANGE, STAGE_LOAN, STAGE_REPAY, STAGE_AMEND, STAGE_PREMIUM };

/* ---- PRNG and permutation ---------------------------------------------------------------- */

/* splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, passes BigCrush, trivially
 * seedable from any value, and identical on every platform. */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rng_next(uint64_t *state) {
    *state += 0x9e3779b97f4a7c15ull;
    return mix64(*state);
}

/* Uniform in [0, n). Modulo bias is below n / 2^64: invisible at these n (<= 10^8). */
static uint64_t rng_below(uint64_t *state, uint64_t n) {
    KY_ASSERT(n > 0);
    return rng_next(state) % n;
}

static bool rng_chance(uint64_t *state, uint64_t numerator, uint64_t denominator) {
    return rng_below(state, denominator) < numerator;
}

/* One balanced Feistel pass over 2h-bit values: a bijection on [0, 2^2h) for any keys. */
static uint64_t feistel(const ky_sample *s, uint64_t x) {
    uint32_t h = s->feistel_half_bits;
    uint64_t mask = (1ull << h) - 1;
    uint64_t left = x >> h, right = x & mask;
    for (unsigned r = 0; r < 4; r++) {
        uint64_t f = mix64(right ^ s->feistel_keys[r]) & mask;
        uint64_t t = right;
        right = left ^ f;
        left = t;
    }
    return (left << h) | right;
}

/* Contract index visited at `position`. Cycle walking keeps the Feistel bijection inside
 * [0, contracts); the domain is < 4 × contracts, so the walk averages under 4 steps. */
static uint64_t visit_index(const ky_sample *s, uint64_t position) {
    KY_ASSERT(position < s->contract_count);
    if (s->order == KY_SAMPLE_ORDER_CONTRACT) return position;
    uint64_t x = feistel(s, position);
    while (x >= s->contract_count) x = feistel(s, x);
    return x;
}

/* ---- periods --------------------------------------------------------------------------- */

static bool period_valid(uint32_t p) {
    return p / 100 >= 1970 && p / 100 <= 2199 && p % 100 >= 1 && p % 100 <= 12;
}

static uint32_t period_months(uint32_t p) {
    return (p / 100) * 12 + p % 100 - 1;
}

static uint32_t period_add(uint32_t p, uint32_t n) {
    uint32_t m = period_months(p) + n;
    return (m / 12) * 100 + m % 12 + 1;
}

/* Unix ms at 00:00 UTC on the first day of p (days-from-civil, H. Hinnant). */
static uint64_t period_unix_ms(uint32_t p) {
    int64_t y = p / 100, m = p % 100;
    y -= m <= 2;
    int64_t era = y / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    KY_ASSERT(days >= 0);
    return (uint64_t)days * 86400000ull;
}

/* ---- contract attributes ----------------------------------------------------------------- */

static int64_t draw_premium(uint64_t *rng, uint8_t scheme) {
    if (scheme == KY_SCHEME_SAFETY) {
        if (rng_chance(rng, 35, 100)) return 200000;
        return 5000 * (int64_t)(1 + rng_below(rng, 39)); /* 5,000..195,000 */
    }
    if (rng_chance(rng, 400, 1000)) { /* the 60,500–70,000 band */
        if (rng_chance(rng, 55, 100)) return 70000;
        return 60500 + 500 * (int64_t)rng_below(rng, 19); /* 60,500..69,500 */
    }
    int64_t a = (int64_t)rng_below(rng, 119), b = (int64_t)rng_below(rng, 119);
    int64_t step = rng_chance(rng, 1, 2) ? a : (a < b ? a : b); /* skewed low */
    return 1000 + 500 * step;                                   /* 1,000..60,000 */
}

static uint16_t draw_member_type(uint64_t *rng, uint8_t scheme) {
    uint64_t r = rng_below(rng, 100);
    if (scheme == KY_SCHEME_SAFETY) return r < 65 ? 1 : 2;
    return r < 70 ? 1 : r < 97 ? 2 : 3;
}

/* Fills the opening attributes of contract `index`; c->rng is left ready for its plan. */
static void contract_attrs(const ky_sample *s, uint64_t index, ky_sample_contract *c) {
    KY_ASSERT(index < s->contract_count);
    memset(c, 0, sizeof *c);
    c->index = index;
    c->rng = mix64(s->seed ^ mix64(index + 0x5eed));
    bool shokibo = index < s->shokibo_count;
    c->scheme = shokibo ? KY_SCHEME_SHOKIBO : KY_SCHEME_SAFETY;
    c->contract_id = shokibo ? KY_SAMPLE_SHOKIBO_ID_FIRST + index
                             : KY_SAMPLE_SAFETY_ID_FIRST + (index - s->shokibo_count);
    c->member_type = draw_member_type(&c->rng, c->scheme);
    c->premium_jpy = draw_premium(&c->rng, c->scheme);
    KY_ASSERT(c->member_type >= 1 && c->member_type <= 3);
}

/* Decides once per contract which extras it will have (sample.h). */
static void contract_plan(const ky_sample *s, ky_sample_contract *c) {
    uint32_t months = s->month_count;
    c->loan_month = c->repay_month = c->amend_month = UINT32_MAX;
    if (c->scheme == KY_SCHEME_SHOKIBO && months > LOAN_MONTHS_PAID_MIN &&
        rng_chance(&c->rng, 3, 100)) {
        c->loan_month = LOAN_MONTHS_PAID_MIN + (uint32_t)rng_below(&c->rng, months - 12);
        if (c->loan_month + 1 < months && rng_chance(&c->rng, 1, 2))
            c->repay_month =
                c->loan_month + 1 + (uint32_t)rng_below(&c->rng, months - c->loan_month - 1);
    }
    if (months > 0 && rng_chance(&c->rng, 2, 1000))
        c->amend_month = (uint32_t)rng_below(&c->rng, months);
    c->stage = STAGE_OPEN;
}

/* ---- events ---------------------------------------------------------------------------- */

static void event_base(const ky_sample_contract *c, uint8_t kind, int64_t amount, ky_event *ev) {
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->scheme = c->scheme;
    ev->contract_id = c->contract_id;
    ev->amount_jpy = amount;
}

static void event_key(ky_event *ev, uint64_t head, uint64_t tail) {
    ky_put_u64be(ev->idem_key, head);
    ky_put_u64be(ev->idem_key + 8, tail);
}

static void event_opened(const ky_sample_contract *c, ky_event *ev) {
    event_base(c, KY_KIND_CONTRACT_OPENED, c->premium_jpy, ev);
    ev->subtype = c->member_type;
}

/* A valid premium for the scheme that differs from the current one. */
static int64_t changed_premium(ky_sample_contract *c) {
    int64_t p = draw_premium(&c->rng, c->scheme);
    if (p != c->premium_jpy) return p;
    int64_t step = c->scheme == KY_SCHEME_SAFETY ? 5000 : 500;
    int64_t max = c->scheme == KY_SCHEME_SAFETY ? 200000 : 70000;
    return p == max ? p - step : p + step;
}

static void event_amended(ky_sample *s, const ky_sample_contract *c, ky_event *ev) {
    char doc[24];
    snprintf(doc, sizeof doc, "AMD-%09llu", (unsigned long long)c->index);
    uint8_t hash[KY_SHA256_BYTES];
    ky_sha256(doc, strlen(doc), hash);
    char hex[2 * KY_SHA256_BYTES + 1];
    for (unsigned i = 0; i < KY_SHA256_BYTES; i++) snprintf(hex + 2 * i, 3, "%02x", hash[i]);
    int n = snprintf((char *)s->payload, sizeof s->payload, "{\"doc\":\"%s\",\"sha256\":\"%s\"}",
                     doc, hex);
    KY_ASSERT(n > 0 && (size_t)n < sizeof s->payload);
    event_base(c, KY_KIND_CONTRACT_AMENDED, 0, ev);
    ev->payload = s->payload;
    ev->payload_bytes = (uint32_t)n;
}

/* Loan stage: 30–70 % of premiums paid, in 1,000 JPY, after >= 12 premiums. */
static bool event_loan(ky_sample_contract *c, ky_event *ev) {
    KY_ASSERT(c->month >= LOAN_MONTHS_PAID_MIN && c->loan_jpy == 0);
    int64_t percent = 30 + (int64_t)rng_below(&c->rng, LOAN_SHARE_PERCENT_MAX - 30 + 1);
    int64_t amount = c->paid_jpy * percent / 100 / 1000 * 1000;
    if (amount <= 0) return false;
    KY_ASSERT(amount * 100 <= c->paid_jpy * LOAN_SHARE_PERCENT_MAX);
    c->loan_jpy = amount;
    event_base(c, KY_KIND_LOAN_DISBURSED, amount, ev);
    return true;
}

static bool event_repay(ky_sample_contract *c, ky_event *ev) {
    if (c->loan_jpy <= 0) return false;
    int64_t amount = c->loan_jpy;
    if (rng_chance(&c->rng, 1, 2) && amount >= 2000) amount = amount / 2 / 1000 * 1000;
    KY_ASSERT(amount > 0 && amount <= c->loan_jpy);
    c->loan_jpy -= amount;
    event_base(c, KY_KIND_LOAN_REPAID, amount, ev);
    return true;
}

/* Premium stage; false (and the contract ends) when the safety total would pass 8 M. */
static bool event_premium(const ky_sample *s, ky_sample_contract *c, ky_event *ev) {
    if (c->scheme == KY_SCHEME_SAFETY && c->paid_jpy + c->premium_jpy > SAFETY_TOTAL_JPY_MAX) {
        c->month = s->month_count;
        return false;
    }
    event_base(c, KY_KIND_PREMIUM_PAID, c->premium_jpy, ev);
    ev->period_yyyymm = period_add(s->start_yyyymm, c->month);
    c->paid_jpy += c->premium_jpy;
    c->month++;
    return true;
}

/* Advances the contract in progress; true with ev filled, false when it has no more. */
static bool contract_step(ky_sample *s, ky_event *ev) {
    ky_sample_contract *c = &s->cur;
    if (c->stage == STAGE_OPEN) {
        c->stage = STAGE_CHANGE;
        event_opened(c, ev);
        return true;
    }
    while (c->month < s->month_count) {
        switch (c->stage) {
        case STAGE_CHANGE:
            c->stage = STAGE_LOAN;
            if (rng_chance(&c->rng, 5, 1000)) {
                int64_t p = changed_premium(c);
                KY_ASSERT(p != c->premium_jpy);
                c->premium_jpy = p;
                event_base(c, KY_KIND_PREMIUM_CHANGED, p, ev);
                return true;
            }
            break;
        case STAGE_LOAN:
            c->stage = STAGE_REPAY;
            if (c->month == c->loan_month && event_loan(c, ev)) return true;
            break;
        case STAGE_REPAY:
            c->stage = STAGE_AMEND;
            if (c->month == c->repay_month && event_repay(c, ev)) return true;
            break;
        case STAGE_AMEND:
            c->stage = STAGE_PREMIUM;
            if (c->month == c->amend_month) {
                event_amended(s, c, ev);
                return true;
            }
            break;
        default:
            KY_ASSERT(c->stage == STAGE_PREMIUM);
            c->stage = STAGE_CHANGE;
            if (event_premium(s, c, ev)) return true;
            break;
        }
    }
    return false;
}

/* ---- API ------------------------------------------------------------------------------- */

static void sample_setup(ky_sample *s, uint64_t contracts, uint64_t seed, ky_sample_order order,
                         uint32_t period, uint32_t months, bool premiums_only) {
    memset(s, 0, sizeof *s);
    s->contract_count = contracts;
    s->shokibo_count = (contracts * 1430 + 985) / 1970; /* round(contracts × 1.43 / 1.97) */
    s->month_count = months;
    s->start_yyyymm = period;
    s->seed = seed;
    s->order = order;
    s->premiums_only = premiums_only;
    s->feistel_half_bits = 1;
    while ((1ull << (2 * s->feistel_half_bits)) < contracts) s->feistel_half_bits++;
    uint64_t k = seed ^ 0xfe15e1ull;
    for (unsigned r = 0; r < 4; r++) s->feistel_keys[r] = rng_next(&k);
    s->key_base = period_unix_ms(period) << 16;
    s->key_tag =
        mix64(premiums_only ^ mix64(seed ^ mix64(contracts ^ mix64(months ^ mix64(period)))));
    KY_ASSERT(s->shokibo_count <= contracts);
    KY_ASSERT(s->feistel_half_bits <= 32);
}

int ky_sample_init(ky_sample *s, uint64_t contracts, uint32_t months, uint64_t seed,
                   uint32_t start_yyyymm, ky_sample_order order) {
    KY_ASSERT(s != NULL);
    if (contracts < 1 || contracts > KY_SAMPLE_CONTRACTS_MAX || months > KY_SAMPLE_MONTHS_MAX ||
        !period_valid(start_yyyymm) ||
        (order != KY_SAMPLE_ORDER_CONTRACT && order != KY_SAMPLE_ORDER_RANDOM))
        return KY_E_RANGE;
    if (months > 0 && period_add(start_yyyymm, months - 1) > 219912) return KY_E_RANGE;
    sample_setup(s, contracts, seed, order, start_yyyymm, months, false);
    return KY_OK;
}

int ky_sample_premiums_init(ky_sample *s, uint64_t contracts, uint32_t period_yyyymm, uint64_t seed,
                            ky_sample_order order) {
    KY_ASSERT(s != NULL);
    if (contracts < 1 || contracts > KY_SAMPLE_CONTRACTS_MAX || !period_valid(period_yyyymm) ||
        (order != KY_SAMPLE_ORDER_CONTRACT && order != KY_SAMPLE_ORDER_RANDOM))
        return KY_E_RANGE;
    sample_setup(s, contracts, seed, order, period_yyyymm, 1, true);
    return KY_OK;
}

static bool premium_only_next(ky_sample *s, ky_event *ev) {
    if (s->position == s->contract_count) return false;
    ky_sample_contract c;
    contract_attrs(s, visit_index(s, s->position++), &c);
    event_base(&c, KY_KIND_PREMIUM_PAID, c.premium_jpy, ev);
    ev->period_yyyymm = s->start_yyyymm;
    event_key(ev, s->key_base + s->contract_count + s->event_index, s->key_tag);
    s->event_index++;
    return true;
}

bool ky_sample_next(ky_sample *s, ky_event *ev) {
    KY_ASSERT(s != NULL && ev != NULL);
    if (s->premiums_only) return premium_only_next(s, ev);
    for (;;) {
        if (!s->started) {
            if (s->position == s->contract_count) return false;
            contract_attrs(s, visit_index(s, s->position++), &s->cur);
            contract_plan(s, &s->cur);
            s->started = true;
        }
        if (contract_step(s, ev)) break;
        s->started = false;
    }
    KY_ASSERT(ev->contract_id == s->cur.contract_id);
    event_key(ev, s->key_base + s->event_index, s->key_tag);
    s->event_index++;
    return true;
}

void ky_sample_contract_opened(const ky_sample *s, uint64_t contract_index, ky_event *ev) {
    KY_ASSERT(s != NULL && ev != NULL);
    KY_ASSERT(contract_index < s->contract_count);
    ky_sample_contract c;
    contract_attrs(s, contract_index, &c);
    event_opened(&c, ev);
    event_key(ev, s->key_base + contract_index, mix64(s->key_tag ^ OPENED_TAG));
}

uint64_t ky_sample_event_count(const ky_sample *s) {
    KY_ASSERT(s != NULL);
    return s->event_index;
}
