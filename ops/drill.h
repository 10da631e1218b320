/*
 * drill.h — `kyosaictl drill`: a switchover drill against a live primary/DR pair (see
 * drill.c for what it does and why).
 */
#ifndef KY_DRILL_H
#define KY_DRILL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ky_drill_opts {
    const char *endpoints[2];   /* the two nodes, any order */
    const char *server_keys[2]; /* their public keys (one for both allowed) */
    size_t server_key_count;    /* 0 (plaintext), 1 or 2 */
    const char *key_file;       /* operator+writer key, NULL for plaintext */
    bool back;                  /* switch back after the first handover */
} ky_drill_opts;

typedef struct ky_drill_leg {
    char from[64], to[64];
    uint64_t handed_over_seq; /* head at the handover */
    uint64_t node_pause_ms;   /* appends refused on the old primary */
    uint64_t swap_ms;         /* switchover command to both roles swapped and heads equal */
} ky_drill_leg;

typedef struct ky_drill_node {
    char endpoint[64];
    uint8_t role;
    uint64_t epoch, head_seq;
    char head_hash[65], merkle_root[65];
    bool chain_ok;          /* every prev_hash link 1..head, leaves equal on both nodes */
    uint64_t chain_checked; /* entries walked */
    uint64_t chain_bad_seq; /* first bad seq, 0 if none */
    char checkpoint[256];   /* the head as a C2SP checkpoint body (origin, size, root, epoch,
                               head), unsigned: `kyosaictl checkpoint --key` signs the same */
} ky_drill_node;

typedef struct ky_drill_report {
    uint64_t started_unix_ms, ended_unix_ms;
    uint64_t contract_id; /* the drill's own contract (payload-only entries) */
    ky_drill_leg legs[2];
    int leg_count;
    uint64_t write_pause_ms;    /* longest gap between acknowledgements seen by the load */
    uint64_t write_pause_at_ms; /* when it began, ms after the drill started */
    uint64_t acked, found;      /* acknowledged during the drill; found on the final primary */
    uint64_t refused, errors;   /* load answers that were not acknowledgements */
    ky_drill_node nodes[2];
    bool passed; /* RPO 0, chains verify, heads equal, handovers done */
    char error[256];
} ky_drill_report;

/* Runs the drill. Returns 0 passed, 1 failed (report says why), 3 could not run. */
int ky_drill_run(const ky_drill_opts *o, ky_drill_report *rep);

/* Prints the report as text (an operator reads it) or one JSON object (to keep). */
void ky_drill_print(FILE *out, const ky_drill_report *rep, bool json);

#endif
