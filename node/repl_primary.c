/*
 * repl_primary.c — the primary side of synchronous replication (see repl.h).
 *
 * Why the outbox: the writer's pre-commit hook runs before the local fsync, so shipping
 * the batch from there lets the replica's fsync overlap ours (DESIGN §4). The hook copies
 * the batch (the ledger's buffers are borrowed) and wakes the loop; the loop streams.
 * When the outbox overflows (a slow or absent replica), batches are dropped and the
 * stream reads committed entries from LMDB instead — the same path as catch-up.
 *
 * Invariants:
 *   1. Entries reach the replica in seq order with no gap: sent_seq + 1 is always next.
 *   2. An append is answered only when durable_seq >= every seq in its answer, or failed
 *      with REPLICA_UNAVAILABLE after sync_timeout_ms — never answered OK before.
 *   3. acked_seq (told to the replica in every REPL_ENTRIES) <= durable_seq.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../ledger/replica.h"
#include "../proto/msg.h"
#include "log.h"
#include "server_int.h"

typedef struct ky_repl_batch {
    struct ky_repl_batch *next;
    uint64_t first_seq;
    uint32_t count;
    size_t bytes;   /* of data */
    uint8_t *lens;  /* count u32 entry lengths, after data: unaligned, so bytes */
    uint8_t data[]; /* entries back to back */
} ky_repl_batch;

/* The i-th entry length; lens follows data, so it may be unaligned: copied, never loaded. */
static uint32_t batch_len(const ky_repl_batch *b, uint64_t i) {
    uint32_t n;
    memcpy(&n, b->lens + i * sizeof n, sizeof n);
    return n;
}

static uint64_t batch_last(const ky_repl_batch *b) {
    return b->first_seq + b->count - 1;
}

/* ---- writer thread: the pre-commit hook -------------------------------------------------- */

static void batch_hook(void *ctx, uint64_t first_seq, uint32_t count, const uint8_t *const *entries,
                       const uint32_t *entry_bytes) {
    ky_server *s = ctx;
    size_t bytes = 0;
    for (uint32_t i = 0; i < count; i++) bytes += entry_bytes[i];
    pthread_mutex_lock(&s->outbox_mu);
    bool room = !s->outbox_overflow && s->outbox_bytes + bytes <= KY_REPL_OUTBOX_BYTES_MAX;
    pthread_mutex_unlock(&s->outbox_mu);
    ky_repl_batch *b = room ? malloc(sizeof *b + bytes + count * sizeof(uint32_t)) : NULL;
    if (b != NULL) {
        b->next = NULL;
        b->first_seq = first_seq;
        b->count = count;
        b->bytes = bytes;
        b->lens = b->data + bytes;
        size_t off = 0;
        for (uint32_t i = 0; i < count; i++) {
            memcpy(b->data + off, entries[i], entry_bytes[i]);
            memcpy(b->lens + i * sizeof(uint32_t), &entry_bytes[i], sizeof(uint32_t));
            off += entry_bytes[i];
        }
    }
    pthread_mutex_lock(&s->outbox_mu);
    if (b == NULL) {
        s->outbox_overflow = true; /* the loop falls back to reading LMDB */
    } else {
        if (s->outbox_tail)
            s->outbox_tail->next = b;
        else
            s->outbox_head = b;
        s->outbox_tail = b;
        s->outbox_bytes += bytes;
    }
    pthread_mutex_unlock(&s->outbox_mu);
    ev_async_send(s->loop, &s->repl_async);
}

/* ---- loop thread: streaming -------------------------------------------------------------- */

static void batches_free(ky_repl_batch *b) {
    while (b != NULL) {
        ky_repl_batch *n = b->next;
        free(b);
        b = n;
    }
}

/* Moves the outbox into `pending`, dropping what the replica already has. */
static void outbox_take(ky_server *s) {
    pthread_mutex_lock(&s->outbox_mu);
    ky_repl_batch *list = s->outbox_head;
    bool overflow = s->outbox_overflow;
    s->outbox_head = s->outbox_tail = NULL;
    s->outbox_bytes = 0;
    s->outbox_overflow = false;
    pthread_mutex_unlock(&s->outbox_mu);
    if (overflow) { /* gaps are possible: stream from LMDB until caught up */
        batches_free(list);
        list = NULL;
    }
    ky_repl_batch **tail = &s->pending;
    while (*tail) tail = &(*tail)->next;
    *tail = list;
    while (s->pending && batch_last(s->pending) <= s->sent_seq) {
        ky_repl_batch *n = s->pending->next;
        free(s->pending);
        s->pending = n;
    }
}

static ky_conn *subscriber(ky_server *s) {
    if (!s->sub_active) return NULL;
    ky_conn *c = &s->conns[s->sub_slot];
    if (c->state != KY_CONN_OPEN || c->gen != s->sub_gen) {
        s->sub_active = false;
        return NULL;
    }
    return c;
}

typedef struct entries_ctx {
    ky_server *s;
    const ky_repl_batch *batch; /* NULL: read committed entries from LMDB */
    uint64_t first_seq, last_seq;
    size_t batch_off;      /* offset in batch->data of the next entry */
    uint64_t sent_through; /* out */
} entries_ctx;

/* The entry at seq; seqs are asked for in increasing order from first_seq. */
static int entry_at(entries_ctx *e, uint64_t seq, uint8_t *buf, size_t cap, const uint8_t **p,
                    uint32_t *n) {
    if (e->batch != NULL) {
        uint64_t i = seq - e->batch->first_seq;
        KY_ASSERT(i < e->batch->count);
        *p = e->batch->data + e->batch_off;
        *n = batch_len(e->batch, i);
        e->batch_off += *n;
        return KY_OK;
    }
    size_t len = 0;
    int rc = ky_ledger_get(e->s->ledger, seq, buf, cap, &len);
    *p = buf;
    *n = (uint32_t)len;
    return rc;
}

static int encode_entries(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    entries_ctx *e = ctx;
    ky_msg_repl_entries m = {0, e->s->acked_seq, e->first_seq, 0};
    ky_ledger_head h;
    ky_ledger_head_get(e->s->ledger, &h);
    m.epoch = h.epoch;
    int rc = ky_msg_repl_entries_begin(&m, out, cap, len);
    if (rc != KY_OK) return rc;
    uint8_t buf[KY_WIRE_ENTRY_BYTES_MAX];
    e->sent_through = e->first_seq - 1;
    e->batch_off = 0;
    if (e->batch != NULL) /* skip what the replica already has */
        for (uint64_t k = 0; k < e->first_seq - e->batch->first_seq; k++)
            e->batch_off += batch_len(e->batch, k);
    for (uint64_t seq = e->first_seq; seq <= e->last_seq; seq++) {
        const uint8_t *p = NULL;
        uint32_t n = 0;
        rc = entry_at(e, seq, buf, sizeof buf, &p, &n);
        if (rc != KY_OK) return rc;
        if (ky_msg_repl_entry_add(out, cap, len, p, n) != KY_OK) break; /* frame full */
        e->sent_through = seq;
    }
    return KY_OK;
}

/* Sends one REPL_ENTRIES frame with entries first..last (as many as fit) on stream rid;
 * *sent_through = the last seq sent. */
static int send_on(ky_server *s, ky_conn *c, uint64_t rid, const ky_repl_batch *b, uint64_t first,
                   uint64_t last, uint64_t *sent_through) {
    entries_ctx e = {s, b, first, last, 0, 0};
    int rc = ky_server_respond(s, c, KY_MSG_REPL_ENTRIES, rid, s->cfg.frame_body_bytes_max,
                               encode_entries, &e);
    if (rc != KY_OK) {
        ky_log("error", "replication send failed", "from_seq=%" PRIu64 " error=%s", first,
               ky_errname(rc));
        ky_conn_close_later(s, c, "replication send failed");
        return rc;
    }
    KY_ASSERT(e.sent_through >= first || first > last);
    *sent_through = e.sent_through;
    return KY_OK;
}

/* The same on the DR replica's stream. */
static int send_entries(ky_server *s, ky_conn *c, const ky_repl_batch *b, uint64_t first,
                        uint64_t last) {
    int rc = send_on(s, c, s->sub_request_id, b, first, last, &s->sent_seq);
    if (rc != KY_OK) return rc;
    s->acked_sent = s->acked_seq;
    s->last_sent_ms = ky_server_now_ms(s);
    return KY_OK;
}

/* ---- asynchronous read replicas --------------------------------------------------------- */

/* The read replica's connection, or NULL (and the slot freed) once it has gone. */
static ky_conn *reader_conn(ky_server *s, struct ky_repl_reader *r) {
    if (!r->active) return NULL;
    ky_conn *c = &s->conns[r->slot];
    if (c->state != KY_CONN_OPEN || c->gen != r->gen) {
        r->active = false;
        return NULL;
    }
    return c;
}

static struct ky_repl_reader *reader_of(ky_server *s, const ky_conn *c) {
    for (uint32_t i = 0; i < KY_REPL_READERS_MAX; i++)
        if (reader_conn(s, &s->readers[i]) == c) return &s->readers[i];
    return NULL;
}

/* Read replicas stream committed entries from LMDB only, as fast as their queues drain:
 * they never hold up an acknowledgement, and a slow one only slows itself. Heartbeats
 * (an empty frame) keep them from taking silence for a dead primary. */
static void pump_readers(ky_server *s, bool heartbeat) {
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    size_t room = s->cfg.queued_bytes_per_connection_max / 2;
    uint64_t now = ky_server_now_ms(s);
    for (uint32_t i = 0; i < KY_REPL_READERS_MAX; i++) {
        struct ky_repl_reader *r = &s->readers[i];
        ky_conn *c = reader_conn(s, r);
        while (c != NULL && c->state == KY_CONN_OPEN && c->wlen - c->woff < room &&
               h.seq > r->sent_seq) {
            if (send_on(s, c, r->request_id, NULL, r->sent_seq + 1, h.seq, &r->sent_seq) != KY_OK)
                break;
            r->last_sent_ms = now;
        }
        if (c != NULL && c->state == KY_CONN_OPEN && heartbeat &&
            now - r->last_sent_ms >= KY_REPL_HEARTBEAT_MS &&
            send_on(s, c, r->request_id, NULL, r->sent_seq + 1, r->sent_seq, &r->sent_seq) == KY_OK)
            r->last_sent_ms = now;
    }
}

/* REPL_SUBSCRIBE_ASYNC, after the prefix check: a free reader slot streams from its head. */
static int reader_add(ky_server *s, ky_conn *c, uint64_t rid, uint64_t head_seq) {
    struct ky_repl_reader *r = reader_of(s, c);
    for (uint32_t i = 0; r == NULL && i < KY_REPL_READERS_MAX; i++)
        if (reader_conn(s, &s->readers[i]) == NULL) r = &s->readers[i];
    if (r == NULL) return KY_E_CONNECTION_LIMIT;
    *r = (struct ky_repl_reader){true, c->slot, c->gen, rid, head_seq, head_seq, 0};
    r->last_sent_ms = ky_server_now_ms(s);
    ky_log("info", "read replica subscribed",
           "conn=%" PRIu64 " client=%s peer=%s head_seq=%" PRIu64, c->gen, c->client_name, c->peer,
           head_seq);
    pump_readers(s, false);
    return KY_OK;
}

void ky_repl_readers_close(ky_server *s, const char *why) {
    for (uint32_t i = 0; i < KY_REPL_READERS_MAX; i++) {
        ky_conn *c = reader_conn(s, &s->readers[i]);
        if (c != NULL) ky_conn_close_later(s, c, why);
        s->readers[i].active = false;
    }
}

/* Streams whatever the replica lacks, while its output queue has room. */
static void pump(ky_server *s) {
    outbox_take(s);
    pump_readers(s, false);
    ky_conn *c = subscriber(s);
    if (c == NULL) return;
    size_t room = s->cfg.queued_bytes_per_connection_max / 2;
    while (c->state == KY_CONN_OPEN && c->wlen - c->woff < room) {
        ky_ledger_head h;
        ky_ledger_head_get(s->ledger, &h);
        ky_repl_batch *b = s->pending;
        int rc = KY_OK;
        if (b != NULL && b->first_seq <= s->sent_seq + 1) {
            rc = send_entries(s, c, b, s->sent_seq + 1, batch_last(b));
            if (rc == KY_OK && s->sent_seq >= batch_last(b)) {
                s->pending = b->next;
                free(b);
            }
        } else if (h.seq > s->sent_seq) {
            uint64_t last = b != NULL ? b->first_seq - 1 : h.seq;
            rc = send_entries(s, c, NULL, s->sent_seq + 1, last < h.seq ? last : h.seq);
        } else if (s->acked_seq > s->acked_sent) {
            rc = send_entries(s, c, NULL, s->sent_seq + 1, s->sent_seq); /* acked only */
        } else {
            break;
        }
        if (rc != KY_OK) break;
    }
}

static void repl_async_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    pump(w->data);
}

/* ---- hold queue -------------------------------------------------------------------------- */

static uint64_t answer_seq_max(const ky_append_req *r) {
    uint64_t m = 0;
    if (r->batch_rc != KY_OK) return 0;
    for (uint32_t i = 0; i < r->count; i++)
        if (r->results[i].code == KY_OK && r->results[i].seq > m) m = r->results[i].seq;
    return m;
}

bool ky_repl_hold(ky_server *s, ky_append_req *r) {
    if (s->repl_role != KY_REPL_PRIMARY) return false;
    uint64_t need = answer_seq_max(r);
    if (need <= s->durable_seq || !s->sync_strict) {
        if (need > s->acked_seq) s->acked_seq = need;
        return false;
    }
    r->hold_seq = need;
    r->hold_deadline_ms = ky_server_now_ms(s) + s->cfg.sync_timeout_ms;
    r->next = NULL;
    if (s->held_tail)
        s->held_tail->next = r;
    else
        s->held_head = r;
    s->held_tail = r;
    s->held_count++;
    return true;
}

static void release(ky_server *s, bool stopping);

void ky_repl_release_all(ky_server *s) {
    release(s, false);
}

void ky_repl_fail_held(ky_server *s, int err) {
    while (s->held_head != NULL) {
        ky_append_req *r = s->held_head;
        s->held_head = r->next;
        s->held_count--;
        ky_server_answer_append(s, r, err);
    }
    s->held_tail = NULL;
    ky_conn *c = subscriber(s);
    if (c != NULL) ky_conn_close_later(s, c, "this node stepped down");
    ky_repl_readers_close(s, "this node stepped down");
}

/* Answers every held append the replica now covers; fails those past their deadline. */
static void release(ky_server *s, bool stopping) {
    uint64_t now = ky_server_now_ms(s);
    ky_append_req **pp = &s->held_head, *prev = NULL;
    uint64_t acked_before = s->acked_seq;
    while (*pp != NULL) {
        ky_append_req *r = *pp;
        bool covered = r->hold_seq <= s->durable_seq || !s->sync_strict;
        bool late = stopping || now >= r->hold_deadline_ms;
        if (!covered && !late) {
            prev = r;
            pp = &r->next;
            continue;
        }
        *pp = r->next;
        if (s->held_tail == r) s->held_tail = prev;
        s->held_count--;
        if (covered && r->hold_seq > s->acked_seq) s->acked_seq = r->hold_seq;
        if (!covered)
            ky_log("warn", "append not acknowledged: replica unavailable",
                   "request_id=%" PRIu64 " seq=%" PRIu64 " replica_durable_seq=%" PRIu64,
                   r->request_id, r->hold_seq, s->durable_seq);
        ky_server_answer_append(s, r, covered ? KY_OK : KY_E_REPLICA_UNAVAILABLE);
    }
    if (s->acked_seq > acked_before) pump(s); /* tell the replica the new acked seq */
}

static void repl_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    release(s, false);
    pump(s);
    pump_readers(s, true);
    ky_conn *c = subscriber(s);
    if (c != NULL && ky_server_now_ms(s) - s->last_sent_ms >= KY_REPL_HEARTBEAT_MS)
        send_entries(s, c, NULL, s->sent_seq + 1, s->sent_seq); /* heartbeat */
}

/* ---- the replica's requests -------------------------------------------------------------- */

/* The replica's head must be a prefix of this ledger: same leaf hash at its head seq. */
static int prefix_check(ky_server *s, const ky_msg_repl_subscribe *m, char *why, size_t cap) {
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    if (m->epoch > h.epoch) {
        snprintf(why, cap, "replica epoch %" PRIu64 " is above this primary's %" PRIu64, m->epoch,
                 h.epoch);
        return KY_E_NOT_PRIMARY;
    }
    if (m->head_seq == 0) return KY_OK;
    uint8_t buf[KY_WIRE_ENTRY_BYTES_MAX];
    size_t len = 0;
    ky_entry e;
    if (m->head_seq > h.seq ||
        ky_ledger_get(s->ledger, m->head_seq, buf, sizeof buf, &len) != KY_OK ||
        ky_entry_decode(buf, len, &e) != KY_OK) {
        snprintf(why, cap,
                 "replica head seq %" PRIu64 " is beyond this primary's head %" PRIu64
                 "; it must quarantine its tail",
                 m->head_seq, h.seq);
        return KY_E_CHAIN_BROKEN;
    }
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(buf, len, leaf);
    if (memcmp(leaf, m->head_hash, KY_HASH_BYTES) != 0) {
        snprintf(why, cap,
                 "replica entry %" PRIu64 " differs from this primary's; the replica "
                 "has diverged and must quarantine its tail",
                 m->head_seq);
        return KY_E_CHAIN_BROKEN;
    }
    return KY_OK;
}

void ky_repl_on_subscribe(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body) {
    ky_msg_repl_subscribe m;
    int rc = ky_msg_repl_subscribe_decode(body, h->body_bytes, &m);
    char why[200] = "";
    if (rc == KY_OK && s->repl_role != KY_REPL_PRIMARY) {
        rc = KY_E_NOT_PRIMARY;
        snprintf(why, sizeof why, "this node is not configured as a primary");
    }
    if (rc == KY_OK) rc = prefix_check(s, &m, why, sizeof why);
    if (rc == KY_OK && h->type == KY_MSG_REPL_SUBSCRIBE_ASYNC) {
        rc = reader_add(s, c, h->request_id, m.head_seq);
        if (rc == KY_OK) return;
        snprintf(why, sizeof why, "already %u read replicas streaming", KY_REPL_READERS_MAX);
    }
    if (rc != KY_OK) {
        ky_log("warn", "replica refused", "conn=%" PRIu64 " client=%s error=%s why=\"%s\"", c->gen,
               c->client_name, ky_errname(rc), why);
        ky_server_send_error(s, c, h->request_id, rc, "replication",
                             why[0] ? why : ky_strerror(rc));
        return;
    }
    ky_conn *old = subscriber(s);
    if (old != NULL && old != c) ky_conn_close_later(s, old, "replaced by a new replica stream");
    s->sub_active = true;
    s->sub_slot = c->slot;
    s->sub_gen = c->gen;
    s->sub_request_id = h->request_id;
    s->sent_seq = m.head_seq;
    s->durable_seq = m.head_seq > s->durable_seq ? m.head_seq : s->durable_seq;
    s->acked_sent = 0;
    s->last_ack_ms = ky_server_now_ms(s);
    ky_log("info", "replica subscribed",
           "conn=%" PRIu64 " client=%s peer=%s head_seq=%" PRIu64 " epoch=%" PRIu64, c->gen,
           c->client_name, c->peer, m.head_seq, m.epoch);
    release(s, false);
    pump(s);
}

void ky_repl_on_ack(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body) {
    ky_msg_repl_ack m;
    int rc = ky_msg_repl_ack_decode(body, h->body_bytes, &m);
    struct ky_repl_reader *r = rc == KY_OK ? reader_of(s, c) : NULL;
    if (r != NULL && m.durable_seq <= r->sent_seq) { /* a read replica: informational only */
        if (m.durable_seq > r->durable_seq) r->durable_seq = m.durable_seq;
        pump_readers(s, false);
        return;
    }
    if (rc != KY_OK || subscriber(s) != c || m.durable_seq > s->sent_seq) {
        ky_server_send_error(s, c, h->request_id, rc != KY_OK ? rc : KY_E_PROTOCOL, "REPL_ACK",
                             "acknowledgement without a stream, or beyond what was sent");
        return;
    }
    if (m.durable_seq > s->durable_seq) s->durable_seq = m.durable_seq;
    s->last_ack_ms = ky_server_now_ms(s);
    release(s, false);
    pump(s);
    ky_repl_maybe_restore(s);
}

void ky_repl_conn_closed(ky_server *s, ky_conn *c) {
    if (!s->sub_active || s->sub_slot != c->slot || s->sub_gen != c->gen) return;
    s->sub_active = false;
    ky_log("warn", "replica disconnected", "durable_seq=%" PRIu64 " held_appends=%" PRIu64,
           s->durable_seq, s->held_count);
}

static int encode_handover(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    ky_server *s = ctx;
    ky_ledger_head h;
    int rc = ky_ledger_head_get(s->ledger, &h);
    if (rc != KY_OK) return rc;
    ky_msg_repl_ack m = {h.epoch, h.seq, {0}};
    memcpy(m.head_hash, h.hash, KY_HASH_BYTES);
    return ky_msg_repl_handover_encode(&m, out, cap, len);
}

int ky_repl_send_handover(ky_server *s) {
    ky_conn *c = subscriber(s);
    if (c == NULL) return KY_E_REPLICA_UNAVAILABLE;
    return ky_server_respond(s, c, KY_MSG_REPL_HANDOVER, s->sub_request_id,
                             KY_MSG_REPL_HANDOVER_BYTES, encode_handover, s);
}

void ky_repl_status(ky_server *s, const ky_ledger_head *h, ky_msg_status_resp *m) {
    m->quarantine_count = h->quarantine_count;
    m->acked_seq = s->acked_seq > h->acked_seq ? s->acked_seq : h->acked_seq;
    if (s->repl_role == KY_REPL_REPLICA) {
        uint64_t peer = h->peer_acked_seq > h->acked_seq ? h->peer_acked_seq : h->acked_seq;
        m->mode = KY_WIRE_MODE_REPLICA;
        m->acked_seq = peer;
        m->replica_durable_seq = h->seq;
        m->peer_connected = ky_repl_replica_streaming(s->replica);
    } else if (s->repl_role == KY_REPL_PRIMARY) {
        m->mode = s->sync_strict ? KY_WIRE_MODE_STRICT : KY_WIRE_MODE_STANDALONE;
        m->replica_durable_seq = s->durable_seq;
        m->replica_lag_entries = h->seq > s->durable_seq ? h->seq - s->durable_seq : 0;
        m->replica_lag_ms = m->replica_lag_entries > 0 ? ky_server_now_ms(s) - s->last_ack_ms : 0;
        m->peer_connected = subscriber(s) != NULL;
    }
}

/* Whether this node wrote the epoch_started entry of the ledger's current epoch (its
 * payload is the starting node's id). Only that node may act as the primary of the epoch:
 * a node restarted with a stale role=primary after a switchover or failover must not. */
static bool epoch_owned(ky_server *s, const ky_ledger_head *h) {
    uint64_t epochs[64], firsts[64];
    uint32_t n = 0;
    int rc = ky_ledger_epochs(s->ledger, epochs, firsts, 64, &n);
    if ((rc != KY_OK && rc != KY_E_BUFFER_TOO_SMALL) || n == 0) return true; /* empty */
    if (n > 64) { /* very many epochs: read the last ones */
        uint64_t *e = calloc(n, sizeof *e), *f = calloc(n, sizeof *f);
        bool owned = true;
        if (e != NULL && f != NULL && ky_ledger_epochs(s->ledger, e, f, n, &n) == KY_OK)
            firsts[0] = f[n - 1];
        else
            owned = false;
        free(e);
        free(f);
        if (!owned) return false;
        n = 1;
    }
    uint8_t buf[KY_WIRE_ENTRY_BYTES_MAX];
    size_t len = 0;
    ky_entry e;
    if (ky_ledger_get(s->ledger, firsts[n - 1], buf, sizeof buf, &len) != KY_OK ||
        ky_entry_decode(buf, len, &e) != KY_OK || e.payload_bytes != KY_NODE_ID_BYTES)
        return false;
    return memcmp(e.payload, h->node_id, KY_NODE_ID_BYTES) == 0;
}

/* A primary (re)starts strict. If its ledger says it last ran standalone, it says so: a
 * mode_changed (strict) entry, so that its replica's promotion guard reads the truth. */
static int restart_strict(ky_server *s, char *err, size_t cap) {
    bool found = false;
    uint16_t mode = 0;
    uint64_t since = 0;
    int rc = ky_ledger_last_mode_change(s->ledger, &found, &mode, &since);
    if (rc == KY_OK && found && mode == KY_WIRE_MODE_STANDALONE) {
        uint64_t seq = 0;
        rc = ky_ledger_system_append(s->ledger, KY_KIND_MODE_CHANGED, KY_WIRE_MODE_STRICT, NULL, 0,
                                     &seq);
        if (rc == KY_OK)
            ky_log("warn", "restarted in strict synchronous mode",
                   "standalone_since_seq=%" PRIu64 " seq=%" PRIu64, since, seq);
    }
    if (rc != KY_OK) {
        snprintf(err, cap, "cannot record the replication mode: %s", ky_strerror(rc));
        return rc;
    }
    ky_repl_primary_activate(s); /* before the writer */
    return KY_OK;
}

/* ---- open / close ------------------------------------------------------------------------- */

int ky_repl_primary_open(ky_server *s, char *err, size_t cap) {
    (void)err, (void)cap;
    pthread_mutex_init(&s->outbox_mu, NULL);
    ky_repl_roles_open(s);
    ev_async_init(&s->repl_async, repl_async_cb);
    s->repl_async.data = s;
    ev_async_start(s->loop, &s->repl_async);
    ev_timer_init(&s->repl_timer, repl_timer_cb, KY_REPL_TICK_MS / 1000.0,
                  KY_REPL_TICK_MS / 1000.0);
    s->repl_timer.data = s;
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    s->acked_seq = h.acked_seq;
    s->sync_strict = true; /* a restart is always strict: the safe direction */
    s->last_ack_ms = ky_server_now_ms(s);
    if (s->repl_role == KY_REPL_PRIMARY && !epoch_owned(s, &h)) {
        ky_log("warn", "configured as primary, but another node started the current epoch",
               "epoch=%" PRIu64 " hint=\"starting as its replica; after a switchover or "
               "failover set replication.role in both config files\"",
               h.epoch);
        s->repl_role = KY_REPL_REPLICA;
    }
    if (s->repl_role == KY_REPL_PRIMARY) return restart_strict(s, err, cap);
    return KY_OK;
}

void ky_repl_primary_activate(ky_server *s) {
    ev_timer_start(s->loop, &s->repl_timer);
    ky_ledger_set_batch_hook(s->ledger, batch_hook, s);
    ky_repl_watch_stop(s->watch); /* a watcher that already fired has ended: start afresh */
    s->watch = NULL;
    if (ky_repl_watch_start(&s->watch, &s->cfg, s->ledger, s->loop, &s->higher_epoch) != KY_OK)
        ky_log("error", "cannot watch the peer's epoch", "peer=%s", s->cfg.peer_addr);
}

void ky_repl_primary_close(ky_server *s) {
    ky_repl_watch_stop(s->watch);
    s->watch = NULL;
    release(s, true); /* shutting down: whatever is still held is not acknowledged */
    ky_ledger_set_batch_hook(s->ledger, NULL, NULL);
    batches_free(s->pending);
    batches_free(s->outbox_head);
    s->pending = s->outbox_head = s->outbox_tail = NULL;
    pthread_mutex_destroy(&s->outbox_mu);
}
