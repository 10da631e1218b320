/*
 * kyosaictl — the operator's and auditor's tool.
 *
 * Why one tool: operators and auditors need one documented entry point that works on a
 * ledger directory offline (init, post, reads, verify, reindex) and, in later versions,
 * against running nodes. Every command has --help; --json gives output for scripts; long
 * work shows a progress bar when stderr is a terminal. Exit codes: 0 success, 1 the
 * command ran and found a problem (refused events, a failed verification), 2 usage
 * errors, 3 the command could not run (storage, missing ledger).
 *
 * Threads: single-threaded; it is the ledger's only writer while it runs (the ledger's
 * lock refuses a second writer).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../common/ky_err.h"
#include "drill.h"
#include "../ledger/replica.h"
#include "../ledger/ledger.h"
#include "../ledger/verify.h"
#include "cli_util.h"
#include "cmd_audit.h"
#include "remote.h"

#define EXIT_PROBLEM 1
#define EXIT_USAGE   2
#define EXIT_CANNOT  3

typedef struct cli {
    const char *data_dir;    /* ledger directory */
    bool json;               /* machine-readable output */
    bool quiet;              /* no progress output */
    const char *server;      /* --server HOST:PORT[,...]: talk to a running node instead */
    const char *key_file;    /* --key: channel secret key */
    const char *server_keys; /* --server-key K[,K] */
} cli;

typedef struct command {
    const char *name;
    const char *args;
    const char *summary;
    const char *help; /* the full --help text after the usage line */
    int (*run)(cli *c, int argc, char **argv);
    /* Commands living in other files (ops/cmd_audit.c) take plain arguments. */
    int (*run_plain)(const char *data_dir, bool json, int argc, char **argv);
} command;

#define PLAIN_COMMAND(name, fn, P)                                                                 \
    { name, P##ARGS, P##SUMMARY, P##HELP, NULL, fn }

static int open_ledger(cli *c, bool writable, ky_ledger **l) {
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = c->data_dir;
    o.read_only = !writable;
    int rc = ky_ledger_open(l, &o);
    if (rc == KY_OK) return 0;
    fprintf(stderr, "kyosaictl: cannot open ledger %s: %s\n", c->data_dir, ky_strerror(rc));
    if (rc == KY_E_NOT_FOUND)
        fprintf(stderr, "kyosaictl: create one with: kyosaictl --data %s init\n", c->data_dir);
    return EXIT_CANNOT;
}

/* ---- init --------------------------------------------------------------------------- */

static int cmd_init(cli *c, int argc, char **argv) {
    bool replica = argc == 1 && strcmp(argv[0], "--replica") == 0;
    if (argc != 0 && !replica) return EXIT_USAGE;
    struct stat st;
    char path[4096];
    snprintf(path, sizeof path, "%s/data.mdb", c->data_dir);
    if (stat(path, &st) == 0) {
        fprintf(stderr, "kyosaictl: %s already holds a ledger; refusing to touch it\n",
                c->data_dir);
        return EXIT_PROBLEM;
    }
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = c->data_dir;
    o.create = true;
    ky_ledger *l;
    int rc = ky_ledger_open(&l, &o);
    if (rc == KY_OK && !replica) rc = ky_ledger_epoch_begin(l, 1, NULL);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: init %s: %s\n", c->data_dir, ky_strerror(rc));
        if (l) ky_ledger_close(l);
        return EXIT_CANNOT;
    }
    ky_ledger_head h;
    ky_ledger_head_get(l, &h);
    char node[2 * KY_NODE_ID_BYTES + 1];
    ky_cli_hex(h.node_id, KY_NODE_ID_BYTES, node);
    if (c->json)
        printf("{\"data\":\"%s\",\"node_id\":\"%s\",\"epoch\":%" PRIu64 ",\"head_seq\":%" PRIu64
               "}\n",
               c->data_dir, node, h.epoch, h.seq);
    else if (replica)
        printf("created empty replica ledger %s (node id %s); it will stream from its primary\n",
               c->data_dir, node);
    else
        printf("created ledger %s (node id %s, epoch 1, seq 1 epoch_started)\n", c->data_dir, node);
    ky_ledger_close(l);
    return 0;
}

/* ---- reads -------------------------------------------------------------------------- */

static int print_seq(ky_ledger *l, cli *c, uint64_t seq) {
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    int rc = ky_ledger_get(l, seq, buf, sizeof buf, &n);
    ky_entry e;
    if (rc == KY_OK) rc = ky_entry_decode(buf, n, &e);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: seq %" PRIu64 ": %s\n", seq, ky_strerror(rc));
        /* 3 only when the tool could not read at all; a missing or bad entry is a finding */
        return rc == KY_E_STORAGE || rc == KY_E_IO || rc == KY_E_NOMEM ? EXIT_CANNOT : EXIT_PROBLEM;
    }
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(buf, n, leaf);
    ky_cli_print_entry(stdout, &e, leaf, c->json);
    return 0;
}

static int cmd_get(cli *c, int argc, char **argv) {
    uint64_t seq;
    if (argc != 1 || ky_cli_parse_u64(argv[0], 1, UINT64_MAX, &seq) != 0) return EXIT_USAGE;
    if (c->server) return ky_remote_get(c->server, c->json, seq);
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    ex = print_seq(l, c, seq);
    ky_ledger_close(l);
    return ex;
}

typedef struct range_ctx {
    cli *c;
    uint64_t printed;
} range_ctx;

static int range_cb(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len) {
    range_ctx *rc = ctx;
    const uint8_t *bytes;
    size_t len;
    ky_entry e;
    int r = ky_ledger_stored_check(stored, stored_len, &bytes, &len);
    if (r == KY_OK) r = ky_entry_decode(bytes, len, &e);
    if (r != KY_OK) {
        fprintf(stderr, "kyosaictl: seq %" PRIu64 ": %s\n", seq, ky_strerror(r));
        return r;
    }
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(bytes, len, leaf);
    ky_cli_print_entry(stdout, &e, leaf, rc->c->json);
    rc->printed++;
    return 0;
}

static int cmd_range(cli *c, int argc, char **argv) {
    uint64_t a, b;
    if (argc != 2 || ky_cli_parse_u64(argv[0], 1, UINT64_MAX, &a) != 0 ||
        ky_cli_parse_u64(argv[1], a, UINT64_MAX, &b) != 0)
        return EXIT_USAGE;
    if (b - a >= 100000) {
        fprintf(stderr, "kyosaictl: range is limited to 100000 entries per call\n");
        return EXIT_USAGE;
    }
    if (c->server) return ky_remote_range(c->server, c->json, a, b);
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    range_ctx rc = {c, 0};
    int r = ky_ledger_scan(l, a, b, range_cb, &rc);
    ky_ledger_close(l);
    if (r != KY_OK) return EXIT_PROBLEM;
    if (rc.printed == 0)
        fprintf(stderr, "kyosaictl: no entries in %" PRIu64 "..%" PRIu64 "\n", a, b);
    return 0;
}

static int cmd_contract(cli *c, int argc, char **argv) {
    uint64_t id;
    if (argc != 1 || ky_cli_parse_u64(argv[0], 1, UINT64_MAX, &id) != 0) return EXIT_USAGE;
    if (c->server) return ky_remote_contract(c->server, c->json, id);
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    ky_contract_state cs;
    int rc = ky_ledger_contract_get(l, id, &cs);
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: contract %" PRIu64 ": %s\n", id, ky_strerror(rc));
        return rc == KY_E_NOT_FOUND ? EXIT_PROBLEM : EXIT_CANNOT;
    }
    ky_cli_print_contract(stdout, &cs, c->json);
    return 0;
}

static int cmd_history(cli *c, int argc, char **argv) {
    uint64_t id, after = 0, limit = 100;
    if (argc < 1 || ky_cli_parse_u64(argv[0], 1, UINT64_MAX, &id) != 0) return EXIT_USAGE;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) return EXIT_USAGE;
        uint64_t *dst = strcmp(argv[i], "--after") == 0   ? &after
                        : strcmp(argv[i], "--limit") == 0 ? &limit
                                                          : NULL;
        if (dst == NULL || ky_cli_parse_u64(argv[i + 1], 0, UINT64_MAX, dst) != 0)
            return EXIT_USAGE;
    }
    if (limit == 0 || limit > KY_HISTORY_PAGE_COUNT_MAX) {
        fprintf(stderr, "kyosaictl: --limit must be 1..%u\n", KY_HISTORY_PAGE_COUNT_MAX);
        return EXIT_USAGE;
    }
    if (c->server) return ky_remote_history(c->server, c->json, id, after, limit);
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    uint64_t seqs[KY_HISTORY_PAGE_COUNT_MAX];
    uint32_t n = 0;
    int rc = ky_ledger_history(l, id, after, seqs, (uint32_t)limit, &n);
    for (uint32_t i = 0; i < n && rc == KY_OK && ex == 0; i++) ex = print_seq(l, c, seqs[i]);
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: history %" PRIu64 ": %s\n", id, ky_strerror(rc));
        return EXIT_CANNOT;
    }
    if (n == 0 && !c->json) fprintf(stderr, "kyosaictl: no entries for contract %" PRIu64 "\n", id);
    return ex;
}

/* quarantine: entries cut from this node's tail when it rejoined after a failover. */
static int print_quarantined(void *ctx, uint64_t event_no, uint64_t seq, const uint8_t *entry,
                             size_t len) {
    const cli *c = ctx;
    ky_entry e;
    if (ky_entry_decode(entry, len, &e) != KY_OK) {
        fprintf(stderr,
                "kyosaictl: quarantined seq %" PRIu64 " (event %" PRIu64 ") does not decode\n", seq,
                event_no);
        return 0;
    }
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(entry, len, leaf);
    if (!c->json) printf("quarantine event %" PRIu64 ":\n", event_no);
    ky_cli_print_entry(stdout, &e, leaf, c->json);
    return 0;
}

static int cmd_quarantine(cli *c, int argc, char **argv) {
    (void)argv;
    if (argc != 0) return EXIT_USAGE;
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    ky_ledger_head h;
    int rc = ky_ledger_head_get(l, &h);
    if (rc == KY_OK && !c->json)
        printf("%" PRIu64 " quarantined entries (never acknowledged; kept, never deleted)\n",
               h.quarantine_count);
    if (rc == KY_OK) rc = ky_ledger_quarantine_scan(l, print_quarantined, c);
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: quarantine: %s\n", ky_strerror(rc));
        return EXIT_CANNOT;
    }
    return 0;
}

static int cmd_promote(cli *c, int argc, char **argv) {
    uint32_t flags = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--force") == 0)
            flags |= KY_REMOTE_PROMOTE_FORCE;
        else if (strcmp(argv[i], "--accept-loss") == 0)
            flags |= KY_REMOTE_PROMOTE_ACCEPT_LOSS;
        else
            return EXIT_USAGE;
    }
    if (c->server == NULL) {
        fprintf(stderr, "kyosaictl: promote talks to a running node: give --server HOST:PORT\n");
        return EXIT_USAGE;
    }
    return ky_remote_promote(c->server, c->json, flags);
}

static int cmd_switchover(cli *c, int argc, char **argv) {
    (void)argv;
    if (argc != 0) return EXIT_USAGE;
    if (c->server == NULL) {
        fprintf(stderr, "kyosaictl: switchover talks to the primary: give --server HOST:PORT\n");
        return EXIT_USAGE;
    }
    return ky_remote_switchover(c->server, c->json);
}

static int cmd_mode(cli *c, int argc, bool restore) {
    if (argc != 0) return EXIT_USAGE;
    if (c->server == NULL) {
        fprintf(stderr, "kyosaictl: this talks to the primary: give --server HOST:PORT\n");
        return EXIT_USAGE;
    }
    return ky_remote_mode(c->server, c->json, restore);
}

static int cmd_degrade(cli *c, int argc, char **argv) {
    (void)argv;
    return cmd_mode(c, argc, false);
}

static int cmd_restore_sync(cli *c, int argc, char **argv) {
    (void)argv;
    return cmd_mode(c, argc, true);
}

/* drill [--back] [--report FILE]: needs --server A,B. */
static int cmd_drill(cli *c, int argc, char **argv) {
    ky_drill_opts o = {0};
    const char *report = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--back") == 0)
            o.back = true;
        else if (strcmp(argv[i], "--report") == 0 && i + 1 < argc)
            report = argv[++i];
        else
            return EXIT_USAGE;
    }
    char eps[512], keys[1024];
    snprintf(eps, sizeof eps, "%s", c->server ? c->server : "");
    char *save = NULL;
    o.endpoints[0] = strtok_r(eps, ",", &save);
    o.endpoints[1] = o.endpoints[0] ? strtok_r(NULL, ",", &save) : NULL;
    if (o.endpoints[1] == NULL) {
        fprintf(stderr, "kyosaictl: drill needs both nodes: --server PRIMARY,REPLICA\n");
        return EXIT_USAGE;
    }
    if (c->key_file != NULL && c->server_keys != NULL) {
        snprintf(keys, sizeof keys, "%s", c->server_keys);
        o.key_file = c->key_file;
        for (char *t = strtok_r(keys, ",", &save); t && o.server_key_count < 2;
             t = strtok_r(NULL, ",", &save))
            o.server_keys[o.server_key_count++] = t;
    }
    if (!c->quiet)
        fprintf(stderr, "kyosaictl: drill: switchover%s under a light load...\n",
                o.back ? " and back" : "");
    ky_drill_report rep;
    int ex = ky_drill_run(&o, &rep);
    ky_drill_print(stdout, &rep, c->json);
    if (report != NULL) {
        FILE *f = fopen(report, "w");
        if (f == NULL) {
            fprintf(stderr, "kyosaictl: cannot write %s\n", report);
            return EXIT_CANNOT;
        }
        ky_drill_print(f, &rep, true);
        fclose(f);
    }
    return ex;
}

static int cmd_status(cli *c, int argc, char **argv) {
    (void)argv;
    if (argc != 0) return EXIT_USAGE;
    if (c->server) return ky_remote_status(c->server, c->json);
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    ky_ledger_head h;
    enum { EPOCHS_SHOWN = 64 };
    uint64_t epochs[EPOCHS_SHOWN], firsts[EPOCHS_SHOWN];
    uint32_t count = 0;
    int rc = ky_ledger_head_get(l, &h);
    if (rc == KY_OK) rc = ky_ledger_epochs(l, epochs, firsts, EPOCHS_SHOWN, &count);
    if (rc == KY_E_BUFFER_TOO_SMALL) rc = KY_OK; /* the first 64 are shown */
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: status: %s\n", ky_strerror(rc));
        return EXIT_CANNOT;
    }
    ky_cli_print_head(stdout, c->data_dir, &h, epochs, firsts,
                      count < EPOCHS_SHOWN ? count : EPOCHS_SHOWN, count, c->json);
    return 0;
}

/* ---- verify / reindex --------------------------------------------------------------- */

static int cmd_verify(cli *c, int argc, char **argv) {
    uint64_t from = 1, to = 0;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc) return EXIT_USAGE;
        uint64_t *dst = strcmp(argv[i], "--from") == 0 ? &from
                        : strcmp(argv[i], "--to") == 0 ? &to
                                                       : NULL;
        if (dst == NULL || ky_cli_parse_u64(argv[i + 1], 1, UINT64_MAX, dst) != 0)
            return EXIT_USAGE;
    }
    ky_ledger *l;
    int ex = open_ledger(c, false, &l);
    if (ex != 0) return ex;
    ky_cli_progress prog;
    ky_cli_progress_init(&prog, "verify", c->quiet);
    ky_verify_report rep;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ky_verify_range(l, from, to, ky_cli_progress_cb, &prog, &rep);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ky_cli_progress_done(&prog);
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: verify could not run: %s\n", ky_strerror(rc));
        return EXIT_CANNOT;
    }
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    if (rep.from_seq > rep.to_seq) {
        fprintf(stderr,
                "kyosaictl: nothing to verify: seq %" PRIu64 ".. is past the head (%" PRIu64 ")\n",
                rep.from_seq, rep.to_seq);
        return EXIT_USAGE;
    }
    ky_cli_print_verify(stdout, &rep, secs, c->json);
    return rep.first_bad_seq == 0 ? 0 : EXIT_PROBLEM;
}

/* Removes the scratch copy a live check made (the files LMDB and the ledger create). */
static void snapshot_remove(const char *dir) {
    static const char *const files[] = {"data.mdb", "lock.mdb", "kyosai.lock"};
    char path[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* reindex --check on a directory a running node holds: copy one consistent LMDB snapshot
 * into a scratch directory ($TMPDIR, else /tmp) and replay that copy. Nothing in the
 * node's directory is written. *l_out is the opened copy; *scratch receives its path. */
static int open_live_snapshot(cli *c, char *scratch, size_t cap, ky_ledger **l_out) {
    const char *tmp = getenv("TMPDIR");
    snprintf(scratch, cap, "%s/kyosai-check-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(scratch) == NULL) {
        fprintf(stderr, "kyosaictl: cannot create a scratch directory %s: %s\n", scratch,
                strerror(errno));
        return EXIT_CANNOT;
    }
    ky_ledger *src;
    int ex = open_ledger(c, false, &src);
    int rc = KY_OK;
    if (ex == 0) {
        if (!c->quiet)
            fprintf(stderr,
                    "kyosaictl: %s is in use by a running node; checking a "
                    "consistent snapshot copied to %s\n",
                    c->data_dir, scratch);
        rc = ky_ledger_snapshot_copy(src, scratch);
        ky_ledger_close(src);
    }
    if (ex == 0 && rc == KY_OK) {
        ky_ledger_options o;
        ky_ledger_options_default(&o);
        o.dir_path = scratch;
        rc = ky_ledger_open(l_out, &o);
    }
    if (ex == 0 && rc != KY_OK) {
        fprintf(stderr, "kyosaictl: snapshot of %s into %s: %s\n", c->data_dir, scratch,
                ky_strerror(rc));
        ex = EXIT_CANNOT;
    }
    if (ex != 0) snapshot_remove(scratch);
    return ex;
}

static int cmd_reindex(cli *c, int argc, char **argv) {
    bool check = argc == 1 && strcmp(argv[0], "--check") == 0;
    if (argc > 1 || (argc == 1 && !check)) return EXIT_USAGE;
    ky_ledger *l = NULL;
    char scratch[4096] = "";
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = c->data_dir;
    int rc = ky_ledger_open(&l, &o);
    if (rc == KY_E_LOCKED && check) {
        int ex = open_live_snapshot(c, scratch, sizeof scratch, &l);
        if (ex != 0) return ex;
    } else if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: cannot open ledger %s: %s\n", c->data_dir, ky_strerror(rc));
        if (rc == KY_E_LOCKED)
            fprintf(stderr, "kyosaictl: a running node holds it; stop the node to rebuild "
                            "(reindex --check works on a running node)\n");
        if (rc == KY_E_NOT_FOUND)
            fprintf(stderr, "kyosaictl: create one with: kyosaictl --data %s init\n", c->data_dir);
        return EXIT_CANNOT;
    }
    ky_ledger_head head;
    if (ky_ledger_head_get(l, &head) != KY_OK) head.seq = 0;
    ky_cli_progress prog;
    ky_cli_progress_init(&prog, "reindex", c->quiet);
    bool equal = false;
    rc = ky_ledger_reindex(l, check, &equal, ky_cli_progress_cb, &prog);
    ky_cli_progress_done(&prog);
    ky_ledger_close(l);
    bool live = scratch[0] != '\0';
    if (live) snapshot_remove(scratch);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: reindex failed: %s (nothing was changed)\n", ky_strerror(rc));
        return EXIT_PROBLEM;
    }
    if (c->json)
        printf("{\"rebuilt\":%s,\"state_equal\":%s,\"head_seq\":%" PRIu64 ",\"snapshot\":%s}\n",
               check ? "false" : "true", equal ? "true" : "false", head.seq,
               live ? "true" : "false");
    else if (check)
        printf("reindex --check: derived state %s a replay of entries 1..%" PRIu64
               "%s (nothing changed)\n",
               equal ? "EQUALS" : "DIFFERS FROM", head.seq,
               live ? " in a snapshot of the running node" : "");
    else
        printf("reindex: derived state rebuilt from the entries; it %s the state before\n",
               equal ? "equals" : "differs from");
    return equal ? 0 : EXIT_PROBLEM;
}

/* ---- post / sample (ops/post.c) ------------------------------------------------------ */

static int cmd_post(cli *c, int argc, char **argv) {
    if (argc != 1) return EXIT_USAGE;
    if (c->server) {
        ky_cli_post_summary sum;
        int ex = ky_remote_post(c->server, argv[0], c->quiet, &sum);
        if (sum.line_count + sum.bad_line_count > 0) /* what was done before a failure too */
            ky_cli_print_post_summary(stdout, &sum, c->json);
        if (ex != 0) return ex;
        return sum.refused_count + sum.bad_line_count == 0 ? 0 : EXIT_PROBLEM;
    }
    ky_ledger *l;
    int ex = open_ledger(c, true, &l);
    if (ex != 0) return ex;
    ky_cli_post_summary sum;
    int rc = ky_cli_post_file(l, argv[0], c->quiet, &sum);
    ky_ledger_close(l);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: post %s: %s\n", argv[0], ky_strerror(rc));
        return EXIT_CANNOT;
    }
    ky_cli_print_post_summary(stdout, &sum, c->json);
    return sum.refused_count + sum.bad_line_count == 0 ? 0 : EXIT_PROBLEM;
}

static int cmd_sample(cli *c, int argc, char **argv) {
    (void)c;
    uint64_t contracts = 2000, months = 12, seed = 1, start = 202504;
    for (int i = 0; i < argc; i += 2) {
        if (i + 1 >= argc) return EXIT_USAGE;
        uint64_t *dst = strcmp(argv[i], "--contracts") == 0 ? &contracts
                        : strcmp(argv[i], "--months") == 0  ? &months
                        : strcmp(argv[i], "--seed") == 0    ? &seed
                        : strcmp(argv[i], "--start") == 0   ? &start
                                                            : NULL;
        if (dst == NULL || ky_cli_parse_u64(argv[i + 1], 0, UINT64_MAX, dst) != 0)
            return EXIT_USAGE;
    }
    if (contracts == 0 || contracts > 10000000 || months > 480) {
        fprintf(stderr, "kyosaictl: --contracts must be 1..10000000, --months 0..480\n");
        return EXIT_USAGE;
    }
    return ky_cli_sample_write(stdout, contracts, (uint32_t)months, seed, (uint32_t)start) == KY_OK
               ? 0
               : EXIT_CANNOT;
}

/* ---- dispatch ----------------------------------------------------------------------- */

static const command commands[] = {
    {"init", "[--replica]", "create a new ledger (epoch 1) in the data directory",
     "Creates the directory and an LMDB ledger whose first entry (seq 1) starts epoch 1.\n"
     "--replica: an empty ledger (no entries) for a DR node, which receives every entry,\n"
     "seq 1 included, from its primary. Refuses to touch a directory holding a ledger.\n",
     cmd_init},
    {"post", "FILE|-", "post events from a JSON-lines or CSV file",
     "Reads one event per line (JSON lines, or CSV with a header line; the format is\n"
     "detected from the first line) and appends them in batches. A line that cannot be\n"
     "parsed is reported with its line number and writes nothing; the rest are posted.\n"
     "Events the ledger refuses are counted by reason. Events without idem_key get a key\n"
     "derived from the file's modification time and line number, so posting the same file\n"
     "again is idempotent (every event comes back as a duplicate).\n"
     "Fields: kind scheme contract amount period months subtype member_type reason\n"
     "        ref_seq linked idem_key payload   (see docs/OPERATIONS.md)\n"
     "Exit 0 when every line was posted (or was a duplicate), 1 otherwise.\n",
     cmd_post},
    {"get", "SEQ", "show one entry", "Prints the entry with its leaf hash.\n", cmd_get},
    {"range", "A B", "show entries A..B (at most 100000)", "Prints entries A..B in order.\n",
     cmd_range},
    {"contract", "ID", "show a contract's derived state",
     "Status, monthly premium, months paid, total paid, loan balance, last seq.\n", cmd_contract},
    {"history", "ID [--after N] [--limit N]", "show a contract's entries in order",
     "Pages through the contract's entries: --after is a contract_seq (default 0),\n"
     "--limit at most 1000 (default 100).\n",
     cmd_history},
    {"promote", "--force [--accept-loss]", "failover: make the DR replica the primary",
     "Needs --server (the DR node) and the operator role. The node refuses, saying why, if\n"
     "it is not a replica, still streams from a live primary, holds no entries, or is\n"
     "behind the highest seq acknowledged to clients (it names the missing range) unless\n"
     "--accept-loss. On success it starts epoch + 1 and runs standalone until the old\n"
     "primary rejoins as its replica. Exit 0 promoted, 1 refused, 3 cannot connect.\n",
     cmd_promote},
    {"quarantine", "", "list entries quarantined when this node rejoined after a failover",
     "Offline, read-only. When a former primary rejoins as replica, entries it wrote but\n"
     "never had acknowledged (the replica never confirmed them) are moved out of the ledger\n"
     "into quarantine: kept for review, never deleted, never part of the chain.\n",
     cmd_quarantine},
    {"degrade", "", "primary: run standalone without the replica (recorded in the ledger)",
     "Needs --server (the primary) and the operator role. Appends are then acknowledged\n"
     "without the replica: the operator's explicit choice, never a timer (DESIGN 5). The\n"
     "change is written into the ledger as a mode_changed system entry.\n",
     cmd_degrade},
    {"restore-sync", "", "primary: return to strict synchronous mode (recorded)",
     "Refused until the replica streams and holds the primary's head. Written into the\n"
     "ledger as a mode_changed system entry.\n",
     cmd_restore_sync},
    {"drill", "[--back] [--report FILE]", "switchover drill on a live pair, with a report",
     "Needs --server A,B (both nodes) and a key with the writer and operator roles. Under a\n"
     "light load (payload-only entries on a drill contract) it runs a switchover (and back\n"
     "with --back) and reports the write pause clients saw (RTO), acknowledged entries\n"
     "found on the new primary (RPO must be 0), both heads and Merkle roots, and whether\n"
     "both chains verify link by link. --report FILE also writes the report as JSON.\n"
     "Exit 0 passed, 1 failed, 3 could not run.\n",
     cmd_drill},
    {"switchover", "", "planned handover: the primary hands over to its replica",
     "Needs --server (the primary) and the operator role. The primary stops admitting\n"
     "appends (clients retry), waits until the replica holds its head, hands over with\n"
     "epoch + 1 and becomes the replica of the new primary. Prints the write pause.\n"
     "Exit 0 done, 1 refused or aborted (writes resumed), 3 cannot connect.\n",
     cmd_switchover},
    {"status", "", "show the head, acked seq, quarantine and epoch history (epoch -> first seq)",
     "Reads the committed head record (works while a writer runs).\n", cmd_status},
    {"verify", "[--from A] [--to B]", "verify entries offline (read-only)",
     "Checks every entry's XXH3 checksum, strict decode, seq continuity and prev_hash link;\n"
     "from seq 1 also every contract chain, the head record and the Merkle root.\n"
     "Exit 0 when all verify; 1 naming the first bad seq and why; 3 if it cannot run.\n",
     cmd_verify},
    {"reindex", "[--check]", "rebuild derived state from the entries",
     "Rebuilds contracts, paid months, idempotency keys and history from the entries in\n"
     "one transaction and reports whether the result equals the state before.\n"
     "--check does the same and changes nothing. On a directory a running node holds,\n"
     "--check replays a consistent snapshot copied to $TMPDIR (else /tmp) and removes it\n"
     "afterwards; a rebuild needs the node stopped. Exit 1 if the states differ.\n",
     cmd_reindex},
    {"sample", "[--contracts N] [--months M] [--seed S] [--start YYYYMM]",
     "write a realistic sample workload (JSON lines) to stdout",
     "Contracts of both schemes with realistic premiums, M months of premiums each, and\n"
     "a sprinkling of premium changes, loans and amendments. Deterministic per seed.\n",
     cmd_sample},
    PLAIN_COMMAND("keygen", ky_cmd_keygen, KY_CMD_KEYGEN_),
    PLAIN_COMMAND("checkpoint", ky_cmd_checkpoint, KY_CMD_CHECKPOINT_),
    PLAIN_COMMAND("prove", ky_cmd_prove, KY_CMD_PROVE_),
    PLAIN_COMMAND("prove-consistency", ky_cmd_prove_consistency, KY_CMD_PROVE_CONSISTENCY_),
    PLAIN_COMMAND("check-inclusion", ky_cmd_check_inclusion, KY_CMD_CHECK_INCLUSION_),
    PLAIN_COMMAND("check-consistency", ky_cmd_check_consistency, KY_CMD_CHECK_CONSISTENCY_),
};
#define COMMAND_COUNT (sizeof commands / sizeof commands[0])

static void usage(FILE *out) {
    fprintf(out, "usage: kyosaictl [--data DIR] [--json] [--quiet] COMMAND [ARGS]\n\n"
                 "The operator's and auditor's tool for kyosai-ledger.\n\n"
                 "Options:\n"
                 "  --data DIR   ledger directory (default $KYOSAI_DATA or ./kyosai-data)\n"
                 "  --json       machine-readable output\n"
                 "  --quiet      no progress bars\n"
                 "  --server H:P[,H:P]  post/get/range/contract/history/status against a\n"
                 "               running node (first reachable endpoint) instead of DIR\n"
                 "  --key FILE   this client's channel secret key (keygen --channel;\n"
                 "               default $KYOSAI_KEY)\n"
                 "  --server-key K[,K]  the node's public key x25519:<hex> or .pub file, one\n"
                 "               per --server endpoint (default $KYOSAI_SERVER_KEY); without\n"
                 "               --key and --server-key the connection is plaintext\n"
                 "  --version    print the version\n\nCommands:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(out, "  %-18s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'kyosaictl COMMAND --help' for a command's arguments.\n");
}

static void command_help(FILE *out, const command *cmd) {
    fprintf(out, "usage: kyosaictl [--data DIR] [--json] %s %s\n\n%s.\n\n%s", cmd->name, cmd->args,
            cmd->summary, cmd->help);
}

/* An environment variable, with empty treated as unset. */
static const char *env_or_null(const char *name) {
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int main(int argc, char **argv) {
    cli c = {getenv("KYOSAI_DATA") ? getenv("KYOSAI_DATA") : "./kyosai-data",
             false,
             false,
             NULL,
             NULL,
             NULL};
    const char *key_file = env_or_null("KYOSAI_KEY"),
               *server_keys = env_or_null("KYOSAI_SERVER_KEY");
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("kyosaictl %s (ledger format %u)\n", KY_CLI_VERSION, KY_LEDGER_FORMAT_VERSION);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (strcmp(argv[i], "--quiet") == 0) {
            c.quiet = true;
        } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
            c.data_dir = argv[++i];
        } else if (strcmp(argv[i], "--server") == 0 && i + 1 < argc) {
            c.server = argv[++i];
        } else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
            key_file = argv[++i];
        } else if (strcmp(argv[i], "--server-key") == 0 && i + 1 < argc) {
            server_keys = argv[++i];
        } else {
            fprintf(stderr, "kyosaictl: unknown option '%s'\n\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    ky_remote_set_keys(key_file, server_keys);
    c.key_file = key_file;
    c.server_keys = server_keys;
    for (size_t k = 0; k < COMMAND_COUNT; k++) {
        const command *cmd = &commands[k];
        if (strcmp(argv[i], cmd->name) != 0) continue;
        for (int j = i + 1; j < argc; j++) {
            if (strcmp(argv[j], "--help") == 0 || strcmp(argv[j], "-h") == 0) {
                command_help(stdout, cmd);
                return 0;
            }
        }
        int ex = cmd->run != NULL ? cmd->run(&c, argc - i - 1, argv + i + 1)
                                  : cmd->run_plain(c.data_dir, c.json, argc - i - 1, argv + i + 1);
        if (ex == EXIT_USAGE) {
            fprintf(stderr, "kyosaictl: bad arguments for '%s'\n\n", cmd->name);
            command_help(stderr, cmd);
        }
        return ex;
    }
    fprintf(stderr, "kyosaictl: unknown command '%s'\n\n", argv[i]);
    usage(stderr);
    return EXIT_USAGE;
}
