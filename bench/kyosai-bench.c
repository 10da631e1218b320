/*
 * kyosai-bench — load generator over libkyosai against a real kyosaid on loopback (not a
 * test: only the ratios it prints mean much on a shared machine).
 *
 * Each scenario gets a fresh ledger and a fresh kyosaid process started by the bench, with
 * the contracts opened beforehand (untimed); then N connection threads each post premium
 * events for their own contracts, keeping `depth` batches in flight (pipelined API), and
 * record each batch's latency (send → acknowledgement, durable). In the same run the bench
 * measures the in-process ledger rate (ky_ledger_append, same batch size, same events), so
 * the protocol's overhead is a ratio.
 *
 * Goals (issue #3): batch 1,000 over loopback ≥ 70 % of the in-process rate; 64 connections
 * sending single events ≥ 20× one connection sending single events (group commit).
 *
 * Goal (issue #4): with the secure channel on, batch 1,000 keeps >= 85 % of the plaintext
 * rate (both measured in this run).
 *
 * Usage: kyosai-bench [--kyosaid PATH] [--events N] [--dir PATH]
 *                     [--scenario NAME --connections N --batch N --depth N --channel on|off]
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../client/kyosai.h"
#include "../common/ky_err.h"
#include "../ledger/ledger.h"
#include "../secure/channel.h"
#include "../secure/keys.h"

typedef struct scenario {
    const char *name;
    uint32_t connections, batch, depth;
    uint64_t events; /* total premium events */
} scenario;

typedef struct bench_env {
    const char *kyosaid; /* path of the node binary */
    const char *dir;     /* scratch directory */
    uint16_t port;
    pid_t pid;
    bool secure;                                 /* secure channel on (Noise IK) or plaintext */
    char client_key[720];                        /* the bench's channel key file */
    char node_pub[KY_KEY_PUBLIC_TEXT_BYTES + 1]; /* the node's public key line */
} bench_env;

typedef struct worker {
    const bench_env *env;
    const scenario *sc;
    uint32_t index;          /* connection number */
    uint64_t first_contract; /* its contracts: first_contract .. +events */
    uint64_t events;
    double *lat_ms; /* per batch */
    uint64_t lat_count;
    int error;
} worker;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *why) {
    fprintf(stderr, "kyosai-bench: %s: %s\n", what, why);
    exit(3);
}

static int64_t premium_of(uint64_t c) {
    return 1000 + (int64_t)(c * 7919 % 139) * 500;
}

static void make_event(kyosai_event *e, uint64_t c, bool open) {
    memset(e, 0, sizeof *e);
    e->kind = open ? KYOSAI_KIND_CONTRACT_OPENED : KYOSAI_KIND_PREMIUM_PAID;
    e->scheme = KYOSAI_SCHEME_SHOKIBO;
    e->contract_id = 100000000000ull + c;
    e->amount_jpy = premium_of(c);
    e->subtype = open ? 1 : 0;
    e->period_yyyymm = open ? 0 : 202604;
}

/* ---- the node ---------------------------------------------------------------------- */

/* Writes a fresh key pair to path (secret) and returns the public line in pub. */
static void key_write(const char *path, char *pub, size_t cap) {
    uint8_t pk[KY_KEY_BYTES], sk[KY_KEY_BYTES];
    char err[256];
    if (ky_key_generate(pk, sk) != KY_OK || ky_key_secret_write(path, sk, err, sizeof err) != KY_OK)
        die("keygen", path);
    ky_key_public_format(pk, pub, cap);
}

/* Node key, bench client key and a registry making the bench a writer. */
static void keys_setup(bench_env *env, char *node_key, char *registry, size_t cap) {
    char client_pub[KY_KEY_PUBLIC_TEXT_BYTES + 1];
    snprintf(node_key, cap, "%s/node.key", env->dir);
    snprintf(registry, cap, "%s/clients", env->dir);
    snprintf(env->client_key, sizeof env->client_key, "%s/bench.key", env->dir);
    key_write(node_key, env->node_pub, sizeof env->node_pub);
    key_write(env->client_key, client_pub, sizeof client_pub);
    FILE *f = fopen(registry, "w");
    if (f == NULL) die("registry", registry);
    fprintf(f, "%s kyosai-bench writer\n", client_pub);
    fclose(f);
}

static void node_start(bench_env *env) {
    char ledger[600], cmd[700];
    snprintf(ledger, sizeof ledger, "%s/ledger", env->dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", env->dir, env->dir);
    if (system(cmd) != 0) die("scratch dir", env->dir);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = ledger;
    o.create = true;
    ky_ledger *l;
    if (ky_ledger_open(&l, &o) != KY_OK || ky_ledger_epoch_begin(l, 1, NULL) != KY_OK)
        die("create ledger", ledger);
    ky_ledger_close(l);
    env->port = (uint16_t)(20000 + getpid() % 20000);
    char dset[700], pset[64], logp[700];
    snprintf(dset, sizeof dset, "node.data_dir=%s", ledger);
    snprintf(pset, sizeof pset, "node.listen_port=%u", env->port);
    snprintf(logp, sizeof logp, "%s/kyosaid.log", env->dir);
    char node_key[600], registry[600], kset[720], rset[720];
    if (env->secure) {
        keys_setup(env, node_key, registry, sizeof node_key);
        snprintf(kset, sizeof kset, "security.key_file=%s", node_key);
        snprintf(rset, sizeof rset, "security.clients_file=%s", registry);
    } else {
        snprintf(kset, sizeof kset, "security.plaintext=1");
        snprintf(rset, sizeof rset, "security.plaintext=1");
    }
    env->pid = fork();
    if (env->pid == 0) {
        if (freopen(logp, "w", stderr) == NULL) _exit(126);
        execl(env->kyosaid, env->kyosaid, "--set", dset, "--set", pset, "--set", kset, "--set",
              rset, (char *)NULL);
        _exit(127);
    }
    usleep(300000);
}

static void node_stop(bench_env *env) {
    kill(env->pid, SIGTERM);
    waitpid(env->pid, NULL, 0);
}

static kyosai_client *connect_node(const bench_env *env) {
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", env->port);
    const char *eps[] = {ep};
    kyosai_options o = {2000, 60000, 0, "kyosai-bench", NULL, NULL, 0};
    const char *server_key = env->node_pub;
    if (env->secure) {
        o.key_file = env->client_key;
        o.server_keys = &server_key;
        o.server_key_count = 1;
    }
    kyosai_client *c = NULL;
    for (int tries = 0; tries < 50; tries++) {
        if (kyosai_connect(&c, eps, 1, &o) == KYOSAI_OK) return c;
        usleep(100000);
    }
    die("connect", ep);
    return NULL;
}

static void open_contracts(const bench_env *env, uint64_t n) {
    kyosai_client *c = connect_node(env);
    static kyosai_event ev[KYOSAI_BATCH_COUNT_MAX];
    static kyosai_result res[KYOSAI_BATCH_COUNT_MAX];
    for (uint64_t i = 0; i < n;) {
        uint32_t k = 0;
        for (; k < KYOSAI_BATCH_COUNT_MAX && i < n; k++, i++) make_event(&ev[k], i, true);
        int rc = kyosai_append(c, ev, k, res);
        if (rc != KYOSAI_OK) die("open contracts", kyosai_strerror(rc));
    }
    kyosai_close(c);
}

/* ---- workers --------------------------------------------------------------------- */

typedef struct inflight {
    uint64_t id;
    double sent_s;
    uint32_t count;
} inflight;

static int recv_one(kyosai_client *c, worker *w, inflight *fl, uint32_t *nfl, kyosai_result *res) {
    uint64_t id;
    uint32_t count;
    int rc = kyosai_append_recv(c, &id, res, KYOSAI_BATCH_COUNT_MAX, &count);
    if (rc != KYOSAI_OK) return rc;
    for (uint32_t i = 0; i < *nfl; i++) {
        if (fl[i].id != id) continue;
        w->lat_ms[w->lat_count++] = (now_s() - fl[i].sent_s) * 1000.0;
        for (uint32_t j = 0; j < count; j++)
            if (res[j].code != KYOSAI_OK) return res[j].code;
        fl[i] = fl[--*nfl];
        return KYOSAI_OK;
    }
    return KYOSAI_E_PROTOCOL;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    kyosai_client *c = connect_node(w->env);
    kyosai_event *ev = calloc(w->sc->batch * (size_t)w->sc->depth, sizeof *ev);
    kyosai_result *res = calloc(KYOSAI_BATCH_COUNT_MAX, sizeof *res);
    inflight fl[KYOSAI_INFLIGHT_REQUESTS_MAX];
    uint32_t nfl = 0, slot = 0;
    uint64_t done = 0;
    int rc = KYOSAI_OK;
    while (rc == KYOSAI_OK && (done < w->events || nfl > 0)) {
        if (done < w->events && nfl < w->sc->depth) {
            kyosai_event *b = ev + (size_t)slot * w->sc->batch;
            slot = (slot + 1) % w->sc->depth;
            uint32_t k = 0;
            for (; k < w->sc->batch && done < w->events; k++, done++)
                make_event(&b[k], w->first_contract + done, false);
            rc = kyosai_append_send(c, b, k, &fl[nfl].id);
            fl[nfl].sent_s = now_s();
            fl[nfl++].count = k;
        } else {
            rc = recv_one(c, w, fl, &nfl, res);
        }
    }
    w->error = rc;
    kyosai_close(c);
    free(ev);
    free(res);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Runs one scenario against a fresh node; prints a line; returns events/s. */
static double run_scenario(bench_env *env, const scenario *sc) {
    node_start(env);
    open_contracts(env, sc->events);
    worker *ws = calloc(sc->connections, sizeof *ws);
    pthread_t *ts = calloc(sc->connections, sizeof *ts);
    uint64_t per = sc->events / sc->connections;
    double t0 = now_s();
    for (uint32_t i = 0; i < sc->connections; i++) {
        ws[i] = (worker){env, sc, i, i * per, per, NULL, 0, 0};
        ws[i].lat_ms = calloc(per / sc->batch + 2, sizeof(double));
        pthread_create(&ts[i], NULL, worker_main, &ws[i]);
    }
    for (uint32_t i = 0; i < sc->connections; i++) pthread_join(ts[i], NULL);
    double secs = now_s() - t0;
    node_stop(env);
    uint64_t nlat = 0;
    for (uint32_t i = 0; i < sc->connections; i++) nlat += ws[i].lat_count;
    double *all = calloc(nlat + 1, sizeof(double));
    nlat = 0;
    for (uint32_t i = 0; i < sc->connections; i++) {
        if (ws[i].error != KYOSAI_OK) die(sc->name, kyosai_strerror(ws[i].error));
        memcpy(all + nlat, ws[i].lat_ms, ws[i].lat_count * sizeof(double));
        nlat += ws[i].lat_count;
        free(ws[i].lat_ms);
    }
    qsort(all, nlat, sizeof(double), cmp_double);
    double rate = (double)(per * sc->connections) / secs;
    printf("%-22s conns %3u batch %5u depth %2u  %9.0f events/s  latency ms p50 %7.2f "
           "p99 %7.2f p999 %7.2f\n",
           sc->name, sc->connections, sc->batch, sc->depth, rate, all[nlat / 2],
           all[nlat * 99 / 100], all[nlat * 999 / 1000]);
    fflush(stdout);
    free(all);
    free(ws);
    free(ts);
    return rate;
}

/* The same premium events appended in-process, batch by batch, on a fresh ledger. */
static double inprocess_rate(const bench_env *env, uint64_t n, uint32_t batch) {
    char dir[600], cmd[700];
    snprintf(dir, sizeof dir, "%s/inproc", env->dir);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, env->dir);
    if (system(cmd) != 0) die("rm", dir);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dir;
    o.create = true;
    ky_ledger *l;
    if (ky_ledger_open(&l, &o) != KY_OK || ky_ledger_epoch_begin(l, 1, NULL) != KY_OK)
        die("in-process ledger", dir);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result res[KY_LEDGER_BATCH_COUNT_MAX];
    double t0 = 0;
    for (int phase = 0; phase < 2; phase++) { /* 0: open contracts (untimed), 1: premiums */
        if (phase == 1) t0 = now_s();
        uint32_t b = phase == 0 ? KY_LEDGER_BATCH_COUNT_MAX : batch;
        for (uint64_t i = 0; i < n;) {
            uint32_t k = 0;
            for (; k < b && i < n; k++, i++) {
                kyosai_event ke;
                make_event(&ke, i, phase == 0);
                memset(&ev[k], 0, sizeof ev[k]);
                ev[k].kind = ke.kind, ev[k].scheme = ke.scheme, ev[k].subtype = ke.subtype;
                ev[k].contract_id = ke.contract_id, ev[k].amount_jpy = ke.amount_jpy;
                ev[k].period_yyyymm = ke.period_yyyymm;
                ky_put_u64be(ev[k].idem_key, ((uint64_t)phase << 40) + i + 1);
            }
            if (ky_ledger_append(l, ev, k, res) != KY_OK) die("in-process append", dir);
        }
    }
    double rate = (double)n / (now_s() - t0);
    ky_ledger_close(l);
    printf("in-process, batch %-5u                         %9.0f events/s\n", batch, rate);
    return rate;
}

int main(int argc, char **argv) {
    bench_env env = {"build/kyosaid", "/tmp/ky-kyosai-bench", 0, 0};
    uint64_t events = 200000;
    scenario custom = {NULL, 1, 1000, 4, 0};
    for (int i = 1; i + 1 < argc + 1; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) die("usage", "every option takes a value (see the file comment)");
        if (strcmp(a, "--kyosaid") == 0)
            env.kyosaid = v;
        else if (strcmp(a, "--dir") == 0)
            env.dir = v;
        else if (strcmp(a, "--events") == 0)
            events = strtoull(v, NULL, 10);
        else if (strcmp(a, "--scenario") == 0)
            custom.name = v;
        else if (strcmp(a, "--connections") == 0)
            custom.connections = (uint32_t)atoi(v);
        else if (strcmp(a, "--batch") == 0)
            custom.batch = (uint32_t)atoi(v);
        else if (strcmp(a, "--depth") == 0)
            custom.depth = (uint32_t)atoi(v);
        else if (strcmp(a, "--channel") == 0)
            env.secure = strcmp(v, "on") == 0;
        else
            die("unknown option", a);
        i++;
    }
    signal(SIGPIPE, SIG_IGN);
    if (custom.name != NULL) {
        custom.events = events;
        run_scenario(&env, &custom);
        return 0;
    }
    printf("kyosai-bench: premium events over loopback to a real kyosaid (real fsync)\n");
    double inproc = inprocess_rate(&env, events, 1000);
    double inproc_big = inprocess_rate(&env, events, KY_LEDGER_BATCH_COUNT_MAX);
    scenario b1000 = {"batch 1000, 1 conn", 1, 1000, 4, events};
    double net = run_scenario(&env, &b1000);
    scenario single = {"single events, 1 conn", 1, 1, 1, 2000};
    double one = run_scenario(&env, &single);
    scenario many = {"single events, 64 conn", 64, 1, 1, 64 * 300};
    double sixty_four = run_scenario(&env, &many);
    env.secure = true;
    printf("-- the same with the secure channel on (Noise IK, %s)\n",
           ky_chan_preferred_cipher() == KY_NOISE_AESGCM ? "AES-256-GCM" : "ChaCha20-Poly1305");
    scenario b1000s = {"batch 1000, 1 conn, channel", 1, 1000, 4, events};
    double net_s = run_scenario(&env, &b1000s);
    scenario singles = {"single events, 1 conn, channel", 1, 1, 1, 2000};
    double one_s = run_scenario(&env, &singles);
    scenario manys = {"single events, 64 conn, chan", 64, 1, 1, 64 * 300};
    double sixty_four_s = run_scenario(&env, &manys);
    printf("ratio  loopback batch 1000 / in-process batch 1000  = %.2f   (goal >= 0.70)\n",
           net / inproc);
    printf("ratio  loopback batch 1000 / in-process batch 10000 = %.2f   (the node merges "
           "pipelined batches into one commit)\n",
           net / inproc_big);
    printf("ratio  64 connections / 1 connection    = %.1f   (goal >= 20; group commit)\n",
           sixty_four / one);
    printf("ratio  channel on / off, batch 1000     = %.2f   (goal >= 0.85: encryption costs "
           "at most 15 %%)\n",
           net_s / net);
    printf("ratio  channel on / off, single events  = %.2f (1 conn)  %.2f (64 conns)\n",
           one_s / one, sixty_four_s / sixty_four);
    return 0;
}
