/*
 * remote.c — kyosaictl's commands against a running node (--server HOST:PORT[,HOST:PORT]).
 *
 * Why through libkyosai: the tool is a client like any application; it exercises the same
 * library, idempotency keys and retries the applications use, and never opens the ledger
 * files of a running node. Output formats are those of the offline commands, so scripts
 * do not care where the data came from. Single-threaded (one kyosai_client).
 */
#include "remote.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../client/kyosai.h"
#include "../common/ky_err.h"
#include "../proto/status.h"
#include "import.h"

#define REMOTE_BATCH_COUNT 1000u

/* Secure-channel keys for every connection this process makes (ky_remote_set_keys). */
static const char *remote_key_file;
static const char *remote_server_keys;

void ky_remote_set_keys(const char *key_file, const char *server_keys) {
    remote_key_file = key_file;
    remote_server_keys = server_keys;
}

/* The node's explanation of its last refusal, kept past kyosai_close for fail(). */
static char last_detail[KYOSAI_ERROR_TEXT_BYTES_MAX + 1];

static void close_client(kyosai_client *c) {
    if (c == NULL) return;
    snprintf(last_detail, sizeof last_detail, "%s", kyosai_last_error(c));
    kyosai_close(c);
}

/* Connects to the endpoints of servers (comma-separated), or only to the one at index
 * `only` (>= 0) with its own key. Prints why on failure. Returns 0 or -1. */
static int connect_sel(const char *servers, int only, kyosai_client **c) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", servers);
    const char *eps[KYOSAI_ENDPOINTS_MAX];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < KYOSAI_ENDPOINTS_MAX;
         t = strtok_r(NULL, ",", &save))
        eps[n++] = t;
    if (n == 0 || (only >= 0 && (size_t)only >= n)) return -1;
    if (only >= 0) {
        eps[0] = eps[only];
        n = 1;
    }
    kyosai_options o = {2000, 30000, 3, "kyosaictl", NULL, NULL, 0};
    char kbuf[1024];
    const char *keys[KYOSAI_ENDPOINTS_MAX];
    if (remote_key_file != NULL || remote_server_keys != NULL) {
        snprintf(kbuf, sizeof kbuf, "%s", remote_server_keys ? remote_server_keys : "");
        size_t k = 0;
        for (char *save = NULL, *t = strtok_r(kbuf, ",", &save); t && k < KYOSAI_ENDPOINTS_MAX;
             t = strtok_r(NULL, ",", &save))
            keys[k++] = t;
        if (remote_key_file == NULL || k == 0) {
            fprintf(stderr, "kyosaictl: the secure channel needs both --key FILE and "
                            "--server-key KEY[,KEY] (or $KYOSAI_KEY and $KYOSAI_SERVER_KEY)\n");
            return -1;
        }
        o.key_file = remote_key_file;
        o.server_keys = keys;
        o.server_key_count = k;
        if (only >= 0) {
            keys[0] = keys[k == 1 ? 0 : (size_t)only < k ? (size_t)only : k - 1];
            o.server_key_count = 1;
        }
    }
    int rc = kyosai_connect(c, eps, n, &o);
    if (rc != KYOSAI_OK) {
        fprintf(stderr, "kyosaictl: cannot connect to %s: %s\n", only >= 0 ? eps[0] : servers,
                kyosai_strerror(rc));
        return -1;
    }
    return 0;
}

static int connect_to(const char *servers, kyosai_client **c) {
    return connect_sel(servers, -1, c);
}

/* Converts a client entry to the ledger's decoded form for the shared printers. */
static void to_entry(const kyosai_entry *k, ky_entry *e) {
    memset(e, 0, sizeof *e);
    e->version = KY_ENTRY_VERSION;
    e->kind = k->kind;
    e->scheme = k->scheme;
    e->subtype = k->subtype;
    e->months = k->months;
    e->period_yyyymm = k->period_yyyymm;
    e->seq = k->seq;
    e->epoch = k->epoch;
    e->timestamp_us = k->timestamp_us;
    e->contract_id = k->contract_id;
    e->contract_seq = k->contract_seq;
    e->ref_seq = k->ref_seq;
    e->amount_jpy = k->amount_jpy;
    memcpy(e->idem_key, k->idem_key, KY_IDEM_KEY_BYTES);
    memcpy(e->prev_hash, k->prev_hash, KY_HASH_BYTES);
    memcpy(e->contract_prev_hash, k->contract_prev_hash, KY_HASH_BYTES);
    e->payload = k->payload;
    e->payload_bytes = k->payload_bytes;
}

typedef struct print_ctx {
    bool json;
    uint64_t printed;
} print_ctx;

static int print_cb(void *ctx, const kyosai_entry *k, const uint8_t *bytes, size_t len) {
    (void)bytes, (void)len;
    print_ctx *p = ctx;
    ky_entry e;
    to_entry(k, &e);
    ky_cli_print_entry(stdout, &e, k->leaf_hash, p->json);
    p->printed++;
    return 0;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "kyosaictl: %s: %s\n", what, kyosai_strerror(rc));
    if (last_detail[0] != '\0') fprintf(stderr, "kyosaictl: the node says: %s\n", last_detail);
    return rc == KYOSAI_E_NOT_FOUND ? 1 : 3;
}

int ky_remote_get(const char *servers, bool json, uint64_t seq) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    uint8_t buf[KYOSAI_ENTRY_BYTES_MAX];
    size_t n;
    kyosai_entry k;
    int rc = kyosai_get(c, seq, buf, sizeof buf, &n, &k);
    int ex = 0;
    if (rc == KYOSAI_OK) {
        print_ctx p = {json, 0};
        print_cb(&p, &k, buf, n);
    } else {
        ex = fail("get", rc);
    }
    close_client(c);
    return ex;
}

int ky_remote_range(const char *servers, bool json, uint64_t a, uint64_t b) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    print_ctx p = {json, 0};
    uint64_t next = a;
    int rc = KYOSAI_OK;
    while (rc == KYOSAI_OK && next != 0 && next <= b)
        rc = kyosai_range(c, next, b, KYOSAI_READ_COUNT_MAX, print_cb, &p, &next);
    close_client(c);
    return rc == KYOSAI_OK ? 0 : fail("range", rc);
}

int ky_remote_history(const char *servers, bool json, uint64_t id, uint64_t after, uint64_t limit) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    print_ctx p = {json, 0};
    uint64_t next = 0;
    int rc = kyosai_history(c, id, after, (uint32_t)limit, print_cb, &p, &next);
    close_client(c);
    return rc == KYOSAI_OK ? 0 : fail("history", rc);
}

int ky_remote_contract(const char *servers, bool json, uint64_t id) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    kyosai_contract k;
    int rc = kyosai_contract_get(c, id, &k);
    close_client(c);
    if (rc != KYOSAI_OK) return fail("contract", rc);
    ky_contract_state cs = {k.contract_id,
                            k.scheme,
                            k.status,
                            k.member_type,
                            k.months_paid,
                            k.monthly_premium_jpy,
                            k.total_paid_jpy,
                            k.loan_balance_jpy,
                            k.opened_seq,
                            k.closed_seq,
                            k.last_seq,
                            k.entry_count,
                            {0}};
    memcpy(cs.last_leaf_hash, k.last_leaf_hash, KY_HASH_BYTES);
    ky_cli_print_contract(stdout, &cs, json);
    return 0;
}

/* One node's STATUS, fetched on its own connection. *ok false when unreachable. */
typedef struct node_status {
    char ep[64];
    bool ok;
    int rc;
    kyosai_status s;
} node_status;

static void status_fetch(const char *servers, const char *ep, int idx, node_status *n) {
    snprintf(n->ep, sizeof n->ep, "%s", ep);
    kyosai_client *c = NULL;
    n->ok = false;
    n->rc = KYOSAI_E_UNAVAILABLE;
    if (connect_sel(servers, idx, &c) != 0) return;
    n->rc = kyosai_status_get(c, &n->s);
    n->ok = n->rc == KYOSAI_OK;
    close_client(c);
}

static const char *role_name(uint8_t r) {
    static const char *roles[] = {"?", "primary", "replica", "standalone"};
    return r <= 3 ? roles[r] : "?";
}

static const char *mode_name(uint8_t m) {
    static const char *modes[] = {"none", "strict", "standalone", "replica"};
    return m <= 3 ? modes[m] : "?";
}

static void status_json(const node_status *n) {
    if (!n->ok) {
        printf("{\"endpoint\":\"%s\",\"reachable\":false,\"error\":\"%s\"}\n", n->ep,
               kyosai_strerror(n->rc));
        return;
    }
    const kyosai_status *s = &n->s;
    char hh[65], mr[65], id[33];
    ky_cli_hex(s->head_hash, KY_HASH_BYTES, hh);
    ky_cli_hex(s->merkle_root, KY_HASH_BYTES, mr);
    ky_cli_hex(s->node_id, KYOSAI_NODE_ID_BYTES, id);
    printf(
        "{\"endpoint\":\"%s\",\"reachable\":true,\"role\":\"%s\",\"mode\":\"%s\",\"epoch\":%" PRIu64
        ",\"head_seq\":%" PRIu64 ",\"head_hash\":\"%s\",\"merkle_root\":\"%s\",\"node_id\":\"%s\""
        ",\"acked_seq\":%" PRIu64 ",\"replica_durable_seq\":%" PRIu64
        ",\"replica_lag_entries\":%" PRIu64 ",\"replica_lag_ms\":%" PRIu64
        ",\"quarantine_count\":%" PRIu64 ",\"peer_connected\":%s,\"uptime_ms\":%" PRIu64
        ",\"connections\":%u,\"appends_total\":%" PRIu64 ",\"events_total\":%" PRIu64
        ",\"refused_total\":%" PRIu64 ",\"batches_total\":%" PRIu64 "}\n",
        n->ep, role_name(s->role), mode_name(s->mode), s->epoch, s->head_seq, hh, mr, id,
        s->acked_seq, s->replica_durable_seq, s->replica_lag_entries, s->replica_lag_ms,
        s->quarantine_count, s->peer_connected ? "true" : "false", s->uptime_ms, s->connections,
        s->appends_total, s->events_total, s->refused_total, s->batches_total);
}

/* Text: one column per node, so a pair reads side by side. */
static void status_text(const node_status *ns, size_t n) {
    char cell[KYOSAI_ENDPOINTS_MAX][72];
#define ROW(label, ...)                                                                            \
    do {                                                                                           \
        printf("%-14s", label);                                                                    \
        for (size_t i = 0; i < n; i++) {                                                           \
            const kyosai_status *s = &ns[i].s;                                                     \
            (void)s;                                                                               \
            if (ns[i].ok)                                                                          \
                snprintf(cell[i], sizeof cell[i], __VA_ARGS__);                                    \
            else                                                                                   \
                snprintf(cell[i], sizeof cell[i], "-");                                            \
            printf(" %-*s", n > 1 ? 34 : 64, cell[i]);                                             \
        }                                                                                          \
        printf("\n");                                                                              \
    } while (0)
    printf("%-14s", "node");
    for (size_t i = 0; i < n; i++) printf(" %-*s", n > 1 ? 34 : 64, ns[i].ep);
    printf("\n");
    for (size_t i = 0; i < n; i++)
        if (!ns[i].ok) printf("(%s: unreachable: %s)\n", ns[i].ep, kyosai_strerror(ns[i].rc));
    char hex[KYOSAI_ENDPOINTS_MAX][65];
    ROW("role", "%s (%s)", role_name(s->role), mode_name(s->mode));
    ROW("epoch", "%" PRIu64, s->epoch);
    ROW("head seq", "%" PRIu64, s->head_seq);
    for (size_t i = 0; i < n; i++) ky_cli_hex(ns[i].s.head_hash, KY_HASH_BYTES, hex[i]);
    ROW("head hash", "%.*s%s", n > 1 ? 24 : 64, hex[i], n > 1 ? "..." : "");
    ROW("acked seq", "%" PRIu64, s->acked_seq);
    ROW("replica", "%s",
        s->role == 1   ? (s->peer_connected ? "streaming" : "NOT CONNECTED")
        : s->role == 2 ? (s->peer_connected ? "streaming from primary" : "NOT STREAMING")
                       : "-");
    ROW("replica seq", "%" PRIu64, s->replica_durable_seq);
    ROW("lag", "%" PRIu64 " entries, %" PRIu64 " ms", s->replica_lag_entries, s->replica_lag_ms);
    ROW("quarantine", "%" PRIu64 " entries", s->quarantine_count);
    ROW("uptime", "%.1f s", (double)s->uptime_ms / 1000.0);
    ROW("connections", "%u", s->connections);
    ROW("appends", "%" PRIu64 " req, %" PRIu64 " new", s->appends_total, s->events_total);
    ROW("group commits", "%" PRIu64, s->batches_total);
#undef ROW
}

int ky_remote_status(const char *servers, bool json) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", servers);
    node_status ns[KYOSAI_ENDPOINTS_MAX];
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t && n < KYOSAI_ENDPOINTS_MAX;
         t = strtok_r(NULL, ",", &save)) {
        status_fetch(servers, t, (int)n, &ns[n]);
        n++;
    }
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        any = any || ns[i].ok;
        if (json) status_json(&ns[i]);
    }
    if (!json && any) status_text(ns, n); /* nothing reachable: the reasons are on stderr */
    return any ? 0 : 3;
}

/* ---- post ---------------------------------------------------------------------------- */

typedef struct remote_batch {
    kyosai_event ev[REMOTE_BATCH_COUNT];
    kyosai_result res[REMOTE_BATCH_COUNT];
    uint64_t line_of[REMOTE_BATCH_COUNT];
    uint8_t payload[REMOTE_BATCH_COUNT][KY_ENTRY_PAYLOAD_BYTES_MAX];
    uint32_t count;
} remote_batch;

static int remote_flush(kyosai_client *c, remote_batch *b, ky_cli_post_summary *sum) {
    if (b->count == 0) return KYOSAI_OK;
    int rc = kyosai_append(c, b->ev, b->count, b->res);
    if (rc != KYOSAI_OK) return rc;
    for (uint32_t i = 0; i < b->count; i++) {
        const kyosai_result *r = &b->res[i];
        if (r->code == KYOSAI_OK && (r->flags & KYOSAI_RESULT_DUPLICATE)) {
            sum->duplicate_count++;
        } else if (r->code == KYOSAI_OK) {
            sum->posted_count++;
            if (sum->first_seq == 0) sum->first_seq = r->seq;
            sum->last_seq = r->seq;
        } else {
            int e = ky_wire_status_to_err((uint16_t)-r->code);
            sum->refused_count++;
            if (-e <= KY_E__COUNT) sum->refused_by_code[-e]++;
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": refused: %s\n", b->line_of[i],
                    ky_strerror(e));
        }
    }
    b->count = 0;
    return KYOSAI_OK;
}

static void add_event(remote_batch *b, const ky_event *e, uint64_t line) {
    kyosai_event *k = &b->ev[b->count];
    memset(k, 0, sizeof *k);
    k->kind = e->kind;
    k->scheme = e->scheme;
    k->flags = e->flags;
    k->subtype = e->subtype;
    k->months = e->months;
    k->period_yyyymm = e->period_yyyymm;
    k->contract_id = e->contract_id;
    k->ref_seq = e->ref_seq;
    k->amount_jpy = e->amount_jpy;
    memcpy(k->idem_key, e->idem_key, KY_IDEM_KEY_BYTES);
    if (e->payload_bytes > 0) {
        memcpy(b->payload[b->count], e->payload, e->payload_bytes);
        k->payload = b->payload[b->count];
        k->payload_bytes = e->payload_bytes;
    }
    b->line_of[b->count++] = line;
}

int ky_remote_post(const char *servers, const char *path, bool quiet, ky_cli_post_summary *sum) {
    memset(sum, 0, sizeof *sum);
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "kyosaictl: post: cannot open %s: %s\n", path, strerror(errno));
        return 3;
    }
    kyosai_client *c = NULL;
    ky_import *im = malloc(sizeof *im);
    remote_batch *b = calloc(1, sizeof *b);
    char *line = malloc(KY_IMPORT_LINE_BYTES_MAX + 2);
    int rc = (im && b && line && connect_to(servers, &c) == 0) ? KYOSAI_OK : -1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (rc == KYOSAI_OK) ky_import_init(im, ky_cli_file_base(in));
    struct stat st;
    uint64_t size = fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    uint64_t read_bytes = 0;
    ky_cli_progress prog;
    ky_cli_progress_init(&prog, "post", quiet);
    for (uint64_t n = 1; rc == KYOSAI_OK && fgets(line, KY_IMPORT_LINE_BYTES_MAX + 2, in); n++) {
        size_t len = strlen(line);
        read_bytes += len;
        ky_cli_progress_cb(&prog, read_bytes, size ? size : read_bytes);
        if ((len == 0 || line[len - 1] != '\n') && !feof(in)) { /* over the limit: skip it */
            int ch;
            while ((ch = fgetc(in)) != EOF && ch != '\n') read_bytes++;
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": longer than %u bytes\n", n,
                    KY_IMPORT_LINE_BYTES_MAX);
            sum->bad_line_count++;
            continue;
        }
        len = strcspn(line, "\r\n");
        line[len] = '\0';
        ky_event ev;
        bool has = false;
        char msg[KY_IMPORT_MSG_BYTES];
        if (ky_import_line(im, line, len, n, &ev, &has, msg, sizeof msg) != KY_OK) {
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": %s\n", n, msg);
            sum->bad_line_count++;
            continue;
        }
        if (!has) continue;
        sum->line_count++;
        add_event(b, &ev, n);
        bool linked = ev.flags & KY_EVENT_LINKED;
        if (b->count == REMOTE_BATCH_COUNT || (b->count >= REMOTE_BATCH_COUNT - 16 && !linked))
            rc = remote_flush(c, b, sum);
    }
    if (rc == KYOSAI_OK) rc = remote_flush(c, b, sum);
    ky_cli_progress_done(&prog);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sum->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (im) ky_import_release(im);
    close_client(c);
    if (rc < -1) fail("post", rc);
    free(im);
    free(b);
    free(line);
    if (in != stdin) fclose(in);
    return rc == KYOSAI_OK ? 0 : 3;
}

int ky_remote_promote(const char *servers, bool json, uint32_t flags) {
    _Static_assert(KY_REMOTE_PROMOTE_FORCE == KYOSAI_PROMOTE_FORCE, "same flag bits");
    _Static_assert(KY_REMOTE_PROMOTE_ACCEPT_LOSS == KYOSAI_PROMOTE_ACCEPT_LOSS, "same flag bits");
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    uint64_t epoch = 0, head = 0;
    int rc = kyosai_promote(c, flags, &epoch, &head);
    close_client(c);
    if (rc == KYOSAI_E_PROMOTE_REFUSED) {
        fail("promote", rc);
        return 1;
    }
    if (rc != KYOSAI_OK) return fail("promote", rc);
    if (json)
        printf("{\"promoted\":true,\"epoch\":%" PRIu64 ",\"head_seq\":%" PRIu64 "}\n", epoch, head);
    else
        printf("promoted %s to primary: epoch %" PRIu64 " begun, head at seq %" PRIu64
               " (standalone until the old primary rejoins)\n",
               servers, epoch, head);
    return 0;
}

int ky_remote_switchover(const char *servers, bool json) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    uint64_t head = 0, pause = 0;
    int rc = kyosai_switchover(c, &head, &pause);
    close_client(c);
    if (rc == KYOSAI_E_PROMOTE_REFUSED || rc == KYOSAI_E_RETRY_LATER) {
        fail("switchover", rc);
        return 1;
    }
    if (rc != KYOSAI_OK) return fail("switchover", rc);
    if (json)
        printf("{\"switched\":true,\"head_seq\":%" PRIu64 ",\"pause_ms\":%" PRIu64 "}\n", head,
               pause);
    else
        printf("switched over at seq %" PRIu64 " (write pause on the old primary %" PRIu64
               " ms); %s now follows the new primary\n",
               head, pause, servers);
    return 0;
}

int ky_remote_mode(const char *servers, bool json, bool restore) {
    kyosai_client *c;
    if (connect_to(servers, &c) != 0) return 3;
    uint64_t seq = 0;
    int rc = restore ? kyosai_restore_sync(c, &seq) : kyosai_degrade(c, &seq);
    close_client(c);
    const char *what = restore ? "restore-sync" : "degrade";
    if (rc == KYOSAI_E_PROMOTE_REFUSED) {
        fail(what, rc);
        return 1;
    }
    if (rc != KYOSAI_OK) return fail(what, rc);
    if (json)
        printf("{\"mode\":\"%s\",\"seq\":%" PRIu64 "}\n", restore ? "strict" : "standalone", seq);
    else
        printf("%s is now %s; recorded as mode_changed entry seq %" PRIu64 "\n", servers,
               restore ? "in strict synchronous mode" : "standalone (no replica needed)", seq);
    return 0;
}
