/*
 * server_int.h — private structures of the node's loop thread, shared by server.c
 * (sockets, connections, shutdown) and dispatch.c (request handling). Loop thread only.
 */
#ifndef KY_SERVER_INT_H
#define KY_SERVER_INT_H

#include <ev.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../proto/frame.h"
#include "../proto/msg.h"
#include "../secure/channel.h"
#include "../secure/keys.h"
#include "registry.h"
#include "repl.h"
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
    /* secure channel (session.c); chan NULL in plaintext mode */
    ky_chan *chan;                                    /* this connection's channel, wiped on free */
    bool authenticated;                               /* handshake done (plaintext: at accept) */
    uint8_t roles;                                    /* KY_ROLE_* of the client */
    uint8_t client_key[KY_KEY_BYTES];                 /* its static key (zero in plaintext mode) */
    char client_name[KY_REGISTRY_NAME_BYTES_MAX + 1]; /* registry name, "-" before */
    uint64_t accepted_ms;                             /* for handshake_timeout_ms */
    uint8_t *cbuf;                                    /* ciphertext not yet a whole record */
    size_t clen;                                      /* bytes in cbuf */
    uint8_t *sbuf; /* plaintext response staging before sealing */
    size_t scap;   /* its capacity */
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
    /* secure channel (session.c) */
    bool secure;                         /* !cfg.plaintext */
    bool allow_aesgcm, allow_chachapoly; /* from cfg.ciphers */
    uint8_t static_sk[KY_KEY_BYTES];     /* node's channel key, wiped on close */
    uint8_t static_pk[KY_KEY_BYTES];
    ky_registry registry;               /* pinned client keys and roles */
    uint8_t (*replay)[KY_KEY_BYTES];    /* recent initiator ephemerals (ring) */
    uint32_t replay_next, replay_count; /* ring position and fill */
    uint32_t handshakes_pending;        /* connections not yet authenticated */
    uint8_t *plain;                     /* one record's plaintext, loop scratch */
    uint64_t handshakes_ok, handshakes_refused, role_refusals; /* counters */
    uint64_t refusal_log_ms; /* last "half-open limit" log line, ms */
    /* replication (repl_primary.c, repl_replica.c) */
    int repl_role;     /* ky_repl_role */
    bool repl_opened;  /* ky_repl_primary_open ran */
    bool sync_strict;  /* primary: answers wait for the replica */
    bool auto_restore; /* promoted primary: back to strict once the rejoined replica holds head */
    pthread_mutex_t outbox_mu;                       /* guards outbox_* (writer hook vs loop) */
    struct ky_repl_batch *outbox_head, *outbox_tail; /* batches from the writer hook */
    size_t outbox_bytes;                             /* bytes in the outbox */
    bool outbox_overflow;                            /* batches were dropped: read LMDB instead */
    struct ky_repl_batch *pending;    /* loop-only: batches not yet sent, seq order */
    ev_async repl_async;              /* writer hook -> loop */
    ev_timer repl_timer;              /* hold-queue deadlines */
    bool sub_active;                  /* a replica is subscribed */
    uint32_t sub_slot;                /* its connection */
    uint64_t sub_gen, sub_request_id; /* its generation and subscribe request id */
    uint64_t sent_seq;                /* last seq sent to the replica */
    uint64_t durable_seq;             /* last seq the replica acknowledged durable */
    uint64_t acked_seq;               /* last seq acknowledged to a client */
    uint64_t acked_sent;              /* acked_seq last told to the replica */
    uint64_t last_ack_ms;             /* when the last REPL_ACK arrived */
    uint64_t last_sent_ms;            /* when the last REPL_ENTRIES left */
    struct ky_repl_reader {           /* asynchronous read replicas (never waited for) */
        bool active;
        uint32_t slot;
        uint64_t gen, request_id;
        uint64_t sent_seq, durable_seq, last_sent_ms;
    } readers[KY_REPL_READERS_MAX];
    ky_append_req *held_head, *held_tail;   /* completed appends waiting for the replica */
    uint64_t held_count;                    /* requests in the hold queue */
    struct ky_repl_replica *replica;        /* replica side: the streaming thread */
    struct ky_repl_watch *watch;            /* primary side: the peer epoch watcher */
    ev_async higher_epoch;                  /* watcher -> loop: step down */
    ev_timer stepdown_timer;                /* waits for the writer to go idle */
    ev_async handover;                      /* replica thread -> loop: the primary handed over */
    ev_timer switch_timer;                  /* primary: waits until the replica holds the head */
    bool switching;                         /* switchover or mode change: appends RETRY_LATER */
    uint8_t switch_op;                      /* KY_MSG_SWITCHOVER, _DEGRADE or _RESTORE_SYNC */
    uint64_t switch_started_ms;             /* when it began */
    uint32_t switch_slot;                   /* the operator's connection */
    uint64_t switch_gen, switch_request_id; /* KY_SWITCH_GEN_NONE: nobody to answer */
};

/* switch_gen of a mode change the node started itself (no operator connection waits). */
#define KY_SWITCH_GEN_NONE UINT64_MAX

/* server.c */
uint64_t ky_server_now_ms(const ky_server *s);
void ky_conn_close_later(ky_server *s, ky_conn *c, const char *why);
bool ky_conn_flush_pending(const ky_conn *c);
uint8_t *ky_conn_out_reserve(ky_conn *c, size_t bytes);
void ky_conn_out_commit(ky_server *s, ky_conn *c, size_t bytes);

/* Feeds plaintext bytes to the connection's frame reader, dispatching whole frames. */
void ky_conn_feed(ky_server *s, ky_conn *c, const uint8_t *data, size_t n);
/* Raw output (no sealing): handshake replies and pre-handshake refusals. */
uint8_t *ky_conn_raw_reserve(ky_conn *c, size_t bytes);
void ky_conn_raw_commit(ky_server *s, ky_conn *c, size_t bytes);

/* session.c — the server side of the secure channel */
#define KY_SESSION_CBUF_BYTES     (2u * (KY_CHAN_LENGTH_BYTES + KY_CHAN_RECORD_BYTES_MAX))
#define KY_SESSION_REPLAY_ENTRIES 4096u /* initiator ephemerals remembered */
/* Loads key, registry and cipher list, or checks that plaintext is on loopback. */
int ky_session_server_open(ky_server *s, char *err, size_t err_cap);
void ky_session_server_close(ky_server *s);
/* At accept: refuses (KY_E_CONNECTION_LIMIT) when too many handshakes are pending. */
int ky_session_conn_open(ky_server *s, ky_conn *c);
void ky_session_conn_free(ky_server *s, ky_conn *c);
/* c->clen bytes are in c->cbuf: runs the handshake, then opens records and feeds frames. */
void ky_session_received(ky_server *s, ky_conn *c);

/* repl_primary.c — the primary side of replication (repl.h) */
int ky_repl_primary_open(ky_server *s, char *err, size_t err_cap);
void ky_repl_primary_close(ky_server *s);
/* Takes a completed append into the hold queue when the replica does not yet hold every
 * seq of its answer; false: answer it now. */
bool ky_repl_hold(ky_server *s, ky_append_req *r);
void ky_repl_on_subscribe(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body);
void ky_repl_on_ack(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body);
/* The subscribed connection is going away. */
void ky_repl_conn_closed(ky_server *s, ky_conn *c);
/* This node has just become the primary: hook, timer. Loop thread, writer idle. */
void ky_repl_primary_activate(ky_server *s);
/* Answers every held append with err (stepping down, shutting down). */
void ky_repl_fail_held(ky_server *s, int err);
/* Fills the replication fields of a STATUS response. */
void ky_repl_status(ky_server *s, const ky_ledger_head *h, ky_msg_status_resp *m);
/* repl_promote.c */
void ky_repl_on_promote(ky_server *s, ky_conn *c, const ky_frame_header *h, const uint8_t *body);
void ky_repl_roles_open(ky_server *s);
void ky_repl_on_switchover(ky_server *s, ky_conn *c, const ky_frame_header *h);
void ky_repl_on_mode_change(ky_server *s, ky_conn *c, const ky_frame_header *h);
/* repl_primary.c: answers every held append now (mode is standalone). */
void ky_repl_release_all(ky_server *s);
/* A promoted primary running standalone returns to strict mode (a mode_changed entry, by
 * the node) once its rejoined replica holds the head; DESIGN §5 "standalone until the old
 * primary returns". Loop thread; does nothing in any other state. */
void ky_repl_maybe_restore(ky_server *s);

/* Closes every read replica's stream (this node is no longer the primary): they re-dial
 * and are told NOT_PRIMARY. Loop thread. */
void ky_repl_readers_close(ky_server *s, const char *why);
/* repl_primary.c: the REPL_HANDOVER frame to the subscribed replica. */
int ky_repl_send_handover(ky_server *s);

/* dispatch.c */
typedef int (*encode_fn)(void *ctx, uint8_t *out, size_t cap, size_t *len);
int ky_server_respond(ky_server *s, ky_conn *c, uint8_t type, uint64_t request_id, size_t body_cap,
                      encode_fn encode, void *ctx);
void ky_server_answer_append(ky_server *s, ky_append_req *r, int err);
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
