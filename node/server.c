/*
 * server.c — the libev loop of kyosaid: listener, connections, dispatch (see server.h).
 *
 * Requests are answered in the order they complete, each response carrying its request
 * id (pipelining, docs/PROTOCOL.md). Reads complete at once; appends complete when the
 * writer has made them durable. A frame-level error (bad magic, checksum, oversize) is
 * answered with an ERROR frame and the connection is closed after it is flushed, because
 * the byte stream can no longer be trusted; a message-level error gets an ERROR frame and
 * the connection stays open.
 */
#define _GNU_SOURCE 1 /* accept4 */
#include "server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../proto/frame.h"
#include "../proto/msg.h"
#include "../proto/status.h"
#include "log.h"
#include "server_int.h"
#include "writer.h"

/* ---- connection slots ------------------------------------------------------------- */

static ky_conn *conn_alloc(ky_server *s) {
    for (uint32_t i = 0; i < s->cfg.connections_max; i++) {
        ky_conn *c = &s->conns[i];
        if (c->state != KY_CONN_FREE) continue;
        size_t cap = KY_WIRE_HEADER_BYTES + s->cfg.frame_body_bytes_max;
        c->rbuf = malloc(cap);
        if (c->rbuf == NULL) return NULL;
        ky_frame_reader_init(&c->reader, c->rbuf, cap, (uint32_t)s->cfg.frame_body_bytes_max);
        c->slot = i;
        c->gen = ++s->conn_gen_next;
        c->state = KY_CONN_OPEN;
        return c;
    }
    return NULL;
}

/* Marks a connection for closing; prepare_cb frees it outside its own callback chain. */
void ky_conn_close_later(ky_server *s, ky_conn *c, const char *why) {
    if (c->state != KY_CONN_OPEN) return;
    c->state = KY_CONN_CLOSING;
    c->close_reason = why;
    ev_io_stop(s->loop, &c->rio);
    if (!ky_conn_flush_pending(c)) ev_io_stop(s->loop, &c->wio);
}

static void conn_free(ky_server *s, ky_conn *c) {
    ev_io_stop(s->loop, &c->rio);
    ev_io_stop(s->loop, &c->wio);
    ev_timer_stop(s->loop, &c->timer);
    close(c->fd);
    ky_log("info", "connection closed", "conn=%" PRIu64 " peer=%s reason=\"%s\" inflight=%u",
           c->gen, c->peer, c->close_reason ? c->close_reason : "closed", c->inflight);
    ky_session_conn_free(s, c);
    ky_repl_conn_closed(s, c);
    free(c->rbuf);
    free(c->wbuf);
    uint32_t slot = c->slot;
    memset(c, 0, sizeof *c);
    c->slot = slot;
    c->state = KY_CONN_FREE;
    s->conn_count--;
}

/* A closing connection is freed once its responses are flushed and no append of it is
 * still with the writer (its completion would find the slot reused otherwise — the
 * generation check makes that safe anyway, but waiting lets the client get its answer). */
static void prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    for (uint32_t i = 0; i < s->cfg.connections_max; i++) {
        ky_conn *c = &s->conns[i];
        if (c->state != KY_CONN_CLOSING) continue;
        bool flushed = !ky_conn_flush_pending(c) || c->write_failed;
        if (flushed && (c->inflight == 0 || c->write_failed || s->stopping)) conn_free(s, c);
    }
}

/* ---- writing --------------------------------------------------------------------- */

bool ky_conn_flush_pending(const ky_conn *c) {
    return c->wlen > c->woff;
}

static void conn_update_read(ky_server *s, ky_conn *c) {
    bool pause = c->wlen - c->woff > s->cfg.queued_bytes_per_connection_max ||
                 c->inflight >= s->cfg.inflight_requests_per_connection_max || s->stopping;
    if (c->state != KY_CONN_OPEN || pause)
        ev_io_stop(s->loop, &c->rio);
    else
        ev_io_start(s->loop, &c->rio);
}

static void write_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    ky_conn *c = w->data;
    ky_server *s = c->server;
    while (c->woff < c->wlen) {
        ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
        if (n > 0) {
            c->woff += (size_t)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        c->write_failed = true;
        ky_conn_close_later(s, c, "write failed");
        ev_io_stop(s->loop, &c->wio);
        return;
    }
    c->woff = c->wlen = 0;
    ev_io_stop(s->loop, &c->wio);
    conn_update_read(s, c);
}

/* Reserves room for `bytes` more output; grows the buffer (bounded by the queue limit
 * plus one maximal frame, so one response always fits). NULL when out of memory. */
uint8_t *ky_conn_raw_reserve(ky_conn *c, size_t bytes) {
    if (c->woff > 0 && c->woff == c->wlen) c->woff = c->wlen = 0;
    if (c->wlen + bytes > c->wcap) {
        size_t cap = c->wcap ? c->wcap : 65536;
        while (cap < c->wlen + bytes) cap *= 2;
        uint8_t *nb = realloc(c->wbuf, cap);
        if (nb == NULL) return NULL;
        c->wbuf = nb;
        c->wcap = cap;
    }
    return c->wbuf + c->wlen;
}

void ky_conn_raw_commit(ky_server *s, ky_conn *c, size_t bytes) {
    KY_ASSERT(c->wlen + bytes <= c->wcap);
    c->wlen += bytes;
    if (c->state == KY_CONN_FREE || c->write_failed) return;
    ev_io_start(s->loop, &c->wio);
    conn_update_read(s, c);
}

/* Frames are written in plaintext into the reserved space; on a secure connection that
 * space is the staging buffer, and commit seals it into the output buffer. */
uint8_t *ky_conn_out_reserve(ky_conn *c, size_t bytes) {
    if (c->chan == NULL || !c->authenticated) return ky_conn_raw_reserve(c, bytes);
    if (bytes > c->scap) {
        uint8_t *nb = realloc(c->sbuf, bytes);
        if (nb == NULL) return NULL;
        c->sbuf = nb;
        c->scap = bytes;
    }
    return c->sbuf;
}

void ky_conn_out_commit(ky_server *s, ky_conn *c, size_t bytes) {
    if (c->chan == NULL || !c->authenticated) {
        ky_conn_raw_commit(s, c, bytes);
        return;
    }
    KY_ASSERT(bytes <= c->scap);
    size_t need = ky_chan_sealed_bytes(bytes), sealed = 0;
    uint8_t *dst = ky_conn_raw_reserve(c, need);
    int rc = dst ? ky_chan_seal(c->chan, c->sbuf, bytes, dst, need, &sealed) : KY_E_NOMEM;
    if (rc != KY_OK) {
        ky_log("warn", "cannot seal response", "conn=%" PRIu64 " client=%s error=%s", c->gen,
               c->client_name, ky_errname(rc));
        c->write_failed = true;
        ky_conn_close_later(s, c, "cannot seal response");
        return;
    }
    ky_conn_raw_commit(s, c, sealed);
}

/* ---- reading --------------------------------------------------------------------- */

static void conn_touch(ky_server *s, ky_conn *c) {
    c->last_read_ms = ky_server_now_ms(s);
}

static void read_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    ky_conn *c = w->data;
    ky_server *s = c->server;
    uint8_t buf[65536];
    bool secure = c->chan != NULL;
    KY_ASSERT(!secure || c->clen < KY_SESSION_CBUF_BYTES);
    ssize_t n = secure ? recv(c->fd, c->cbuf + c->clen, KY_SESSION_CBUF_BYTES - c->clen, 0)
                       : recv(c->fd, buf, sizeof buf, 0);
    if (n == 0) {
        ky_conn_close_later(s, c, "peer closed");
        return;
    }
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            ky_conn_close_later(s, c, "read failed");
        return;
    }
    conn_touch(s, c);
    if (secure) {
        c->clen += (size_t)n;
        ky_session_received(s, c);
    } else {
        ky_conn_feed(s, c, buf, (size_t)n);
    }
}

void ky_conn_feed(ky_server *s, ky_conn *c, const uint8_t *buf, size_t n) {
    size_t off = 0;
    while (off < n && c->state == KY_CONN_OPEN) {
        size_t used = 0;
        int rc = ky_frame_reader_feed(&c->reader, buf + off, n - off, &used);
        off += used;
        if (rc == KY_STEP_NEED_MORE) break;
        if (rc != KY_STEP_FRAME) {
            ky_server_frame_error(s, c, rc);
            return;
        }
        ky_server_dispatch(s, c, ky_frame_reader_header(&c->reader),
                           ky_frame_reader_body(&c->reader));
        ky_frame_reader_reset(&c->reader);
    }
    if (off < n && c->state == KY_CONN_OPEN) {
        /* Reading paused mid-buffer (inflight limit): keep the rest for later. This cannot
         * happen because pausing only stops the watcher; feed consumes what it can. */
        KY_BUG("unconsumed bytes after dispatch");
    }
    c->frame_started = ky_frame_reader_at_eof(&c->reader) != KY_OK; /* partial frame held */
    if (c->frame_started && c->frame_start_ms == 0) c->frame_start_ms = ky_server_now_ms(s);
    if (!c->frame_started) c->frame_start_ms = 0;
}

/* Idle and read timeouts, checked once a second per connection. */
static void timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)loop, (void)revents;
    ky_conn *c = w->data;
    ky_server *s = c->server;
    uint64_t now = ky_server_now_ms(s);
    if (c->state != KY_CONN_OPEN) return;
    if (!c->authenticated && now - c->accepted_ms > s->cfg.handshake_timeout_ms) {
        ky_log("warn", "handshake refused", "conn=%" PRIu64 " peer=%s reason=\"timeout\"", c->gen,
               c->peer);
        s->handshakes_refused++;
        ky_conn_close_later(s, c, "handshake timeout");
    } else if (c->frame_started && now - c->frame_start_ms > s->cfg.read_timeout_ms) {
        ky_server_send_error(s, c, 0, KY_E_TIMEOUT, "read_timeout_ms",
                             "frame not completed within read_timeout_ms; closing");
        ky_conn_close_later(s, c, "read timeout");
    } else if (c->inflight == 0 && now - c->last_read_ms > s->cfg.idle_timeout_ms) {
        ky_conn_close_later(s, c, "idle timeout");
    }
}

/* ---- accepting ------------------------------------------------------------------- */

static void refuse_connection(ky_server *s, int fd) {
    uint8_t frame[KY_WIRE_HEADER_BYTES + 600];
    size_t n = ky_server_error_frame(frame, sizeof frame, 0, KY_E_CONNECTION_LIMIT,
                                     "connections_max", ky_strerror(KY_E_CONNECTION_LIMIT));
    if (n > 0 && send(fd, frame, n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) { /* best effort */
    }
    close(fd);
    s->refused_connections++;
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents) {
    (void)loop, (void)revents;
    ky_server *s = w->data;
    for (int i = 0; i < 64; i++) { /* bounded per callback: fairness */
        struct sockaddr_in peer;
        socklen_t plen = sizeof peer;
        int fd =
            accept4(s->listen_fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        if (s->stopping) {
            close(fd);
            continue;
        }
        ky_conn *c = s->conn_count < s->cfg.connections_max ? conn_alloc(s) : NULL;
        if (c == NULL) {
            refuse_connection(s, fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->fd = fd;
        c->server = s;
        snprintf(c->peer, sizeof c->peer, "%s:%u", inet_ntoa(peer.sin_addr), ntohs(peer.sin_port));
        s->conn_count++;
        ev_io_init(&c->rio, read_cb, fd, EV_READ);
        ev_io_init(&c->wio, write_cb, fd, EV_WRITE);
        c->rio.data = c->wio.data = c->timer.data = c;
        ev_timer_init(&c->timer, timer_cb, 1.0, 1.0);
        ev_timer_start(s->loop, &c->timer);
        conn_touch(s, c);
        c->accepted_ms = c->last_read_ms;
        if (ky_session_conn_open(s, c) != KY_OK) {
            c->state = KY_CONN_CLOSING;
            c->close_reason = "handshake limit (handshakes_pending_max) or out of memory";
            conn_free(s, c);
            continue;
        }
        ev_io_start(s->loop, &c->rio);
    }
}

/* ---- open / run / close ----------------------------------------------------------- */

static int listen_on(const ky_config *cfg, int *fd_out, char *err, size_t cap) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->listen_port)};
    if (inet_pton(AF_INET, cfg->listen_addr, &a.sin_addr) != 1) {
        snprintf(err, cap, "listen_addr '%s' is not an IPv4 address", cfg->listen_addr);
        return KY_E_INVALID_ARG;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, cap, "socket: %s", strerror(errno));
        return KY_E_IO;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, cap, "cannot listen on %s:%" PRIu64 ": %s", cfg->listen_addr,
                 cfg->listen_port, strerror(errno));
        close(fd);
        return KY_E_IO;
    }
    *fd_out = fd;
    return KY_OK;
}

static void signal_cb(struct ev_loop *loop, ev_signal *w, int revents) {
    (void)revents;
    ky_server *s = w->data;
    if (s->stopping) return;
    ky_log("info", "shutdown requested", "signal=%d inflight_appends=%" PRIu64, w->signum,
           ky_writer_pending(s->writer));
    s->stopping = true;
    s->stop_started_ms = ky_server_now_ms(s);
    ev_io_stop(loop, &s->listen_io);
    ky_writer_drain(s->writer);
    for (uint32_t i = 0; i < s->cfg.connections_max; i++)
        if (s->conns[i].state == KY_CONN_OPEN) ev_io_stop(loop, &s->conns[i].rio);
    ev_timer_start(loop, &s->stop_timer);
}

/* During shutdown: once the writer is idle and every response is flushed, end the loop. */
static void stop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents) {
    (void)revents;
    ky_server *s = w->data;
    bool writer_idle = ky_writer_pending(s->writer) == 0 && s->held_count == 0;
    bool flushed = true;
    for (uint32_t i = 0; i < s->cfg.connections_max; i++) {
        ky_conn *c = &s->conns[i];
        if (c->state != KY_CONN_FREE && ky_conn_flush_pending(c) && !c->write_failed)
            flushed = false;
    }
    bool late = ky_server_now_ms(s) - s->stop_started_ms > s->cfg.shutdown_grace_ms;
    if ((writer_idle && flushed) || (writer_idle && late)) ev_break(loop, EVBREAK_ALL);
}

static void async_cb(struct ev_loop *loop, ev_async *w, int revents) {
    (void)loop, (void)revents;
    ky_server_complete_appends(w->data);
}

int ky_server_open(ky_server **out, const ky_config *cfg, ky_ledger *l, char *err, size_t cap) {
    *out = NULL;
    ky_server *s = calloc(1, sizeof *s);
    if (s == NULL) return KY_E_NOMEM;
    s->cfg = *cfg;
    s->ledger = l;
    s->listen_fd = -1;
    s->conns = calloc(cfg->connections_max, sizeof(ky_conn));
    s->loop = ev_loop_new(EVFLAG_AUTO);
    int rc = (s->conns == NULL || s->loop == NULL) ? KY_E_NOMEM : KY_OK;
    if (rc == KY_OK) rc = ky_session_server_open(s, err, cap);
    if (rc == KY_OK) {
        ky_repl_role role = KY_REPL_STANDALONE;
        rc = ky_repl_role_parse(cfg->role, &role);
        if (rc != KY_OK)
            snprintf(err, cap,
                     "replication.role '%s' is not standalone, primary or "
                     "replica",
                     cfg->role);
        s->repl_role = (int)role;
        if (rc == KY_OK && cfg->async && role != KY_REPL_REPLICA) {
            snprintf(err, cap,
                     "replication.async = 1 is for a replica (replication.role = "
                     "replica), not for a %s",
                     cfg->role);
            rc = KY_E_INVALID_ARG;
        }
    }
    if (rc == KY_OK) rc = listen_on(cfg, &s->listen_fd, err, cap);
    if (rc != KY_OK) goto fail;
    for (uint32_t i = 0; i < cfg->connections_max; i++) s->conns[i].slot = i;
    s->started_ms = ky_server_now_ms(s);
    ev_async_init(&s->async, async_cb);
    s->async.data = s;
    ev_async_start(s->loop, &s->async);
    rc = ky_repl_primary_open(s, err, cap); /* installs the batch hook before the writer runs */
    if (rc != KY_OK) goto fail;
    s->repl_opened = true;
    rc = ky_writer_start(&s->writer, l, (uint32_t)cfg->batch_count_max,
                         (uint32_t)cfg->writer_queue_requests_max, s->loop, &s->async);
    if (rc != KY_OK) {
        snprintf(err, cap, "cannot start the writer thread");
        goto fail;
    }
    if (s->repl_role == KY_REPL_REPLICA) {
        rc = ky_repl_replica_start(&s->replica, cfg, l, s->loop, &s->handover, err, cap);
        if (rc != KY_OK) goto fail;
    }
    ev_io_init(&s->listen_io, accept_cb, s->listen_fd, EV_READ);
    ev_prepare_init(&s->prepare, prepare_cb);
    ev_signal_init(&s->sigterm, signal_cb, SIGTERM);
    ev_signal_init(&s->sigint, signal_cb, SIGINT);
    ev_timer_init(&s->stop_timer, stop_timer_cb, 0.01, 0.01);
    s->listen_io.data = s->prepare.data = s->sigterm.data = s->sigint.data = s;
    s->stop_timer.data = s;
    *out = s;
    return KY_OK;
fail:
    ky_server_close(s);
    return rc;
}

int ky_server_run(ky_server *s) {
    signal(SIGPIPE, SIG_IGN);
    ev_io_start(s->loop, &s->listen_io);
    ev_prepare_start(s->loop, &s->prepare);
    ev_signal_start(s->loop, &s->sigterm);
    ev_signal_start(s->loop, &s->sigint);
    ev_run(s->loop, 0);
    return KY_OK;
}

unsigned ky_server_port(const ky_server *s) {
    return (unsigned)s->cfg.listen_port;
}

void ky_server_close(ky_server *s) {
    if (s == NULL) return;
    ky_repl_replica_stop(s->replica); /* joins: the apply in progress finishes */
    if (s->writer != NULL) {
        ky_writer_stop(s->writer);     /* joins: every queued append is written */
        ky_server_complete_appends(s); /* answers them if their connection still exists */
    }
    if (s->repl_opened) ky_repl_primary_close(s); /* held appends: not acknowledged */
    if (s->conns != NULL) {
        for (uint32_t i = 0; i < s->cfg.connections_max; i++) {
            if (s->conns[i].state == KY_CONN_FREE) continue;
            s->conns[i].close_reason = "node shutting down";
            conn_free(s, &s->conns[i]);
        }
    }
    ky_writer_close(s->writer);
    if (s->listen_fd >= 0) close(s->listen_fd);
    if (s->loop != NULL) ev_loop_destroy(s->loop);
    ky_session_server_close(s);
    free(s->conns);
    free(s);
}

uint64_t ky_server_now_ms(const ky_server *s) {
    (void)s;
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}
