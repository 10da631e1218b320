/*
 * config.c — the settings table of kyosaid and its INI loader (see config.h).
 *
 * Why libinih: a well-kept, tiny INI parser packaged by Debian; we write only the table.
 */
#include <stdio.h>

#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../common/ky_limits.h"

typedef enum setting_type { T_U64, T_STR } setting_type;

typedef struct setting {
    const char *section; /* INI section */
    const char *name;    /* key, unit last */
    setting_type type;
    size_t offset;     /* in ky_config */
    size_t str_cap;    /* T_STR: buffer size */
    uint64_t min, max; /* T_U64 bounds, inclusive */
    const char *def;   /* default, as text */
    const char *doc;   /* one sentence for the sample file */
} setting;

#define U64(sec, field, lo, hi, d, doc)                                                            \
    { sec, #field, T_U64, offsetof(ky_config, field), 0, lo, hi, d, doc }
#define STR(sec, field, d, doc)                                                                    \
    {                                                                                              \
        sec, #field, T_STR, offsetof(ky_config, field), sizeof(((ky_config *)0)->field), 0, 0, d,  \
            doc                                                                                    \
    }

static const setting settings[] = {
    STR("node", listen_addr, "127.0.0.1", "IPv4 address to listen on"),
    U64("node", listen_port, 1, 65535, "7400", "TCP port to listen on"),
    STR("node", data_dir, "./kyosai-data", "ledger directory (created by kyosaictl init)"),
    U64("node", map_bytes, KY_LEDGER_MAP_BYTES_MIN, KY_LEDGER_MAP_BYTES_MAX, "68719476736",
        "LMDB map size in bytes (sparse; the ledger cannot grow past it)"),
    U64("node", shutdown_grace_ms, 0, 600000, "10000",
        "on SIGTERM, time to finish in-flight appends before the node exits, ms"),
    U64("limits", connections_max, 1, 65536, "1024", "concurrent client connections"),
    U64("limits", frame_body_bytes_max, KY_WIRE_FRAME_BODY_BYTES_MIN, KY_WIRE_FRAME_BODY_BYTES_MAX,
        "4194304", "largest request frame body accepted, bytes"),
    U64("limits", queued_bytes_per_connection_max, 65536, 1ull << 30, "16777216",
        "unsent response bytes per connection before the node stops reading from it"),
    U64("limits", inflight_requests_per_connection_max, 1, 65536, "1024",
        "pipelined requests one connection may have in flight"),
    U64("limits", idle_timeout_ms, 1000, 86400000, "300000",
        "close a connection that sends nothing for this long, ms"),
    U64("limits", read_timeout_ms, 100, 3600000, "10000",
        "a frame whose first byte arrived must be complete within this, ms"),
    U64("writer", batch_count_max, 1, KY_LEDGER_BATCH_COUNT_MAX, "10000",
        "events per group commit (one fsync'ed LMDB transaction)"),
    U64("writer", writer_queue_requests_max, 16, 1000000, "65536",
        "append requests waiting for the writer before new ones are refused"),
    STR("security", key_file, "",
        "the node's static X25519 secret key file (kyosaictl keygen --channel); required "
        "unless plaintext = 1"),
    STR("security", clients_file, "",
        "client registry: one 'x25519:<hex> name role[,role]' per line; required unless "
        "plaintext = 1"),
    U64("security", plaintext, 0, 1, "0",
        "1 = no secure channel and no roles, for development only; refused unless "
        "listen_addr is a loopback address"),
    STR("security", ciphers, "aesgcm,chachapoly",
        "ciphers clients may choose: aesgcm (needs AES-NI), chachapoly"),
    U64("security", handshake_timeout_ms, 100, 600000, "5000",
        "a connection must finish its handshake within this, ms"),
    U64("security", handshakes_pending_max, 1, 65536, "64",
        "connections still in their handshake (half-open); more are closed at once"),
    U64("security", connections_per_key_max, 1, 65536, "256",
        "open connections one client key may hold"),
    STR("replication", role, "standalone",
        "standalone, primary (answers appends only once the replica holds them) or replica"),
    STR("replication", peer_addr, "",
        "the other node of the pair, IPv4 HOST:PORT: a replica streams from it; a primary "
        "watches its epoch and steps down if it was promoted"),
    STR("replication", peer_key, "",
        "the other node's public key x25519:<hex> or .pub file (pinned)"),
    U64("replication", sync_timeout_ms, 100, 600000, "5000",
        "primary: an append waits this long for the replica, then fails REPLICA_UNAVAILABLE"),
    U64("replication", async, 0, 1, "0",
        "replica: 1 follows peer_addr as an asynchronous read replica (reporting, audit): "
        "never waited for, never promoted"),
};
#define SETTING_COUNT (sizeof settings / sizeof settings[0])

static const setting *find(const char *section, const char *name) {
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        if (strcmp(settings[i].name, name) != 0) continue;
        if (section == NULL || section[0] == '\0' || strcmp(settings[i].section, section) == 0)
            return &settings[i];
    }
    return NULL;
}

static int apply(ky_config *c, const setting *s, const char *value, char *err, size_t cap) {
    char *field = (char *)c + s->offset;
    if (s->type == T_STR) {
        if (strlen(value) >= s->str_cap) {
            snprintf(err, cap, "%s: value longer than %zu bytes", s->name, s->str_cap - 1);
            return KY_E_RANGE;
        }
        snprintf(field, s->str_cap, "%s", value);
        return KY_OK;
    }
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(value, &end, 10);
    if (value[0] < '0' || value[0] > '9' || errno != 0 || *end != '\0') {
        snprintf(err, cap, "%s: '%s' is not a whole number", s->name, value);
        return KY_E_RANGE;
    }
    if (v < s->min || v > s->max) {
        snprintf(err, cap, "%s: %llu is outside %llu..%llu", s->name, v, (unsigned long long)s->min,
                 (unsigned long long)s->max);
        return KY_E_RANGE;
    }
    memcpy(field, &(uint64_t){v}, sizeof(uint64_t));
    return KY_OK;
}

void ky_config_default(ky_config *c) {
    memset(c, 0, sizeof *c);
    char err[128];
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        int rc = apply(c, &settings[i], settings[i].def, err, sizeof err);
        KY_ASSERT(rc == KY_OK); /* defaults are inside their own ranges */
    }
}

int ky_config_set(ky_config *c, const char *name, const char *value, char *err, size_t cap) {
    char section[32] = "";
    const char *dot = strchr(name, '.');
    if (dot != NULL && (size_t)(dot - name) < sizeof section) {
        memcpy(section, name, (size_t)(dot - name));
        section[dot - name] = '\0';
        name = dot + 1;
    }
    const setting *s = find(section, name);
    if (s == NULL) {
        snprintf(err, cap, "unknown setting '%s%s%s'", section, section[0] ? "." : "", name);
        return KY_E_INVALID_ARG;
    }
    return apply(c, s, value, err, cap);
}

typedef struct load_ctx {
    ky_config *c;
    char *err;
    size_t cap;
    int rc;
} load_ctx;

static int ini_cb(void *user, const char *section, const char *name, const char *value) {
    load_ctx *lc = user;
    const setting *s = find(section, name);
    if (s == NULL) {
        snprintf(lc->err, lc->cap, "unknown setting [%s] %s", section, name);
        lc->rc = KY_E_INVALID_ARG;
        return 0;
    }
    int rc = apply(lc->c, s, value, lc->err, lc->cap);
    if (rc != KY_OK) lc->rc = rc;
    return rc == KY_OK;
}

int ky_config_load(ky_config *c, const char *path, char *err, size_t cap) {
    load_ctx lc = {c, err, cap, KY_OK};
    int line = ini_parse(path, ini_cb, &lc);
    if (line == -1) {
        snprintf(err, cap, "cannot open %s: %s", path, strerror(errno));
        return KY_E_IO;
    }
    if (line != 0) {
        char detail[256];
        snprintf(detail, sizeof detail, "%s", lc.rc != KY_OK ? err : "syntax error");
        snprintf(err, cap, "%s line %d: %s", path, line, detail);
        return lc.rc != KY_OK ? lc.rc : KY_E_PARSE;
    }
    return KY_OK;
}

void ky_config_write_sample(FILE *out) {
    fprintf(out, "# kyosaid configuration. Every setting is shown with its default.\n"
                 "# Units are in the names (_ms, _bytes, _max counts).\n");
    const char *section = "";
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting *s = &settings[i];
        if (strcmp(section, s->section) != 0) {
            fprintf(out, "\n[%s]\n", s->section);
            section = s->section;
        }
        if (s->type == T_U64)
            fprintf(out, "# %s (%llu..%llu)\n", s->doc, (unsigned long long)s->min,
                    (unsigned long long)s->max);
        else
            fprintf(out, "# %s\n", s->doc);
        fprintf(out, "%s = %s\n", s->name, s->def);
    }
}

void ky_config_print(const ky_config *c, FILE *out) {
    for (size_t i = 0; i < SETTING_COUNT; i++) {
        const setting *s = &settings[i];
        const char *field = (const char *)c + s->offset;
        if (s->type == T_STR) {
            fprintf(out, "%s.%s=%s\n", s->section, s->name, field);
        } else {
            uint64_t v;
            memcpy(&v, field, sizeof v);
            fprintf(out, "%s.%s=%llu\n", s->section, s->name, (unsigned long long)v);
        }
    }
}
