/*
 * post_premium.c — libkyosai example: open a contract and post a year of premiums.
 *
 * Copy this to start an application service. It connects to the node endpoints given on
 * the command line (primary first), appends one batch — the contract opening followed by
 * 12 monthly premiums — prints each event's outcome, reads the contract back and exits 0
 * only if every step succeeded.
 *
 *   KYOSAI_KEY=app.key KYOSAI_SERVER_KEY=x25519:<node key hex> \
 *   build/examples/post_premium [-c contract_id] 127.0.0.1:7400 [127.0.0.1:7401 ...]
 *
 * Build against an installed library: cc post_premium.c $(pkg-config --cflags --libs kyosai)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "kyosai.h"

#define PREMIUM_MONTHS      12u
#define MONTHLY_PREMIUM_JPY 30000 /* shokibo: 1,000..70,000 JPY in steps of 500 */

/* The batch: event 0 opens the contract, events 1..12 pay April 2026 to March 2027. */
static void batch_build(kyosai_event *ev, uint64_t contract_id) {
    ev[0] = (kyosai_event){.kind = KYOSAI_KIND_CONTRACT_OPENED,
                           .scheme = KYOSAI_SCHEME_SHOKIBO,
                           .subtype = 1, /* member type */
                           .contract_id = contract_id,
                           .amount_jpy = MONTHLY_PREMIUM_JPY};
    for (uint32_t m = 0; m < PREMIUM_MONTHS; m++) {
        uint32_t month = 4 + m, year = 2026 + (month - 1) / 12;
        month = (month - 1) % 12 + 1;
        /* idem_key stays zero: the library generates a time-ordered key and writes it back,
         * so a later retry of this same array can never post twice. */
        ev[1 + m] = (kyosai_event){.kind = KYOSAI_KIND_PREMIUM_PAID,
                                   .scheme = KYOSAI_SCHEME_SHOKIBO,
                                   .contract_id = contract_id,
                                   .amount_jpy = MONTHLY_PREMIUM_JPY,
                                   .period_yyyymm = year * 100 + month};
    }
}

static int results_print(const kyosai_event *ev, const kyosai_result *res, uint32_t n) {
    int failed = 0;
    for (uint32_t i = 0; i < n; i++) {
        printf("event %2u kind=%u period=%u: %s", i, ev[i].kind, ev[i].period_yyyymm,
               kyosai_strerror(res[i].code));
        if (res[i].code == KYOSAI_OK) printf(" seq=%" PRIu64, res[i].seq);
        if (res[i].flags & KYOSAI_RESULT_DUPLICATE) printf(" (already posted)");
        printf("\n");
        failed |= res[i].code != KYOSAI_OK;
    }
    return failed;
}

int main(int argc, char **argv) {
    uint64_t contract_id = 100000000001u;
    int opt;
    while ((opt = getopt(argc, argv, "c:")) != -1) {
        if (opt != 'c') goto usage;
        contract_id = strtoull(optarg, NULL, 10);
    }
    if (optind >= argc) goto usage;

    kyosai_client *c;
    kyosai_options opts = {.client_name = "post_premium-example"};
    /* The secure channel: this program's key file and the node's public key. Without
     * them the connection is plaintext, which only a development node accepts. */
    const char *server_key = getenv("KYOSAI_SERVER_KEY");
    opts.key_file = getenv("KYOSAI_KEY");
    if (server_key != NULL) {
        opts.server_keys = &server_key;
        opts.server_key_count = 1;
    }
    int rc = kyosai_connect(&c, (const char *const *)argv + optind, (size_t)(argc - optind), &opts);
    if (rc != KYOSAI_OK) {
        fprintf(stderr, "connect: %s\n", kyosai_strerror(rc));
        return 1;
    }
    printf("connected to %s (libkyosai %s)\n", kyosai_endpoint(c), kyosai_version());

    kyosai_event ev[1 + PREMIUM_MONTHS];
    kyosai_result res[1 + PREMIUM_MONTHS];
    batch_build(ev, contract_id);
    rc = kyosai_append(c, ev, 1 + PREMIUM_MONTHS, res);
    if (rc != KYOSAI_OK) {
        /* The batch's fate is unknown: retrying later with this same ev[] is safe. */
        fprintf(stderr, "append: %s\n", kyosai_strerror(rc));
        kyosai_close(c);
        return 1;
    }
    int failed = results_print(ev, res, 1 + PREMIUM_MONTHS);

    kyosai_contract k;
    rc = kyosai_contract_get(c, contract_id, &k);
    if (rc == KYOSAI_OK)
        printf("contract %" PRIu64 ": status=%u months_paid=%u total_paid_jpy=%" PRId64
               " entries=%" PRIu64 " last_seq=%" PRIu64 "\n",
               k.contract_id, k.status, k.months_paid, k.total_paid_jpy, k.entry_count, k.last_seq);
    else
        fprintf(stderr, "contract_get: %s\n", kyosai_strerror(rc));
    kyosai_close(c);
    return failed || rc != KYOSAI_OK ? 1 : 0;

usage:
    fprintf(stderr, "usage: %s [-c contract_id] host:port [host:port ...]\n", argv[0]);
    return 2;
}
