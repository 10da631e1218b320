/*
 * repl_replica.c — the DR replica's streaming thread (see repl.h).
 *
 * Why a thread with blocking I/O: the replica has exactly one upstream and one thing to do
 * with it — receive, apply durably, acknowledge — in order. A plain loop over libkyosai's
 * transport (the secure channel, frames, deadlines) says that directly, and makes this
 * thread the only writer of the replica's ledger, as LMDB wants.
 *
 *   DIALLING --connect + HELLO ok--> SUBSCRIBED --REPL_ENTRIES--> apply (fsync) --> REPL_ACK
 *      ^                                  |
 *      +---- any error or silence --------+  (wait KY_REPL_RETRY_MS, log once per change)
 *
 * The primary sends an empty REPL_ENTRIES at least every KY_REPL_HEARTBEAT_MS, so
 * KY_REPL_SILENCE_MS without a single byte means the link or the primary is gone. The
 * limit is on silence, not on a frame: a large catch-up frame on a slow link takes as long
 * as it takes while its bytes keep coming.
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

#include "../client/client_int.h"
#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../ledger/replica.h"
#include "../proto/msg.h"
#include "log.h"
#include "repl.h"

#define KY_REPL_SILENCE_MS 1500u                   /* no frame for this long: reconnect */
#define KY_REPL_BLOBS_MAX  KY_WIRE_BATCH_COUNT_MAX /* entries in one REPL_ENTRIES */
_Static_assert(KY_WIRE_BATCH_COUNT_MAX <= KY_LEDGER_BATCH_COUNT_MAX,
               "a REPL_ENTRIES message must fit one ky_ledger_apply");

struct ky_repl_replica {
    pthread_t thread;
    struct ev_loop *loop;    /* the node's loop, for the handover signal */
    ev_async *handover;      /* signalled when the primary hands over */
    atomic_bool stop;        /* set by ky_repl_replica_stop */
    atomic_bool streaming;   /* subscribed and applying */
    atomic_bool handed_over; /* the primary handed over: the thread has ended */
    ky_ledger *ledger;
    char addr[64];
    char key_file[512];  /* the node's own channel key ("" in plaintext mode) */
    char peer_key[512];  /* pinned */
    bool read_replica;   /* subscribes with REPL_SUBSCRIBE_ASYNC */
    ky_wire_blob *blobs; /* decode scratch, KY_REPL_BLOBS_MAX */
    const uint8_t **ptrs;
    uint32_t *lens;
};

int ky_repl_role_parse(const char *text, ky_repl_role *out) {
    if (strcmp(text, "standalone") == 0)
        *out = KY_REPL_STANDALONE;
    else if (strcmp(text, "primary") == 0)
        *out = KY_REPL_PRIMARY;
    else if (strcmp(text, "replica") == 0)
        *out = KY_REPL_REPLICA;
    else
        return KY_E_INVALID_ARG;
    return KY_OK;
}

static void sleep_ms(uint32_t ms) {
    struct timespec t = {ms / 1000u, (long)(ms % 1000u) * 1000000L};
    nanosleep(&t, NULL);
}

static int subscribe(ky_repl_replica *r, kyosai_client *c, uint64_t *rid) {
    ky_ledger_head h;
    int rc = ky_ledger_head_get(r->ledger, &h);
    if (rc != KY_OK) return KYOSAI_E_STORAGE;
    ky_msg_repl_subscribe m = {h.epoch, h.seq, {0}, {0}, h.acked_seq};
    memcpy(m.head_hash, h.hash, KY_HASH_BYTES);
    memcpy(m.node_id, h.node_id, KY_NODE_ID_BYTES);
    size_t len = 0;
    rc = ky_msg_repl_subscribe_encode(&m, c->out + KY_WIRE_HEADER_BYTES, c->body_bytes_max, &len);
    KY_ASSERT(rc == KY_OK);
    return ky_client_send(c, r->read_replica ? KY_MSG_REPL_SUBSCRIBE_ASYNC : KY_MSG_REPL_SUBSCRIBE,
                          len, ky_client_now_ms() + 2000u, rid);
}

static int ack(kyosai_client *c, ky_ledger *l) {
    ky_ledger_head h;
    if (ky_ledger_head_get(l, &h) != KY_OK) return KYOSAI_E_STORAGE;
    ky_msg_repl_ack m = {h.epoch, h.seq, {0}};
    memcpy(m.head_hash, h.hash, KY_HASH_BYTES);
    size_t len = 0;
    int rc = ky_msg_repl_ack_encode(&m, c->out + KY_WIRE_HEADER_BYTES, c->body_bytes_max, &len);
    KY_ASSERT(rc == KY_OK);
    uint64_t rid = 0;
    return ky_client_send(c, KY_MSG_REPL_ACK, len, ky_client_now_ms() + 2000u, &rid);
}

/* Applies one REPL_ENTRIES message. Returns KY_OK or the ledger's refusal. */
static int apply(ky_repl_replica *r, const uint8_t *body, size_t len) {
    ky_msg_repl_entries m;
    int rc = ky_msg_repl_entries_decode(body, len, &m, r->blobs, KY_REPL_BLOBS_MAX);
    if (rc != KY_OK) return rc;
    ky_ledger_head h;
    ky_ledger_head_get(r->ledger, &h);
    /* Catching up (the primary acknowledged more than this node holds): remember how far
     * behind it is, durably, so a promotion now is refused (repl_promote.c). In steady
     * state acked <= head and the apply below records it with no extra fsync. */
    uint64_t last = m.first_seq + m.count - (m.count ? 1 : 0);
    if (m.acked_seq > (m.count ? last : h.seq) && m.acked_seq > h.peer_acked_seq) {
        rc = ky_ledger_peer_acked_raise(r->ledger, m.acked_seq);
        if (rc != KY_OK) return rc;
    }
    if (m.count == 0) {
        uint64_t acked = m.acked_seq < h.seq ? m.acked_seq : h.seq;
        return acked > h.acked_seq ? ky_ledger_acked_set(r->ledger, acked) : KY_OK;
    }
    if (m.first_seq != h.seq + 1) {
        ky_log("error", "replication gap", "head_seq=%" PRIu64 " first_seq=%" PRIu64, h.seq,
               m.first_seq);
        return KY_E_CHAIN_BROKEN;
    }
    for (uint32_t i = 0; i < m.count; i++) {
        r->ptrs[i] = r->blobs[i].data;
        r->lens[i] = r->blobs[i].data_bytes;
    }
    uint64_t bad = 0;
    uint64_t acked = m.acked_seq < last ? m.acked_seq : last;
    rc = ky_ledger_apply(r->ledger, r->ptrs, r->lens, m.count, acked, &bad);
    if (rc != KY_OK)
        ky_log("error", "replicated entry refused", "seq=%" PRIu64 " error=%s", bad,
               ky_errname(rc));
    return rc;
}

/* Whether this ledger's entry at seq has the same leaf hash as the primary's. */
static int same_at(ky_repl_replica *r, kyosai_client *c, uint64_t seq, bool *same) {
    uint8_t mine[KY_ENTRY_BYTES_MAX], theirs[KYOSAI_ENTRY_BYTES_MAX];
    size_t n = 0, tn = 0;
    kyosai_entry e;
    int rc = ky_ledger_get(r->ledger, seq, mine, sizeof mine, &n);
    if (rc != KY_OK) return rc;
    rc = kyosai_get(c, seq, theirs, sizeof theirs, &tn, &e);
    if (rc != KYOSAI_OK) return KY_E_PROTOCOL;
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(mine, n, leaf);
    *same = memcmp(leaf, e.leaf_hash, KY_HASH_BYTES) == 0;
    return KY_OK;
}

/* The primary refused our head: this node holds entries the primary does not (an old
 * primary's unacknowledged tail, or writes shipped before a crash). Finds the longest
 * common prefix by binary search over leaf hashes (O(log n) GETs), then moves the rest
 * into quarantine — never deleting it, and never past the acknowledged seq. */
static int reconcile(ky_repl_replica *r, kyosai_client *c) {
    ky_ledger_head h;
    int rc = ky_ledger_head_get(r->ledger, &h);
    if (rc != KY_OK) return rc;
    uint64_t lo = 0, hi = h.seq < c->head_seq ? h.seq : c->head_seq;
    while (lo < hi) { /* invariant: entries 1..lo are common */
        uint64_t mid = lo + (hi - lo + 1) / 2;
        bool same = false;
        rc = same_at(r, c, mid, &same);
        if (rc != KY_OK) return rc;
        if (same)
            lo = mid;
        else
            hi = mid - 1;
    }
    if (lo == 0) {
        ky_log("error", "replica shares no history with the primary",
               "hint=\"seq 1 differs: these are different ledgers; re-create the replica with "
               "kyosaictl init --replica\"");
        return KY_E_CHAIN_BROKEN;
    }
    uint64_t moved = 0;
    rc = ky_ledger_quarantine_tail(r->ledger, lo, false, &moved);
    if (rc != KY_OK) {
        ky_log("error", "cannot quarantine the diverged tail",
               "keep_through_seq=%" PRIu64 " head_seq=%" PRIu64 " error=%s", lo, h.seq,
               ky_errname(rc));
        return rc;
    }
    ky_log("warn", "diverged tail quarantined",
           "kept_through_seq=%" PRIu64 " moved=%" PRIu64
           " hint=\"kyosaictl quarantine lists them\"",
           lo, moved);
    return KY_OK;
}

/* A switchover: take over only holding exactly the primary's head. */
static bool handover_ok(ky_repl_replica *r, const uint8_t *body, size_t len) {
    ky_msg_repl_ack m;
    ky_ledger_head h;
    if (ky_msg_repl_handover_decode(body, len, &m) != KY_OK ||
        ky_ledger_head_get(r->ledger, &h) != KY_OK)
        return false;
    bool same = m.durable_seq == h.seq && memcmp(m.head_hash, h.hash, KY_HASH_BYTES) == 0;
    ky_log(same ? "warn" : "error", same ? "handover received" : "handover refused: heads differ",
           "primary_head_seq=%" PRIu64 " head_seq=%" PRIu64, m.durable_seq, h.seq);
    return same;
}

/* One connection's life: subscribe, then receive-apply-acknowledge until an error. */
static int stream(ky_repl_replica *r, kyosai_client *c, bool *streamed) {
    uint64_t rid = 0;
    int rc = subscribe(r, c, &rid);
    while (rc == KYOSAI_OK && !atomic_load(&r->stop)) {
        ky_client_resp resp;
        rc = ky_client_recv_until_silent(c, KY_REPL_SILENCE_MS, &resp);
        if (rc != KYOSAI_OK) break;
        if (resp.hdr->type == KY_MSG_ERROR) {
            rc = ky_client_error_code(c, &resp);
            ky_log("warn", "primary refused the replica", "error=%s detail=\"%s\"",
                   kyosai_strerror(rc), kyosai_last_error(c));
            if (rc == KYOSAI_E_CHAIN_BROKEN && reconcile(r, c) == KY_OK) rc = subscribe(r, c, &rid);
            if (rc == KYOSAI_OK) continue;
            break;
        }
        if (resp.hdr->type == KY_MSG_REPL_HANDOVER && resp.hdr->request_id == rid) {
            if (handover_ok(r, resp.body, resp.hdr->body_bytes)) {
                atomic_store(&r->handed_over, true);
                atomic_store(&r->stop, true);
                ev_async_send(r->loop, r->handover);
                rc = KYOSAI_OK;
            } else {
                rc = KYOSAI_E_CHAIN_BROKEN;
            }
            break;
        }
        if (resp.hdr->type != KY_MSG_REPL_ENTRIES || resp.hdr->request_id != rid) {
            rc = KYOSAI_E_PROTOCOL;
            break;
        }
        if (!atomic_load(&r->streaming)) ky_log("info", "replica streaming", "primary=%s", r->addr);
        atomic_store(&r->streaming, true);
        *streamed = true;
        int arc = apply(r, resp.body, resp.hdr->body_bytes);
        if (arc != KY_OK) {
            rc = KYOSAI_E_CHAIN_BROKEN;
            break;
        }
        rc = ack(c, r->ledger);
    }
    atomic_store(&r->streaming, false);
    return rc;
}

static void *replica_main(void *arg) {
    ky_repl_replica *r = arg;
    prctl(PR_SET_NAME, "ky-replica"); /* for top -H, perf and ps -L */
    int last_rc = 1;                  /* log the first outcome */
    while (!atomic_load(&r->stop)) {
        const char *eps[1] = {r->addr};
        const char *keys[1] = {r->peer_key};
        kyosai_options o = {2000, KY_REPL_SILENCE_MS, 0, "kyosaid-replica", NULL, NULL, 0};
        if (r->key_file[0] != '\0') {
            o.key_file = r->key_file;
            o.server_keys = keys;
            o.server_key_count = 1;
        }
        kyosai_client *c = NULL;
        int rc = kyosai_connect(&c, eps, 1, &o);
        bool streamed = false;
        if (rc == KYOSAI_OK) rc = stream(r, c, &streamed);
        kyosai_close(c);
        if (streamed) last_rc = 1; /* a new outage after a stream is always worth a line */
        if (rc != last_rc && !atomic_load(&r->stop))
            ky_log("warn", "replica not streaming", "primary=%s error=%s retry_ms=%u", r->addr,
                   kyosai_strerror(rc), KY_REPL_RETRY_MS);
        last_rc = rc;
        if (!atomic_load(&r->stop)) sleep_ms(KY_REPL_RETRY_MS);
    }
    return NULL;
}

int ky_repl_replica_start(ky_repl_replica **out, const ky_config *cfg, ky_ledger *l,
                          struct ev_loop *loop, ev_async *handover, char *err, size_t cap) {
    *out = NULL;
    if (cfg->peer_addr[0] == '\0' || (!cfg->plaintext && cfg->peer_key[0] == '\0')) {
        snprintf(err, cap,
                 "replication.role = replica needs replication.peer_addr and "
                 "replication.peer_key");
        return KY_E_INVALID_ARG;
    }
    ky_repl_replica *r = calloc(1, sizeof *r);
    if (r == NULL) return KY_E_NOMEM;
    r->ledger = l;
    r->loop = loop;
    r->handover = handover;
    snprintf(r->addr, sizeof r->addr, "%s", cfg->peer_addr);
    r->read_replica = cfg->async != 0;
    if (!cfg->plaintext) {
        snprintf(r->key_file, sizeof r->key_file, "%s", cfg->key_file);
        snprintf(r->peer_key, sizeof r->peer_key, "%s", cfg->peer_key);
    }
    r->blobs = calloc(KY_REPL_BLOBS_MAX, sizeof *r->blobs);
    r->ptrs = calloc(KY_REPL_BLOBS_MAX, sizeof *r->ptrs);
    r->lens = calloc(KY_REPL_BLOBS_MAX, sizeof *r->lens);
    if (r->blobs == NULL || r->ptrs == NULL || r->lens == NULL ||
        pthread_create(&r->thread, NULL, replica_main, r) != 0) {
        free(r->blobs);
        free(r->ptrs);
        free(r->lens);
        free(r);
        snprintf(err, cap, "cannot start the replica thread");
        return KY_E_NOMEM;
    }
    ky_log("info", "replica role", "primary=%s", r->addr);
    *out = r;
    return KY_OK;
}

void ky_repl_replica_stop(ky_repl_replica *r) {
    if (r == NULL) return;
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    free(r->blobs);
    free(r->ptrs);
    free(r->lens);
    free(r);
}

bool ky_repl_replica_handed_over(const ky_repl_replica *r) {
    return r != NULL && atomic_load(&((ky_repl_replica *)r)->handed_over);
}

bool ky_repl_replica_streaming(const ky_repl_replica *r) {
    return r != NULL && atomic_load(&((ky_repl_replica *)r)->streaming);
}

/* ---- primary side fencing: watch the peer's epoch ----------------------------------------- */

struct ky_repl_watch {
    pthread_t thread;
    atomic_bool stop;
    ky_ledger *ledger;
    char addr[64], key_file[512], peer_key[512];
    struct ev_loop *loop;
    ev_async *higher_epoch; /* signalled once when the peer is primary at a higher epoch */
};

/* Every KY_REPL_WATCH_MS: STATUS of the peer over one kept connection. */
static void *watch_main(void *arg) {
    ky_repl_watch *w = arg;
    prctl(PR_SET_NAME, "ky-watch");
    kyosai_client *c = NULL;
    while (!atomic_load(&w->stop)) {
        if (c == NULL) {
            const char *eps[1] = {w->addr};
            const char *keys[1] = {w->peer_key};
            kyosai_options o = {1000, 2000, 0, "kyosaid-watch", NULL, NULL, 0};
            if (w->key_file[0] != '\0') {
                o.key_file = w->key_file;
                o.server_keys = keys;
                o.server_key_count = 1;
            }
            if (kyosai_connect(&c, eps, 1, &o) != KYOSAI_OK) c = NULL;
        }
        kyosai_status st;
        ky_ledger_head h;
        if (c != NULL && kyosai_status_get(c, &st) == KYOSAI_OK &&
            ky_ledger_head_get(w->ledger, &h) == KY_OK && st.role == KY_WIRE_ROLE_PRIMARY &&
            st.epoch > h.epoch) {
            ky_log("warn", "peer is primary at a higher epoch",
                   "peer=%s peer_epoch=%" PRIu64 " epoch=%" PRIu64, w->addr, st.epoch, h.epoch);
            ev_async_send(w->loop, w->higher_epoch);
            break;
        }
        sleep_ms(KY_REPL_WATCH_MS);
    }
    kyosai_close(c);
    return NULL;
}

int ky_repl_watch_start(ky_repl_watch **out, const ky_config *cfg, ky_ledger *l,
                        struct ev_loop *loop, ev_async *higher_epoch) {
    *out = NULL;
    if (cfg->peer_addr[0] == '\0') return KY_OK; /* nothing to watch */
    ky_repl_watch *w = calloc(1, sizeof *w);
    if (w == NULL) return KY_E_NOMEM;
    w->ledger = l;
    w->loop = loop;
    w->higher_epoch = higher_epoch;
    snprintf(w->addr, sizeof w->addr, "%s", cfg->peer_addr);
    if (!cfg->plaintext) {
        snprintf(w->key_file, sizeof w->key_file, "%s", cfg->key_file);
        snprintf(w->peer_key, sizeof w->peer_key, "%s", cfg->peer_key);
    }
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        free(w);
        return KY_E_NOMEM;
    }
    *out = w;
    return KY_OK;
}

void ky_repl_watch_stop(ky_repl_watch *w) {
    if (w == NULL) return;
    atomic_store(&w->stop, true);
    pthread_join(w->thread, NULL);
    free(w);
}
