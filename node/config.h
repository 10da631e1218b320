/*
 * config.h — kyosaid's settings: one static table of every setting with its type, unit,
 * range and default (STYLE rule 18), loaded from a small INI file (Debian's libinih) and
 * overridden from the command line.
 *
 * Why a table: every setting is documented and validated in one place; values out of
 * range are refused at start-up, never clamped. ops/kyosaid.conf.sample is the table
 * written out (a unit test checks they agree).
 *
 * Thread-safety: loaded once in main() before any thread starts; read-only afterwards.
 */
#ifndef KY_CONFIG_H
#define KY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct ky_config {
    char listen_addr[64];                          /* IPv4 address to listen on */
    uint64_t listen_port;                          /* TCP port */
    char data_dir[512];                            /* ledger directory */
    uint64_t map_bytes;                            /* LMDB map size, bytes */
    uint64_t connections_max;                      /* concurrent client connections */
    uint64_t frame_body_bytes_max;                 /* largest request body accepted, bytes */
    uint64_t queued_bytes_per_connection_max;      /* unsent response bytes before reads pause */
    uint64_t inflight_requests_per_connection_max; /* pipelined requests per connection */
    uint64_t idle_timeout_ms;                      /* close a connection silent this long */
    uint64_t read_timeout_ms;                      /* a started frame must complete within this */
    uint64_t batch_count_max;                      /* events per group commit */
    uint64_t writer_queue_requests_max;            /* append requests waiting for the writer */
    uint64_t shutdown_grace_ms;                    /* time to finish in-flight work on SIGTERM */
    char key_file[512];                            /* node's X25519 secret key file */
    char clients_file[512];                        /* client registry (node/registry.h) */
    uint64_t plaintext;                            /* 1: no secure channel (loopback only) */
    char ciphers[64];                              /* allowed: "aesgcm,chachapoly" */
    uint64_t handshake_timeout_ms;                 /* a handshake must complete within this */
    uint64_t handshakes_pending_max;               /* connections still in their handshake */
    uint64_t connections_per_key_max;              /* open connections per client key */
    char role[16];                                 /* standalone | primary | replica */
    char peer_addr[64];                            /* the other node's HOST:PORT */
    char peer_key[512];                            /* the other node's public key */
    uint64_t sync_timeout_ms;                      /* primary: wait for the replica, ms */
    uint64_t async;                                /* replica: 1 = asynchronous read replica */
} ky_config;

/* Fills every setting with its default. */
void ky_config_default(ky_config *c);

/* Sets one setting from text ("section.name" or bare "name"). Returns KY_OK, or
 * KY_E_INVALID_ARG (unknown name) / KY_E_RANGE (bad or out-of-range value) with a
 * one-line explanation in err (err_cap bytes). */
int ky_config_set(ky_config *c, const char *name, const char *value, char *err, size_t err_cap);

/* Loads an INI file over the current values. Same returns plus KY_E_IO / KY_E_PARSE
 * (the message names the line). */
int ky_config_load(ky_config *c, const char *path, char *err, size_t err_cap);

/* Writes every setting as a documented INI file (the sample config) to out. */
void ky_config_write_sample(FILE *out);

/* Writes the effective configuration, one key=value per line. */
void ky_config_print(const ky_config *c, FILE *out);

#endif
