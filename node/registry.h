/*
 * registry.h — who may connect and what each may do: the client registry and the role
 * table (DESIGN §6).
 *
 * Why a file of pinned keys, not passwords or certificates: every client already holds a
 * static X25519 key for the secure channel (secure/keys.h); pinning that key names the
 * client with nothing more to leak, rotate or expire. The registry file has one client per
 * line, '#' starts a comment:
 *
 *     x25519:<64 hex>  <name>  <role>[,<role>...]
 *
 * Names are 1..KY_REGISTRY_NAME_BYTES_MAX bytes of [A-Za-z0-9._-]; roles are writer,
 * reader, auditor, operator, replica (the pinned key of the DR node). A key may appear once. The
 * file is read at start-up.
 *
 * Role table (ky_role_allows): writer = append + reads; reader = reads; auditor = reads
 * (and proofs/checkpoints, which are read-only); operator = status and, later, drills,
 * promotion and switchover — not member data. Everyone authenticated may HELLO and STATUS.
 */
#ifndef KY_REGISTRY_H
#define KY_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../secure/keys.h"

#define KY_REGISTRY_CLIENTS_MAX    4096u /* lines with a key */
#define KY_REGISTRY_NAME_BYTES_MAX 64u
#define KY_REGISTRY_LINE_BYTES_MAX 512u

enum {
    KY_ROLE_WRITER = 1u << 0,
    KY_ROLE_READER = 1u << 1,
    KY_ROLE_AUDITOR = 1u << 2,
    KY_ROLE_OPERATOR = 1u << 3,
    KY_ROLE_REPLICA = 1u << 4, /* the DR node: subscribes to the replication stream */
    KY_ROLE_ALL = 0x1fu,       /* plaintext development mode: no authentication, every role */
};

typedef struct ky_registry_client {
    uint8_t key[KY_KEY_BYTES];
    char name[KY_REGISTRY_NAME_BYTES_MAX + 1];
    uint8_t roles; /* KY_ROLE_* bits */
} ky_registry_client;

typedef struct ky_registry {
    ky_registry_client *clients; /* sorted by key for bsearch */
    uint32_t count;
} ky_registry;

/* Loads a registry file. Returns KY_OK, KY_E_IO, KY_E_PARSE (err names the line and what
 * is wrong), KY_E_NOMEM. */
int ky_registry_load(ky_registry *r, const char *path, char *err, size_t err_cap);

/* The client with this key, or NULL. */
const ky_registry_client *ky_registry_find(const ky_registry *r, const uint8_t key[KY_KEY_BYTES]);

void ky_registry_free(ky_registry *r);

/* Whether roles allow the request of message type `type` (proto/msg.h). */
bool ky_role_allows(uint8_t roles, uint8_t type);

/* "writer,auditor" for logs and error messages (out has room for 40 bytes). */
void ky_roles_format(uint8_t roles, char *out, size_t cap);

/* The request's name for error messages: "append", "get", ... */
const char *ky_request_name(uint8_t type);

#endif
