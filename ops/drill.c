/*
 * drill.c — `kyosaictl drill`: a switchover drill against a live pair, with a report.
 *
 * Why a tool and not a runbook: an operator's drill must produce evidence an auditor can
 * keep — the write pause clients saw (RTO), that every write acknowledged before the
 * handover is on the new primary (RPO 0), both heads and Merkle roots, and whether both
 * chains verify link by link — measured the same way every time.
 *
 * What it does (through libkyosai only, like any application):
 *   1. STATUS of both endpoints: one strict primary, one streaming replica, same head.
 *   2. Opens one drill contract (id KY_DRILL_CONTRACT_BASE + time) and keeps a light load
 *      of contract_amended entries on it (payload "kyosai drill ..."; no money moves),
 *      from a client that knows both endpoints, recording every acknowledgement.
 *   3. SWITCHOVER on the primary; waits until the pair has swapped roles and heads agree;
 *      with --back, switches back the same way.
 *   4. Stops the load, then checks every acknowledged entry on the (final) primary by seq
 *      and idempotency key, fetches both heads, and walks both chains (prev_hash links,
 *      equal leaf hashes on both nodes) from seq 1.
 *   5. Prints the report; with --report FILE also writes it as JSON.
 */
#include "drill.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../client/kyosai.h"
#include "cli_util.h"

#define KY_DRILL_CONTRACT_BASE 900000000000000ull /* drill contracts: 9e14 + unix seconds */
#define KY_DRILL_ACKS_MAX      100000u            /* acknowledgements recorded per drill */
#define KY_DRILL_LOAD_GAP_MS   5u                 /* between synthetic appends */
#define KY_DRILL_SETTLE_MS     1000u              /* load before and after each handover */
#define KY_DRILL_SWAP_MS_MAX   30000u             /* roles must swap within this */

typedef struct drill_ack {
    uint64_t seq;
    uint8_t idem[KYOSAI_IDEM_KEY_BYTES];
} drill_ack;

typedef struct drill_load {
    const ky_drill_opts *o;
    uint64_t contract_id;
    atomic_bool stop;
    drill_ack *acks;
    atomic_uint_fast64_t ack_count;
    uint64_t refused, errors; /* answers that were not acknowledgements */
    uint64_t max_gap_ms;      /* longest time between two acknowledgements */
    uint64_t gap_start_ms;    /* when that gap began (ms since the drill started) */
    uint64_t t0_ms;
} drill_load;

static uint64_t now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static void sleep_ms(uint64_t ms) {
    struct timespec t = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&t, NULL);
}

static int connect_eps(const ky_drill_opts *o, const char *const *eps, size_t n,
                       const char *const *keys, kyosai_client **c) {
    kyosai_options opt = {2000, 30000, 8, "kyosaictl-drill", NULL, NULL, 0};
    if (o->key_file != NULL) {
        opt.key_file = o->key_file;
        opt.server_keys = keys;
        opt.server_key_count = n;
    }
    return kyosai_connect(c, eps, n, &opt);
}

static int status_of(const ky_drill_opts *o, int i, kyosai_status *s) {
    kyosai_client *c = NULL;
    const char *ep[1] = {o->endpoints[i]};
    const char *key[1] = {o->server_keys[o->server_key_count == 1 ? 0 : i]};
    int rc = connect_eps(o, ep, 1, key, &c);
    if (rc == KYOSAI_OK) rc = kyosai_status_get(c, s);
    kyosai_close(c);
    return rc;
}

/* ---- the synthetic load ------------------------------------------------------------------- */

static void *load_main(void *arg) {
    drill_load *l = arg;
    const ky_drill_opts *o = l->o;
    kyosai_client *c = NULL;
    const char *keys[2] = {o->server_keys[0], o->server_keys[o->server_key_count == 1 ? 0 : 1]};
    if (connect_eps(o, o->endpoints, 2, keys, &c) != KYOSAI_OK) {
        l->errors++;
        return NULL;
    }
    uint64_t last_ack = now_ms(), n = 0;
    while (!atomic_load(&l->stop) && atomic_load(&l->ack_count) < KY_DRILL_ACKS_MAX) {
        char text[64];
        int tl =
            snprintf(text, sizeof text, "kyosai drill %" PRIu64 " #%" PRIu64, l->contract_id, ++n);
        kyosai_event ev = {.kind = KYOSAI_KIND_CONTRACT_AMENDED,
                           .scheme = KYOSAI_SCHEME_SHOKIBO,
                           .contract_id = l->contract_id,
                           .payload = text,
                           .payload_bytes = (uint32_t)tl};
        kyosai_result r;
        int rc = kyosai_append(c, &ev, 1, &r);
        uint64_t t = now_ms();
        if (rc == KYOSAI_OK && r.code == KYOSAI_OK) {
            if (t - last_ack > l->max_gap_ms) {
                l->max_gap_ms = t - last_ack;
                l->gap_start_ms = last_ack - l->t0_ms;
            }
            last_ack = t;
            uint64_t k = atomic_load(&l->ack_count);
            l->acks[k].seq = r.seq;
            memcpy(l->acks[k].idem, ev.idem_key, KYOSAI_IDEM_KEY_BYTES);
            atomic_store(&l->ack_count, k + 1);
        } else if (rc == KYOSAI_OK) {
            l->refused++;
        } else {
            l->errors++; /* fate unknown after the library's retries */
        }
        sleep_ms(KY_DRILL_LOAD_GAP_MS);
    }
    kyosai_close(c);
    return NULL;
}

static int open_drill_contract(const ky_drill_opts *o, uint64_t id) {
    kyosai_client *c = NULL;
    const char *keys[2] = {o->server_keys[0], o->server_keys[o->server_key_count == 1 ? 0 : 1]};
    int rc = connect_eps(o, o->endpoints, 2, keys, &c);
    kyosai_event ev = {.kind = KYOSAI_KIND_CONTRACT_OPENED,
                       .scheme = KYOSAI_SCHEME_SHOKIBO,
                       .subtype = 1,
                       .contract_id = id,
                       .amount_jpy = 1000,
                       .payload = "kyosai drill contract",
                       .payload_bytes = 21};
    kyosai_result r;
    if (rc == KYOSAI_OK) rc = kyosai_append(c, &ev, 1, &r);
    if (rc == KYOSAI_OK && r.code != KYOSAI_OK) rc = r.code;
    kyosai_close(c);
    return rc;
}

/* ---- handover ----------------------------------------------------------------------------- */

/* Switchover from endpoint p to the other; waits until roles swapped and heads agree. */
static int handover(const ky_drill_opts *o, int p, ky_drill_report *rep, int leg) {
    kyosai_client *c = NULL;
    const char *ep[1] = {o->endpoints[p]};
    const char *key[1] = {o->server_keys[o->server_key_count == 1 ? 0 : p]};
    uint64_t head = 0, pause = 0;
    uint64_t t0 = now_ms();
    int rc = connect_eps(o, ep, 1, key, &c);
    if (rc == KYOSAI_OK) rc = kyosai_switchover(c, &head, &pause);
    if (rc != KYOSAI_OK)
        snprintf(rep->error, sizeof rep->error, "switchover on %s: %s (%s)", o->endpoints[p],
                 kyosai_strerror(rc), kyosai_last_error(c));
    kyosai_close(c);
    if (rc != KYOSAI_OK) return rc;
    rep->legs[leg].handed_over_seq = head;
    rep->legs[leg].node_pause_ms = pause;
    for (;;) {
        kyosai_status a, b;
        if (status_of(o, p, &a) == KYOSAI_OK && status_of(o, 1 - p, &b) == KYOSAI_OK &&
            a.role == 2 && b.role == 1 && a.head_seq == b.head_seq && a.peer_connected)
            break;
        if (now_ms() - t0 > KY_DRILL_SWAP_MS_MAX) {
            snprintf(rep->error, sizeof rep->error, "roles did not swap within %u ms",
                     KY_DRILL_SWAP_MS_MAX);
            return KYOSAI_E_TIMEOUT;
        }
        sleep_ms(20);
    }
    rep->legs[leg].swap_ms = now_ms() - t0;
    snprintf(rep->legs[leg].from, sizeof rep->legs[leg].from, "%s", o->endpoints[p]);
    snprintf(rep->legs[leg].to, sizeof rep->legs[leg].to, "%s", o->endpoints[1 - p]);
    return KYOSAI_OK;
}

/* ---- checks ------------------------------------------------------------------------------- */

typedef struct chain_ctx {
    uint64_t next_seq;
    uint8_t prev[KYOSAI_HASH_BYTES];
    uint8_t (*leaves)[KYOSAI_HASH_BYTES]; /* node 0's leaves, to compare node 1's with */
    uint64_t leaves_cap;
    bool compare;
    uint64_t bad_seq; /* first seq that broke a link or differed, 0 if none */
} chain_ctx;

static int chain_cb(void *ctx, const kyosai_entry *e, const uint8_t *bytes, size_t len) {
    (void)bytes, (void)len;
    chain_ctx *x = ctx;
    bool ok = e->seq == x->next_seq && memcmp(e->prev_hash, x->prev, KYOSAI_HASH_BYTES) == 0;
    if (ok && e->seq <= x->leaves_cap) {
        if (x->compare)
            ok = memcmp(x->leaves[e->seq - 1], e->leaf_hash, KYOSAI_HASH_BYTES) == 0;
        else
            memcpy(x->leaves[e->seq - 1], e->leaf_hash, KYOSAI_HASH_BYTES);
    }
    if (!ok) {
        x->bad_seq = e->seq;
        return 1;
    }
    memcpy(x->prev, e->leaf_hash, KYOSAI_HASH_BYTES);
    x->next_seq++;
    return 0;
}

/* Walks 1..head of endpoint i checking every prev_hash link (and, for the second node,
 * that every leaf equals the first node's). */
static int chain_walk(const ky_drill_opts *o, int i, uint64_t head, chain_ctx *x) {
    kyosai_client *c = NULL;
    const char *ep[1] = {o->endpoints[i]};
    const char *key[1] = {o->server_keys[o->server_key_count == 1 ? 0 : i]};
    int rc = connect_eps(o, ep, 1, key, &c);
    x->next_seq = 1;
    memset(x->prev, 0, sizeof x->prev);
    x->bad_seq = 0;
    uint64_t next = 1;
    while (rc == KYOSAI_OK && next != 0 && next <= head && x->bad_seq == 0)
        rc = kyosai_range(c, next, head, KYOSAI_READ_COUNT_MAX, chain_cb, x, &next);
    kyosai_close(c);
    if (rc == 1) rc = KYOSAI_OK; /* the callback stopped at a bad link */
    return rc;
}

static void check_acks(const ky_drill_opts *o, int primary, drill_load *l, ky_drill_report *rep) {
    kyosai_client *c = NULL;
    const char *ep[1] = {o->endpoints[primary]};
    const char *key[1] = {o->server_keys[o->server_key_count == 1 ? 0 : primary]};
    if (connect_eps(o, ep, 1, key, &c) != KYOSAI_OK) return;
    uint64_t n = atomic_load(&l->ack_count);
    rep->acked = n;
    for (uint64_t k = 0; k < n; k++) {
        uint8_t buf[KYOSAI_ENTRY_BYTES_MAX];
        size_t len = 0;
        kyosai_entry e;
        bool found = kyosai_get(c, l->acks[k].seq, buf, sizeof buf, &len, &e) == KYOSAI_OK &&
                     memcmp(e.idem_key, l->acks[k].idem, KYOSAI_IDEM_KEY_BYTES) == 0;
        if (found) rep->found++;
    }
    kyosai_close(c);
}

static void heads(const ky_drill_opts *o, ky_drill_report *rep) {
    for (int i = 0; i < 2; i++) {
        kyosai_status s;
        ky_drill_node *n = &rep->nodes[i];
        snprintf(n->endpoint, sizeof n->endpoint, "%s", o->endpoints[i]);
        if (status_of(o, i, &s) != KYOSAI_OK) continue;
        n->role = s.role;
        n->epoch = s.epoch;
        n->head_seq = s.head_seq;
        ky_cli_hex(s.head_hash, KYOSAI_HASH_BYTES, n->head_hash);
        ky_cli_hex(s.merkle_root, KYOSAI_HASH_BYTES, n->merkle_root);
        char id[2 * KYOSAI_NODE_ID_BYTES + 1], root[64], head[64];
        ky_cli_hex(s.node_id, KYOSAI_NODE_ID_BYTES, id);
        sodium_bin2base64(root, sizeof root, s.merkle_root, KYOSAI_HASH_BYTES,
                          sodium_base64_VARIANT_ORIGINAL);
        sodium_bin2base64(head, sizeof head, s.head_hash, KYOSAI_HASH_BYTES,
                          sodium_base64_VARIANT_ORIGINAL);
        snprintf(n->checkpoint, sizeof n->checkpoint,
                 "kyosai-ledger/%s\n%" PRIu64 "\n%s\nepoch %" PRIu64 "\nhead %s\n", id, s.head_seq,
                 root, s.epoch, head);
    }
}

/* The checkpoint body as one JSON string (its only special characters are newlines). */
static void json_lines(FILE *out, const char *text) {
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
}

/* UTC wall-clock time of a Unix ms as ISO 8601. */
static void iso_time(uint64_t unix_ms, char out[32]) {
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(unix_ms % 1000));
}

static void verify_chains(const ky_drill_opts *o, ky_drill_report *rep) {
    uint64_t head = rep->nodes[0].head_seq < rep->nodes[1].head_seq ? rep->nodes[0].head_seq
                                                                    : rep->nodes[1].head_seq;
    chain_ctx x = {0};
    x.leaves_cap = head;
    x.leaves = calloc(head ? head : 1, KYOSAI_HASH_BYTES);
    if (x.leaves == NULL) return;
    for (int i = 0; i < 2; i++) {
        x.compare = i == 1;
        int rc = chain_walk(o, i, head, &x);
        ky_drill_node *n = &rep->nodes[i];
        n->chain_checked = rc == KYOSAI_OK ? x.next_seq - 1 : 0;
        n->chain_ok = rc == KYOSAI_OK && x.bad_seq == 0 && x.next_seq == head + 1;
        n->chain_bad_seq = x.bad_seq;
    }
    free(x.leaves);
}

int ky_drill_run(const ky_drill_opts *o, ky_drill_report *rep) {
    memset(rep, 0, sizeof *rep);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    rep->started_unix_ms = (uint64_t)wall.tv_sec * 1000u + (uint64_t)wall.tv_nsec / 1000000u;
    kyosai_status s0, s1;
    int rc0 = status_of(o, 0, &s0), rc1 = status_of(o, 1, &s1);
    int p = rc0 == KYOSAI_OK && s0.role == 1 ? 0 : 1;
    const kyosai_status *pr = p == 0 ? &s0 : &s1, *rr = p == 0 ? &s1 : &s0;
    if (rc0 != KYOSAI_OK || rc1 != KYOSAI_OK || pr->role != 1 || pr->mode != 1 || rr->role != 2 ||
        !rr->peer_connected) {
        snprintf(rep->error, sizeof rep->error,
                 "the pair is not ready for a drill: it needs a "
                 "strict primary and a streaming replica (kyosaictl status shows both)");
        heads(o, rep); /* what each node is, for the report */
        return 1;
    }
    drill_load l = {.o = o, .contract_id = KY_DRILL_CONTRACT_BASE + (uint64_t)wall.tv_sec};
    l.acks = calloc(KY_DRILL_ACKS_MAX, sizeof *l.acks);
    l.t0_ms = now_ms();
    int rc = l.acks ? open_drill_contract(o, l.contract_id) : KYOSAI_E_NOMEM;
    if (rc != KYOSAI_OK) {
        snprintf(rep->error, sizeof rep->error, "cannot open the drill contract: %s",
                 kyosai_strerror(rc));
        free(l.acks);
        heads(o, rep);
        return 3;
    }
    rep->contract_id = l.contract_id;
    pthread_t th;
    pthread_create(&th, NULL, load_main, &l);
    sleep_ms(KY_DRILL_SETTLE_MS);
    rc = handover(o, p, rep, 0);
    rep->leg_count = 1;
    if (rc == KYOSAI_OK && o->back) {
        sleep_ms(KY_DRILL_SETTLE_MS);
        rc = handover(o, 1 - p, rep, 1);
        rep->leg_count = 2;
    }
    sleep_ms(KY_DRILL_SETTLE_MS);
    atomic_store(&l.stop, true);
    pthread_join(th, NULL);
    rep->write_pause_ms = l.max_gap_ms;
    rep->write_pause_at_ms = l.gap_start_ms;
    rep->refused = l.refused;
    rep->errors = l.errors;
    int final_primary = rep->leg_count == 2 && rc == KYOSAI_OK ? p : 1 - p;
    check_acks(o, final_primary, &l, rep);
    heads(o, rep);
    verify_chains(o, rep);
    clock_gettime(CLOCK_REALTIME, &wall);
    rep->ended_unix_ms = (uint64_t)wall.tv_sec * 1000u + (uint64_t)wall.tv_nsec / 1000000u;
    free(l.acks);
    rep->passed = rc == KYOSAI_OK && rep->acked > 0 && rep->found == rep->acked &&
                  rep->nodes[0].chain_ok && rep->nodes[1].chain_ok &&
                  strcmp(rep->nodes[0].head_hash, rep->nodes[1].head_hash) == 0;
    return rep->passed ? 0 : 1;
}

/* ---- the report --------------------------------------------------------------------------- */

static const char *role_text(uint8_t r) {
    return r == 1 ? "primary" : r == 2 ? "replica" : r == 3 ? "standalone" : "unreachable";
}

static void print_json(FILE *out, const ky_drill_report *r) {
    fprintf(out,
            "{\"passed\":%s,\"started_unix_ms\":%" PRIu64 ",\"ended_unix_ms\":%" PRIu64
            ",\"drill_contract\":%" PRIu64 ",\"rto_write_pause_ms\":%" PRIu64
            ",\"acknowledged\":%" PRIu64 ",\"found_after\":%" PRIu64 ",\"rpo_lost\":%" PRIu64
            ",\"refused\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"legs\":[",
            r->passed ? "true" : "false", r->started_unix_ms, r->ended_unix_ms, r->contract_id,
            r->write_pause_ms, r->acked, r->found, r->acked - r->found, r->refused, r->errors);
    for (int i = 0; i < r->leg_count; i++)
        fprintf(out,
                "%s{\"from\":\"%s\",\"to\":\"%s\",\"handed_over_seq\":%" PRIu64
                ",\"node_pause_ms\":%" PRIu64 ",\"swap_ms\":%" PRIu64 "}",
                i ? "," : "", r->legs[i].from, r->legs[i].to, r->legs[i].handed_over_seq,
                r->legs[i].node_pause_ms, r->legs[i].swap_ms);
    fprintf(out, "],\"nodes\":[");
    for (int i = 0; i < 2; i++) {
        const ky_drill_node *n = &r->nodes[i];
        fprintf(out,
                "%s{\"endpoint\":\"%s\",\"role\":\"%s\",\"epoch\":%" PRIu64 ",\"head_seq\":%" PRIu64
                ",\"head_hash\":\"%s\",\"merkle_root\":\"%s\""
                ",\"chain_ok\":%s,\"chain_checked\":%" PRIu64 ",\"chain_bad_seq\":%" PRIu64
                ",\"checkpoint\":\"",
                i ? "," : "", n->endpoint, role_text(n->role), n->epoch, n->head_seq, n->head_hash,
                n->merkle_root, n->chain_ok ? "true" : "false", n->chain_checked, n->chain_bad_seq);
        json_lines(out, n->checkpoint);
        fputs("\"}", out);
    }
    fprintf(out, "],\"error\":\"%s\"}\n", r->error);
}

void ky_drill_print(FILE *out, const ky_drill_report *r, bool json) {
    if (json) {
        print_json(out, r);
        return;
    }
    fprintf(out, "switchover drill: %s\n", r->passed ? "PASSED" : "FAILED");
    if (r->error[0]) fprintf(out, "  error            %s\n", r->error);
    char t0[32], t1[32];
    uint64_t ended = r->ended_unix_ms > r->started_unix_ms ? r->ended_unix_ms : r->started_unix_ms;
    iso_time(r->started_unix_ms, t0);
    iso_time(ended, t1);
    fprintf(out, "  started, ended   %s, %s\n", t0, t1);
    fprintf(out, "  duration         %.1f s (drill contract %" PRIu64 ", payload-only entries)\n",
            (double)(ended - r->started_unix_ms) / 1000.0, r->contract_id);
    for (int i = 0; i < r->leg_count; i++)
        fprintf(out,
                "  handover %d       %s -> %s at seq %" PRIu64 "; node paused writes %" PRIu64
                " ms; roles swapped in %" PRIu64 " ms\n",
                i + 1, r->legs[i].from, r->legs[i].to, r->legs[i].handed_over_seq,
                r->legs[i].node_pause_ms, r->legs[i].swap_ms);
    fprintf(out, "  RTO              longest write pause seen by clients: %" PRIu64 " ms\n",
            r->write_pause_ms);
    fprintf(out,
            "  RPO              %" PRIu64 " acknowledged, %" PRIu64
            " found on the new primary, %" PRIu64 " lost\n",
            r->acked, r->found, r->acked - r->found);
    fprintf(out, "  load             %" PRIu64 " refused, %" PRIu64 " failed after retries\n",
            r->refused, r->errors);
    for (int i = 0; i < 2; i++) {
        const ky_drill_node *n = &r->nodes[i];
        fprintf(out, "  %-16s %s, epoch %" PRIu64 ", head %" PRIu64 " %.16s..., merkle %.16s...\n",
                n->endpoint, role_text(n->role), n->epoch, n->head_seq, n->head_hash,
                n->merkle_root);
        fprintf(out, "  %-16s chain %s (%" PRIu64 " entries walked%s)\n", "",
                n->chain_ok ? "verifies" : "BROKEN", n->chain_checked,
                n->chain_bad_seq ? ", first bad seq shown in JSON" : "");
        if (n->checkpoint[0] == '\0') continue; /* unreachable */
        fprintf(out, "  %-16s checkpoint (unsigned; `kyosaictl checkpoint` signs it):\n", "");
        for (const char *p = n->checkpoint; *p;) {
            const char *e = strchr(p, '\n');
            int len = e ? (int)(e - p) : (int)strlen(p);
            fprintf(out, "  %-16s   %.*s\n", "", len, p);
            p += len + (e != NULL);
        }
    }
}
