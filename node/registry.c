/*
 * registry.c — the client registry file and the role table (see registry.h).
 */
#include "registry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../proto/msg.h"

static const struct {
    const char *name;
    uint8_t bit;
} role_names[] = {
    {"writer", KY_ROLE_WRITER},     {"reader", KY_ROLE_READER},   {"auditor", KY_ROLE_AUDITOR},
    {"operator", KY_ROLE_OPERATOR}, {"replica", KY_ROLE_REPLICA},
};
#define ROLE_NAME_COUNT (sizeof role_names / sizeof role_names[0])

/* Which roles may send each request. The one place access is decided. */
static const struct {
    uint8_t type;
    uint8_t roles;
    const char *name;
} request_roles[] = {
    {KY_MSG_HELLO, KY_ROLE_ALL, "hello"},
    {KY_MSG_STATUS, KY_ROLE_ALL, "status"},
    {KY_MSG_APPEND, KY_ROLE_WRITER, "append"},
    {KY_MSG_GET, KY_ROLE_WRITER | KY_ROLE_READER | KY_ROLE_AUDITOR | KY_ROLE_REPLICA, "get"},
    {KY_MSG_RANGE, KY_ROLE_WRITER | KY_ROLE_READER | KY_ROLE_AUDITOR, "range"},
    {KY_MSG_CONTRACT, KY_ROLE_WRITER | KY_ROLE_READER | KY_ROLE_AUDITOR, "contract"},
    {KY_MSG_HISTORY, KY_ROLE_WRITER | KY_ROLE_READER | KY_ROLE_AUDITOR, "history"},
    {KY_MSG_REPL_SUBSCRIBE, KY_ROLE_REPLICA, "subscribe to replication"},
    {KY_MSG_REPL_SUBSCRIBE_ASYNC, KY_ROLE_REPLICA, "subscribe as a read replica"},
    {KY_MSG_REPL_ACK, KY_ROLE_REPLICA, "acknowledge replication"},
    {KY_MSG_PROMOTE, KY_ROLE_OPERATOR, "promote"},
    {KY_MSG_SWITCHOVER, KY_ROLE_OPERATOR, "switch over"},
    {KY_MSG_DEGRADE, KY_ROLE_OPERATOR, "degrade to standalone"},
    {KY_MSG_RESTORE_SYNC, KY_ROLE_OPERATOR, "restore synchronous mode"},
};
#define REQUEST_ROLE_COUNT (sizeof request_roles / sizeof request_roles[0])

bool ky_role_allows(uint8_t roles, uint8_t type) {
    for (size_t i = 0; i < REQUEST_ROLE_COUNT; i++)
        if (request_roles[i].type == type) return (request_roles[i].roles & roles) != 0;
    return false; /* unknown requests are refused by the decoder before this */
}

const char *ky_request_name(uint8_t type) {
    for (size_t i = 0; i < REQUEST_ROLE_COUNT; i++)
        if (request_roles[i].type == type) return request_roles[i].name;
    return "unknown";
}

void ky_roles_format(uint8_t roles, char *out, size_t cap) {
    KY_ASSERT(cap >= 40);
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ROLE_NAME_COUNT; i++) {
        if ((roles & role_names[i].bit) == 0) continue;
        n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "", role_names[i].name);
    }
    if (n == 0) snprintf(out, cap, "none");
}

static int key_cmp(const void *a, const void *b) {
    return memcmp(((const ky_registry_client *)a)->key, ((const ky_registry_client *)b)->key,
                  KY_KEY_BYTES);
}

const ky_registry_client *ky_registry_find(const ky_registry *r, const uint8_t key[KY_KEY_BYTES]) {
    if (r->count == 0) return NULL;
    ky_registry_client probe = {0};
    memcpy(probe.key, key, KY_KEY_BYTES);
    return bsearch(&probe, r->clients, r->count, sizeof probe, key_cmp);
}

static bool name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > KY_REGISTRY_NAME_BYTES_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

static int roles_parse(char *s, uint8_t *out) {
    *out = 0;
    for (char *save = NULL, *tok = strtok_r(s, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        size_t i = 0;
        while (i < ROLE_NAME_COUNT && strcmp(tok, role_names[i].name) != 0) i++;
        if (i == ROLE_NAME_COUNT) return KY_E_PARSE;
        *out |= role_names[i].bit;
    }
    return *out ? KY_OK : KY_E_PARSE;
}

/* Parses one non-comment line into c. */
static int line_parse(char *line, ky_registry_client *c, const char **why) {
    char *save = NULL;
    char *key = strtok_r(line, " \t", &save);
    char *name = strtok_r(NULL, " \t", &save);
    char *roles = strtok_r(NULL, " \t", &save);
    char *extra = strtok_r(NULL, " \t", &save);
    *why = "expected: x25519:<64 hex> <name> <role>[,<role>...]";
    if (key == NULL || name == NULL || roles == NULL || extra != NULL) return KY_E_PARSE;
    *why = "key is not x25519: followed by 64 hex digits";
    if (ky_key_public_parse(key, strlen(key), c->key) != KY_OK) return KY_E_PARSE;
    *why = "name must be 1..64 of A-Z a-z 0-9 . _ -";
    if (!name_ok(name)) return KY_E_PARSE;
    snprintf(c->name, sizeof c->name, "%s", name);
    *why = "roles must be writer, reader, auditor, operator or replica, comma-separated";
    return roles_parse(roles, &c->roles);
}

static int lines_read(ky_registry *r, FILE *f, const char *path, char *err, size_t cap) {
    char line[KY_REGISTRY_LINE_BYTES_MAX + 2];
    unsigned lineno = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        lineno++;
        size_t len = strlen(line);
        if (len > KY_REGISTRY_LINE_BYTES_MAX && line[len - 1] != '\n') {
            snprintf(err, cap, "%s:%u: line longer than %u bytes", path, lineno,
                     KY_REGISTRY_LINE_BYTES_MAX);
            return KY_E_PARSE;
        }
        line[strcspn(line, "#\r\n")] = '\0';
        if (strspn(line, " \t") == strlen(line)) continue;
        if (r->count == KY_REGISTRY_CLIENTS_MAX) {
            snprintf(err, cap, "%s:%u: more than %u clients", path, lineno,
                     KY_REGISTRY_CLIENTS_MAX);
            return KY_E_PARSE;
        }
        const char *why = NULL;
        if (line_parse(line, &r->clients[r->count], &why) != KY_OK) {
            snprintf(err, cap, "%s:%u: %s", path, lineno, why);
            return KY_E_PARSE;
        }
        r->count++;
    }
    if (ferror(f)) {
        snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
        return KY_E_IO;
    }
    return KY_OK;
}

int ky_registry_load(ky_registry *r, const char *path, char *err, size_t cap) {
    memset(r, 0, sizeof *r);
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, cap, "cannot open client registry %s: %s", path, strerror(errno));
        return KY_E_IO;
    }
    r->clients = calloc(KY_REGISTRY_CLIENTS_MAX, sizeof *r->clients);
    int rc = r->clients ? lines_read(r, f, path, err, cap) : KY_E_NOMEM;
    fclose(f);
    if (rc == KY_OK) {
        qsort(r->clients, r->count, sizeof *r->clients, key_cmp);
        for (uint32_t i = 1; i < r->count; i++) {
            if (key_cmp(&r->clients[i - 1], &r->clients[i]) != 0) continue;
            snprintf(err, cap, "%s: key of '%s' and '%s' is the same; a key may appear once", path,
                     r->clients[i - 1].name, r->clients[i].name);
            rc = KY_E_PARSE;
            break;
        }
    }
    if (rc != KY_OK) ky_registry_free(r);
    return rc;
}

void ky_registry_free(ky_registry *r) {
    free(r->clients);
    memset(r, 0, sizeof *r);
}
