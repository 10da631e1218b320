/*
 * kyosai-bench — load generator over libkyosai against real kyosaid processes on loopback
 * (not a test: only the ratios it prints mean much on a shared machine).
 *
 * Each scenario gets fresh ledgers and fresh kyosaid processes started by the bench, with
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
 * Goals (issue #5), each against a primary + DR replica pair the bench starts (each node
 * with its own fresh ledger; the replica's created empty, as `kyosaictl init --replica`):
 *   sync      batch 1,000 with synchronous replication ≥ 70 % of the standalone node (same
 *             batch, same depth, same channel setting, same run);
 *   delayed   the same with a delay proxy (delay-proxy.c, built beside this bench) adding
 *             --delay-ms each way between replica and primary (10 ms round trip by
 *             default), pipeline depth --sync-depth (8): ≥ 50 % of the loopback pair at
 *             the same depth;
 *   catch-up  a fresh replica copies a primary holding --catchup-events premiums (appended
 *             in-process beforehand, untimed) at ≥ 300,000 entries/s, timed from starting
 *             the replica until its STATUS head equals the primary's. The catch-up
 *             primary runs with limits.frame_body_bytes_max = --catchup-frame-bytes
 *             (0, the default: the node's own 4 MiB, which a message of 10,000 premium
 *             entries — the most one REPL_ENTRIES holds — does not fill);
 *   drill     `kyosaictl --server P,R drill --back` on a fresh pair: the longest gap
 *             between acknowledgements of its light load (write pause, RTO) < 1 s.
 *
 * Child processes (nodes, proxies) get PR_SET_PDEATHSIG, so a bench that dies leaves none
 * running; normally each is stopped with SIGTERM and reaped by its own pid.
 *
 * Usage: kyosai-bench [--kyosaid PATH] [--kyosaictl PATH] [--proxy PATH] [--events N]
 *                     [--dir PATH] [--parts standalone,sync,catchup,switchover]
 *                     [--catchup-events N] [--catchup-frame-bytes N] [--delay-ms N]
 *                     [--sync-depth N]
 *                     [--scenario NAME --connections N --batch N --depth N --channel on|off]
 */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../client/kyosai.h"
#include "../common/ky_err.h"
#include "../ledger/ledger.h"
#include "../secure/channel.h"
#include "../secure/keys.h"

#define PART_STANDALONE 0x1u
#define PART_SYNC       0x2u
#define PART_CATCHUP    0x4u
#define PART_SWITCHOVER 0x8u
#define PATH_BYTES_MAX  600u  /* every path the bench builds */
#define WAIT_S_MAX      120.0 /* a node start, streaming or a catch-up must finish within */

typedef struct scenario {
    const char *name;
    uint32_t connections, batch, depth;
    uint64_t events; /* total premium events */
} scenario;

typedef struct bench_env {
    const char *kyosaid;                           /* path of the node binary */
    const char *kyosaictl;                         /* path of the operator tool (drill) */
    const char *proxy;                             /* path of delay-proxy */
    const char *dir;                               /* scratch directory, wiped per scenario */
    bool secure;                                   /* secure channel on (Noise IK) or plaintext */
    char client_key[PATH_BYTES_MAX];               /* the bench's channel key file */
    char client_pub[KY_KEY_PUBLIC_TEXT_BYTES + 1]; /* its public key line */
    uint32_t parts;                                /* PART_* to run */
    uint64_t catchup_events;                       /* premiums on the catch-up primary */
    uint32_t delay_ms;                             /* delay proxy, one way, ms */
    uint32_t sync_depth;                           /* pipeline depth, delayed scenario */
    uint64_t catchup_frame_bytes; /* catch-up primary's frame_body_bytes_max; 0 = default */
    char kyosaictl_buf[PATH_BYTES_MAX], proxy_buf[PATH_BYTES_MAX]; /* default paths */
} bench_env;

typedef struct node {
    char dir[PATH_BYTES_MAX];               /* its scratch dir: key, registry, log */
    char ledger[PATH_BYTES_MAX + 16];       /* its data_dir */
    char pub[KY_KEY_PUBLIC_TEXT_BYTES + 1]; /* its public key line (secure) */
    uint16_t port;                          /* client port on 127.0.0.1 */
    pid_t pid;                              /* 0 when not running */
    uint64_t frame_body_bytes_max;          /* limits.frame_body_bytes_max; 0 = default */
} node;

typedef struct pair {
    node primary, replica;
    uint16_t proxy_port; /* the replica dials this when a delay proxy runs */
    pid_t proxy_pid;     /* 0 when no proxy */
} pair;

typedef struct worker {
    const bench_env *env;
    const node *target;
    const scenario *sc;
    uint32_t index;          /* connection number */
    uint64_t first_contract; /* its contracts: first_contract .. +events */
    uint64_t events;
    double *lat_ms; /* per batch */
    uint64_t lat_count;
    int error;
} worker;

/* Every rate of one run, events/s; [0] plaintext, [1] secure channel; 0 = not measured. */
typedef struct figures {
    double inproc, inproc_big;      /* in-process ledger, batch 1,000 and 10,000 */
    double net[2], one[2], many[2]; /* standalone: batch 1,000; single events 1 and 64 conns */
    double sync[2], sync_deep[2];   /* pair on loopback, depth 4 and --sync-depth */
    double delayed[2];              /* pair through the delay proxy, --sync-depth */
} figures;

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

/* ---- files, keys, processes ------------------------------------------------------------ */

static void scratch_reset(const char *dir) {
    char cmd[3 * PATH_BYTES_MAX];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0) die("shell", cmd);
}

static void scratch_remove(const char *dir) {
    char cmd[2 * PATH_BYTES_MAX];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) die("shell", cmd);
}

/* A free loopback port (the kernel's choice; it is released before the node binds it). */
static uint16_t free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        die("free port", strerror(errno));
    close(fd);
    return ntohs(a.sin_port);
}

/* Writes a fresh key pair to path (secret) and returns the public line in pub. */
static void key_write(const char *path, char *pub, size_t cap) {
    uint8_t pk[KY_KEY_BYTES], sk[KY_KEY_BYTES];
    char err[256];
    if (ky_key_generate(pk, sk) != KY_OK || ky_key_secret_write(path, sk, err, sizeof err) != KY_OK)
        die("keygen", path);
    ky_key_public_format(pk, pub, cap);
}

/* A fresh scratch dir for one scenario and, with the channel on, the bench's client key. */
static void scenario_reset(bench_env *env) {
    scratch_reset(env->dir);
    if (!env->secure) return;
    snprintf(env->client_key, sizeof env->client_key, "%s/bench.key", env->dir);
    key_write(env->client_key, env->client_pub, sizeof env->client_pub);
}

/* A new ledger at path: a primary's (epoch 1 begun) or a replica's (empty). */
static void ledger_create(const char *path, bool replica) {
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = path;
    o.create = true;
    ky_ledger *l;
    if (ky_ledger_open(&l, &o) != KY_OK) die("create ledger", path);
    if (!replica && ky_ledger_epoch_begin(l, 1, NULL) != KY_OK) die("epoch 1", path);
    ky_ledger_close(l);
}

/* Scratch dir, ledger (unless ledger is given) and, secure, key of one node. */
static void node_prepare(const bench_env *env, node *n, const char *name, bool replica,
                         const char *ledger) {
    memset(n, 0, sizeof *n);
    snprintf(n->dir, sizeof n->dir, "%s/%s", env->dir, name);
    scratch_reset(n->dir);
    if (ledger != NULL) {
        snprintf(n->ledger, sizeof n->ledger, "%s", ledger);
    } else {
        snprintf(n->ledger, sizeof n->ledger, "%s/ledger", n->dir);
        ledger_create(n->ledger, replica);
    }
    n->port = free_port();
    if (!env->secure) return;
    char path[PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s/node.key", n->dir);
    key_write(path, n->pub, sizeof n->pub);
}

/* The node's client registry: the bench (every role it uses) and its peer as replica. */
static void registry_write(const bench_env *env, const node *n, const node *peer) {
    char path[PATH_BYTES_MAX + 16];
    snprintf(path, sizeof path, "%s/clients", n->dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) die("registry", path);
    fprintf(f, "%s kyosai-bench writer,reader,operator\n", env->client_pub);
    if (peer != NULL) fprintf(f, "%s peer-node replica\n", peer->pub);
    fclose(f);
}

/* fork + exec argv with stderr (and stdout unless out_fd >= 0) into log_path. */
static pid_t spawn(char *const argv[], const char *log_path, int out_fd) {
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) die("fork", strerror(errno));
    if (pid > 0) return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) _exit(125); /* the bench is already gone */
    if (freopen(log_path, "w", stderr) == NULL) _exit(126);
    dup2(out_fd >= 0 ? out_fd : 2, 1);
    execv(argv[0], argv);
    _exit(127);
}

static void child_stop(pid_t *pid) {
    if (*pid <= 0) return;
    kill(*pid, SIGTERM);
    waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* ---- nodes ------------------------------------------------------------------------------- */

/* Starts kyosaid for n. role NULL: standalone; else "primary" / "replica" with the peer
 * at 127.0.0.1:peer_port (its key pinned when secure). Does not wait. */
static void node_spawn(const bench_env *env, node *n, const char *role, uint16_t peer_port,
                       const char *peer_pub) {
    char sets[8][PATH_BYTES_MAX + 64], logp[PATH_BYTES_MAX + 16];
    int k = 0;
    snprintf(sets[k++], sizeof sets[0], "node.data_dir=%s", n->ledger);
    snprintf(sets[k++], sizeof sets[0], "node.listen_port=%u", n->port);
    if (env->secure) {
        snprintf(sets[k++], sizeof sets[0], "security.key_file=%s/node.key", n->dir);
        snprintf(sets[k++], sizeof sets[0], "security.clients_file=%s/clients", n->dir);
    } else {
        snprintf(sets[k++], sizeof sets[0], "security.plaintext=1");
    }
    if (n->frame_body_bytes_max > 0)
        snprintf(sets[k++], sizeof sets[0], "limits.frame_body_bytes_max=%" PRIu64,
                 n->frame_body_bytes_max);
    if (role != NULL) {
        snprintf(sets[k++], sizeof sets[0], "replication.role=%s", role);
        snprintf(sets[k++], sizeof sets[0], "replication.peer_addr=127.0.0.1:%u", peer_port);
        if (env->secure) snprintf(sets[k++], sizeof sets[0], "replication.peer_key=%s", peer_pub);
    }
    char set_flag[] = "--set";
    char *argv[2 * 8 + 2] = {(char *)env->kyosaid};
    for (int i = 0; i < k; i++) argv[1 + 2 * i] = set_flag, argv[2 + 2 * i] = sets[i];
    snprintf(logp, sizeof logp, "%s/kyosaid.log", n->dir);
    n->pid = spawn(argv, logp, -1);
}

/* One connection attempt to n (no retry); NULL when it is not reachable yet. */
static kyosai_client *connect_once(const bench_env *env, const node *n) {
    char ep[32];
    snprintf(ep, sizeof ep, "127.0.0.1:%u", n->port);
    const char *eps[] = {ep};
    kyosai_options o = {2000, 60000, 0, "kyosai-bench", NULL, NULL, 0};
    const char *server_key = n->pub;
    if (env->secure) {
        o.key_file = env->client_key;
        o.server_keys = &server_key;
        o.server_key_count = 1;
    }
    kyosai_client *c = NULL;
    return kyosai_connect(&c, eps, 1, &o) == KYOSAI_OK ? c : NULL;
}

/* Connects to n, waiting up to WAIT_S_MAX for it to listen; dies if it exited. */
static kyosai_client *connect_node(const bench_env *env, const node *n) {
    double t0 = now_s();
    for (;;) {
        kyosai_client *c = connect_once(env, n);
        if (c != NULL) return c;
        if (n->pid > 0 && waitpid(n->pid, NULL, WNOHANG) == n->pid)
            die("kyosaid exited; see its log in", n->dir);
        if (now_s() - t0 > WAIT_S_MAX) die("connect", n->dir);
        usleep(10000);
    }
}

static void node_status(const bench_env *env, const node *n, kyosai_status *st) {
    kyosai_client *c = connect_node(env, n);
    int rc = kyosai_status_get(c, st);
    kyosai_close(c);
    if (rc != KYOSAI_OK) die("status", kyosai_strerror(rc));
}

static void open_contracts(const bench_env *env, const node *n, uint64_t count) {
    kyosai_client *c = connect_node(env, n);
    static kyosai_event ev[KYOSAI_BATCH_COUNT_MAX];
    static kyosai_result res[KYOSAI_BATCH_COUNT_MAX];
    for (uint64_t i = 0; i < count;) {
        uint32_t k = 0;
        for (; k < KYOSAI_BATCH_COUNT_MAX && i < count; k++, i++) make_event(&ev[k], i, true);
        int rc = kyosai_append(c, ev, k, res);
        if (rc != KYOSAI_OK) die("open contracts", kyosai_strerror(rc));
    }
    kyosai_close(c);
}

/* ---- pairs ------------------------------------------------------------------------------- */

/* Fresh primary (ledger at primary_ledger if not NULL, else a new one) and empty replica,
 * each pinning the other's key; nothing started. */
static void pair_prepare(const bench_env *env, pair *p, const char *primary_ledger) {
    node_prepare(env, &p->primary, "primary", false, primary_ledger);
    node_prepare(env, &p->replica, "replica", true, NULL);
    if (env->secure) {
        registry_write(env, &p->primary, &p->replica);
        registry_write(env, &p->replica, &p->primary);
    }
    p->proxy_port = 0;
    p->proxy_pid = 0;
}

/* Starts the delay proxy in front of the primary and waits for its "ready" line. */
static void proxy_spawn(const bench_env *env, pair *p) {
    char port[16], to[32], delay[16], logp[PATH_BYTES_MAX + 16];
    p->proxy_port = free_port();
    snprintf(port, sizeof port, "%u", p->proxy_port);
    snprintf(to, sizeof to, "127.0.0.1:%u", p->primary.port);
    snprintf(delay, sizeof delay, "%u", env->delay_ms);
    snprintf(logp, sizeof logp, "%s/delay-proxy.log", env->dir);
    char a_listen[] = "--listen", a_to[] = "--to", a_delay[] = "--delay-ms";
    char *argv[] = {(char *)env->proxy, a_listen, port, a_to, to, a_delay, delay, NULL};
    int fds[2];
    if (pipe(fds) != 0) die("pipe", strerror(errno));
    p->proxy_pid = spawn(argv, logp, fds[1]);
    close(fds[1]);
    char line[64] = "";
    size_t n = 0;
    while (n + 1 < sizeof line && read(fds[0], line + n, 1) == 1 && line[n] != '\n') n++;
    close(fds[0]);
    if (strncmp(line, "ready", 5) != 0) die("delay proxy did not start; see", logp);
}

/* Starts the primary; with delay_proxy also the proxy; then the replica, dialling the
 * proxy or the primary. Waits until the primary reports its replica streaming. */
static void pair_start(const bench_env *env, pair *p, bool delay_proxy) {
    node_spawn(env, &p->primary, "primary", p->replica.port, p->replica.pub);
    kyosai_close(connect_node(env, &p->primary));
    if (delay_proxy) proxy_spawn(env, p);
    node_spawn(env, &p->replica, "replica", delay_proxy ? p->proxy_port : p->primary.port,
               p->primary.pub);
    double t0 = now_s();
    for (;;) {
        kyosai_status st;
        node_status(env, &p->primary, &st);
        if (st.peer_connected) return;
        if (now_s() - t0 > WAIT_S_MAX) die("replica never streamed; see", p->replica.dir);
        usleep(20000);
    }
}

static void pair_stop(pair *p) {
    child_stop(&p->primary.pid);
    child_stop(&p->replica.pid);
    child_stop(&p->proxy_pid);
}

/* ---- workers --------------------------------------------------------------------------- */

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
    kyosai_client *c = connect_node(w->env, w->target);
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

/* Runs the load of one scenario against target; prints a line; returns events/s. */
static double run_load(const bench_env *env, const node *target, const scenario *sc) {
    worker *ws = calloc(sc->connections, sizeof *ws);
    pthread_t *ts = calloc(sc->connections, sizeof *ts);
    uint64_t per = sc->events / sc->connections;
    double t0 = now_s();
    for (uint32_t i = 0; i < sc->connections; i++) {
        ws[i] = (worker){env, target, sc, i, i * per, per, NULL, 0, 0};
        ws[i].lat_ms = calloc(per / sc->batch + 2, sizeof(double));
        pthread_create(&ts[i], NULL, worker_main, &ws[i]);
    }
    for (uint32_t i = 0; i < sc->connections; i++) pthread_join(ts[i], NULL);
    double secs = now_s() - t0;
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
    printf("%-30s conns %3u batch %5u depth %2u  %9.0f events/s  latency ms p50 %7.2f "
           "p99 %7.2f p999 %7.2f\n",
           sc->name, sc->connections, sc->batch, sc->depth, rate, all[nlat / 2],
           all[nlat * 99 / 100], all[nlat * 999 / 1000]);
    fflush(stdout);
    free(all);
    free(ws);
    free(ts);
    return rate;
}

/* One scenario against a fresh standalone node; returns events/s. */
static double run_scenario(bench_env *env, const scenario *sc) {
    scenario_reset(env);
    node n;
    node_prepare(env, &n, "node", false, NULL);
    if (env->secure) registry_write(env, &n, NULL);
    node_spawn(env, &n, NULL, 0, NULL);
    open_contracts(env, &n, sc->events);
    double rate = run_load(env, &n, sc);
    child_stop(&n.pid);
    return rate;
}

/* One scenario against a fresh synchronous pair, direct or through the delay proxy. */
static double run_sync(bench_env *env, const scenario *sc, bool delay_proxy) {
    scenario_reset(env);
    pair p;
    pair_prepare(env, &p, NULL);
    pair_start(env, &p, delay_proxy);
    open_contracts(env, &p.primary, sc->events);
    double rate = run_load(env, &p.primary, sc);
    pair_stop(&p);
    return rate;
}

/* ---- in-process --------------------------------------------------------------------------- */

/* The same premium events appended in-process, batch by batch, on a fresh ledger. */
static double inprocess_rate(const bench_env *env, uint64_t n, uint32_t batch) {
    char dir[PATH_BYTES_MAX + 16];
    snprintf(dir, sizeof dir, "%s/inproc", env->dir);
    scratch_reset(env->dir);
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
    printf("in-process, batch %-5u                                 %9.0f events/s\n", batch, rate);
    return rate;
}

/* ---- catch-up ----------------------------------------------------------------------------- */

/* A primary's ledger at path holding `premiums` premium events over premiums / 10
 * contracts (ten months each), written in-process in batches of 10,000. Returns its head. */
static uint64_t catchup_fill(const char *path, uint64_t premiums) {
    ledger_create(path, false);
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = path;
    ky_ledger *l;
    if (ky_ledger_open(&l, &o) != KY_OK) die("open", path);
    static ky_event ev[KY_LEDGER_BATCH_COUNT_MAX];
    static ky_event_result res[KY_LEDGER_BATCH_COUNT_MAX];
    uint64_t contracts = (premiums + 9) / 10, total = contracts + premiums, key = 0;
    for (uint64_t i = 0; i < total;) {
        uint32_t k = 0;
        for (; k < KY_LEDGER_BATCH_COUNT_MAX && i < total; k++, i++) {
            bool open = i < contracts;
            uint64_t c = open ? i : (i - contracts) % contracts;
            uint32_t month = open ? 0 : (uint32_t)((i - contracts) / contracts);
            memset(&ev[k], 0, sizeof ev[k]);
            ev[k].kind = open ? KY_KIND_CONTRACT_OPENED : KY_KIND_PREMIUM_PAID;
            ev[k].scheme = KY_SCHEME_SHOKIBO;
            ev[k].subtype = open ? 1 : 0;
            ev[k].contract_id = 100000000000ull + c;
            ev[k].amount_jpy = premium_of(c);
            ev[k].period_yyyymm = open ? 0 : 202601 + month;
            ky_put_u64be(ev[k].idem_key, ++key);
        }
        if (ky_ledger_append(l, ev, k, res) != KY_OK) die("catch-up fill", path);
        for (uint32_t j = 0; j < k; j++)
            if (res[j].code != KY_OK) die("catch-up fill refused", ky_strerror(res[j].code));
    }
    ky_ledger_head h;
    if (ky_ledger_head_get(l, &h) != KY_OK) die("head", path);
    ky_ledger_close(l);
    return h.seq;
}

/* Waits until the replica's STATUS head reaches target; returns seconds since t0. */
static double replica_wait_head(const bench_env *env, const node *r, uint64_t target, double t0) {
    kyosai_client *c = NULL;
    for (;;) {
        if (now_s() - t0 > WAIT_S_MAX) die("catch-up did not finish; see", r->dir);
        if (c == NULL) c = connect_once(env, r);
        kyosai_status st;
        if (c != NULL && kyosai_status_get(c, &st) != KYOSAI_OK) {
            kyosai_close(c);
            c = NULL;
        } else if (c != NULL && st.head_seq >= target) {
            double secs = now_s() - t0;
            kyosai_close(c);
            return secs;
        }
        usleep(2000);
    }
}

/* A fresh empty replica copies the primary's ledger at fill_path; prints entries/s. */
static double run_catchup(bench_env *env, const char *fill_path) {
    scenario_reset(env);
    pair p;
    pair_prepare(env, &p, fill_path);
    p.primary.frame_body_bytes_max = env->catchup_frame_bytes;
    node_spawn(env, &p.primary, "primary", p.replica.port, p.replica.pub);
    kyosai_status ps;
    node_status(env, &p.primary, &ps);
    double t0 = now_s();
    node_spawn(env, &p.replica, "replica", p.primary.port, p.primary.pub);
    double secs = replica_wait_head(env, &p.replica, ps.head_seq, t0);
    pair_stop(&p);
    double rate = (double)ps.head_seq / secs;
    printf("catch-up%-22s %9" PRIu64 " entries in %6.2f s  %9.0f entries/s (replica start "
           "to heads equal)\n",
           env->secure ? ", channel" : "", ps.head_seq, secs, rate);
    fflush(stdout);
    return rate;
}

/* ---- switchover drill ------------------------------------------------------------------- */

/* The value after "key": in json, at its nth occurrence (0-based); -1 if absent. */
static double json_number(const char *json, const char *key, int nth) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = json;
    for (int i = 0; p != NULL && i <= nth; i++) {
        p = strstr(p, pat);
        if (p != NULL && i < nth) p += strlen(pat);
    }
    return p == NULL ? -1 : strtod(p + strlen(pat), NULL);
}

static void drill_exec(const bench_env *env, const pair *p, const char *report, const char *log) {
    char servers[64], keys[2 * KY_KEY_PUBLIC_TEXT_BYTES + 4];
    snprintf(servers, sizeof servers, "127.0.0.1:%u,127.0.0.1:%u", p->primary.port,
             p->replica.port);
    snprintf(keys, sizeof keys, "%s,%s", p->primary.pub, p->replica.pub);
    char a_server[] = "--server", a_key[] = "--key", a_skey[] = "--server-key", a_drill[] = "drill",
         a_back[] = "--back", a_report[] = "--report";
    char *argv[12] = {(char *)env->kyosaictl, a_server, servers};
    int k = 3;
    if (env->secure) {
        argv[k++] = a_key, argv[k++] = (char *)env->client_key;
        argv[k++] = a_skey, argv[k++] = keys;
    }
    argv[k++] = a_drill, argv[k++] = a_back, argv[k++] = a_report, argv[k++] = (char *)report;
    pid_t pid = spawn(argv, log, -1);
    int status = 0;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) die("kyosaictl drill failed; see", log);
}

/* `kyosaictl drill --back` on a fresh pair; prints the write pause; returns it in ms. */
static double run_drill(bench_env *env) {
    scenario_reset(env);
    pair p;
    pair_prepare(env, &p, NULL);
    pair_start(env, &p, false);
    char report[PATH_BYTES_MAX + 16], log[PATH_BYTES_MAX + 16], json[65536] = "";
    snprintf(report, sizeof report, "%s/drill.json", env->dir);
    snprintf(log, sizeof log, "%s/drill.log", env->dir);
    drill_exec(env, &p, report, log);
    pair_stop(&p);
    FILE *f = fopen(report, "r");
    if (f == NULL) die("drill report", report);
    size_t n = fread(json, 1, sizeof json - 1, f);
    json[n] = 0;
    fclose(f);
    double pause = json_number(json, "rto_write_pause_ms", 0);
    printf("switchover drill%-14s %s; write pause (RTO) %4.0f ms; node paused %.0f + %.0f ms; "
           "roles swapped in %.0f + %.0f ms; %.0f acknowledged, %.0f lost\n",
           env->secure ? ", channel" : "", strstr(json, "\"passed\":true") ? "PASSED" : "FAILED",
           pause, json_number(json, "node_pause_ms", 0), json_number(json, "node_pause_ms", 1),
           json_number(json, "swap_ms", 0), json_number(json, "swap_ms", 1),
           json_number(json, "acknowledged", 0), json_number(json, "rpo_lost", 0));
    fflush(stdout);
    return pause;
}

/* ---- the run ---------------------------------------------------------------------------- */

static void run_standalone(bench_env *env, uint64_t events, figures *f) {
    int s = env->secure;
    scenario b1000 = {s ? "batch 1000, 1 conn, channel" : "batch 1000, 1 conn", 1, 1000, 4, events};
    f->net[s] = run_scenario(env, &b1000);
    scenario single = {s ? "single events, 1 conn, channel" : "single events, 1 conn", 1, 1, 1,
                       2000};
    f->one[s] = run_scenario(env, &single);
    scenario many = {s ? "single events, 64 conn, chan" : "single events, 64 conn", 64, 1, 1,
                     64 * 300};
    f->many[s] = run_scenario(env, &many);
}

static void run_pairs(bench_env *env, uint64_t events, figures *f) {
    int s = env->secure;
    uint32_t d = env->sync_depth;
    scenario sync = {s ? "sync pair, channel" : "sync pair", 1, 1000, 4, events};
    f->sync[s] = run_sync(env, &sync, false);
    scenario deep = {s ? "sync pair, channel" : "sync pair", 1, 1000, d, events};
    f->sync_deep[s] = run_sync(env, &deep, false);
    char name[64];
    snprintf(name, sizeof name, "sync pair +%u ms RTT%s", 2 * env->delay_ms, s ? ", chan" : "");
    scenario delayed = {name, 1, 1000, d, events};
    f->delayed[s] = run_sync(env, &delayed, true);
}

static void ratio(const char *what, double a, double b, const char *goal) {
    if (a > 0 && b > 0) printf("ratio  %-52s = %5.2f   %s\n", what, a / b, goal);
}

static void print_ratios(const bench_env *env, const figures *f) {
    char d[64], dl[96];
    snprintf(d, sizeof d, "depth %u", env->sync_depth);
    snprintf(dl, sizeof dl, "+%u ms RTT / loopback pair, %s", 2 * env->delay_ms, d);
    ratio("loopback batch 1000 / in-process batch 1000", f->net[0], f->inproc, "(goal >= 0.70)");
    ratio("loopback batch 1000 / in-process batch 10000", f->net[0], f->inproc_big,
          "(the node merges pipelined batches into one commit)");
    ratio("64 connections / 1 connection", f->many[0], f->one[0], "(goal >= 20; group commit)");
    ratio("channel on / off, batch 1000", f->net[1], f->net[0], "(goal >= 0.85)");
    ratio("channel on / off, single events, 1 conn", f->one[1], f->one[0], "");
    ratio("channel on / off, single events, 64 conns", f->many[1], f->many[0], "");
    for (int s = 0; s < 2; s++) {
        const char *tag = s ? " (channel)" : " (plaintext)";
        char what[128];
        snprintf(what, sizeof what, "sync pair / standalone, depth 4%s", tag);
        ratio(what, f->sync[s], f->net[s], "(goal >= 0.70)");
        snprintf(what, sizeof what, "%s%s", dl, tag);
        ratio(what, f->delayed[s], f->sync_deep[s], "(goal >= 0.50)");
        snprintf(what, sizeof what, "loopback pair %s / depth 4%s", d, tag);
        ratio(what, f->sync_deep[s], f->sync[s], "");
    }
}

static void run_all(bench_env *env, uint64_t events) {
    figures f = {0};
    printf("kyosai-bench: premium events over loopback to real kyosaid processes (real fsync)\n");
    if (env->parts & PART_STANDALONE) {
        f.inproc = inprocess_rate(env, events, 1000);
        f.inproc_big = inprocess_rate(env, events, KY_LEDGER_BATCH_COUNT_MAX);
    }
    for (int s = 0; s < 2; s++) {
        env->secure = s;
        if (s && (env->parts & (PART_STANDALONE | PART_SYNC)))
            printf("-- the same with the secure channel on (Noise IK, %s)\n",
                   ky_chan_preferred_cipher() == KY_NOISE_AESGCM ? "AES-256-GCM"
                                                                 : "ChaCha20-Poly1305");
        if (env->parts & PART_STANDALONE) run_standalone(env, events, &f);
        if (env->parts & PART_SYNC) run_pairs(env, events, &f);
    }
    if (env->parts & PART_CATCHUP) {
        char fill[PATH_BYTES_MAX + 16];
        snprintf(fill, sizeof fill, "%s.catchup", env->dir);
        scratch_reset(fill);
        printf("-- catch-up: primary filled in-process with %" PRIu64 " premiums (untimed)\n",
               env->catchup_events);
        snprintf(fill + strlen(fill), sizeof fill - strlen(fill), "/ledger");
        catchup_fill(fill, env->catchup_events);
        for (int s = 0; s < 2; s++) env->secure = s, run_catchup(env, fill);
        *strrchr(fill, '/') = 0;
        scratch_remove(fill);
    }
    if (env->parts & PART_SWITCHOVER) {
        printf("-- switchover drill (kyosaictl drill --back: light load, there and back)\n");
        for (int s = 0; s < 2; s++) env->secure = s, run_drill(env);
    }
    print_ratios(env, &f);
}

/* ---- options -------------------------------------------------------------------------- */

static uint32_t parts_parse(const char *v) {
    uint32_t p = 0;
    p |= strstr(v, "standalone") ? PART_STANDALONE : 0;
    p |= strstr(v, "sync") ? PART_SYNC : 0;
    p |= strstr(v, "catchup") ? PART_CATCHUP : 0;
    p |= strstr(v, "switchover") ? PART_SWITCHOVER : 0;
    if (p == 0) die("--parts", "standalone,sync,catchup,switchover");
    return p;
}

/* The path of `name` in the directory of `beside` (a binary path), into out. */
static const char *sibling(const char *beside, const char *name, char *out, size_t cap) {
    const char *slash = strrchr(beside, '/');
    int dir_len = slash == NULL ? 1 : (int)(slash - beside);
    snprintf(out, cap, "%.*s/%s", dir_len, slash == NULL ? "." : beside, name);
    return out;
}

static void options_parse(int argc, char **argv, bench_env *env, uint64_t *events,
                          scenario *custom) {
    for (int i = 1; i < argc; i += 2) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) die("usage", "every option takes a value (see the file comment)");
        if (strcmp(a, "--kyosaid") == 0)
            env->kyosaid = v;
        else if (strcmp(a, "--kyosaictl") == 0)
            env->kyosaictl = v;
        else if (strcmp(a, "--proxy") == 0)
            env->proxy = v;
        else if (strcmp(a, "--dir") == 0)
            env->dir = v;
        else if (strcmp(a, "--events") == 0)
            *events = strtoull(v, NULL, 10);
        else if (strcmp(a, "--parts") == 0)
            env->parts = parts_parse(v);
        else if (strcmp(a, "--catchup-events") == 0)
            env->catchup_events = strtoull(v, NULL, 10);
        else if (strcmp(a, "--catchup-frame-bytes") == 0)
            env->catchup_frame_bytes = strtoull(v, NULL, 10);
        else if (strcmp(a, "--delay-ms") == 0)
            env->delay_ms = (uint32_t)atoi(v);
        else if (strcmp(a, "--sync-depth") == 0)
            env->sync_depth = (uint32_t)atoi(v);
        else if (strcmp(a, "--scenario") == 0)
            custom->name = v;
        else if (strcmp(a, "--connections") == 0)
            custom->connections = (uint32_t)atoi(v);
        else if (strcmp(a, "--batch") == 0)
            custom->batch = (uint32_t)atoi(v);
        else if (strcmp(a, "--depth") == 0)
            custom->depth = (uint32_t)atoi(v);
        else if (strcmp(a, "--channel") == 0)
            env->secure = strcmp(v, "on") == 0;
        else
            die("unknown option", a);
    }
    if (env->kyosaictl == NULL)
        env->kyosaictl =
            sibling(env->kyosaid, "kyosaictl", env->kyosaictl_buf, sizeof env->kyosaictl_buf);
    if (env->proxy == NULL)
        env->proxy = sibling(argv[0], "delay-proxy", env->proxy_buf, sizeof env->proxy_buf);
    if (env->sync_depth < 1 || env->sync_depth > KYOSAI_INFLIGHT_REQUESTS_MAX)
        die("--sync-depth", "1..64");
}

int main(int argc, char **argv) {
    bench_env env = {.kyosaid = "build/kyosaid",
                     .dir = "/tmp/ky-kyosai-bench",
                     .parts = PART_STANDALONE | PART_SYNC | PART_CATCHUP | PART_SWITCHOVER,
                     .catchup_events = 500000,
                     .catchup_frame_bytes = 0,
                     .delay_ms = 5,
                     .sync_depth = 8};
    uint64_t events = 200000;
    scenario custom = {NULL, 1, 1000, 4, 0};
    options_parse(argc, argv, &env, &events, &custom);
    signal(SIGPIPE, SIG_IGN);
    if (custom.name != NULL) {
        custom.events = events;
        run_scenario(&env, &custom);
        return 0;
    }
    run_all(&env, events);
    return 0;
}
