/*
 * channel.c — the kyosai secure channel: preamble, Noise IK handshake, sealed records.
 *
 * Implements channel.h (read it first: wire layout, states, errors). Owns only the
 * caller's ky_chan; never allocates, never prints; one thread per channel.
 *
 * Invariants:
 *   1. Every error path goes through chan_fail: the state becomes FAILED and the
 *      handshake, both CipherStates and the kept static secret are wiped.
 *   2. Both ends count records per direction and rekey after record number k whenever
 *      k % rekey_interval_records == 0, so their keys move in step with no signal.
 *   3. A record on the wire is u16be length L (17..65535) then L bytes of Noise
 *      transport message; its plaintext is L - 16 bytes (1..KY_CHAN_RECORD_PLAIN_BYTES_MAX).
 */
#include "channel.h"

#include <string.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

#define PREAMBLE_VERSION 1u
#define PREAMBLE_PATTERN 1u /* IK */
#define HELLO_MSG_BYTES  (KY_NOISE_DH_BYTES + KY_NOISE_DH_BYTES + 2u * KY_NOISE_TAG_BYTES)
#define REPLY_MSG_BYTES  (KY_NOISE_DH_BYTES + KY_NOISE_TAG_BYTES)
#define HELLO_BYTES      (KY_CHAN_PREAMBLE_BYTES + KY_CHAN_LENGTH_BYTES + HELLO_MSG_BYTES)
#define REPLY_BYTES      (KY_CHAN_LENGTH_BYTES + REPLY_MSG_BYTES)
#define RECORD_BYTES_MIN (KY_CHAN_TAG_BYTES + 1u) /* no empty records (channel.h) */

_Static_assert(HELLO_MSG_BYTES == 96u, "IK message 1 with an empty payload");
_Static_assert(REPLY_MSG_BYTES == 48u, "IK message 2 with an empty payload");
_Static_assert(HELLO_BYTES <= KY_CHAN_HELLO_BYTES_MAX, "hello fits its documented bound");
_Static_assert(REPLY_BYTES <= KY_CHAN_REPLY_BYTES_MAX, "reply fits its documented bound");
_Static_assert(KY_CHAN_TAG_BYTES == KY_NOISE_TAG_BYTES, "record tag is the AEAD tag");
_Static_assert(KY_CHAN_RECORD_BYTES_MAX == KY_NOISE_MSG_BYTES_MAX, "record is one message");
_Static_assert(KY_CHAN_RECORD_BYTES_MAX <= 0xFFFFu, "record length fits u16");
_Static_assert(KY_CHAN_KEY_BYTES == KY_NOISE_DH_BYTES, "X25519 keys");
_Static_assert(sizeof(((ky_chan *)0)->handshake_hash) == KY_NOISE_HASH_BYTES, "h");
_Static_assert(KY_CHAN_REKEY_RECORDS_DEFAULT > 0, "rekey interval");

static const uint8_t g_magic[4] = {'K', 'Y', 'S', 'C'};

static void put_be16(uint8_t *p, size_t v) {
    KY_ASSERT(v <= 0xFFFFu);
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static size_t get_be16(const uint8_t *p) {
    return ((size_t)p[0] << 8) | p[1];
}

/* Invariant 1: the one exit for every error. */
static int chan_fail(ky_chan *ch, int rc) {
    KY_ASSERT(rc < 0);
    ky_noise_hs_wipe(&ch->hs);
    ky_noise_cs_wipe(&ch->tx);
    ky_noise_cs_wipe(&ch->rx);
    sodium_memzero(ch->local_static_sk, sizeof ch->local_static_sk);
    ch->state = KY_CHAN_FAILED;
    return rc;
}

/* Common start of both roles: everything zero, then the defaults. */
static void chan_reset(ky_chan *ch, bool initiator) {
    sodium_memzero(ch, sizeof *ch);
    ch->state = KY_CHAN_NEW;
    ch->initiator = initiator;
    ch->rekey_interval_records = KY_CHAN_REKEY_RECORDS_DEFAULT;
}

ky_noise_cipher ky_chan_preferred_cipher(void) {
    return ky_noise_cipher_available(KY_NOISE_AESGCM) ? KY_NOISE_AESGCM : KY_NOISE_CHACHAPOLY;
}

static void preamble_write(uint8_t out[KY_CHAN_PREAMBLE_BYTES], ky_noise_cipher cipher) {
    memcpy(out, g_magic, sizeof g_magic);
    out[4] = PREAMBLE_VERSION;
    out[5] = PREAMBLE_PATTERN;
    out[6] = (uint8_t)cipher;
    out[7] = 0;
}

/* The IK handshake of the channel: the preamble is the prologue, and no payloads. */
static int chan_hs_init(ky_chan *ch, const uint8_t prologue[KY_CHAN_PREAMBLE_BYTES],
                        const uint8_t static_sk[32], const uint8_t *server_pk,
                        const uint8_t *ephemeral_sk) {
    ky_noise_hs_config cfg = {
        .pattern = KY_NOISE_IK,
        .cipher = ch->cipher,
        .initiator = ch->initiator,
        .prologue = prologue,
        .prologue_bytes = KY_CHAN_PREAMBLE_BYTES,
        .local_static_sk = static_sk,
        .remote_static_pk = server_pk,
        .local_ephemeral_sk = ephemeral_sk,
    };
    return ky_noise_hs_init(&ch->hs, &cfg);
}

/* Both roles, after the last handshake message: Split into tx/rx, keep h. */
static void chan_enter_transport(ky_chan *ch) {
    KY_ASSERT(ch->hs.state == KY_NOISE_HS_DONE);
    KY_ASSERT(ch->hs.has_rs && ch->hs.has_re);
    memcpy(ch->remote_static, ch->hs.rs, sizeof ch->remote_static);
    memcpy(ch->remote_ephemeral, ch->hs.re, sizeof ch->remote_ephemeral);
    int rc = ky_noise_hs_split(&ch->hs, &ch->tx, &ch->rx, ch->handshake_hash);
    KY_ASSERT(rc == KY_OK);
    ky_noise_hs_wipe(&ch->hs);
    sodium_memzero(ch->local_static_sk, sizeof ch->local_static_sk);
    ch->tx_records = ch->rx_records = 0;
    ch->state = KY_CHAN_TRANSPORT;
}

int ky_chan_client_hello(ky_chan *ch, ky_noise_cipher cipher, const uint8_t static_sk[32],
                         const uint8_t server_pk[32], const uint8_t *ephemeral_sk, uint8_t *out,
                         size_t cap, size_t *out_len) {
    KY_ASSERT(ch != NULL && static_sk != NULL && server_pk != NULL);
    KY_ASSERT(out != NULL && out_len != NULL);
    chan_reset(ch, true);
    *out_len = 0;
    if (cipher != KY_NOISE_AESGCM && cipher != KY_NOISE_CHACHAPOLY)
        return chan_fail(ch, KY_E_CIPHER_UNAVAILABLE);
    if (!ky_noise_cipher_available(cipher)) return chan_fail(ch, KY_E_CIPHER_UNAVAILABLE);
    if (cap < HELLO_BYTES) return chan_fail(ch, KY_E_BUFFER_TOO_SMALL);
    ch->cipher = cipher;
    preamble_write(out, cipher);
    int rc = chan_hs_init(ch, out, static_sk, server_pk, ephemeral_sk);
    if (rc != KY_OK) return chan_fail(ch, rc);
    size_t msg_len = 0;
    uint8_t *msg = out + KY_CHAN_PREAMBLE_BYTES + KY_CHAN_LENGTH_BYTES;
    rc = ky_noise_hs_write(&ch->hs, NULL, 0, msg, HELLO_MSG_BYTES, &msg_len);
    if (rc != KY_OK) return chan_fail(ch, rc);
    KY_ASSERT(msg_len == HELLO_MSG_BYTES);
    put_be16(out + KY_CHAN_PREAMBLE_BYTES, msg_len);
    memcpy(ch->remote_static, server_pk, sizeof ch->remote_static);
    ch->state = KY_CHAN_HELLO_SENT;
    *out_len = HELLO_BYTES;
    return KY_OK;
}

int ky_chan_client_finish(ky_chan *ch, const uint8_t *in, size_t n, size_t *used) {
    KY_ASSERT(ch != NULL && used != NULL);
    KY_ASSERT(in != NULL || n == 0);
    *used = 0;
    if (ch->state == KY_CHAN_FAILED) return KY_E_INVALID_ARG;
    if (ch->state != KY_CHAN_HELLO_SENT || !ch->initiator) return chan_fail(ch, KY_E_INVALID_ARG);
    if (n < REPLY_BYTES) return KY_CHAN_NEED_MORE; /* see channel.h: judge the whole reply */
    if (get_be16(in) != REPLY_MSG_BYTES) return chan_fail(ch, KY_E_HANDSHAKE_FAILED);
    size_t payload_len = 0;
    int rc = ky_noise_hs_read(&ch->hs, in + KY_CHAN_LENGTH_BYTES, REPLY_MSG_BYTES, NULL, 0,
                              &payload_len);
    if (rc != KY_OK) return chan_fail(ch, KY_E_HANDSHAKE_FAILED);
    KY_ASSERT(payload_len == 0);
    chan_enter_transport(ch);
    *used = REPLY_BYTES;
    return KY_OK;
}

void ky_chan_server_init(ky_chan *ch, const uint8_t static_sk[32], bool allow_aesgcm,
                         bool allow_chachapoly) {
    KY_ASSERT(ch != NULL && static_sk != NULL);
    chan_reset(ch, false);
    memcpy(ch->local_static_sk, static_sk, sizeof ch->local_static_sk);
    ch->allow_aesgcm = allow_aesgcm;
    ch->allow_chachapoly = allow_chachapoly;
}

static bool cipher_allowed(const ky_chan *ch, uint8_t byte) {
    if (byte == KY_NOISE_AESGCM)
        return ch->allow_aesgcm && ky_noise_cipher_available(KY_NOISE_AESGCM);
    if (byte == KY_NOISE_CHACHAPOLY)
        return ch->allow_chachapoly && ky_noise_cipher_available(KY_NOISE_CHACHAPOLY);
    return false; /* unknown cipher numbers are simply not offered here */
}

/* Judges the preamble bytes present so far (n may be below 8). KY_OK once all 8 are good,
 * KY_CHAN_NEED_MORE while they are good but incomplete, else the error. */
static int preamble_check(const ky_chan *ch, const uint8_t *in, size_t n) {
    size_t have = n < KY_CHAN_PREAMBLE_BYTES ? n : KY_CHAN_PREAMBLE_BYTES;
    for (size_t i = 0; i < have; i++) {
        bool ok;
        switch (i) {
        case 4: ok = in[i] == PREAMBLE_VERSION; break;
        case 5: ok = in[i] == PREAMBLE_PATTERN; break;
        case 6:
            if (!cipher_allowed(ch, in[i])) return KY_E_CIPHER_UNAVAILABLE;
            ok = true;
            break;
        case 7: ok = in[i] == 0; break;
        default: ok = in[i] == g_magic[i]; break;
        }
        if (!ok) return KY_E_HANDSHAKE_FAILED;
    }
    return have < KY_CHAN_PREAMBLE_BYTES ? KY_CHAN_NEED_MORE : KY_OK;
}

int ky_chan_server_read_hello(ky_chan *ch, const uint8_t *in, size_t n, size_t *used) {
    KY_ASSERT(ch != NULL && used != NULL);
    KY_ASSERT(in != NULL || n == 0);
    *used = 0;
    if (ch->state == KY_CHAN_FAILED) return KY_E_INVALID_ARG;
    if (ch->state != KY_CHAN_NEW || ch->initiator) return chan_fail(ch, KY_E_INVALID_ARG);
    int rc = preamble_check(ch, in, n);
    if (rc == KY_CHAN_NEED_MORE) return rc;
    if (rc != KY_OK) return chan_fail(ch, rc);
    if (n < KY_CHAN_PREAMBLE_BYTES + KY_CHAN_LENGTH_BYTES) return KY_CHAN_NEED_MORE;
    if (get_be16(in + KY_CHAN_PREAMBLE_BYTES) != HELLO_MSG_BYTES)
        return chan_fail(ch, KY_E_HANDSHAKE_FAILED);
    if (n < HELLO_BYTES) return KY_CHAN_NEED_MORE;
    ch->cipher = (ky_noise_cipher)in[6];
    rc = chan_hs_init(ch, in, ch->local_static_sk, NULL, NULL);
    sodium_memzero(ch->local_static_sk, sizeof ch->local_static_sk); /* hs holds it now */
    if (rc != KY_OK) return chan_fail(ch, rc);
    size_t payload_len = 0;
    rc = ky_noise_hs_read(&ch->hs, in + KY_CHAN_PREAMBLE_BYTES + KY_CHAN_LENGTH_BYTES,
                          HELLO_MSG_BYTES, NULL, 0, &payload_len);
    if (rc != KY_OK) return chan_fail(ch, KY_E_HANDSHAKE_FAILED);
    KY_ASSERT(payload_len == 0);
    KY_ASSERT(ch->hs.has_rs && ch->hs.has_re);
    memcpy(ch->remote_static, ch->hs.rs, sizeof ch->remote_static);
    memcpy(ch->remote_ephemeral, ch->hs.re, sizeof ch->remote_ephemeral);
    ch->state = KY_CHAN_HELLO_READ;
    *used = HELLO_BYTES;
    return KY_OK;
}

int ky_chan_server_reply(ky_chan *ch, const uint8_t *ephemeral_sk, uint8_t *out, size_t cap,
                         size_t *out_len) {
    KY_ASSERT(ch != NULL && out != NULL && out_len != NULL);
    *out_len = 0;
    if (ch->state == KY_CHAN_FAILED) return KY_E_INVALID_ARG;
    if (ch->state != KY_CHAN_HELLO_READ || ch->initiator) return chan_fail(ch, KY_E_INVALID_ARG);
    if (cap < REPLY_BYTES) return chan_fail(ch, KY_E_BUFFER_TOO_SMALL);
    int rc = KY_OK;
    /* The handshake began in read_hello, before the caller could name a test ephemeral. */
    if (ephemeral_sk != NULL) rc = ky_noise_hs_set_ephemeral(&ch->hs, ephemeral_sk);
    if (rc != KY_OK) return chan_fail(ch, rc);
    size_t msg_len = 0;
    rc = ky_noise_hs_write(&ch->hs, NULL, 0, out + KY_CHAN_LENGTH_BYTES, REPLY_MSG_BYTES, &msg_len);
    if (rc != KY_OK) return chan_fail(ch, rc);
    KY_ASSERT(msg_len == REPLY_MSG_BYTES);
    put_be16(out, msg_len);
    chan_enter_transport(ch);
    *out_len = REPLY_BYTES;
    return KY_OK;
}

size_t ky_chan_sealed_bytes(size_t n) {
    size_t records = n / KY_CHAN_RECORD_PLAIN_BYTES_MAX + (n % KY_CHAN_RECORD_PLAIN_BYTES_MAX != 0);
    size_t per = KY_CHAN_LENGTH_BYTES + KY_CHAN_TAG_BYTES;
    if (records > (SIZE_MAX - n) / per) return SIZE_MAX; /* saturate: no buffer is that big */
    return n + records * per;
}

/* Invariant 2: counts the record just carried and rekeys on the interval. */
static int count_record(ky_chan *ch, ky_noise_cipherstate *cs, uint64_t *records) {
    KY_ASSERT(ch->rekey_interval_records > 0);
    (*records)++;
    if (*records % ch->rekey_interval_records != 0) return KY_OK;
    return ky_noise_cs_rekey(cs);
}

static int transport_check(ky_chan *ch) {
    if (ch->state == KY_CHAN_FAILED) return KY_E_INVALID_ARG;
    if (ch->state != KY_CHAN_TRANSPORT || ch->rekey_interval_records == 0)
        return chan_fail(ch, KY_E_INVALID_ARG);
    return KY_OK;
}

int ky_chan_seal(ky_chan *ch, const uint8_t *plain, size_t n, uint8_t *out, size_t cap,
                 size_t *out_len) {
    KY_ASSERT(ch != NULL && out_len != NULL);
    KY_ASSERT(plain != NULL || n == 0);
    *out_len = 0;
    int rc = transport_check(ch);
    if (rc != KY_OK) return rc;
    size_t need = ky_chan_sealed_bytes(n);
    if (cap < need) return chan_fail(ch, KY_E_BUFFER_TOO_SMALL);
    KY_ASSERT(out != NULL || need == 0);
    size_t pos = 0, done = 0;
    while (done < n) {
        size_t chunk = n - done;
        if (chunk > KY_CHAN_RECORD_PLAIN_BYTES_MAX) chunk = KY_CHAN_RECORD_PLAIN_BYTES_MAX;
        size_t ct_len = 0;
        rc = ky_noise_cs_encrypt(&ch->tx, NULL, 0, plain + done, chunk,
                                 out + pos + KY_CHAN_LENGTH_BYTES,
                                 need - pos - KY_CHAN_LENGTH_BYTES, &ct_len);
        if (rc != KY_OK) return chan_fail(ch, rc);
        KY_ASSERT(ct_len == chunk + KY_CHAN_TAG_BYTES);
        put_be16(out + pos, ct_len);
        pos += KY_CHAN_LENGTH_BYTES + ct_len;
        done += chunk;
        rc = count_record(ch, &ch->tx, &ch->tx_records);
        if (rc != KY_OK) return chan_fail(ch, rc);
    }
    KY_ASSERT(pos == need);
    *out_len = pos;
    return KY_OK;
}

int ky_chan_open(ky_chan *ch, const uint8_t *in, size_t n, size_t *used, uint8_t *plain,
                 size_t plain_cap, size_t *plain_len) {
    KY_ASSERT(ch != NULL && used != NULL && plain_len != NULL);
    KY_ASSERT(in != NULL || n == 0);
    KY_ASSERT(plain != NULL || plain_cap == 0);
    *used = *plain_len = 0;
    int rc = transport_check(ch);
    if (rc != KY_OK) return rc;
    size_t pos = 0, produced = 0;
    while (n - pos >= KY_CHAN_LENGTH_BYTES) {
        size_t len = get_be16(in + pos);
        if (len < RECORD_BYTES_MIN) return chan_fail(ch, KY_E_MSG_MALFORMED);
        if (n - pos - KY_CHAN_LENGTH_BYTES < len) break;           /* partial record */
        if (plain_cap - produced < len - KY_CHAN_TAG_BYTES) break; /* would not fit */
        size_t out_len = 0;
        rc = ky_noise_cs_decrypt(&ch->rx, NULL, 0, in + pos + KY_CHAN_LENGTH_BYTES, len,
                                 plain + produced, plain_cap - produced, &out_len);
        if (rc != KY_OK) return chan_fail(ch, rc);
        KY_ASSERT(out_len == len - KY_CHAN_TAG_BYTES);
        pos += KY_CHAN_LENGTH_BYTES + len;
        produced += out_len;
        *used = pos;
        *plain_len = produced;
        rc = count_record(ch, &ch->rx, &ch->rx_records);
        if (rc != KY_OK) return chan_fail(ch, rc);
    }
    return KY_OK;
}

void ky_chan_wipe(ky_chan *ch) {
    KY_ASSERT(ch != NULL);
    sodium_memzero(ch, sizeof *ch);
}
