/*
 * repl.h — synchronous replication from the primary to the DR replica (DESIGN §5).
 *
 * Why in the node: acknowledgement semantics are the product. A client's append is
 * answered only when its entries are durable locally AND on the replica (strict mode, the
 * default); with the replica gone, answers wait up to sync_timeout_ms and then fail with
 * REPLICA_UNAVAILABLE — never an acknowledgement.
 *
 * Primary (repl_primary.c, loop thread): the writer's pre-commit hook copies each batch
 * into an outbox (so the replica's fsync overlaps the local one) and wakes the loop; the
 * replica's connection (role `replica` in the client registry) sends REPL_SUBSCRIBE with
 * its head; the primary checks that head is a prefix of its own ledger and streams
 * REPL_ENTRIES from there — from the outbox when contiguous, otherwise from committed
 * entries in LMDB (catch-up). REPL_ACK moves durable_seq; completed appends are held
 * until durable_seq covers every seq in their answer.
 *
 *   writer: append -> hook -> outbox --async--> loop: pump -> REPL_ENTRIES -> replica
 *   writer: commit -> done queue --async--> loop: hold until REPL_ACK covers -> answer
 *
 * Replica (repl_replica.c, its own thread): dials the primary through libkyosai's
 * transport (secure channel, pinned primary key, the node's own key as client key), sends
 * REPL_SUBSCRIBE, applies each REPL_ENTRIES with ky_ledger_apply (one durable
 * transaction, continuity checked entry by entry) and answers REPL_ACK. It is the only
 * writer of a replica's ledger; client appends get NOT_PRIMARY naming the primary.
 *
 * Not yet (issue 5 continues): promotion and epochs fencing at run time, quarantine on
 * divergence, switchover, degrade/restore-sync, drills.
 */
#ifndef KY_REPL_H
#define KY_REPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <ev.h>

#include "../ledger/ledger.h"
#include "config.h"

#define KY_REPL_OUTBOX_BYTES_MAX (64u << 20) /* batches waiting for the loop; beyond: LMDB */
#define KY_REPL_TICK_MS          20u         /* hold-queue timeout check period */
#define KY_REPL_RETRY_MS         200u        /* replica: wait before re-dialling */
#define KY_REPL_HEARTBEAT_MS     250u        /* primary: empty REPL_ENTRIES when idle */
#define KY_REPL_WATCH_MS         500u        /* primary: peer epoch check period */
#define KY_REPL_SWITCHOVER_MS    10000u      /* switchover: replica must catch up within */
#define KY_REPL_READERS_MAX      4u          /* primary: asynchronous read replicas at once */

typedef enum ky_repl_role {
    KY_REPL_STANDALONE = 0,
    KY_REPL_PRIMARY = 1,
    KY_REPL_REPLICA = 2,
} ky_repl_role;

/* Parses "standalone" / "primary" / "replica". Returns KY_OK or KY_E_INVALID_ARG. */
int ky_repl_role_parse(const char *text, ky_repl_role *out);

/* ---- replica side ------------------------------------------------------------------------ */

typedef struct ky_repl_replica ky_repl_replica;

/* Starts the replica thread: dials cfg->peer_addr, subscribes, applies. The thread
 * re-dials after KY_REPL_RETRY_MS on any failure and logs each state change. When the
 * primary hands over (REPL_HANDOVER, a switchover) and this node holds exactly the
 * primary's head, the thread signals `handover` on `loop` and ends.
 * Returns KY_OK, KY_E_INVALID_ARG (peer_addr / peer_key / key_file), KY_E_NOMEM. */
int ky_repl_replica_start(ky_repl_replica **out, const ky_config *cfg, ky_ledger *l,
                          struct ev_loop *loop, ev_async *handover, char *err, size_t err_cap);

/* Stops and joins the thread (it finishes the apply in progress). NULL allowed. */
void ky_repl_replica_stop(ky_repl_replica *r);

/* Whether connected and streaming. */
bool ky_repl_replica_streaming(const ky_repl_replica *r);

/* Whether the primary handed over (the thread has ended; the loop promotes). */
bool ky_repl_replica_handed_over(const ky_repl_replica *r);

/* ---- primary side fencing ------------------------------------------------------------------ */

typedef struct ky_repl_watch ky_repl_watch;

/* Starts a thread that asks the peer (replication.peer_addr) for its STATUS every
 * KY_REPL_WATCH_MS and signals higher_epoch once when the peer is a primary at an epoch
 * above this node's: this node was failed over and must step down (DESIGN §5). No peer
 * configured: *out = NULL, KY_OK. */
int ky_repl_watch_start(ky_repl_watch **out, const ky_config *cfg, ky_ledger *l,
                        struct ev_loop *loop, ev_async *higher_epoch);
void ky_repl_watch_stop(ky_repl_watch *w);

#endif
