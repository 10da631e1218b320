/*
 * kyosaid — the kyosai-ledger node: serves the binary protocol over TCP, group-commits
 * appends into the LMDB ledger, answers reads.
 *
 * Why this file is small: main() only parses arguments and configuration, opens the
 * ledger, and runs the server (server.h); it is the one place allowed to exit on a fatal
 * start-up error (STYLE rule 12). Exit codes: 0 clean shutdown, 2 usage or configuration
 * error, 3 the ledger or the socket could not be opened.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_err.h"
#include "../ledger/ledger.h"
#include "config.h"
#include "log.h"
#include "server.h"

#define KYOSAID_VERSION "0.1.0"

static void usage(FILE *out) {
    fprintf(out,
            "usage: kyosaid [--config FILE] [--set SECTION.NAME=VALUE]... [--check-config]\n"
            "               [--print-sample-config] [--version] [--help]\n\n"
            "The kyosai-ledger node. Serves the binary protocol (docs/PROTOCOL.md) on\n"
            "listen_addr:listen_port for the ledger in data_dir (create it first with\n"
            "'kyosaictl --data DIR init').\n\n"
            "  --config FILE           INI configuration (ops/kyosaid.conf.sample lists every\n"
            "                          setting with its default)\n"
            "  --set S.N=V             override one setting, e.g. --set node.listen_port=7401\n"
            "  --check-config          validate the configuration, print it, exit\n"
            "  --print-sample-config   print a configuration file with every default\n\n"
            "Signals: SIGTERM/SIGINT stop accepting, finish in-flight appends (up to\n"
            "shutdown_grace_ms), answer them, close the ledger and exit 0.\n");
}

/* Parses arguments into cfg; returns -1 to continue, or an exit code. */
static int parse_args(int argc, char **argv, ky_config *cfg, bool *check_only) {
    char err[512];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("kyosaid %s (ledger format %u)\n", KYOSAID_VERSION, KY_LEDGER_FORMAT_VERSION);
            return 0;
        } else if (strcmp(a, "--print-sample-config") == 0) {
            ky_config_write_sample(stdout);
            return 0;
        } else if (strcmp(a, "--check-config") == 0) {
            *check_only = true;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            if (ky_config_load(cfg, argv[++i], err, sizeof err) != KY_OK) {
                fprintf(stderr, "kyosaid: %s\n", err);
                return 2;
            }
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            char kv[600];
            snprintf(kv, sizeof kv, "%s", argv[++i]);
            char *eq = strchr(kv, '=');
            if (eq == NULL) {
                fprintf(stderr, "kyosaid: --set needs SECTION.NAME=VALUE, got '%s'\n", kv);
                return 2;
            }
            *eq = '\0';
            if (ky_config_set(cfg, kv, eq + 1, err, sizeof err) != KY_OK) {
                fprintf(stderr, "kyosaid: %s\n", err);
                return 2;
            }
        } else {
            fprintf(stderr, "kyosaid: unknown argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    return -1;
}

static int open_ledger(const ky_config *cfg, ky_ledger **l) {
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = cfg->data_dir;
    o.map_bytes = cfg->map_bytes;
    int rc = ky_ledger_open(l, &o);
    if (rc == KY_E_LOCKED) {
        ky_log("error", "ledger is locked by another process",
               "data_dir=%s hint=\"another kyosaid or kyosaictl is writing this ledger\"",
               cfg->data_dir);
    } else if (rc == KY_E_NOT_FOUND) {
        ky_log("error", "no ledger in data_dir", "data_dir=%s hint=\"kyosaictl --data %s init\"",
               cfg->data_dir, cfg->data_dir);
    } else if (rc != KY_OK) {
        ky_log("error", "cannot open ledger", "data_dir=%s error=%s", cfg->data_dir,
               ky_errname(rc));
    }
    return rc;
}

int main(int argc, char **argv) {
    setvbuf(stderr, NULL, _IONBF, 0);
    ky_config cfg;
    ky_config_default(&cfg);
    bool check_only = false;
    int ex = parse_args(argc, argv, &cfg, &check_only);
    if (ex >= 0) return ex;
    if (check_only) {
        ky_config_print(&cfg, stdout);
        printf("configuration OK\n");
        return 0;
    }
    ky_ledger *l = NULL;
    if (open_ledger(&cfg, &l) != KY_OK) return 3;
    ky_ledger_head h;
    ky_ledger_head_get(l, &h);
    char err[512] = "";
    ky_server *s = NULL;
    if (ky_server_open(&s, &cfg, l, err, sizeof err) != KY_OK) {
        ky_log("error", "cannot start the server", "error=\"%s\"", err);
        ky_ledger_close(l);
        return 3;
    }
    ky_log("info", "node started",
           "version=%s listen=%s:%" PRIu64 " data_dir=%s head_seq=%" PRIu64 " epoch=%" PRIu64
           " connections_max=%" PRIu64 " batch_count_max=%" PRIu64,
           KYOSAID_VERSION, cfg.listen_addr, cfg.listen_port, cfg.data_dir, h.seq, h.epoch,
           cfg.connections_max, cfg.batch_count_max);
    ky_server_run(s);
    ky_server_close(s);
    ky_ledger_head_get(l, &h);
    ky_ledger_close(l);
    ky_log("info", "node stopped", "head_seq=%" PRIu64, h.seq);
    return 0;
}
