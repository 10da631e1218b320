/*
 * client_admin.c — libkyosai's operator calls: promotion (and, as replication grows,
 * switchover, degrade and restore-sync). They need the operator role in the node's client
 * registry; anyone else gets KYOSAI_E_FORBIDDEN.
 *
 * Why in the library: kyosaictl and any site tooling speak to the node the same way, with
 * the same secure channel, retries and error codes as the applications.
 */
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "client_int.h"

typedef struct promote_ctx {
    uint8_t flags;
    uint64_t epoch, head_seq;
} promote_ctx;

static int promote_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c;
    const promote_ctx *p = ctx;
    return ky_msg_promote_encode(p->flags, out, cap, len) == KY_OK ? KYOSAI_OK
                                                                   : KYOSAI_E_INVALID_ARG;
}

static int promote_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    (void)c;
    promote_ctx *p = ctx;
    return ky_msg_promote_resp_decode(body, len, &p->epoch, &p->head_seq) == KY_OK
               ? KYOSAI_OK
               : KYOSAI_E_PROTOCOL;
}

int kyosai_promote(kyosai_client *c, uint32_t flags, uint64_t *epoch_out, uint64_t *head_seq_out) {
    KY_ASSERT(c != NULL && epoch_out != NULL && head_seq_out != NULL);
    if ((flags & ~(uint32_t)(KYOSAI_PROMOTE_FORCE | KYOSAI_PROMOTE_ACCEPT_LOSS)) != 0)
        return KYOSAI_E_INVALID_ARG;
    promote_ctx p = {(uint8_t)flags, 0, 0};
    int rc = ky_client_call(c, KY_MSG_PROMOTE, promote_encode, promote_decode, &p);
    *epoch_out = p.epoch;
    *head_seq_out = p.head_seq;
    return rc;
}

static int switchover_encode(kyosai_client *c, void *ctx, uint8_t *out, size_t cap, size_t *len) {
    (void)c, (void)ctx, (void)out, (void)cap;
    *len = 0; /* SWITCHOVER has an empty body */
    return KYOSAI_OK;
}

static int switchover_decode(kyosai_client *c, void *ctx, const uint8_t *body, size_t len) {
    (void)c;
    promote_ctx *p = ctx;
    return ky_msg_switchover_resp_decode(body, len, &p->head_seq, &p->epoch) == KY_OK
               ? KYOSAI_OK
               : KYOSAI_E_PROTOCOL;
}

int kyosai_switchover(kyosai_client *c, uint64_t *head_seq_out, uint64_t *pause_ms_out) {
    KY_ASSERT(c != NULL && head_seq_out != NULL && pause_ms_out != NULL);
    promote_ctx p = {0, 0, 0}; /* epoch field carries the pause */
    int rc = ky_client_call(c, KY_MSG_SWITCHOVER, switchover_encode, switchover_decode, &p);
    *head_seq_out = p.head_seq;
    *pause_ms_out = p.epoch;
    return rc;
}

/* DEGRADE / RESTORE_SYNC: empty request, PROMOTE's response layout (epoch, seq). */
static int mode_change(kyosai_client *c, uint8_t type, uint64_t *seq_out) {
    KY_ASSERT(c != NULL && seq_out != NULL);
    promote_ctx p = {0, 0, 0};
    int rc = ky_client_call(c, type, switchover_encode, promote_decode, &p);
    *seq_out = p.head_seq;
    return rc;
}

int kyosai_degrade(kyosai_client *c, uint64_t *seq_out) {
    return mode_change(c, KY_MSG_DEGRADE, seq_out);
}

int kyosai_restore_sync(kyosai_client *c, uint64_t *seq_out) {
    return mode_change(c, KY_MSG_RESTORE_SYNC, seq_out);
}
