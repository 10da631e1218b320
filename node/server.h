/*
 * server.h — kyosaid's network side: one libev loop thread owning every socket.
 *
 * Why one thread: accept, read, decode, answer reads and queue appends are cheap next to
 * an fsync; one loop keeps the connection state single-threaded (DESIGN §4, STYLE 22).
 * Reads are answered from LMDB read transactions on this thread; appends go to the
 * writer thread (writer.h) and their responses come back through an ev_async.
 *
 * Owns: the listening socket, the connection table (connections_max slots, allocated at
 * start; each connection's frame buffer is allocated on accept), the writer thread.
 *
 * Connection life (each transition names the function that makes it):
 *
 *   accept_cb --> OPEN --frame error / idle or read timeout / EOF--> CLOSING
 *                  |                                                  |
 *                  +-- conn_close_later() marks it; prepare_cb frees -+--> FREE
 *
 * Limits (each an error to that client only, never a disturbance to others):
 * connections_max, frame_body_bytes_max, inflight_requests_per_connection_max,
 * queued_bytes_per_connection_max (reading pauses until the client reads its responses),
 * idle_timeout_ms, read_timeout_ms (a started frame must complete: slow-drip clients).
 */
#ifndef KY_SERVER_H
#define KY_SERVER_H

#include "../ledger/ledger.h"
#include "config.h"

typedef struct ky_server ky_server;

/* Binds and listens, starts the writer. On failure everything is released and a message
 * is written to err. Returns KY_OK, KY_E_IO (bind/listen; message says why), KY_E_NOMEM. */
int ky_server_open(ky_server **out, const ky_config *cfg, ky_ledger *l, char *err, size_t err_cap);

/* Runs the loop until SIGTERM/SIGINT, then shuts down cleanly: stops accepting, stops
 * reading, lets the writer finish queued appends (up to shutdown_grace_ms) and sends their
 * responses, then closes every connection. Returns KY_OK. */
int ky_server_run(ky_server *s);

/* The port actually bound (useful with listen_port 0 in tests is not allowed; reports
 * the configured one). */
unsigned ky_server_port(const ky_server *s);

/* Stops the writer and frees everything. NULL allowed. The ledger stays open. */
void ky_server_close(ky_server *s);

#endif
