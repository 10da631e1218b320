/*
 * verify.h — offline verification of a ledger's entries, trusting nothing but the bytes.
 *
 * Why: an auditor must be able to check, without trusting the node or its derived state,
 * that no entry was changed, dropped or reordered (DESIGN §1, §3.2). Verification walks
 * the entries in seq order and checks, for each: the XXH3 record checksum, a strict
 * decode, seq continuity, the prev_hash link to the previous leaf hash, and (from seq 1)
 * the contract chain: contract_seq continuity and contract_prev_hash. At the end of a
 * full walk it checks the head record and the Merkle root against what it computed.
 *
 * Threads: any thread; it uses read transactions only and works on a read-only handle.
 * Allocates a table of contracts seen (about 48 bytes per contract).
 */
#ifndef KY_VERIFY_H
#define KY_VERIFY_H

#include <stdbool.h>
#include <stdint.h>

#include "ledger.h"

typedef struct ky_verify_report {
    uint64_t from_seq;                     /* first seq checked */
    uint64_t to_seq;                       /* last seq asked for (clamped to the head) */
    uint64_t checked_count;                /* entries that passed every check */
    uint64_t contract_count;               /* distinct contracts seen (full walks) */
    uint64_t first_bad_seq;                /* 0 when everything verified */
    int bad_code;                          /* ky_err of the first failure, KY_OK if none */
    char reason[200];                      /* one sentence on the first failure */
    uint8_t last_leaf_hash[KY_HASH_BYTES]; /* leaf hash of the last checked entry */
    uint8_t merkle_root[KY_HASH_BYTES];    /* RFC 9162 root of 1..to_seq (full walks) */
    bool head_checked;                     /* walk covered 1..head: head record and root checked */
} ky_verify_report;

/* Verifies entries from_seq..to_seq (to_seq 0 or past the head means the head). With
 * from_seq 1 it also checks contract chains, the head record and the Merkle root.
 * Returns KY_OK when the walk ran (look at report->first_bad_seq), or KY_E_NOMEM /
 * KY_E_STORAGE / KY_E_INVALID_ARG when it could not run. progress may be NULL. */
int ky_verify_range(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, ky_progress_cb progress,
                    void *progress_ctx, ky_verify_report *report);

#endif
