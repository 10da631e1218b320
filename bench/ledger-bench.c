/*
 * ledger-bench — the ledger's append and verify rates as ratios of limits measured in the
 * same run (not a test; machines here are shared and noisy, so only ratios mean much).
 *
 * For each batch size (1, 100, 10,000) and each arrival order (contract order, random
 * order) it appends premium_paid events for contracts opened beforehand (untimed) to:
 *   ledger — the real engine: rules, encoding, SHA-256 chain, Merkle range, indexes;
 *   raw    — bare LMDB doing exactly the same key writes in the same order with the same
 *            commit pattern: the entry (same length, MDB_APPEND), history, contract
 *            state, paid month, idempotency key (sorted per batch, as the ledger does),
 *            head and Merkle meta records; no hashing, encoding, reads or rules.
 * Both use a fresh directory and real fsync (LMDB's default durable commit). Then it times
 * `verify` of the largest ledger and the raw SHA-256 rate on entry-sized inputs.
 * Batch size 1 costs one fsync per event, so it runs on fewer events (printed).
 *
 * --profile-apply times a replica's ky_ledger_apply of a filled primary's entries instead.
 *
 * Usage: ledger-bench [--events N] [--dir PATH] [--quick]
 *                     [--profile-random|-contract|-apply (last)]
 */
#include <inttypes.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/ky_err.h"
#include "../ledger/ledger.h"
#include "../ledger/replica.h"
#include "../ledger/verify.h"

typedef struct bench_cfg {
    uint64_t events; /* premium events at batch 10,000 */
    const char *dir; /* scratch directory */
} bench_cfg;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, int rc) {
    fprintf(stderr, "ledger-bench: %s: %s\n", what, rc < 0 ? ky_strerror(rc) : mdb_strerror(rc));
    exit(3);
}

static void rmrf(const char *path) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) die("rm", KY_E_IO);
}

/* Contract of the i-th event: identity, or a fixed pseudo-random permutation. */
static uint64_t contract_of(uint64_t i, uint64_t n, bool random_order) {
    if (!random_order) return i;
    /* multiplicative permutation mod n with a multiplier coprime to n */
    uint64_t a = 2654435761u;
    while (n % a == 0 || a % 2 == 0) a++;
    return (i * a + 12345) % n;
}

static int64_t premium_of(uint64_t c) {
    return 1000 + (int64_t)(c * 7919 % 139) * 500;
}

static void make_event(ky_event *e, uint64_t c, uint8_t kind, uint64_t key) {
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->scheme = KY_SCHEME_SHOKIBO;
    e->contract_id = 100000000000ull + c;
    e->amount_jpy = premium_of(c);
    if (kind == KY_KIND_CONTRACT_OPENED) e->subtype = 1;
    if (kind == KY_KIND_PREMIUM_PAID) e->period_yyyymm = 202604;
    ky_put_u64be(e->idem_key, 0x0193000000000000ull + key); /* time-ordered keys */
}

/* ---- the ledger ----------------------------------------------------------------------- */

static ky_ledger *ledger_fresh(const char *dir, uint64_t contracts) {
    rmrf(dir);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dir;
    o.create = true;
    ky_ledger *l;
    int rc = ky_ledger_open(&l, &o);
    if (rc == KY_OK) rc = ky_ledger_epoch_begin(l, 1, NULL);
    if (rc != KY_OK) die("ledger open", rc);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result res[KY_LEDGER_BATCH_COUNT_MAX];
    for (uint64_t c = 0; c < contracts;) {
        uint32_t n = 0;
        for (; n < KY_LEDGER_BATCH_COUNT_MAX && c < contracts; n++, c++)
            make_event(&ev[n], c, KY_KIND_CONTRACT_OPENED, c);
        if ((rc = ky_ledger_append(l, ev, n, res)) != KY_OK) die("ledger open contracts", rc);
    }
    return l;
}

static double ledger_run(const bench_cfg *cfg, uint64_t n, uint32_t batch, bool random_order) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ledger", cfg->dir);
    ky_ledger *l = ledger_fresh(dir, n);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result res[KY_LEDGER_BATCH_COUNT_MAX];
    double t0 = now_s();
    for (uint64_t i = 0; i < n;) {
        uint32_t k = 0;
        for (; k < batch && i < n; k++, i++)
            make_event(&ev[k], contract_of(i, n, random_order), KY_KIND_PREMIUM_PAID, n + i);
        int rc = ky_ledger_append(l, ev, k, res);
        if (rc != KY_OK) die("ledger append", rc);
        for (uint32_t j = 0; j < k; j++)
            if (res[j].code != KY_OK) die("ledger event refused", res[j].code);
    }
    double secs = now_s() - t0;
    ky_ledger_close(l);
    return (double)n / secs;
}

/* ---- raw LMDB, the same writes -------------------------------------------------------- */

typedef struct raw {
    MDB_env *env;
    MDB_dbi entries, history, idem, months, contracts, meta;
    uint64_t seq;
} raw;

typedef struct kv {
    uint8_t key[16];
    uint32_t key_len;
} kv;

static int kv_cmp(const void *a, const void *b) {
    return memcmp(((const kv *)a)->key, ((const kv *)b)->key, ((const kv *)a)->key_len);
}

static void raw_open(raw *r, const char *dir) {
    rmrf(dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    if (system(cmd) != 0) die("mkdir", KY_E_IO);
    int rc = mdb_env_create(&r->env);
    mdb_env_set_maxdbs(r->env, 16);
    mdb_env_set_mapsize(r->env, (size_t)KY_LEDGER_MAP_BYTES_DEFAULT);
    if (rc == 0) rc = mdb_env_open(r->env, dir, MDB_NOTLS, 0600);
    MDB_txn *t;
    if (rc == 0) rc = mdb_txn_begin(r->env, NULL, 0, &t);
    if (rc != 0) die("raw open", rc);
    mdb_dbi_open(t, "entries", MDB_CREATE, &r->entries);
    mdb_dbi_open(t, "history", MDB_CREATE, &r->history);
    mdb_dbi_open(t, "idem", MDB_CREATE, &r->idem);
    mdb_dbi_open(t, "months", MDB_CREATE, &r->months);
    mdb_dbi_open(t, "contracts", MDB_CREATE, &r->contracts);
    mdb_dbi_open(t, "meta", MDB_CREATE, &r->meta);
    if ((rc = mdb_txn_commit(t)) != 0) die("raw commit", rc);
    r->seq = 1;
}

static void put(MDB_txn *t, MDB_dbi d, const void *k, size_t kl, const void *v, size_t vl,
                unsigned flags) {
    MDB_val key = {kl, (void *)k}, val = {vl, (void *)v};
    int rc = mdb_put(t, d, &key, &val, flags);
    if (rc != 0) die("raw put", rc);
}

/* flags: 0, or MDB_APPEND for keys above every stored one (the time-ordered idempotency
 * keys, which the ledger appends the same way) */
static void put_sorted(MDB_txn *t, MDB_dbi d, kv *keys, uint32_t n, size_t vl, unsigned flags) {
    static const uint8_t val[KY_CONTRACT_STATE_BYTES];
    qsort(keys, n, sizeof *keys, kv_cmp);
    for (uint32_t i = 0; i < n; i++) put(t, d, keys[i].key, keys[i].key_len, val, vl, flags);
}

/* One batch of raw writes mirroring ky_ledger_append's write phase. */
static void raw_batch(raw *r, const ky_event *ev, uint32_t n, bool opening) {
    static kv hist[KY_LEDGER_BATCH_COUNT_MAX], cons[KY_LEDGER_BATCH_COUNT_MAX],
        mons[KY_LEDGER_BATCH_COUNT_MAX], idem[KY_LEDGER_BATCH_COUNT_MAX];
    static uint8_t stored[KY_ENTRY_HEADER_BYTES + 8];
    MDB_txn *t;
    int rc = mdb_txn_begin(r->env, NULL, 0, &t);
    if (rc != 0) die("raw begin", rc);
    for (uint32_t i = 0; i < n; i++) {
        uint8_t k[8];
        ky_put_u64be(k, ++r->seq);
        put(t, r->entries, k, 8, stored, sizeof stored, MDB_APPEND);
        ky_put_u64be(hist[i].key, ev[i].contract_id);
        ky_put_u64be(hist[i].key + 8, opening ? 1 : 2);
        hist[i].key_len = 16;
        ky_put_u64be(cons[i].key, ev[i].contract_id);
        cons[i].key_len = 8;
        ky_put_u64be(mons[i].key, ev[i].contract_id);
        ky_put_u32be(mons[i].key + 8, ev[i].period_yyyymm);
        mons[i].key_len = 12;
        memcpy(idem[i].key, ev[i].idem_key, 16);
        idem[i].key_len = 16;
    }
    put_sorted(t, r->history, hist, n, 8, 0);
    put_sorted(t, r->contracts, cons, n, KY_CONTRACT_STATE_BYTES, 0);
    if (!opening) put_sorted(t, r->months, mons, n, 8, 0);
    put_sorted(t, r->idem, idem, n, 8, MDB_APPEND);
    static const uint8_t head[56], merkle[8 + 20 * 32];
    put(t, r->meta, "head", 4, head, sizeof head, 0);
    put(t, r->meta, "merkle", 6, merkle, sizeof merkle, 0);
    if ((rc = mdb_txn_commit(t)) != 0) die("raw commit", rc);
}

static double raw_run(const bench_cfg *cfg, uint64_t n, uint32_t batch, bool random_order) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/raw", cfg->dir);
    raw r;
    raw_open(&r, dir);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    for (uint64_t c = 0; c < n;) { /* the same untimed contract openings */
        uint32_t k = 0;
        for (; k < KY_LEDGER_BATCH_COUNT_MAX && c < n; k++, c++)
            make_event(&ev[k], c, KY_KIND_CONTRACT_OPENED, c);
        raw_batch(&r, ev, k, true);
    }
    double t0 = now_s();
    for (uint64_t i = 0; i < n;) {
        uint32_t k = 0;
        for (; k < batch && i < n; k++, i++)
            make_event(&ev[k], contract_of(i, n, random_order), KY_KIND_PREMIUM_PAID, n + i);
        raw_batch(&r, ev, k, false);
    }
    double secs = now_s() - t0;
    mdb_env_close(r.env);
    return (double)n / secs;
}

/* ---- verify and SHA-256 --------------------------------------------------------------- */

static void verify_and_sha(const bench_cfg *cfg, uint64_t n) {
    char dir[512];
    snprintf(dir, sizeof dir, "%s/ledger", cfg->dir);
    ky_ledger *l = ledger_fresh(dir, n); /* n contracts opened = n entries + 1 */
    ky_ledger_close(l);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dir;
    o.read_only = true;
    int rc = ky_ledger_open(&l, &o);
    if (rc != KY_OK) die("reopen", rc);
    ky_verify_report rep;
    double t0 = now_s();
    rc = ky_verify_range(l, 1, 0, NULL, NULL, &rep);
    double vsecs = now_s() - t0;
    if (rc != KY_OK || rep.first_bad_seq != 0) die("verify", rc ? rc : rep.bad_code);
    ky_ledger_close(l);
    uint8_t buf[KY_ENTRY_HEADER_BYTES], out[32];
    memset(buf, 0x5a, sizeof buf);
    t0 = now_s();
    for (uint64_t i = 0; i < rep.checked_count; i++) {
        buf[16] = (uint8_t)i;
        ky_sha256_prefixed(0, buf, sizeof buf, out);
        buf[17] ^= out[0];
    }
    double ssecs = now_s() - t0;
    double vrate = (double)rep.checked_count / vsecs, srate = (double)rep.checked_count / ssecs;
    printf("\nverify    %10.0f entries/s  (%" PRIu64 " entries, %" PRIu64 " contract chains)\n",
           vrate, rep.checked_count, rep.contract_count);
    printf("sha256    %10.0f hashes/s of %u-byte entries (raw limit)\n", srate,
           (unsigned)sizeof buf);
    printf("ratio     verify/sha256 = %.2f   (goal >= 0.80; and verify >= 1,000,000/s)\n",
           vrate / srate);
    rmrf(dir);
}

/* ---- --profile-apply: a replica's catch-up path, in-process ---------------------------- */

/* A primary ledger holding `premiums` premium events over premiums / 10 contracts, ten
 * months each (the catch-up fill of kyosai-bench), then a fresh replica ledger fed every
 * entry through ky_ledger_apply in batches of KY_LEDGER_BATCH_COUNT_MAX (one REPL_ENTRIES
 * message each). Prints the apply rate: the replica's own ceiling, without the network. */
static void profile_apply(const bench_cfg *cfg) {
    char src[512], dst[512];
    snprintf(src, sizeof src, "%s/primary", cfg->dir);
    snprintf(dst, sizeof dst, "%s/replica", cfg->dir);
    uint64_t contracts = (cfg->events + 9) / 10;
    ky_ledger *p = ledger_fresh(src, contracts);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result res[KY_LEDGER_BATCH_COUNT_MAX];
    for (uint64_t i = 0; i < cfg->events;) {
        uint32_t k = 0;
        for (; k < KY_LEDGER_BATCH_COUNT_MAX && i < cfg->events; k++, i++) {
            make_event(&ev[k], i % contracts, KY_KIND_PREMIUM_PAID, contracts + i);
            ev[k].period_yyyymm = 202601 + (uint32_t)(i / contracts) % 12;
        }
        int rc = ky_ledger_append(p, ev, k, res);
        if (rc != KY_OK) die("fill", rc);
    }
    ky_ledger_head h;
    ky_ledger_head_get(p, &h);
    rmrf(dst);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dst;
    o.create = true;
    ky_ledger *r;
    int rc = ky_ledger_open(&r, &o);
    if (rc != KY_OK) die("replica open", rc);
    static uint8_t bufs[KY_LEDGER_BATCH_COUNT_MAX][KY_ENTRY_BYTES_MAX];
    static const uint8_t *ptrs[KY_LEDGER_BATCH_COUNT_MAX];
    static uint32_t lens[KY_LEDGER_BATCH_COUNT_MAX];
    double busy = 0;
    for (uint64_t seq = 1; seq <= h.seq;) {
        uint32_t k = 0;
        for (; k < KY_LEDGER_BATCH_COUNT_MAX && seq <= h.seq; k++, seq++) {
            size_t n = 0;
            if ((rc = ky_ledger_get(p, seq, bufs[k], sizeof bufs[k], &n)) != KY_OK) die("get", rc);
            ptrs[k] = bufs[k];
            lens[k] = (uint32_t)n;
        }
        double t0 = now_s();
        if ((rc = ky_ledger_apply(r, ptrs, lens, k, 0, NULL)) != KY_OK) die("apply", rc);
        busy += now_s() - t0;
    }
    printf("apply     %10.0f entries/s  (%" PRIu64 " entries in batches of %u; reads untimed)\n",
           (double)h.seq / busy, h.seq, KY_LEDGER_BATCH_COUNT_MAX);
    ky_ledger_close(r);
    ky_ledger_close(p);
}

int main(int argc, char **argv) {
    bench_cfg cfg = {1000000, "/tmp/ky-ledger-bench"};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
            cfg.events = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
            cfg.dir = argv[++i];
        } else if (strcmp(argv[i], "--profile-random") == 0 ||
                   strcmp(argv[i], "--profile-contract") == 0) {
            /* one case only, for perf: the ledger at batch 10,000 in that order */
            bool rnd = strcmp(argv[i], "--profile-random") == 0;
            char mk[600];
            snprintf(mk, sizeof mk, "mkdir -p '%s'", cfg.dir);
            if (system(mk) != 0) die("mkdir", KY_E_IO);
            printf("%.0f ev/s\n", ledger_run(&cfg, cfg.events, KY_LEDGER_BATCH_COUNT_MAX, rnd));
            return 0;
        } else if (strcmp(argv[i], "--profile-apply") == 0) {
            char mk[600];
            snprintf(mk, sizeof mk, "mkdir -p '%s'", cfg.dir);
            if (system(mk) != 0) die("mkdir", KY_E_IO);
            profile_apply(&cfg);
            rmrf(cfg.dir);
            return 0;
        } else if (strcmp(argv[i], "--quick") == 0) {
            cfg.events = 50000;
        } else {
            fprintf(stderr, "usage: ledger-bench [--events N] [--dir PATH] [--quick]\n");
            return 2;
        }
    }
    if (cfg.events < 10000 || cfg.events > 100000000) {
        fprintf(stderr, "ledger-bench: --events must be 10000..100000000\n");
        return 2;
    }
    char mk[600];
    snprintf(mk, sizeof mk, "mkdir -p '%s'", cfg.dir);
    if (system(mk) != 0) die("mkdir", KY_E_IO);
    printf("ledger-bench: premium_paid events over as many contracts, real fsync\n");
    printf("%-8s %-8s %9s %14s %14s %7s\n", "batch", "order", "events", "ledger ev/s", "raw ev/s",
           "ratio");
    const uint32_t batches[] = {1, 100, KY_LEDGER_BATCH_COUNT_MAX};
    for (unsigned b = 0; b < 3; b++) {
        uint64_t n = batches[b] == 1 ? 2000 : batches[b] == 100 ? cfg.events / 10 : cfg.events;
        if (n > cfg.events) n = cfg.events;
        for (int ord = 0; ord < 2; ord++) {
            double lr = ledger_run(&cfg, n, batches[b], ord == 1);
            double rr = raw_run(&cfg, n, batches[b], ord == 1);
            printf("%-8u %-8s %9" PRIu64 " %14.0f %14.0f %6.2f\n", batches[b],
                   ord ? "random" : "contract", n, lr, rr, lr / rr);
            fflush(stdout);
        }
    }
    printf("goal: at batch 10000 the ledger reaches >= 0.70 of raw LMDB doing the same writes\n");
    verify_and_sha(&cfg, cfg.events);
    rmrf(cfg.dir);
    return 0;
}
