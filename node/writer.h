/*
 * writer.h — the node's single writer thread: group commit of append requests.
 *
 * Why one writer: LMDB allows one write transaction, bound to its thread (STYLE rule 22).
 * The loop thread queues decoded append requests; the writer takes everything queued (up
 * to batch_count_max events), appends it as ONE ledger batch — one fsync'ed transaction
 * for many clients (group commit, DESIGN §4) — then hands each request its results back
 * and wakes the loop with ev_async_send, which carries no data and coalesces wake-ups, so
 * the loop drains the whole completion queue each time.
 *
 * Owns: the writer thread, the inbox (bounded) and the completion queue. The ledger handle
 * is used for writes by this thread only.
 *
 *   loop thread                     writer thread
 *   ky_writer_submit() --inbox-->   take ≤ batch_count_max events
 *                                   ky_ledger_append()  (fsync)
 *   completion cb  <--done queue--  ev_async_send()
 *
 * Invariants:
 *   1. A request's events are never split across two ledger batches (linked chains stay
 *      whole); a request holds at most batch_count_max events.
 *   2. Every submitted request comes back exactly once through ky_writer_take_done, with
 *      results for each event or a batch-wide error.
 */
#ifndef KY_WRITER_H
#define KY_WRITER_H

#include <ev.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "../ledger/ledger.h"
#include "../proto/msg.h"

typedef struct ky_append_req {
    uint32_t conn_slot;         /* connection that sent it */
    uint64_t conn_gen;          /* its generation (a reused slot has another) */
    uint64_t request_id;        /* echoed in the response */
    uint8_t *body;              /* owned copy of the frame body the events point into */
    ky_wire_event *events;      /* decoded events, owned */
    ky_event_result *results;   /* filled by the writer, owned */
    uint32_t count;             /* events */
    int batch_rc;               /* KY_OK, or a batch-wide error (no event written) */
    uint64_t hold_seq;          /* primary: highest seq of the answer (repl_primary.c) */
    uint64_t hold_deadline_ms;  /* primary: fail REPLICA_UNAVAILABLE after this, ms */
    struct ky_append_req *next; /* queue link */
} ky_append_req;

typedef struct ky_writer_stats {
    _Atomic uint64_t batches_total; /* ledger transactions committed */
    _Atomic uint64_t events_total;  /* new entries written (not duplicates) */
    _Atomic uint64_t refused_total; /* events refused by a rule or limit */
    _Atomic uint64_t appends_total; /* append requests completed */
} ky_writer_stats;

typedef struct ky_writer ky_writer;

/* Starts the writer thread. `async` is an initialised, started ev_async of `loop` that
 * the writer signals when requests complete. On failure nothing is left running.
 * Returns KY_OK, KY_E_NOMEM, KY_E_IO (thread creation). */
int ky_writer_start(ky_writer **out, ky_ledger *l, uint32_t batch_count_max,
                    uint32_t queue_requests_max, struct ev_loop *loop, ev_async *async);

/* Queues a request (loop thread). The writer owns it until it comes back through
 * ky_writer_take_done. Returns KY_OK, or KY_E_QUEUE_FULL / KY_E_UNAVAILABLE (stopping)
 * with the request untouched (still the caller's). */
int ky_writer_submit(ky_writer *w, ky_append_req *req);

/* Takes every completed request, oldest first, as a linked list (loop thread). */
ky_append_req *ky_writer_take_done(ky_writer *w);

/* Requests queued or being written (not yet taken back). */
uint64_t ky_writer_pending(ky_writer *w);

/* Counters for STATUS. */
const ky_writer_stats *ky_writer_stats_get(ky_writer *w);

/* Stops taking new requests; the writer finishes what is queued. Loop thread. */
void ky_writer_drain(ky_writer *w);

/* Stops taking requests, lets the thread finish everything queued and joins it. Completed
 * requests stay in the done queue for ky_writer_take_done. Idempotent. Loop thread. */
void ky_writer_stop(ky_writer *w);

/* Stops the writer if needed and frees it and every request not taken back. NULL allowed. */
void ky_writer_close(ky_writer *w);

/* Frees a request and everything it owns. NULL allowed. */
void ky_append_req_free(ky_append_req *req);

#endif
