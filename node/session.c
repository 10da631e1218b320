/*
 * session.c — the node's side of the secure channel: key and registry at start-up, the
 * Noise IK handshake of each connection, record decryption on input (DESIGN §6,
 * secure/channel.h). Output sealing is in server.c (ky_conn_out_commit).
 *
 * Why here and not in server.c: who may connect is a policy (pinned keys, replayed
 * handshakes, half-open and per-key limits, plaintext only on loopback) that deserves one
 * place to read and review. Loop thread only.
 *
 * A connection is admitted only when all hold: the preamble and message 1 authenticate
 * against the node's key; the client's static key is in the registry; the initiator's
 * ephemeral key was not seen in the last KY_SESSION_REPLAY_ENTRIES handshakes; the key
 * has fewer than connections_per_key_max open connections. Any failure closes the
 * connection without an answer (the peer learns nothing) and logs one line naming the
 * peer address, the key's fingerprint and the reason. Secrets never reach a log line.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../proto/msg.h"
#include "log.h"
#include "server_int.h"

/* ---- start-up ------------------------------------------------------------------------ */

static bool addr_is_loopback(const char *addr) {
    struct in_addr a;
    return inet_pton(AF_INET, addr, &a) == 1 && (ntohl(a.s_addr) >> 24) == 127;
}

static int ciphers_parse(ky_server *s, char *err, size_t cap) {
    char list[sizeof s->cfg.ciphers];
    snprintf(list, sizeof list, "%s", s->cfg.ciphers);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (strcmp(t, "aesgcm") == 0) {
            s->allow_aesgcm = crypto_aead_aes256gcm_is_available() != 0;
        } else if (strcmp(t, "chachapoly") == 0) {
            s->allow_chachapoly = true;
        } else {
            snprintf(err, cap, "security.ciphers: unknown cipher '%s' (aesgcm, chachapoly)", t);
            return KY_E_INVALID_ARG;
        }
    }
    if (!s->allow_aesgcm && !s->allow_chachapoly) {
        snprintf(err, cap, "security.ciphers '%s' leaves no cipher this CPU can run",
                 s->cfg.ciphers);
        return KY_E_CIPHER_UNAVAILABLE;
    }
    return KY_OK;
}

int ky_session_server_open(ky_server *s, char *err, size_t cap) {
    const ky_config *cfg = &s->cfg;
    if (sodium_init() < 0) {
        snprintf(err, cap, "libsodium failed to initialise");
        return KY_E_INTERNAL;
    }
    if (cfg->plaintext) {
        if (!addr_is_loopback(cfg->listen_addr)) {
            snprintf(err, cap,
                     "%s: security.plaintext = 1 but listen_addr %s is not a loopback "
                     "address; plaintext is for development on 127.0.0.0/8 only",
                     ky_errname(KY_E_PLAINTEXT_REFUSED), cfg->listen_addr);
            return KY_E_PLAINTEXT_REFUSED;
        }
        ky_log("warn", "secure channel off",
               "plaintext=1 listen=%s hint=\"development only; "
               "every client has every role\"",
               cfg->listen_addr);
        return KY_OK;
    }
    if (cfg->key_file[0] == '\0' || cfg->clients_file[0] == '\0') {
        snprintf(err, cap,
                 "security.key_file and security.clients_file are required (or "
                 "security.plaintext = 1 on a loopback address, for development)");
        return KY_E_INVALID_ARG;
    }
    s->secure = true;
    int rc = ciphers_parse(s, err, cap);
    if (rc == KY_OK) rc = ky_key_secret_load(cfg->key_file, s->static_sk, s->static_pk, err, cap);
    if (rc == KY_OK) rc = ky_registry_load(&s->registry, cfg->clients_file, err, cap);
    if (rc != KY_OK) return rc;
    s->replay = calloc(KY_SESSION_REPLAY_ENTRIES, sizeof *s->replay);
    s->plain = malloc(KY_CHAN_RECORD_PLAIN_BYTES_MAX);
    if (s->replay == NULL || s->plain == NULL) return KY_E_NOMEM;
    char pub[KY_KEY_PUBLIC_TEXT_BYTES + 1];
    ky_key_public_format(s->static_pk, pub, sizeof pub);
    ky_log("info", "secure channel on",
           "key=%s clients=%u aesgcm=%s chachapoly=%s handshake_timeout_ms=%" PRIu64, pub,
           s->registry.count, s->allow_aesgcm ? "yes" : "no", s->allow_chachapoly ? "yes" : "no",
           cfg->handshake_timeout_ms);
    return KY_OK;
}

void ky_session_server_close(ky_server *s) {
    sodium_memzero(s->static_sk, sizeof s->static_sk);
    ky_registry_free(&s->registry);
    free(s->replay);
    free(s->plain);
    s->replay = NULL;
    s->plain = NULL;
}

/* ---- per connection ------------------------------------------------------------------ */

int ky_session_conn_open(ky_server *s, ky_conn *c) {
    if (!s->secure) {
        c->authenticated = true;
        c->roles = KY_ROLE_ALL;
        snprintf(c->client_name, sizeof c->client_name, "plaintext");
        return KY_OK;
    }
    snprintf(c->client_name, sizeof c->client_name, "-");
    if (s->handshakes_pending >= s->cfg.handshakes_pending_max) {
        s->handshakes_refused++;
        return KY_E_CONNECTION_LIMIT;
    }
    c->chan = calloc(1, sizeof *c->chan);
    c->cbuf = malloc(KY_SESSION_CBUF_BYTES);
    if (c->chan == NULL || c->cbuf == NULL) return KY_E_NOMEM; /* conn_free releases */
    ky_chan_server_init(c->chan, s->static_sk, s->allow_aesgcm, s->allow_chachapoly);
    s->handshakes_pending++;
    return KY_OK;
}

void ky_session_conn_free(ky_server *s, ky_conn *c) {
    if (c->chan != NULL && !c->authenticated) {
        KY_ASSERT(s->handshakes_pending > 0);
        s->handshakes_pending--;
    }
    if (c->chan != NULL) ky_chan_wipe(c->chan);
    free(c->chan);
    if (c->sbuf != NULL) sodium_memzero(c->sbuf, c->scap);
    free(c->sbuf);
    free(c->cbuf);
    c->chan = NULL;
    c->sbuf = c->cbuf = NULL;
}

static void refuse(ky_server *s, ky_conn *c, const char *reason, const uint8_t *key) {
    char fp[KY_KEY_FINGERPRINT_BYTES + 1] = "-";
    if (key != NULL) ky_key_fingerprint(key, fp);
    ky_log("warn", "handshake refused", "conn=%" PRIu64 " peer=%s key=%s reason=\"%s\"", c->gen,
           c->peer, fp, reason);
    s->handshakes_refused++;
    c->clen = 0;
    ky_conn_close_later(s, c, reason);
}

/* A plaintext client at a secure node gets one plaintext ERROR frame saying so. */
static void refuse_plaintext(ky_server *s, ky_conn *c) {
    uint8_t *out = ky_conn_raw_reserve(c, KY_WIRE_HEADER_BYTES + 600);
    if (out != NULL) {
        size_t n = ky_server_error_frame(out, KY_WIRE_HEADER_BYTES + 600, 0, KY_E_PLAINTEXT_REFUSED,
                                         "security",
                                         "this node requires the secure channel; give the "
                                         "client its key file and the node's public key");
        ky_conn_raw_commit(s, c, n);
    }
    refuse(s, c, "plaintext client", NULL);
}

static bool replay_seen(ky_server *s, const uint8_t e[KY_KEY_BYTES]) {
    for (uint32_t i = 0; i < s->replay_count; i++)
        if (sodium_memcmp(s->replay[i], e, KY_KEY_BYTES) == 0) return true;
    memcpy(s->replay[s->replay_next], e, KY_KEY_BYTES);
    s->replay_next = (s->replay_next + 1) % KY_SESSION_REPLAY_ENTRIES;
    if (s->replay_count < KY_SESSION_REPLAY_ENTRIES) s->replay_count++;
    return false;
}

static uint32_t connections_of_key(const ky_server *s, const uint8_t key[KY_KEY_BYTES]) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->cfg.connections_max; i++) {
        const ky_conn *o = &s->conns[i];
        if (o->state == KY_CONN_OPEN && o->authenticated &&
            memcmp(o->client_key, key, KY_KEY_BYTES) == 0)
            n++;
    }
    return n;
}

/* Message 1 is read: decide, then answer with message 2. */
static void admit(ky_server *s, ky_conn *c) {
    const uint8_t *key = c->chan->remote_static;
    const ky_registry_client *who = ky_registry_find(&s->registry, key);
    if (who == NULL) return refuse(s, c, "key not in the client registry", key);
    if (replay_seen(s, c->chan->remote_ephemeral))
        return refuse(s, c, "replayed handshake message", key);
    if (connections_of_key(s, key) >= s->cfg.connections_per_key_max)
        return refuse(s, c, "connections_per_key_max reached", key);
    uint8_t *out = ky_conn_raw_reserve(c, KY_CHAN_REPLY_BYTES_MAX);
    size_t n = 0;
    int rc =
        out ? ky_chan_server_reply(c->chan, NULL, out, KY_CHAN_REPLY_BYTES_MAX, &n) : KY_E_NOMEM;
    if (rc != KY_OK) return refuse(s, c, ky_errname(rc), key);
    ky_conn_raw_commit(s, c, n);
    memcpy(c->client_key, key, KY_KEY_BYTES);
    snprintf(c->client_name, sizeof c->client_name, "%s", who->name);
    c->roles = who->roles;
    c->authenticated = true;
    KY_ASSERT(s->handshakes_pending > 0);
    s->handshakes_pending--;
    s->handshakes_ok++;
    char roles[48], fp[KY_KEY_FINGERPRINT_BYTES + 1];
    ky_roles_format(c->roles, roles, sizeof roles);
    ky_key_fingerprint(key, fp);
    ky_log("info", "client authenticated",
           "conn=%" PRIu64 " peer=%s client=%s roles=%s key=%s "
           "cipher=%s",
           c->gen, c->peer, c->client_name, roles, fp,
           c->chan->cipher == KY_NOISE_AESGCM ? "aesgcm" : "chachapoly");
}

/* The handshake: returns the bytes of cbuf consumed, or 0 when more are needed or the
 * connection was refused (then c->state is CLOSING). */
static size_t handshake(ky_server *s, ky_conn *c) {
    static const uint8_t frame_magic[4] = {0x31, 0x4C, 0x59, 0x4B}; /* KY_WIRE_MAGIC, LE */
    if (c->clen >= sizeof frame_magic && memcmp(c->cbuf, frame_magic, sizeof frame_magic) == 0) {
        refuse_plaintext(s, c);
        return 0;
    }
    size_t used = 0;
    int rc = ky_chan_server_read_hello(c->chan, c->cbuf, c->clen, &used);
    if (rc == KY_CHAN_NEED_MORE) {
        if (c->clen >= KY_CHAN_HELLO_BYTES_MAX) refuse(s, c, "handshake message too long", NULL);
        return 0;
    }
    if (rc != KY_OK) {
        refuse(s, c, ky_strerror(rc), NULL);
        return 0;
    }
    admit(s, c);
    return c->state == KY_CONN_OPEN ? used : 0;
}

void ky_session_received(ky_server *s, ky_conn *c) {
    size_t off = 0;
    if (!c->authenticated) {
        off = handshake(s, c);
        if (off == 0) return;
    }
    while (c->state == KY_CONN_OPEN && off < c->clen) {
        size_t used = 0, plain = 0;
        int rc = ky_chan_open(c->chan, c->cbuf + off, c->clen - off, &used, s->plain,
                              KY_CHAN_RECORD_PLAIN_BYTES_MAX, &plain);
        if (rc != KY_OK) {
            ky_log("warn", "secure channel failed",
                   "conn=%" PRIu64 " peer=%s client=%s "
                   "error=%s",
                   c->gen, c->peer, c->client_name, ky_errname(rc));
            c->clen = 0;
            ky_conn_close_later(s, c, ky_strerror(rc));
            return;
        }
        if (used == 0) break; /* a partial record: wait for the rest */
        off += used;
        ky_conn_feed(s, c, s->plain, plain);
    }
    if (c->state != KY_CONN_OPEN) return;
    memmove(c->cbuf, c->cbuf + off, c->clen - off);
    c->clen -= off;
}
