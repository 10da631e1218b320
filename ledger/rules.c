/*
 * rules.c — the contract invariants of DESIGN §3.4 in one table.
 *
 * Why a table: every kind's shape (which fields it may carry, whether the contract must
 * exist or be open) is one row a reviewer can read at a glance; only the rules that
 * need arithmetic or lookups get a check function. The first broken rule decides the
 * refusal code, in the order: shape, contract existence, scheme, closed, kind check.
 * Pure; no storage, no allocation.
 */
#include "rules.h"

#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

/* How a field of the event must look for a kind. */
typedef enum field_rule { F_ZERO = 0, F_ANY, F_REQUIRED } field_rule;

typedef int (*kind_check_fn)(const ky_rules_config *cfg, const ky_rules_view *view,
                             const ky_event *ev, const ky_contract_state *cs, ky_entry *ref);

typedef struct kind_rule {
    bool needs_contract; /* false only for contract_opened */
    bool allowed_closed; /* may be posted to a closed contract */
    field_rule amount;   /* F_ZERO: must be 0; else checked by fn or positive */
    field_rule period;   /* F_REQUIRED: valid yyyymm; F_ZERO: must be 0 */
    field_rule months;   /* F_REQUIRED: checked by fn; F_ZERO: must be 0 */
    field_rule subtype;  /* F_ZERO: must be 0; F_ANY / F_REQUIRED: fn checks */
    field_rule ref;      /* F_REQUIRED: ref_seq names an entry; F_ZERO: 0 */
    kind_check_fn check; /* kind-specific arithmetic and lookups, or NULL */
} kind_rule;

static int check_opened(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                        const ky_contract_state *, ky_entry *);
static int check_changed(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                         const ky_contract_state *, ky_entry *);
static int check_paid(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                      const ky_contract_state *, ky_entry *);
static int check_reversed(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                          const ky_contract_state *, ky_entry *);
static int check_prepaid(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                         const ky_contract_state *, ky_entry *);
static int check_carried(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                         const ky_contract_state *, ky_entry *);
static int check_loan(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                      const ky_contract_state *, ky_entry *);
static int check_repaid(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                        const ky_contract_state *, ky_entry *);
static int check_benefit(const ky_rules_config *, const ky_rules_view *, const ky_event *,
                         const ky_contract_state *, ky_entry *);

/* Field rules in the table: Z must be zero, A anything (the check judges it), R required. */
#define Z F_ZERO
#define A F_ANY
#define R F_REQUIRED
/* clang-format off */
static const kind_rule kind_rules[KY_KIND_CLIENT_LAST_ + 1] = {
    /*                           contract closed amt per mon sub ref check */
    [KY_KIND_CONTRACT_OPENED]     = {false, false, R, Z, Z, R, Z, check_opened},
    [KY_KIND_PREMIUM_CHANGED]     = {true,  false, R, Z, Z, Z, Z, check_changed},
    [KY_KIND_PREMIUM_PAID]        = {true,  false, R, R, Z, Z, Z, check_paid},
    [KY_KIND_PREMIUM_REVERSED]    = {true,  true,  R, Z, Z, Z, R, check_reversed},
    [KY_KIND_PREMIUM_PREPAID]     = {true,  false, R, R, R, Z, Z, check_prepaid},
    [KY_KIND_MONTHS_CARRIED_OVER] = {true,  false, R, Z, R, Z, Z, check_carried},
    [KY_KIND_LOAN_DISBURSED]      = {true,  false, R, Z, Z, A, Z, check_loan},
    [KY_KIND_LOAN_REPAID]         = {true,  true,  R, Z, Z, Z, Z, check_repaid},
    [KY_KIND_BENEFIT_PAID]        = {true,  false, R, Z, Z, R, Z, check_benefit},
    [KY_KIND_CONTRACT_AMENDED]    = {true,  true,  Z, Z, Z, Z, Z, NULL},
    [KY_KIND_CONTRACT_CLOSED]     = {true,  false, Z, Z, Z, A, Z, NULL},
};
/* clang-format on */
#undef Z
#undef A
#undef R

/* Premium range and step per scheme, JPY (DESIGN §1). */
typedef struct premium_rule {
    int64_t min_jpy, max_jpy, step_jpy;
    uint16_t member_type_max; /* member types are 1..max */
} premium_rule;

static const premium_rule premium_rules[] = {
    [KY_SCHEME_SHOKIBO] = {1000, 70000, 500, 3},
    [KY_SCHEME_SAFETY] = {5000, 200000, 5000, 2},
};

void ky_rules_config_default(ky_rules_config *cfg) {
    KY_ASSERT(cfg != NULL);
    memset(cfg, 0, sizeof *cfg);
    cfg->shokibo_loan_tiers[0] = (ky_loan_tier){12, 70};
    cfg->shokibo_loan_tiers[1] = (ky_loan_tier){36, 80};
    cfg->shokibo_loan_tiers[2] = (ky_loan_tier){120, 90};
    cfg->shokibo_loan_tiers[3] = (ky_loan_tier){UINT32_MAX, 90};
    cfg->safety_loan_multiple = 10;
    cfg->safety_loan_jpy_max = 80000000;
    cfg->safety_premium_total_jpy_max = 8000000;
}

bool ky_rules_period_valid(uint32_t p) {
    uint32_t year = p / 100, month = p % 100;
    return year >= 1960 && year <= 2199 && month >= 1 && month <= 12;
}

uint32_t ky_rules_period_add(uint32_t p, uint32_t n) {
    KY_ASSERT(ky_rules_period_valid(p));
    uint32_t months = (p / 100) * 12 + (p % 100 - 1) + n;
    return (months / 12) * 100 + months % 12 + 1;
}

int ky_rules_premium_valid(uint8_t scheme, int64_t amount) {
    KY_ASSERT(scheme == KY_SCHEME_SHOKIBO || scheme == KY_SCHEME_SAFETY);
    const premium_rule *r = &premium_rules[scheme];
    if (amount < r->min_jpy || amount > r->max_jpy) return KY_E_PREMIUM_RANGE;
    if (amount % r->step_jpy != 0) return KY_E_PREMIUM_STEP;
    return KY_OK;
}

int64_t ky_rules_loan_limit(const ky_rules_config *cfg, const ky_contract_state *cs) {
    KY_ASSERT(cfg != NULL && cs != NULL);
    KY_ASSERT(cs->total_paid_jpy >= 0);
    if (cs->scheme == KY_SCHEME_SAFETY) {
        int64_t limit = cs->total_paid_jpy * (int64_t)cfg->safety_loan_multiple;
        return limit < cfg->safety_loan_jpy_max ? limit : cfg->safety_loan_jpy_max;
    }
    uint32_t percent = 0;
    for (unsigned i = 0; i < KY_LOAN_TIERS_MAX; i++) {
        if (cs->months_paid >= cfg->shokibo_loan_tiers[i].months_paid_min)
            percent = cfg->shokibo_loan_tiers[i].percent;
    }
    return cs->total_paid_jpy * (int64_t)percent / 100;
}

/* Safety-scheme premiums stop at the configured total (8,000,000 JPY). */
static int check_safety_cap(const ky_rules_config *cfg, const ky_contract_state *cs,
                            int64_t amount) {
    if (cs->scheme != KY_SCHEME_SAFETY) return KY_OK;
    if (cs->total_paid_jpy + amount > cfg->safety_premium_total_jpy_max) return KY_E_SAFETY_CAP;
    return KY_OK;
}

static int check_opened(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                        const ky_contract_state *cs, ky_entry *ref) {
    (void)cfg, (void)view, (void)ref;
    if (cs != NULL) return KY_E_CONTRACT_EXISTS;
    const premium_rule *r = &premium_rules[ev->scheme];
    if (ev->subtype < 1 || ev->subtype > r->member_type_max) return KY_E_MEMBER_TYPE_INVALID;
    return ky_rules_premium_valid(ev->scheme, ev->amount_jpy);
}

static int check_changed(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                         const ky_contract_state *cs, ky_entry *ref) {
    (void)cfg, (void)view, (void)ref;
    int rc = ky_rules_premium_valid(ev->scheme, ev->amount_jpy);
    if (rc != KY_OK) return rc;
    return ev->amount_jpy == cs->monthly_premium_jpy ? KY_E_PREMIUM_UNCHANGED : KY_OK;
}

static int month_free(const ky_rules_view *view, uint64_t contract, uint32_t period) {
    uint64_t seq = 0;
    int rc = view->month_paid(view->ctx, contract, period, &seq);
    if (rc != KY_OK) return rc;
    return seq == 0 ? KY_OK : KY_E_MONTH_ALREADY_PAID;
}

static int check_paid(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                      const ky_contract_state *cs, ky_entry *ref) {
    (void)ref;
    int rc = ky_rules_premium_valid(ev->scheme, ev->amount_jpy);
    if (rc != KY_OK) return rc;
    rc = month_free(view, ev->contract_id, ev->period_yyyymm);
    if (rc != KY_OK) return rc;
    return check_safety_cap(cfg, cs, ev->amount_jpy);
}

static int check_prepaid(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                         const ky_contract_state *cs, ky_entry *ref) {
    (void)ref;
    if (ev->months < 1 || ev->months > KY_PREPAID_MONTHS_MAX) return KY_E_MONTHS_INVALID;
    if (ev->amount_jpy != cs->monthly_premium_jpy * ev->months) return KY_E_PREPAID_AMOUNT;
    for (uint32_t i = 0; i < ev->months; i++) {
        int rc = month_free(view, ev->contract_id, ky_rules_period_add(ev->period_yyyymm, i));
        if (rc != KY_OK) return rc;
    }
    return check_safety_cap(cfg, cs, ev->amount_jpy);
}

/* A reversal names a premium entry of the same contract that still holds its months. */
static int check_reversed(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                          const ky_contract_state *cs, ky_entry *ref) {
    (void)cfg, (void)cs;
    int rc = view->entry_get(view->ctx, ev->ref_seq, ref);
    if (rc == KY_E_NOT_FOUND) return KY_E_REVERSAL_TARGET;
    if (rc != KY_OK) return rc;
    bool premium = ref->kind == KY_KIND_PREMIUM_PAID || ref->kind == KY_KIND_PREMIUM_PREPAID;
    if (!premium || ref->contract_id != ev->contract_id) return KY_E_REVERSAL_TARGET;
    uint32_t months = ref->kind == KY_KIND_PREMIUM_PAID ? 1u : ref->months;
    for (uint32_t i = 0; i < months; i++) {
        uint64_t holder = 0;
        rc = view->month_paid(view->ctx, ev->contract_id,
                              ky_rules_period_add(ref->period_yyyymm, i), &holder);
        if (rc != KY_OK) return rc;
        if (holder != ref->seq) return KY_E_ALREADY_REVERSED;
    }
    if (ev->amount_jpy != ref->amount_jpy) return KY_E_REVERSAL_AMOUNT;
    return KY_OK;
}

static int check_carried(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                         const ky_contract_state *cs, ky_entry *ref) {
    (void)view, (void)ref;
    if (ev->months < 1 || ev->months > KY_CARRIED_MONTHS_MAX) return KY_E_MONTHS_INVALID;
    return check_safety_cap(cfg, cs, ev->amount_jpy);
}

static int check_loan(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                      const ky_contract_state *cs, ky_entry *ref) {
    (void)view, (void)ref;
    int64_t limit = ky_rules_loan_limit(cfg, cs);
    if (cs->loan_balance_jpy + ev->amount_jpy > limit) return KY_E_LOAN_LIMIT;
    return KY_OK;
}

static int check_repaid(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                        const ky_contract_state *cs, ky_entry *ref) {
    (void)cfg, (void)view, (void)ref;
    return ev->amount_jpy > cs->loan_balance_jpy ? KY_E_LOAN_REPAY_EXCEEDS : KY_OK;
}

static int check_benefit(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                         const ky_contract_state *cs, ky_entry *ref) {
    (void)cfg, (void)view, (void)ref;
    if (cs->scheme == KY_SCHEME_SAFETY)
        return ev->subtype == KY_BENEFIT_CANCELLATION ? KY_OK : KY_E_BENEFIT_REASON;
    return ev->subtype >= KY_BENEFIT_A && ev->subtype <= KY_BENEFIT_CANCELLATION
               ? KY_OK
               : KY_E_BENEFIT_REASON;
}

/* Shape of the event against its kind's row: which fields must be zero or present. */
static int check_shape(const kind_rule *r, const ky_event *ev) {
    if (r->amount == F_ZERO && ev->amount_jpy != 0) return KY_E_AMOUNT_NOT_ALLOWED;
    if (r->amount == F_REQUIRED && (ev->amount_jpy <= 0 || ev->amount_jpy > KY_AMOUNT_JPY_MAX))
        return KY_E_AMOUNT_INVALID;
    if (r->period == F_ZERO && ev->period_yyyymm != 0) return KY_E_PERIOD_NOT_ALLOWED;
    if (r->period == F_REQUIRED && !ky_rules_period_valid(ev->period_yyyymm))
        return KY_E_PERIOD_INVALID;
    if (r->months == F_ZERO && ev->months != 0) return KY_E_MONTHS_NOT_ALLOWED;
    if (r->subtype == F_ZERO && ev->subtype != 0) return KY_E_SUBTYPE_NOT_ALLOWED;
    if (r->ref == F_ZERO && ev->ref_seq != 0) return KY_E_REF_NOT_ALLOWED;
    if (r->ref == F_REQUIRED && ev->ref_seq == 0) return KY_E_REVERSAL_TARGET;
    return KY_OK;
}

static bool key_is_zero(const uint8_t key[KY_IDEM_KEY_BYTES]) {
    uint8_t acc = 0;
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) acc |= key[i];
    return acc == 0;
}

/* Checks that do not depend on stored state: kind, scheme, ids, limits, flags. */
static int check_envelope(const ky_event *ev) {
    if (ev->kind == 0 || (ev->kind > KY_KIND_CLIENT_LAST_ && !ky_kind_is_system(ev->kind)))
        return KY_E_ENTRY_KIND;
    if (ky_kind_is_system(ev->kind)) return KY_E_KIND_SYSTEM_ONLY;
    if (ev->scheme != KY_SCHEME_SHOKIBO && ev->scheme != KY_SCHEME_SAFETY) return KY_E_ENTRY_SCHEME;
    if ((ev->flags & ~KY_EVENT_FLAGS_KNOWN) != 0) return KY_E_FLAGS_INVALID;
    if (ev->contract_id == 0 || ev->contract_id > KY_CONTRACT_ID_MAX)
        return KY_E_CONTRACT_ID_INVALID;
    if (ev->payload_bytes > KY_ENTRY_PAYLOAD_BYTES_MAX) return KY_E_PAYLOAD_TOO_LARGE;
    if (ev->payload_bytes > 0 && ev->payload == NULL) return KY_E_INVALID_ARG;
    if (key_is_zero(ev->idem_key)) return KY_E_IDEM_KEY_MISSING;
    return KY_OK;
}

int ky_rules_check(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                   const ky_contract_state *cs, ky_entry *ref_out) {
    KY_ASSERT(cfg != NULL && view != NULL);
    KY_ASSERT(ev != NULL && ref_out != NULL);
    int rc = check_envelope(ev);
    if (rc != KY_OK) return rc;
    const kind_rule *r = &kind_rules[ev->kind];
    rc = check_shape(r, ev);
    if (rc != KY_OK) return rc;
    if (r->needs_contract) {
        if (cs == NULL) return KY_E_CONTRACT_UNKNOWN;
        KY_ASSERT(cs->contract_id == ev->contract_id);
        if (cs->scheme != ev->scheme) return KY_E_SCHEME_MISMATCH;
        if (cs->status == KY_CONTRACT_CLOSED && !r->allowed_closed) return KY_E_CONTRACT_CLOSED;
    }
    return r->check != NULL ? r->check(cfg, view, ev, cs, ref_out) : KY_OK;
}

static void apply_months(const ky_entry *e, uint32_t count, uint64_t seq, ky_month_update *m,
                         uint32_t *n) {
    KY_ASSERT(count <= KY_PREPAID_MONTHS_MAX);
    for (uint32_t i = 0; i < count; i++) {
        m[i].period_yyyymm = ky_rules_period_add(e->period_yyyymm, i);
        m[i].seq = seq;
    }
    *n = count;
}

void ky_rules_apply(const ky_entry *e, const ky_entry *ref, ky_contract_state *cs,
                    ky_month_update *months, uint32_t *months_count) {
    KY_ASSERT(e != NULL && cs != NULL && months != NULL && months_count != NULL);
    KY_ASSERT(!ky_kind_is_system(e->kind));
    *months_count = 0;
    switch (e->kind) {
    case KY_KIND_CONTRACT_OPENED:
        memset(cs, 0, sizeof *cs);
        cs->contract_id = e->contract_id;
        cs->scheme = e->scheme;
        cs->status = KY_CONTRACT_OPEN;
        cs->member_type = e->subtype;
        cs->monthly_premium_jpy = e->amount_jpy;
        cs->opened_seq = e->seq;
        break;
    case KY_KIND_PREMIUM_CHANGED: cs->monthly_premium_jpy = e->amount_jpy; break;
    case KY_KIND_PREMIUM_PAID:
        cs->months_paid += 1;
        cs->total_paid_jpy += e->amount_jpy;
        apply_months(e, 1, e->seq, months, months_count);
        break;
    case KY_KIND_PREMIUM_PREPAID:
        cs->months_paid += e->months;
        cs->total_paid_jpy += e->amount_jpy;
        apply_months(e, e->months, e->seq, months, months_count);
        break;
    case KY_KIND_PREMIUM_REVERSED: {
        KY_ASSERT(ref != NULL && ref->seq == e->ref_seq);
        uint32_t n = ref->kind == KY_KIND_PREMIUM_PAID ? 1u : ref->months;
        KY_ASSERT(cs->months_paid >= n);
        cs->months_paid -= n;
        cs->total_paid_jpy -= e->amount_jpy;
        apply_months(ref, n, 0, months, months_count);
        break;
    }
    case KY_KIND_MONTHS_CARRIED_OVER:
        cs->months_paid += e->months;
        cs->total_paid_jpy += e->amount_jpy;
        break;
    case KY_KIND_LOAN_DISBURSED: cs->loan_balance_jpy += e->amount_jpy; break;
    case KY_KIND_LOAN_REPAID: cs->loan_balance_jpy -= e->amount_jpy; break;
    case KY_KIND_BENEFIT_PAID:
    case KY_KIND_CONTRACT_CLOSED:
        cs->status = KY_CONTRACT_CLOSED;
        cs->closed_seq = e->seq;
        break;
    case KY_KIND_CONTRACT_AMENDED: break;
    default: KY_BUG("unknown client kind in apply");
    }
    KY_ASSERT(cs->total_paid_jpy >= 0 && cs->loan_balance_jpy >= 0);
    KY_ASSERT(e->contract_seq == cs->entry_count + 1);
    cs->last_seq = e->seq;
    cs->entry_count = e->contract_seq;
}

void ky_contract_state_encode(const ky_contract_state *cs, uint8_t out[KY_CONTRACT_STATE_BYTES]) {
    KY_ASSERT(cs != NULL && out != NULL);
    memset(out, 0, KY_CONTRACT_STATE_BYTES);
    out[0] = KY_CONTRACT_STATE_VERSION;
    out[1] = cs->scheme;
    out[2] = cs->status;
    ky_put_u16le(out + 4, cs->member_type);
    ky_put_u32le(out + 8, cs->months_paid);
    ky_put_u64le(out + 16, cs->contract_id);
    ky_put_u64le(out + 24, (uint64_t)cs->monthly_premium_jpy);
    ky_put_u64le(out + 32, (uint64_t)cs->total_paid_jpy);
    ky_put_u64le(out + 40, (uint64_t)cs->loan_balance_jpy);
    ky_put_u64le(out + 48, cs->opened_seq);
    ky_put_u64le(out + 56, cs->closed_seq);
    ky_put_u64le(out + 64, cs->last_seq);
    ky_put_u64le(out + 72, cs->entry_count);
    memcpy(out + 80, cs->last_leaf_hash, KY_HASH_BYTES);
}
_Static_assert(80 + KY_HASH_BYTES == KY_CONTRACT_STATE_BYTES, "contract state layout");

int ky_contract_state_decode(const uint8_t *b, size_t len, ky_contract_state *cs) {
    KY_ASSERT(cs != NULL);
    if (b == NULL || len != KY_CONTRACT_STATE_BYTES || b[0] != KY_CONTRACT_STATE_VERSION)
        return KY_E_CORRUPT;
    memset(cs, 0, sizeof *cs);
    cs->scheme = b[1];
    cs->status = b[2];
    cs->member_type = ky_get_u16le(b + 4);
    cs->months_paid = ky_get_u32le(b + 8);
    cs->contract_id = ky_get_u64le(b + 16);
    cs->monthly_premium_jpy = (int64_t)ky_get_u64le(b + 24);
    cs->total_paid_jpy = (int64_t)ky_get_u64le(b + 32);
    cs->loan_balance_jpy = (int64_t)ky_get_u64le(b + 40);
    cs->opened_seq = ky_get_u64le(b + 48);
    cs->closed_seq = ky_get_u64le(b + 56);
    cs->last_seq = ky_get_u64le(b + 64);
    cs->entry_count = ky_get_u64le(b + 72);
    memcpy(cs->last_leaf_hash, b + 80, KY_HASH_BYTES);
    if (cs->status != KY_CONTRACT_OPEN && cs->status != KY_CONTRACT_CLOSED) return KY_E_CORRUPT;
    return KY_OK;
}
