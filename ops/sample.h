/*
 * sample.h — a deterministic, realistic workload of ky_events for the demo, the tests and
 * the benchmark.
 *
 * Why: throughput and correctness must be shown on data shaped like the schemes' own (DESIGN
 * §1), and a run must be repeatable bit for bit from its seed on any machine, forever. So the
 * generator uses its own splitmix64 PRNG, never rand(): rand() hides one process-wide state
 * (not reentrant; anti-pattern A5), and its algorithm and RAND_MAX differ between C libraries,
 * so the same seed would give different files on glibc and musl.
 *
 * Population (every figure an assumption drawn from the schemes' public reports):
 *   - Of `contracts`, round(contracts × 1430/1970) are shokibo (1.43 M vs 0.54 M members),
 *     ids 100000000001, 100000000002, ...; the rest are safety, ids 200000000001, ...
 *     Contract index i in [0, contracts) is shokibo for i < shokibo count, safety after.
 *   - shokibo premium: 1,000–70,000 JPY in steps of 500; 40 % in the 60,500–70,000 band
 *     (55 % of those at the 70,000 maximum), the rest skewed low; mean ≈ 42,000 JPY.
 *     Member type 1 sole proprietor (70 %), 2 company officer (27 %), 3 joint manager (3 %).
 *   - safety premium: 5,000–200,000 JPY in steps of 5,000; 35 % at the 200,000 maximum (it
 *     is tax-deductible), the rest uniform. Member type 1 corporation (65 %), 2 sole
 *     proprietor (35 %).
 *   Each contract's attributes and events come from a PRNG seeded by (seed, contract index)
 *   alone, so random order yields exactly the contract-order events, reordered by contract.
 *
 * Full mode (ky_sample_init), per contract: contract_opened (amount = monthly premium,
 * subtype = member type), then one premium_paid per month (period = start + m, amount = the
 * current monthly premium), with these extras, all valid under the ledger rules (DESIGN §3.4):
 *   - before a month's premium, 0.5 % of the time: premium_changed to a different valid premium;
 *   - 3 % of shokibo contracts with at least 13 months: one loan_disbursed (subtype 0) after 12
 *     or more premiums, 30–70 % of premiums paid so far rounded down to 1,000 JPY, and in
 *     half of those a later loan_repaid of the whole or half the balance;
 *   - 0.2 % of contracts: one contract_amended whose payload is
 *     {"doc":"AMD-<contract index, 9 digits>","sha256":"<SHA-256 of the doc id, hex>"};
 *   - safety premiums stop before the total would pass 8,000,000 JPY, so a contract may have
 *     fewer than `months` premiums (still consecutive). No reversals: their ref_seq would need
 *     the seqs the ledger assigns.
 *
 * Premium-only mode (ky_sample_premiums_init) yields one premium_paid per contract for one
 * period at each contract's opening premium, for contracts the caller opened first with
 * ky_sample_contract_opened (the benchmark's monthly collection run).
 *
 * Order: KY_SAMPLE_ORDER_CONTRACT visits contracts by index (ascending ids per scheme);
 * KY_SAMPLE_ORDER_RANDOM visits them in a seeded pseudo-random permutation computed by a
 * 4-round Feistel network with cycle walking, so it needs no O(n) array.
 *
 * Idempotency keys, time-ordered in arrival order (DESIGN §3.5):
 *   bytes 0..7  = big-endian (key_base + counter), where key_base = Unix ms of the first day
 *                 of the (start) period, 00:00 UTC, shifted left 16 bits (so the high bytes
 *                 read like a UUIDv7 timestamp), and counter = the event's index in the
 *                 stream: full mode 0, 1, 2, ...; ky_sample_contract_opened uses the contract
 *                 index; premium-only mode uses contracts + emission index, after the openings;
 *   bytes 8..15 = a tag hashed from (mode, seed, contracts, months, period), so different
 *                 runs never share a key while the same run reproduces its keys exactly.
 * Keys increase along the stream whatever the order, as a real client's clock-based keys do.
 *
 * Memory: a ky_sample is caller-allocated, allocates nothing, and holds the payload of the
 * last event. Thread-safety: one ky_sample per thread.
 */
#ifndef KY_SAMPLE_H
#define KY_SAMPLE_H

#include <stdbool.h>
#include <stdint.h>

#include "../ledger/entry.h"

/* Contracts per sample: 100 M is 50× both schemes' membership and keeps the shokibo id range
 * (100000000001..) below the safety one (200000000001..). */
#define KY_SAMPLE_CONTRACTS_MAX 100000000ull

/* Months of premiums per contract in full mode: 50 years. */
#define KY_SAMPLE_MONTHS_MAX 600u

/* First and last ids per scheme (consecutive from the first). */
#define KY_SAMPLE_SHOKIBO_ID_FIRST 100000000001ull
#define KY_SAMPLE_SAFETY_ID_FIRST  200000000001ull

/* Payload bytes of a generated contract_amended: {"doc":..,"sha256":..} is 99 bytes. */
#define KY_SAMPLE_PAYLOAD_BYTES 128u

typedef enum ky_sample_order {
    KY_SAMPLE_ORDER_CONTRACT = 0, /* contract index ascending */
    KY_SAMPLE_ORDER_RANDOM = 1,   /* seeded permutation of the contracts */
} ky_sample_order;

/* Per-contract progress of the full mode. Internal; read nothing here. */
typedef struct ky_sample_contract {
    uint64_t index;       /* contract index in [0, contracts) */
    uint64_t rng;         /* splitmix64 state of this contract */
    uint64_t contract_id; /* id derived from index */
    uint8_t scheme;       /* ky_scheme */
    uint8_t stage;        /* next step within the current month */
    uint16_t member_type; /* scheme-defined */
    uint32_t month;       /* index of the next premium month, 0-based */
    uint32_t loan_month;  /* month index of the loan, or UINT32_MAX */
    uint32_t repay_month; /* month index of the repayment, or UINT32_MAX */
    uint32_t amend_month; /* month index of the amendment, or UINT32_MAX */
    int64_t premium_jpy;  /* current monthly premium */
    int64_t paid_jpy;     /* premiums paid so far */
    int64_t loan_jpy;     /* outstanding loan */
} ky_sample_contract;

typedef struct ky_sample {
    uint64_t contract_count;    /* contracts in the sample */
    uint64_t shokibo_count;     /* contracts with index < this are shokibo */
    uint32_t month_count;       /* full mode: premium months per contract */
    uint32_t start_yyyymm;      /* full mode: first premium month; premium mode: the month */
    uint64_t seed;              /* PRNG seed */
    bool premiums_only;         /* premium-only mode */
    bool started;               /* full mode: cur holds a contract */
    ky_sample_order order;      /* visiting order */
    uint32_t feistel_half_bits; /* random order: bits per Feistel half */
    uint64_t feistel_keys[4];   /* random order: round keys */
    uint64_t position;          /* contracts begun so far (visiting position) */
    uint64_t event_index;       /* events yielded so far */
    uint64_t key_base;          /* head of idem keys, see above */
    uint64_t key_tag;           /* tail of idem keys, see above */
    ky_sample_contract cur;     /* full mode: the contract in progress */
    uint8_t payload[KY_SAMPLE_PAYLOAD_BYTES]; /* payload of the last event */
} ky_sample;

/* Full mode: `contracts` contracts in 1..KY_SAMPLE_CONTRACTS_MAX, `months` premium months
 * in 0..KY_SAMPLE_MONTHS_MAX starting at start_yyyymm (a valid month from 197001 whose
 * last month is at most 219912). Allocates nothing. Returns KY_OK, or KY_E_RANGE with s
 * unusable when an argument is outside those bounds. */
int ky_sample_init(ky_sample *s, uint64_t contracts, uint32_t months, uint64_t seed,
                   uint32_t start_yyyymm, ky_sample_order order);

/* Premium-only mode: one premium_paid for `period_yyyymm` (197001..219912) per contract.
 * The contracts must have been opened (ky_sample_contract_opened) and hold less than
 * 8,000,000 - 200,000 JPY each if safety. Returns KY_OK or KY_E_RANGE as above. */
int ky_sample_premiums_init(ky_sample *s, uint64_t contracts, uint32_t period_yyyymm, uint64_t seed,
                            ky_sample_order order);

/* Yields the next event into ev; false when the sample is exhausted (ev untouched).
 * ev->payload points into s and stays valid until the next call with s. */
bool ky_sample_next(ky_sample *s, ky_event *ev);

/* The contract_opened event of contract_index (< s's contract count) in s's population,
 * identical in amounts to the one full mode yields but with its own idem key (counter =
 * contract_index, tag of s's mode with a distinct bit), so the benchmark can open every
 * contract before a premium-only run made with the same contracts and seed. Pure. */
void ky_sample_contract_opened(const ky_sample *s, uint64_t contract_index, ky_event *ev);

/* Events yielded so far. */
uint64_t ky_sample_event_count(const ky_sample *s);

#endif
