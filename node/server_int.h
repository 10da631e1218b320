/*
 * server_int.h — private structures of the node's loop thread, shared by server.c
 * (sockets, connections, shutdown) and dispatch.c (request handling). Loop thread only.
 */
#ifndef KY_SERVER_INT_H
#define KY_SERVER_INT_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "../proto/frame.h"
#include "server.h"
#include "writer.h"

typedef enum ky_conn_state {
    KY_CONN_FREE = 0,    /* slot unused */
    KY_CONN_OPEN = 1,    /* reading and answering */
    KY_CONN_CLOSING = 2, /* no more reads; freed by prepare_cb once flushed */
} ky_conn_state;

typedef struct ky_conn {
    struct ky_server *server; /* owner */
    ky_conn_state state;
    uint32_t slot;            /* index in the table */
    uint64_t gen;             /* generation: unique per accepted connection */
    int fd;                   /* socket */
    char peer[32];            /* "a.b.c.d:port" for logs */
    ev_io rio, wio;           /* read / write watchers */
    ev_timer timer;           /* 1 s tick for idle and read timeouts */
    uint8_t *rbuf;            /* frame reader buffer: header + frame_body_bytes_max */
    ky_frame_reader reader;   /* resumable frame parser */
    uint8_t *wbuf;            /* pending response bytes */
    size_t wlen, woff, wcap;  /* bytes queued, bytes sent, capacity */
    uint32_t inflight;        /* appends with the writer */
    bool frame_started;       /* bytes of an unfinished frame are buffered */
    bool write_failed;        /* the peer is gone; drop output */
    uint64_t frame_start_ms;  /* when the unfinished frame began, ms monotonic */
    uint64_t last_read_ms;    /* last bytes received, ms monotonic */
    const char *close_reason; /* static text for the close log line */
} ky_conn;

struct ky_server {
    ky_config cfg;     /* effective configuration */
    ky_ledger *ledger; /* reads from this thread; writes by the writer */
    struct ev_loop *loop;
    int listen_fd;
    ev_io listen_io;
    ev_async async;     /* writer completions */
    ev_prepare prepare; /* frees closing connections */
    ev_signal sigterm, sigint;
    ev_timer stop_timer; /* shutdown progress */
    ky_writer *writer;
    ky_conn *conns;               /* connections_max slots */
    uint32_t conn_count;          /* slots in use */
    uint64_t conn_gen_next;       /* last generation handed out */
    uint64_t refused_connections; /* refused at connections_max */
    uint64_t started_ms;          /* monotonic start time */
    uint64_t stop_started_ms;     /* when shutdown began */
    bool stopping;                /* SIGTERM/SIGINT received */
};

/* server.c */
uint64_t ky_server_now_ms(const ky_server *s);
void ky_conn_close_later(ky_server *s, ky_conn *c, const char *why);
bool ky_conn_flush_pending(const ky_conn *c);
uint8_t *ky_conn_out_reserve(ky_conn *c, size_t bytes);
void ky_conn_out_commit(ky_server *s, ky_conn *c, size_t bytes);

/* dispatch.c */
/* Handles one whole, checksum-verified frame. */
void ky_server_dispatch(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body);
/* Answers a frame-level error (bad magic, version, size, checksum) and closes. */
void ky_server_frame_error(ky_server *s, ky_conn *c, int err);
/* Queues an ERROR response for request_id. */
void ky_server_send_error(ky_server *s, ky_conn *c, uint64_t request_id, int err, const char *what,
                          const char *message);
/* Encodes an ERROR frame into buf; returns its length or 0. */
size_t ky_server_error_frame(uint8_t *buf, size_t cap, uint64_t request_id, int err,
                             const char *what, const char *message);
/* Sends the responses of appends the writer completed. */
void ky_server_complete_appends(ky_server *s);

#endif
