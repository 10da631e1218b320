/*
 * repl_promote.c — failover: the operator's PROMOTE turns the DR replica into the primary
 * (DESIGN §5 "Failover", "No promotion that would lose acknowledged data").
 *
 * Why so many refusals: a promotion is the one operation that can silently lose money
 * records or create two primaries. It is refused, with the reason in the ERROR message,
 * when this node is not a replica; when it is still streaming from a live primary (that
 * is a switchover's job, not a failover's); when it holds no entries (a new or wiped node
 * has a new identity and must catch up first); and when its head is behind the highest
 * seq the primary acknowledged to clients — naming the missing range — unless the
 * operator explicitly accepts that loss.
 *
 * On success: the streaming thread is stopped, epoch + 1 begins with an epoch_started
 * entry (durable before any write is taken), and the node runs as a primary in
 * standalone mode: it answers appends without a replica until the old primary has
 * rejoined as its replica. Loop thread; the ledger has no other writer at this point
 * (a replica's writer thread never receives appends).
 *
 * The reverse, stepping down: a primary whose watcher (repl_replica.c) finds the peer
 * primary at a higher epoch stops taking appends at once (NOT_PRIMARY), fails every append
 * still waiting for the replica (none was acknowledged), waits for its writer to go idle
 * and then streams from the new primary as its replica — whose catch-up quarantines this
 * node's unacknowledged tail.
 */
#include <inttypes.h>
#include <string.h>

#include "../common/ky_err.h"
#include "../ledger/replica.h"
#include "../proto/msg.h"
#include "log.h"
#include "server_int.h"

typedef struct promote_resp {
    uint64_t epoch, head_seq;
} promote_resp;

static int encode_promote(void *ctx, uint8_t *out, size_t cap, size_t *len) {
    const promote_resp *p = ctx;
    return ky_msg_promote_resp_encode(p->epoch, p->head_seq, out, cap, len);
}

/* The guard. Returns KY_OK or KY_E_PROMOTE_REFUSED with why filled. */
static int guard(ky_server *s, uint8_t flags, const ky_ledger_head *h, char *why, size_t cap) {
    if (s->repl_role != KY_REPL_REPLICA) {
        snprintf(why, cap, "this node is not a replica (it is already %s)",
                 s->repl_role == KY_REPL_PRIMARY ? "the primary" : "standalone");
        return KY_E_PROMOTE_REFUSED;
    }
    if (s->cfg.async) {
        snprintf(why, cap,
                 "this node is an asynchronous read replica (replication.async = 1): it may "
                 "lag by design and is never promoted; promote the DR replica");
        return KY_E_PROMOTE_REFUSED;
    }
    if (!(flags & KY_PROMOTE_FORCE)) {
        snprintf(why, cap, "a failover promotion needs --force (the primary must be gone)");
        return KY_E_PROMOTE_REFUSED;
    }
    if (ky_repl_replica_streaming(s->replica)) {
        snprintf(why, cap,
                 "this replica is still streaming from a live primary at %s; "
                 "promoting it would make two primaries",
                 s->cfg.peer_addr);
        return KY_E_PROMOTE_REFUSED;
    }
    if (h->seq == 0) {
        snprintf(why, cap,
                 "this node holds no entries (new or wiped: a new identity); it must "
                 "catch up from the primary before it can be promoted");
        return KY_E_PROMOTE_REFUSED;
    }
    uint64_t acked = h->acked_seq > h->peer_acked_seq ? h->acked_seq : h->peer_acked_seq;
    if (acked > h->seq && !(flags & KY_PROMOTE_ACCEPT_LOSS)) {
        snprintf(why, cap,
                 "entries %" PRIu64 "..%" PRIu64 " were acknowledged to clients but "
                 "are missing here; let it catch up, or pass --accept-loss to lose them",
                 h->seq + 1, acked);
        return KY_E_PROMOTE_REFUSED;
    }
    bool standalone = false;
    uint16_t mode = 0;
    uint64_t since = 0;
    if (ky_ledger_last_mode_change(s->ledger, &standalone, &mode, &since) != KY_OK) {
        snprintf(why, cap, "cannot read the ledger's replication mode");
        return KY_E_PROMOTE_REFUSED;
    }
    if (standalone && mode == KY_WIRE_MODE_STANDALONE && !(flags & KY_PROMOTE_ACCEPT_LOSS)) {
        snprintf(why, cap,
                 "the primary has run standalone since entry %" PRIu64 " (mode_changed), so it "
                 "may have acknowledged entries after %" PRIu64 " that never reached this "
                 "replica; let it catch up and restore-sync, or pass --accept-loss",
                 since, h->seq);
        return KY_E_PROMOTE_REFUSED;
    }
    return KY_OK;
}

/* Whether the primary this replica followed ran standalone at its head (see guard). */
static bool primary_was_standalone(ky_server *s, uint64_t *since) {
    bool found = false;
    uint16_t mode = 0;
    return ky_ledger_last_mode_change(s->ledger, &found, &mode, since) == KY_OK && found &&
           mode == KY_WIRE_MODE_STANDALONE;
}

/* The role switch itself, after the new epoch is durable. */
static void become_primary(ky_server *s, bool strict) {
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    s->repl_role = KY_REPL_PRIMARY;
    s->sync_strict = strict;
    s->sent_seq = s->durable_seq = 0;
    s->acked_seq = h.acked_seq;
    ky_repl_primary_activate(s);
}

void ky_repl_on_promote(ky_server *s, ky_conn *c, const ky_frame_header *hdr, const uint8_t *body) {
    uint8_t flags = 0;
    int rc = ky_msg_promote_decode(body, hdr->body_bytes, &flags);
    if (rc != KY_OK) {
        ky_server_send_error(s, c, hdr->request_id, rc, "PROMOTE", ky_strerror(rc));
        return;
    }
    ky_ledger_head h;
    char why[300] = "";
    rc = ky_ledger_head_get(s->ledger, &h);
    if (rc == KY_OK) rc = guard(s, flags, &h, why, sizeof why);
    if (rc == KY_OK) {
        ky_repl_replica_stop(s->replica); /* the apply in progress finishes first */
        s->replica = NULL;
        ky_ledger_head_get(s->ledger, &h); /* it may have applied one more batch */
        uint64_t since = 0;                /* read in the old epoch, before the new one begins */
        bool was_standalone = primary_was_standalone(s, &since);
        rc = ky_ledger_epoch_begin(s->ledger, h.epoch + 1, NULL);
        if (rc != KY_OK)
            snprintf(why, sizeof why, "cannot start the new epoch: %s", ky_strerror(rc));
        uint64_t acked = h.acked_seq > h.peer_acked_seq ? h.acked_seq : h.peer_acked_seq;
        if (rc == KY_OK && (acked > h.seq || was_standalone)) { /* --accept-loss: recorded */
            char text[240];
            int n = acked > h.seq
                        ? snprintf(text, sizeof text,
                                   "entries %" PRIu64 "..%" PRIu64 " acknowledged "
                                   "by the previous primary were lost; accepted by %s",
                                   h.seq + 1, acked, c->client_name)
                        : snprintf(text, sizeof text,
                                   "the previous primary ran standalone since entry %" PRIu64
                                   "; whatever it acknowledged after entry %" PRIu64
                                   " is lost; accepted by %s",
                                   since, h.seq, c->client_name);
            rc = ky_ledger_system_append(s->ledger, KY_KIND_LOSS_ACCEPTED, 0, (const uint8_t *)text,
                                         (uint32_t)n, NULL);
            ky_log("error", "promotion accepted a loss", "text=\"%s\"", text);
        }
        if (rc == KY_OK) /* the ledger says from where the new primary ran alone */
            rc = ky_ledger_system_append(s->ledger, KY_KIND_MODE_CHANGED, KY_WIRE_MODE_STANDALONE,
                                         NULL, 0, NULL);
    }
    if (rc != KY_OK) {
        ky_log("warn", "promotion refused", "client=%s why=\"%s\"", c->client_name, why);
        ky_server_send_error(s, c, hdr->request_id, rc, "promote", why);
        return;
    }
    ky_ledger_head_get(s->ledger, &h);
    become_primary(s, false); /* standalone until the old primary rejoins as replica */
    s->auto_restore = true;
    ky_log("warn", "promoted to primary",
           "client=%s epoch=%" PRIu64 " head_seq=%" PRIu64 " mode=standalone accept_loss=%s",
           c->client_name, h.epoch, h.seq, (flags & KY_PROMOTE_ACCEPT_LOSS) ? "yes" : "no");
    promote_resp p = {h.epoch, h.seq};
    ky_server_respond(s, c, KY_MSG_PROMOTE, hdr->request_id, KY_MSG_PROMOTE_RESP_BYTES,
                      encode_promote, &p);
}

/* ---- stepping down ------------------------------------------------------------------------ */

/* Once the writer has nothing in flight, the ledger is the replica thread's. */
static void stepdown_poll_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    ky_server *s = w->data;
    if (ky_writer_pending(s->writer) != 0) return;
    ev_timer_stop(loop, w);
    char err[256] = "";
    if (ky_repl_replica_start(&s->replica, &s->cfg, s->ledger, s->loop, &s->handover, err,
                              sizeof err) != KY_OK)
        ky_log("error", "cannot start streaming from the new primary", "error=\"%s\"", err);
}

static void higher_epoch_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    if (s->repl_role != KY_REPL_PRIMARY) return;
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    ky_log("warn", "stepping down: the peer was promoted",
           "peer=%s epoch=%" PRIu64 " head_seq=%" PRIu64 " held_appends=%" PRIu64, s->cfg.peer_addr,
           h.epoch, h.seq, s->held_count);
    s->repl_role = KY_REPL_REPLICA;
    ky_repl_fail_held(s, KY_E_NOT_PRIMARY);
    ev_timer_start(s->loop, &s->stepdown_timer);
}

/* ---- switchover --------------------------------------------------------------------------- */

static void switch_answer(ky_server *s, int err, uint64_t head_seq) {
    ky_conn *c = &s->conns[s->switch_slot];
    s->switching = false;
    ev_timer_stop(s->loop, &s->switch_timer);
    if (c->state != KY_CONN_OPEN || c->gen != s->switch_gen) return;
    uint64_t pause = ky_server_now_ms(s) - s->switch_started_ms;
    if (err != KY_OK) {
        ky_server_send_error(s, c, s->switch_request_id, err, "switchover",
                             "the replica did not reach the primary's head in time; writes "
                             "resumed on this primary");
        return;
    }
    promote_resp p = {head_seq, pause};
    ky_server_respond(s, c, KY_MSG_SWITCHOVER, s->switch_request_id, KY_MSG_SWITCHOVER_RESP_BYTES,
                      encode_promote, &p);
}

/* Degrade / restore-sync, run with the writer idle: the mode change is a system entry
 * (mode_changed, subtype = the new ky_wire_mode), so the ledger itself says when the pair
 * ran without its replica. */
static void mode_change_run(ky_server *s) {
    bool strict = s->switch_op == KY_MSG_RESTORE_SYNC;
    uint64_t seq = 0;
    int rc = ky_ledger_system_append(s->ledger, KY_KIND_MODE_CHANGED,
                                     strict ? KY_WIRE_MODE_STRICT : KY_WIRE_MODE_STANDALONE, NULL,
                                     0, &seq);
    ky_conn *c = &s->conns[s->switch_slot];
    s->switching = false;
    ev_timer_stop(s->loop, &s->switch_timer);
    if (rc == KY_OK) {
        s->sync_strict = strict;
        s->auto_restore = false; /* after an operator's degrade, only the operator restores */
        ky_log("warn", strict ? "restored synchronous mode" : "degraded to standalone",
               "seq=%" PRIu64 " replica_durable_seq=%" PRIu64 " by=%s", seq, s->durable_seq,
               s->switch_gen == KY_SWITCH_GEN_NONE ? "node(replica caught up)" : "operator");
        if (!strict) ky_repl_release_all(s); /* held appends are answered now */
    }
    if (rc != KY_OK && s->switch_gen == KY_SWITCH_GEN_NONE)
        ky_log("error", "cannot restore synchronous mode", "error=%s", ky_errname(rc));
    if (c->state != KY_CONN_OPEN || c->gen != s->switch_gen) return;
    if (rc != KY_OK) {
        ky_server_send_error(s, c, s->switch_request_id, rc, "mode", ky_strerror(rc));
        return;
    }
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    promote_resp p = {h.epoch, seq};
    ky_server_respond(s, c, s->switch_op, s->switch_request_id, KY_MSG_PROMOTE_RESP_BYTES,
                      encode_promote, &p);
}

/* Waits until nothing is in flight and the replica holds the head, then hands over. */
static void switch_poll_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    if (s->switch_op != KY_MSG_SWITCHOVER) {
        if (ky_writer_pending(s->writer) == 0) mode_change_run(s);
        return;
    }
    bool drained = ky_writer_pending(s->writer) == 0 && s->held_count == 0;
    if (drained && s->durable_seq == h.seq && ky_repl_send_handover(s) == KY_OK) {
        ky_log("warn", "switchover: handed over", "head_seq=%" PRIu64 " pause_ms=%" PRIu64, h.seq,
               ky_server_now_ms(s) - s->switch_started_ms);
        s->repl_role = KY_REPL_REPLICA; /* appends now get NOT_PRIMARY */
        ky_repl_readers_close(s, "handed over to the replica");
        switch_answer(s, KY_OK, h.seq);
        ev_timer_start(s->loop, &s->stepdown_timer); /* then follow the new primary */
        return;
    }
    if (ky_server_now_ms(s) - s->switch_started_ms > KY_REPL_SWITCHOVER_MS) {
        ky_log("error", "switchover aborted", "head_seq=%" PRIu64 " replica_durable_seq=%" PRIu64,
               h.seq, s->durable_seq);
        switch_answer(s, KY_E_RETRY_LATER, 0);
    }
}

void ky_repl_on_switchover(ky_server *s, ky_conn *c, const ky_frame_header *h) {
    const char *why = NULL;
    if (s->repl_role != KY_REPL_PRIMARY)
        why = "this node is not the primary";
    else if (s->switching)
        why = "a switchover is already in progress";
    else if (!s->sub_active)
        why = "no replica is streaming from this primary";
    else if (s->cfg.peer_addr[0] == '\0')
        why = "replication.peer_addr is not set, so this node could not follow the new primary";
    if (why != NULL) {
        ky_server_send_error(s, c, h->request_id, KY_E_PROMOTE_REFUSED, "switchover", why);
        return;
    }
    s->switching = true;
    s->switch_op = KY_MSG_SWITCHOVER;
    s->switch_started_ms = ky_server_now_ms(s);
    s->switch_slot = c->slot;
    s->switch_gen = c->gen;
    s->switch_request_id = h->request_id;
    ky_log("warn", "switchover started", "client=%s", c->client_name);
    ev_timer_start(s->loop, &s->switch_timer);
}

void ky_repl_on_mode_change(ky_server *s, ky_conn *c, const ky_frame_header *h) {
    bool restore = h->type == KY_MSG_RESTORE_SYNC;
    const char *why = NULL;
    char buf[160];
    ky_ledger_head head;
    ky_ledger_head_get(s->ledger, &head);
    if (s->repl_role != KY_REPL_PRIMARY) {
        why = "this node is not the primary";
    } else if (s->switching) {
        why = "a switchover or mode change is already in progress";
    } else if (restore == s->sync_strict) {
        why = restore ? "already in strict synchronous mode" : "already standalone";
    } else if (restore && (!s->sub_active || s->durable_seq < head.seq)) {
        snprintf(buf, sizeof buf,
                 "the replica has not caught up (%s, durable seq %" PRIu64 " of %" PRIu64
                 "); retry when it has",
                 s->sub_active ? "streaming" : "not connected", s->durable_seq, head.seq);
        why = buf;
    }
    if (why != NULL) {
        ky_server_send_error(s, c, h->request_id, KY_E_PROMOTE_REFUSED, "mode", why);
        return;
    }
    s->switching = true;
    s->switch_op = h->type;
    s->switch_started_ms = ky_server_now_ms(s);
    s->switch_slot = c->slot;
    s->switch_gen = c->gen;
    s->switch_request_id = h->request_id;
    ky_log("warn", restore ? "restore-sync requested" : "degrade requested", "client=%s",
           c->client_name);
    ev_timer_start(s->loop, &s->switch_timer);
}

void ky_repl_maybe_restore(ky_server *s) {
    if (s->repl_role != KY_REPL_PRIMARY || !s->auto_restore || s->sync_strict || s->switching ||
        !s->sub_active)
        return;
    ky_ledger_head h;
    if (ky_ledger_head_get(s->ledger, &h) != KY_OK || s->durable_seq < h.seq) return;
    s->switching = true; /* appends RETRY_LATER for the few ms until the entry is written */
    s->switch_op = KY_MSG_RESTORE_SYNC;
    s->switch_started_ms = ky_server_now_ms(s);
    s->switch_slot = 0;
    s->switch_gen = KY_SWITCH_GEN_NONE;
    s->switch_request_id = 0;
    ky_log("warn", "restoring synchronous mode: the rejoined replica holds the head",
           "head_seq=%" PRIu64, h.seq);
    ev_timer_start(s->loop, &s->switch_timer);
}

/* The replica thread got REPL_HANDOVER holding the primary's head: take over. */
static void handover_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    if (s->repl_role != KY_REPL_REPLICA || !ky_repl_replica_handed_over(s->replica)) return;
    ky_repl_replica_stop(s->replica);
    s->replica = NULL;
    ky_ledger_head h;
    ky_ledger_head_get(s->ledger, &h);
    int rc = ky_ledger_epoch_begin(s->ledger, h.epoch + 1, NULL);
    if (rc != KY_OK) {
        ky_log("error", "cannot take over", "error=%s", ky_errname(rc));
        return;
    }
    become_primary(s, true); /* the old primary follows at once: strict from the start */
    ky_ledger_head_get(s->ledger, &h);
    ky_log("warn", "switchover: now primary", "epoch=%" PRIu64 " head_seq=%" PRIu64, h.epoch,
           h.seq);
}

void ky_repl_roles_open(ky_server *s) {
    ev_async_init(&s->handover, handover_cb);
    s->handover.data = s;
    ev_async_start(s->loop, &s->handover);
    ev_timer_init(&s->switch_timer, switch_poll_cb, 0.002, 0.002);
    s->switch_timer.data = s;
    ev_async_init(&s->higher_epoch, higher_epoch_cb);
    s->higher_epoch.data = s;
    ev_async_start(s->loop, &s->higher_epoch);
    ev_timer_init(&s->stepdown_timer, stepdown_poll_cb, 0.01, 0.01);
    s->stepdown_timer.data = s;
}
