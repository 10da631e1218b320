/*
 * rules.h — the contract invariants the ledger enforces (DESIGN §3.4), table-driven.
 *
 * Why here and not in the applications: like a database's constraints, these protect
 * the money records whatever application posts to them — a month is paid at most once,
 * premiums are valid for the scheme, the safety scheme stops at 8,000,000 JPY, loans
 * stay within their limits, a closed contract takes no premiums. Business logic stays
 * in the applications.
 *
 * The module is pure: it never touches LMDB. The ledger passes the contract state and
 * a small view (month index, earlier entries) for the checks, then applies the
 * accepted entry with ky_rules_apply. `reindex` replays entries through the same
 * ky_rules_apply, which is why derived state after a replay is identical.
 *
 * Thread-safety: pure functions; any thread. The config is read-only after load.
 */
#ifndef KY_RULES_H
#define KY_RULES_H

#include <stdbool.h>
#include <stdint.h>

#include "entry.h"

typedef enum ky_contract_status {
    KY_CONTRACT_OPEN = 1,
    KY_CONTRACT_CLOSED = 2,
} ky_contract_status;

/* Benefit reasons (subtype of benefit_paid). Part of the format; never renumbered. */
enum {
    KY_BENEFIT_A = 1,            /* shokibo: business closed, death */
    KY_BENEFIT_B = 2,            /* shokibo: age 65+ with 180+ months, officer retirement */
    KY_BENEFIT_QUASI = 3,        /* shokibo: e.g. incorporation without becoming an officer */
    KY_BENEFIT_CANCELLATION = 4, /* both: cancellation refund */
};

/* Derived state of one contract, updated in the same transaction as its entries. */
typedef struct ky_contract_state {
    uint64_t contract_id;                  /* 1..KY_CONTRACT_ID_MAX */
    uint8_t scheme;                        /* ky_scheme */
    uint8_t status;                        /* ky_contract_status */
    uint16_t member_type;                  /* scheme-defined member type */
    uint32_t months_paid;                  /* months with a premium (incl. prepaid, carried) */
    int64_t monthly_premium_jpy;           /* current monthly premium, JPY */
    int64_t total_paid_jpy;                /* premiums paid less reversals, JPY */
    int64_t loan_balance_jpy;              /* outstanding loan, JPY */
    uint64_t opened_seq;                   /* seq of contract_opened */
    uint64_t closed_seq;                   /* seq that closed it, or 0 */
    uint64_t last_seq;                     /* seq of the contract's latest entry */
    uint64_t entry_count;                  /* entries of this contract = last contract_seq */
    uint8_t last_leaf_hash[KY_HASH_BYTES]; /* leaf hash of the latest entry */
} ky_contract_state;

#define KY_CONTRACT_STATE_VERSION 1u
#define KY_CONTRACT_STATE_BYTES   112u

/* Loan limits; configurable (DESIGN §3.4). Percentages are of premiums paid. */
typedef struct ky_loan_tier {
    uint32_t months_paid_min; /* tier applies from this many months paid */
    uint32_t percent;         /* loan limit as % of total_paid_jpy */
} ky_loan_tier;

#define KY_LOAN_TIERS_MAX 4u

typedef struct ky_rules_config {
    ky_loan_tier shokibo_loan_tiers[KY_LOAN_TIERS_MAX]; /* ascending months_paid_min */
    uint32_t safety_loan_multiple;                      /* × premiums paid (10) */
    int64_t safety_loan_jpy_max;                        /* absolute cap (80,000,000) */
    int64_t safety_premium_total_jpy_max;               /* 8,000,000 */
} ky_rules_config;

/* Fills the defaults: shokibo 70 % from 12 months, 80 % from 36, 90 % from 120;
 * safety 10× premiums paid, at most 80,000,000 JPY; safety premiums stop at 8,000,000. */
void ky_rules_config_default(ky_rules_config *cfg);

/* Lookups the checks need, supplied by the ledger (they see the batch in progress). */
typedef struct ky_rules_view {
    void *ctx;
    /* *seq_out = seq of the premium entry holding (contract, month), 0 if unpaid.
     * Returns KY_OK or a storage error. */
    int (*month_paid)(void *ctx, uint64_t contract_id, uint32_t period_yyyymm, uint64_t *seq_out);
    /* Decodes the entry at seq into *out (payload may be NULL). KY_E_NOT_FOUND if absent. */
    int (*entry_get)(void *ctx, uint64_t seq, ky_entry *out);
} ky_rules_view;

/* Month-index changes an accepted entry makes: (period → seq), seq 0 frees the month. */
typedef struct ky_month_update {
    uint32_t period_yyyymm;
    uint64_t seq; /* premium entry now holding the month, or 0 */
} ky_month_update;

/* Judges a client event against the contract's state (NULL when not opened).
 * Returns KY_OK or the specific KY_E_* code of the first rule it breaks. On KY_OK for
 * a reversal, *ref_out holds the reversed entry (its payload pointer is not valid).
 * Never writes anything. */
int ky_rules_check(const ky_rules_config *cfg, const ky_rules_view *view, const ky_event *ev,
                   const ky_contract_state *cs, ky_entry *ref_out);

/* Applies an accepted client entry to *cs (zeroed for contract_opened) and writes up to
 * KY_PREPAID_MONTHS_MAX month updates. `ref` is the reversed entry for premium_reversed,
 * else NULL. Sets last_seq and entry_count; the caller sets last_leaf_hash. Asserts the
 * invariants (no negative totals). */
void ky_rules_apply(const ky_entry *e, const ky_entry *ref, ky_contract_state *cs,
                    ky_month_update *months, uint32_t *months_count);

/* Loan limit of a contract now, JPY. */
int64_t ky_rules_loan_limit(const ky_rules_config *cfg, const ky_contract_state *cs);

/* Premium validity for a scheme: KY_OK, KY_E_PREMIUM_RANGE or KY_E_PREMIUM_STEP. */
int ky_rules_premium_valid(uint8_t scheme, int64_t amount_jpy);

/* True if yyyymm is a month between 1960-01 and 2199-12. */
bool ky_rules_period_valid(uint32_t period_yyyymm);

/* Adds n months to yyyymm. */
uint32_t ky_rules_period_add(uint32_t period_yyyymm, uint32_t n);

/* Canonical encoding of contract state (KY_CONTRACT_STATE_BYTES, little-endian). */
void ky_contract_state_encode(const ky_contract_state *cs, uint8_t out[KY_CONTRACT_STATE_BYTES]);
/* Strict decode; KY_E_CORRUPT on a wrong length or version. */
int ky_contract_state_decode(const uint8_t *bytes, size_t len, ky_contract_state *cs);

#endif
