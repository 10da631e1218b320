/*
 * cli_util.h — output, parsing and progress helpers of kyosaictl, and its post/sample
 * commands' engines (ops/post.c), kept out of kyosaictl.c so tests can drive them.
 *
 * Why: every command prints entries, contracts and reports the same way, as text for an
 * operator and as one JSON object per line for scripts; progress bars appear only on a
 * terminal. Single-threaded (the CLI's thread).
 */
#ifndef KY_CLI_UTIL_H
#define KY_CLI_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/ky_err.h"
#include "../ledger/ledger.h"
#include "../ledger/verify.h"

#define KY_CLI_VERSION "0.1.0"

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void ky_cli_hex(const uint8_t *bytes, size_t n, char *out);

/* Parses a decimal u64 in [min, max]; 0 on success, -1 otherwise (no partial parses). */
int ky_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

void ky_cli_print_entry(FILE *out, const ky_entry *e, const uint8_t leaf[KY_HASH_BYTES], bool json);
void ky_cli_print_contract(FILE *out, const ky_contract_state *cs, bool json);
/* The head, the acknowledged seq, the quarantine and the epoch history (epoch[i] began at
 * first_seq[i], i < n; the full count is epoch_count). */
void ky_cli_print_head(FILE *out, const char *dir, const ky_ledger_head *h, const uint64_t *epoch,
                       const uint64_t *first_seq, uint32_t n, uint32_t epoch_count, bool json);
void ky_cli_print_verify(FILE *out, const ky_verify_report *rep, double seconds, bool json);

/* A progress bar on stderr, drawn only when stderr is a terminal and not quiet. */
typedef struct ky_cli_progress {
    const char *label; /* what is in progress */
    bool enabled;      /* stderr is a tty and not --quiet */
    uint64_t last_ms;  /* last redraw, ms (monotonic) */
    bool drawn;        /* something is on the line */
} ky_cli_progress;

void ky_cli_progress_init(ky_cli_progress *p, const char *label, bool quiet);
/* ky_progress_cb-compatible: ctx is a ky_cli_progress. Redraws at most 10 times/s. */
void ky_cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void ky_cli_progress_done(ky_cli_progress *p);

/* Totals of one `post` run. */
typedef struct ky_cli_post_summary {
    uint64_t line_count;      /* non-empty lines read (CSV header excluded) */
    uint64_t posted_count;    /* new entries written */
    uint64_t duplicate_count; /* events already in the ledger (idempotent retries) */
    uint64_t refused_count;   /* events the ledger refused */
    uint64_t bad_line_count;  /* lines that could not be parsed (nothing written) */
    uint64_t refused_by_code[KY_E__COUNT + 1]; /* indexed by -ky_err */
    uint64_t first_seq, last_seq;              /* range of new entries, 0 if none */
    double seconds;                            /* wall time */
} ky_cli_post_summary;

/* Posts every line of path ("-" = stdin) in batches of up to KY_LEDGER_BATCH_COUNT_MAX.
 * Bad lines and refusals are reported on stderr with their line numbers. Returns KY_OK
 * when the file was read to the end (look at the summary), or the error that stopped it
 * (KY_E_IO, a batch-wide ledger error). */
int ky_cli_post_file(ky_ledger *l, const char *path, bool quiet, ky_cli_post_summary *sum);
/* Base of derived idempotency keys for a file: its mtime in µs (now, for a pipe). */
uint64_t ky_cli_file_base(FILE *f);
void ky_cli_print_post_summary(FILE *out, const ky_cli_post_summary *sum, bool json);

/* Writes a sample workload as JSON lines (ops/sample.h generator). */
int ky_cli_sample_write(FILE *out, uint64_t contracts, uint32_t months, uint64_t seed,
                        uint32_t start_yyyymm);

#endif
