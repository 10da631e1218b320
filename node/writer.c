/*
 * writer.c — group commit on a dedicated thread (see writer.h for the design).
 *
 * The inbox and the completion queue are mutex-protected FIFO lists rather than lock-free
 * rings: the writer takes the lock once per batch (thousands of events), so the lock is
 * never the bottleneck, and a list keeps requests of different sizes simple.
 */
#include "writer.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

typedef struct req_queue {
    ky_append_req *head, *tail;
    uint64_t count;
} req_queue;

struct ky_writer {
    ky_ledger *ledger;
    uint32_t batch_count_max;    /* events per ledger batch */
    uint32_t queue_requests_max; /* inbox bound */
    struct ev_loop *loop;
    ev_async *async;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    req_queue inbox;          /* guarded by mu */
    req_queue done;           /* guarded by mu */
    uint64_t in_writer;       /* requests taken but not yet done; guarded by mu */
    bool draining;            /* no new requests; guarded by mu */
    bool stop;                /* thread exits when inbox empty; guarded by mu */
    ky_event *events;         /* batch_count_max, writer thread only */
    ky_event_result *results; /* batch_count_max, writer thread only */
    ky_writer_stats stats;
};

static void q_push(req_queue *q, ky_append_req *r) {
    r->next = NULL;
    if (q->tail)
        q->tail->next = r;
    else
        q->head = r;
    q->tail = r;
    q->count++;
}

static ky_append_req *q_pop(req_queue *q) {
    ky_append_req *r = q->head;
    if (r == NULL) return NULL;
    q->head = r->next;
    if (q->head == NULL) q->tail = NULL;
    q->count--;
    r->next = NULL;
    return r;
}

void ky_append_req_free(ky_append_req *req) {
    if (req == NULL) return;
    free(req->body);
    free(req->events);
    free(req->results);
    free(req);
}

static void to_ledger_event(const ky_wire_event *w, ky_event *e) {
    e->kind = w->kind;
    e->scheme = w->scheme;
    e->flags = w->flags;
    e->subtype = w->subtype;
    e->months = w->months;
    e->period_yyyymm = w->period_yyyymm;
    e->payload_bytes = w->payload_bytes;
    e->contract_id = w->contract_id;
    e->ref_seq = w->ref_seq;
    e->amount_jpy = w->amount_jpy;
    memcpy(e->idem_key, w->idem_key, KY_IDEM_KEY_BYTES);
    e->payload = w->payload;
}

/* Takes requests while they fit in one batch; waits while the inbox is empty.
 * Returns the number taken into `batch` (0 when stopping with nothing left). */
static uint32_t take_batch(ky_writer *w, ky_append_req **batch, uint32_t batch_cap) {
    pthread_mutex_lock(&w->mu);
    while (w->inbox.count == 0 && !w->stop) pthread_cond_wait(&w->cv, &w->mu);
    uint32_t n = 0, events = 0;
    while (w->inbox.head != NULL && n < batch_cap &&
           events + w->inbox.head->count <= w->batch_count_max) {
        ky_append_req *r = q_pop(&w->inbox);
        events += r->count;
        batch[n++] = r;
    }
    w->in_writer += n;
    pthread_mutex_unlock(&w->mu);
    return n;
}

static void write_batch(ky_writer *w, ky_append_req **batch, uint32_t n) {
    uint32_t total = 0;
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < batch[i]->count; j++)
            to_ledger_event(&batch[i]->events[j], &w->events[total++]);
    KY_ASSERT(total <= w->batch_count_max);
    int rc = ky_ledger_append(w->ledger, w->events, total, w->results);
    uint32_t at = 0;
    uint64_t refused = 0, fresh = 0;
    for (uint32_t i = 0; i < n; i++) {
        ky_append_req *r = batch[i];
        r->batch_rc = rc;
        memcpy(r->results, w->results + at, sizeof(ky_event_result) * r->count);
        for (uint32_t j = 0; j < r->count; j++) {
            const ky_event_result *res = &r->results[j];
            refused += res->code != KY_OK;
            fresh += res->code == KY_OK && !(res->flags & KY_RESULT_DUPLICATE);
        }
        at += r->count;
    }
    atomic_fetch_add(&w->stats.batches_total, 1);
    atomic_fetch_add(&w->stats.events_total, fresh);
    atomic_fetch_add(&w->stats.refused_total, refused);
    atomic_fetch_add(&w->stats.appends_total, n);
    pthread_mutex_lock(&w->mu);
    for (uint32_t i = 0; i < n; i++) q_push(&w->done, batch[i]);
    w->in_writer -= n;
    pthread_mutex_unlock(&w->mu);
    ev_async_send(w->loop, w->async);
}

static void *writer_main(void *arg) {
    ky_writer *w = arg;
    prctl(PR_SET_NAME, "ky-writer"); /* for top -H, perf and ps -L */
    enum { BATCH_REQS_MAX = 4096 };
    ky_append_req *batch[BATCH_REQS_MAX];
    for (;;) {
        uint32_t n = take_batch(w, batch, BATCH_REQS_MAX);
        if (n == 0) break; /* stopping and nothing queued */
        write_batch(w, batch, n);
    }
    return NULL;
}

int ky_writer_start(ky_writer **out, ky_ledger *l, uint32_t batch_count_max,
                    uint32_t queue_requests_max, struct ev_loop *loop, ev_async *async) {
    KY_ASSERT(out != NULL && l != NULL && loop != NULL && async != NULL);
    KY_ASSERT(batch_count_max >= 1 && batch_count_max <= KY_LEDGER_BATCH_COUNT_MAX);
    *out = NULL;
    ky_writer *w = calloc(1, sizeof *w);
    if (w == NULL) return KY_E_NOMEM;
    w->ledger = l;
    w->batch_count_max = batch_count_max;
    w->queue_requests_max = queue_requests_max;
    w->loop = loop;
    w->async = async;
    w->events = calloc(batch_count_max, sizeof(ky_event));
    w->results = calloc(batch_count_max, sizeof(ky_event_result));
    if (w->events == NULL || w->results == NULL) goto fail_free;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) goto fail_destroy;
    *out = w;
    return KY_OK;
fail_destroy:
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
fail_free:
    free(w->events);
    free(w->results);
    free(w);
    return KY_E_NOMEM;
}

int ky_writer_submit(ky_writer *w, ky_append_req *req) {
    KY_ASSERT(req != NULL && req->count >= 1 && req->count <= w->batch_count_max);
    pthread_mutex_lock(&w->mu);
    int rc = w->draining                               ? KY_E_UNAVAILABLE
             : w->inbox.count >= w->queue_requests_max ? KY_E_QUEUE_FULL
                                                       : KY_OK;
    if (rc == KY_OK) {
        q_push(&w->inbox, req);
        pthread_cond_signal(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

ky_append_req *ky_writer_take_done(ky_writer *w) {
    pthread_mutex_lock(&w->mu);
    ky_append_req *head = w->done.head;
    w->done.head = w->done.tail = NULL;
    w->done.count = 0;
    pthread_mutex_unlock(&w->mu);
    return head;
}

uint64_t ky_writer_pending(ky_writer *w) {
    pthread_mutex_lock(&w->mu);
    uint64_t n = w->inbox.count + w->in_writer + w->done.count;
    pthread_mutex_unlock(&w->mu);
    return n;
}

const ky_writer_stats *ky_writer_stats_get(ky_writer *w) {
    return &w->stats;
}

void ky_writer_drain(ky_writer *w) {
    pthread_mutex_lock(&w->mu);
    w->draining = true;
    pthread_mutex_unlock(&w->mu);
}

void ky_writer_stop(ky_writer *w) {
    if (w == NULL) return;
    pthread_mutex_lock(&w->mu);
    bool running = !w->stop;
    w->draining = true;
    w->stop = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    if (running) pthread_join(w->thread, NULL); /* finishes what is queued first */
}

void ky_writer_close(ky_writer *w) {
    if (w == NULL) return;
    ky_writer_stop(w);
    ky_append_req *r;
    while ((r = q_pop(&w->done)) != NULL) ky_append_req_free(r);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    free(w->events);
    free(w->results);
    free(w);
}
