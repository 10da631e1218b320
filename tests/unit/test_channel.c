/*
 * test_channel.c — the secure channel (secure/channel.h) end to end, in memory.
 *
 * Goal: a client and a server that follow channel.h complete the IK handshake with either
 * cipher and carry any byte stream in records, however the bytes are cut on the way; and
 * every hostile or mistaken input (tampered, truncated or malformed records and hellos,
 * ciphers not allowed, wrong keys, calls out of order) is refused with its code and leaves
 * the channel FAILED.
 * Method:
 *   1. Handshake through the channel API with fixed and with random ephemerals; both
 *      ends agree on the handshake hash and learn each other's keys; the hello is byte-
 *      identical for identical inputs and a replayed hello yields the same ephemeral.
 *   2. Seal/open of 0, 1, 65519, 65520 and 1,000,000 bytes: the sealed size matches
 *      ky_chan_sealed_bytes, and the receiver gets the bytes back when fed everything at
 *      once, one byte at a time, and in pseudo-random pieces; the sender also seals in
 *      pieces. plain_cap one byte short of a record stops before it.
 *   3. Tampering with every byte of a record, of message 1 and of message 2; record
 *      lengths 0, 15, 16, 17 and 65535; bad preamble fields; ciphers not allowed; wrong
 *      pinned key; rekey every 3 records for 10 records each way (and a mismatched
 *      interval fails); nonce exhaustion; wrong-state calls; wipe zeroes the struct.
 * The AESGCM runs are reported SKIPPED, with the reason, on a CPU without AES-NI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../common/ky_err.h"
#include "../../secure/channel.h"

static unsigned g_checks; /* checks made by the running test, printed at its end */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        g_checks++;                                                                                \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                        \
    } while (0)

#define BIG_BYTES  1000000u
#define WIRE_BYTES (BIG_BYTES + 64u * (KY_CHAN_LENGTH_BYTES + KY_CHAN_TAG_BYTES))

static ky_chan g_cli, g_srv;       /* the two ends under test */
static uint8_t g_src[BIG_BYTES];   /* plaintext sent */
static uint8_t g_dst[BIG_BYTES];   /* plaintext received */
static uint8_t g_wire[WIRE_BYTES]; /* sealed bytes in flight */
static uint8_t g_hello[KY_CHAN_HELLO_BYTES_MAX], g_reply[KY_CHAN_REPLY_BYTES_MAX];
static size_t g_hello_len, g_reply_len;

typedef struct keys {
    uint8_t cli_sk[32], cli_pk[32], srv_sk[32], srv_pk[32], cli_e[32], srv_e[32];
} keys;

static keys g_k;

static void fixed_key(uint8_t out[32], uint8_t tag) {
    for (unsigned i = 0; i < 32; i++) out[i] = (uint8_t)(tag * 29u + i * 11u + 3u);
}

static void keys_init(void) {
    fixed_key(g_k.cli_sk, 1);
    fixed_key(g_k.srv_sk, 2);
    fixed_key(g_k.cli_e, 3);
    fixed_key(g_k.srv_e, 4);
    if (crypto_scalarmult_curve25519_base(g_k.cli_pk, g_k.cli_sk) != 0 ||
        crypto_scalarmult_curve25519_base(g_k.srv_pk, g_k.srv_sk) != 0)
        fail_msg("bad test keys");
}

static const char *cipher_name(ky_noise_cipher c) {
    return c == KY_NOISE_AESGCM ? "AESGCM" : "ChaChaPoly";
}

static ky_noise_cipher g_aesgcm = KY_NOISE_AESGCM, g_chachapoly = KY_NOISE_CHACHAPOLY;

/* The cipher of a per-cipher test; the AESGCM run is skipped without AES-NI. */
static ky_noise_cipher cipher_of(void **state) {
    ky_noise_cipher c = *(const ky_noise_cipher *)*state;
    g_checks = 0;
    keys_init();
    if (c == KY_NOISE_AESGCM && !ky_noise_cipher_available(KY_NOISE_AESGCM)) {
        print_message("SKIPPED AESGCM run: AES-256-GCM unavailable (no AES-NI; "
                      "crypto_aead_aes256gcm_is_available() == 0)\n");
        skip();
    }
    return c;
}

/* Client hello with the fixed (or, fixed == false, random) ephemeral into g_hello. */
static void hello(ky_noise_cipher c, const uint8_t *server_pk, bool fixed) {
    int rc = ky_chan_client_hello(&g_cli, c, g_k.cli_sk, server_pk, fixed ? g_k.cli_e : NULL,
                                  g_hello, sizeof g_hello, &g_hello_len);
    CHECK(rc == KY_OK, "client_hello: %s", ky_errname(rc));
    CHECK(g_hello_len == 106 && g_cli.state == KY_CHAN_HELLO_SENT, "hello is 106 bytes");
}

/* Complete handshake; both ends in TRANSPORT afterwards. */
static void handshake(ky_noise_cipher c, bool fixed) {
    size_t used = 0;
    hello(c, g_k.srv_pk, fixed);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    int rc = ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used);
    CHECK(rc == KY_OK && used == g_hello_len, "read_hello: %s", ky_errname(rc));
    CHECK(g_srv.state == KY_CHAN_HELLO_READ, "HELLO_READ");
    CHECK(memcmp(g_srv.remote_static, g_k.cli_pk, 32) == 0, "server learnt the client key");
    rc = ky_chan_server_reply(&g_srv, fixed ? g_k.srv_e : NULL, g_reply, sizeof g_reply,
                              &g_reply_len);
    CHECK(rc == KY_OK && g_reply_len == 50, "server_reply: %s", ky_errname(rc));
    rc = ky_chan_client_finish(&g_cli, g_reply, g_reply_len, &used);
    CHECK(rc == KY_OK && used == 50, "client_finish: %s", ky_errname(rc));
    CHECK(g_cli.state == KY_CHAN_TRANSPORT && g_srv.state == KY_CHAN_TRANSPORT, "TRANSPORT");
    CHECK(memcmp(g_cli.handshake_hash, g_srv.handshake_hash, 32) == 0, "same handshake hash");
    CHECK(memcmp(g_cli.remote_static, g_k.srv_pk, 32) == 0, "client pinned the server key");
    CHECK(g_cli.cipher == c && g_srv.cipher == c, "cipher agreed");
}

static void fill_src(size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        g_src[i] = (uint8_t)(seed >> 16);
    }
}

/* Opens wire[0..len) at rx, delivering `piece(i)` new bytes at a time, and checks that
 * exactly n plaintext bytes equal to g_src arrive. piece 0 means "everything at once". */
static void deliver(ky_chan *rx, size_t len, size_t n, size_t piece, const char *what) {
    size_t arrived = 0, consumed = 0, got = 0;
    uint32_t seed = (uint32_t)len;
    while (consumed < len) {
        size_t step = piece;
        if (piece == (size_t)-1) { /* pseudo-random pieces of 1..70000 bytes */
            seed = seed * 1664525u + 1013904223u;
            step = 1 + (seed >> 8) % 70000u;
        }
        if (piece == 0 || arrived + step > len) step = len - arrived;
        arrived += step;
        size_t used = 0, plain = 0;
        int rc = ky_chan_open(rx, g_wire + consumed, arrived - consumed, &used, g_dst + got,
                              sizeof g_dst - got, &plain);
        if (rc != KY_OK) fail_msg("%s: open: %s", what, ky_errname(rc));
        consumed += used;
        got += plain;
        if (arrived == len && used == 0 && consumed < len) fail_msg("%s: stuck", what);
    }
    CHECK(got == n && memcmp(g_dst, g_src, n) == 0, "%s: %zu bytes arrive intact", what, n);
}

/* Seals g_src[0..n) at tx in one call, or in pseudo-random pieces; returns wire bytes. */
static size_t seal(ky_chan *tx, size_t n, bool pieces) {
    size_t pos = 0, done = 0;
    uint32_t seed = (uint32_t)n + 7u;
    do {
        size_t step = n - done;
        if (pieces) {
            seed = seed * 1664525u + 1013904223u;
            size_t r = 1 + (seed >> 8) % 100000u;
            if (r < step) step = r;
        }
        size_t out = 0;
        int rc = ky_chan_seal(tx, g_src + done, step, g_wire + pos, sizeof g_wire - pos, &out);
        CHECK(rc == KY_OK, "seal: %s", ky_errname(rc));
        CHECK(out == ky_chan_sealed_bytes(step), "sealed size of %zu", step);
        pos += out;
        done += step;
    } while (done < n);
    return pos;
}

/* ---- 1. handshake --------------------------------------------------------------------- */

static void test_handshake(void **state) {
    ky_noise_cipher c = cipher_of(state);
    handshake(c, true);
    uint8_t first[KY_CHAN_HELLO_BYTES_MAX], pk[32];
    memcpy(first, g_hello, g_hello_len);
    static const uint8_t pre[8] = {'K', 'Y', 'S', 'C', 1, 1, 0, 0};
    CHECK(memcmp(g_hello, pre, 6) == 0 && g_hello[6] == c && g_hello[7] == 0, "preamble bytes");
    CHECK(g_hello[8] == 0 && g_hello[9] == 96 && g_reply[0] == 0 && g_reply[1] == 48,
          "u16be lengths of message 1 (96) and 2 (48)");
    crypto_scalarmult_curve25519_base(pk, g_k.cli_e);
    CHECK(memcmp(g_srv.remote_ephemeral, pk, 32) == 0, "server saw the client's ephemeral");
    crypto_scalarmult_curve25519_base(pk, g_k.srv_e);
    CHECK(memcmp(g_cli.remote_ephemeral, pk, 32) == 0, "client saw the server's ephemeral");
    hello(c, g_k.srv_pk, true);
    CHECK(memcmp(first, g_hello, g_hello_len) == 0, "same inputs, same hello");
    handshake(c, false);
    CHECK(memcmp(first, g_hello, g_hello_len) != 0, "random ephemeral changes the hello");
    /* One byte at a time: NEED_MORE, nothing consumed, until the whole message is there. */
    hello(c, g_k.srv_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    size_t used = 0;
    for (size_t n = 0; n < g_hello_len; n++)
        CHECK(ky_chan_server_read_hello(&g_srv, g_hello, n, &used) == KY_CHAN_NEED_MORE &&
                  used == 0 && g_srv.state == KY_CHAN_NEW,
              "hello prefix of %zu bytes", n);
    g_hello[g_hello_len] = 0xAB; /* a following byte is not consumed */
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len + 1, &used) == KY_OK &&
              used == g_hello_len,
          "whole hello");
    CHECK(ky_chan_server_reply(&g_srv, NULL, g_reply, sizeof g_reply, &g_reply_len) == KY_OK,
          "reply");
    for (size_t n = 0; n < g_reply_len; n++)
        CHECK(ky_chan_client_finish(&g_cli, g_reply, n, &used) == KY_CHAN_NEED_MORE && used == 0 &&
                  g_cli.state == KY_CHAN_HELLO_SENT,
              "reply prefix of %zu bytes", n);
    CHECK(ky_chan_client_finish(&g_cli, g_reply, g_reply_len, &used) == KY_OK && used == 50,
          "whole reply");
    CHECK(memcmp(g_cli.handshake_hash, g_srv.handshake_hash, 32) == 0, "hashes agree");
    /* A plaintext refusal's first bytes ("1L" of KY_WIRE_MAGIC) are not judged yet. */
    hello(c, g_k.srv_pk, false);
    static const uint8_t magic[4] = {0x31, 0x4C, 0x59, 0x4B};
    CHECK(ky_chan_client_finish(&g_cli, magic, 2, &used) == KY_CHAN_NEED_MORE,
          "2 bytes of a plaintext frame: still waiting");
    print_message("%s handshake: %u checks\n", cipher_name(c), g_checks);
}

static void test_preferred_cipher(void **state) {
    (void)state;
    g_checks = 0;
    bool aes = ky_noise_cipher_available(KY_NOISE_AESGCM);
    CHECK(ky_chan_preferred_cipher() == (aes ? KY_NOISE_AESGCM : KY_NOISE_CHACHAPOLY),
          "AES-256-GCM exactly when available");
    CHECK(ky_chan_sealed_bytes(0) == 0 && ky_chan_sealed_bytes(1) == 19 &&
              ky_chan_sealed_bytes(65519) == 65537 && ky_chan_sealed_bytes(65520) == 65556,
          "sealed sizes");
    CHECK(ky_chan_sealed_bytes(SIZE_MAX) == SIZE_MAX, "sealed size saturates");
    print_message("preferred cipher %s (AES-NI %s): %u checks\n",
                  cipher_name(ky_chan_preferred_cipher()), aes ? "present" : "absent", g_checks);
}

/* ---- 2. records ----------------------------------------------------------------------- */

static void sizes_one_way(ky_chan *tx, ky_chan *rx, size_t n, const char *dir) {
    char what[96];
    static const size_t pieces[] = {0, 1, (size_t)-1};
    static const char *names[] = {"at once", "byte by byte", "random pieces"};
    fill_src(n, (uint32_t)n);
    for (unsigned m = 0; m < 3; m++) {
        size_t len = seal(tx, n, false);
        size_t records = (n + KY_CHAN_RECORD_PLAIN_BYTES_MAX - 1) / KY_CHAN_RECORD_PLAIN_BYTES_MAX;
        CHECK(len == n + records * 18, "%zu bytes -> %zu records", n, records);
        snprintf(what, sizeof what, "%s %zu bytes %s", dir, n, names[m]);
        deliver(rx, len, n, pieces[m], what);
    }
    size_t len = seal(tx, n, true);
    snprintf(what, sizeof what, "%s %zu bytes sealed in pieces", dir, n);
    deliver(rx, len, n, (size_t)-1, what);
}

static void test_sizes(void **state) {
    ky_noise_cipher c = cipher_of(state);
    static const size_t sizes[] = {0, 1, KY_CHAN_RECORD_PLAIN_BYTES_MAX,
                                   KY_CHAN_RECORD_PLAIN_BYTES_MAX + 1, BIG_BYTES};
    handshake(c, false);
    for (unsigned i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        sizes_one_way(&g_cli, &g_srv, sizes[i], "client->server");
        sizes_one_way(&g_srv, &g_cli, sizes[i], "server->client");
    }
    /* A full record carries 65519 bytes in 65535; plain_cap one short stops before it. */
    fill_src(KY_CHAN_RECORD_PLAIN_BYTES_MAX, 9);
    size_t len = seal(&g_cli, KY_CHAN_RECORD_PLAIN_BYTES_MAX, false), used = 0, plain = 0;
    CHECK(g_wire[0] == 0xFF && g_wire[1] == 0xFF, "length field 65535");
    CHECK(ky_chan_open(&g_srv, g_wire, len, &used, g_dst, KY_CHAN_RECORD_PLAIN_BYTES_MAX - 1,
                       &plain) == KY_OK &&
              used == 0 && plain == 0,
          "plain_cap 65518: stops before the record");
    CHECK(ky_chan_open(&g_srv, g_wire, len, &used, g_dst, KY_CHAN_RECORD_PLAIN_BYTES_MAX, &plain) ==
                  KY_OK &&
              used == len && plain == KY_CHAN_RECORD_PLAIN_BYTES_MAX &&
              memcmp(g_dst, g_src, plain) == 0,
          "plain_cap 65519: opens it");
    print_message("%s seal/open of 0, 1, 65519, 65520, 1000000 bytes both ways, fed at once, "
                  "by byte and in pieces: %u checks\n",
                  cipher_name(c), g_checks);
}

/* After an error: FAILED, keys wiped, every later call refused. */
static void check_failed(ky_chan *ch, const char *what) {
    size_t used = 0, plain = 0, out = 0;
    static const ky_noise_cipherstate zero_cs;
    CHECK(ch->state == KY_CHAN_FAILED, "%s: FAILED", what);
    CHECK(memcmp(&ch->tx, &zero_cs, sizeof zero_cs) == 0 &&
              memcmp(&ch->rx, &zero_cs, sizeof zero_cs) == 0,
          "%s: keys wiped", what);
    CHECK(ky_chan_open(ch, g_wire, 19, &used, g_dst, 100, &plain) == KY_E_INVALID_ARG,
          "%s: open refused", what);
    CHECK(ky_chan_seal(ch, g_src, 1, g_wire, 100, &out) == KY_E_INVALID_ARG, "%s: seal refused",
          what);
    CHECK(ky_chan_client_finish(ch, g_reply, 50, &used) == KY_E_INVALID_ARG &&
              ky_chan_server_read_hello(ch, g_hello, 106, &used) == KY_E_INVALID_ARG &&
              ky_chan_server_reply(ch, NULL, g_reply, sizeof g_reply, &out) == KY_E_INVALID_ARG,
          "%s: handshake calls refused", what);
    CHECK(ch->state == KY_CHAN_FAILED, "%s: still FAILED", what);
}

static int open_raw(ky_chan *rx, size_t len, size_t *used) {
    size_t plain = 0;
    return ky_chan_open(rx, g_wire, len, used, g_dst, sizeof g_dst, &plain);
}

static void test_tamper_record(void **state) {
    ky_noise_cipher c = cipher_of(state);
    size_t used = 0, plain = 0;
    fill_src(64, 3);
    for (size_t j = 2; j < 19; j++) { /* every byte of a 1-byte record after its length */
        handshake(c, false);
        size_t len = seal(&g_cli, 1, false);
        g_wire[j] ^= 0x04;
        CHECK(open_raw(&g_srv, len, &used) == KY_E_DECRYPT_FAILED, "record byte %zu", j);
        check_failed(&g_srv, "tampered record");
    }
    handshake(c, false);
    size_t len = seal(&g_cli, 1, false);
    g_wire[1] ^= 0x01; /* length 17 -> 16: an empty record */
    CHECK(open_raw(&g_srv, len, &used) == KY_E_MSG_MALFORMED, "length 16");
    check_failed(&g_srv, "length 16");
    handshake(c, false);
    len = seal(&g_cli, 1, false);
    g_wire[0] ^= 0x01; /* length 17 -> 273: waits for bytes that never come */
    CHECK(open_raw(&g_srv, len, &used) == KY_OK && used == 0, "length 273: partial");
    /* Two records, the second tampered: the first one's bytes are reported. */
    handshake(c, false);
    size_t len2 = 0;
    CHECK(ky_chan_seal(&g_cli, g_src, 5, g_wire, sizeof g_wire, &len) == KY_OK, "seal 5");
    CHECK(ky_chan_seal(&g_cli, g_src, 7, g_wire + len, sizeof g_wire - len, &len2) == KY_OK,
          "seal 7");
    len += len2;
    g_wire[len - 1] ^= 0x80;
    CHECK(ky_chan_open(&g_srv, g_wire, len, &used, g_dst, sizeof g_dst, &plain) ==
                  KY_E_DECRYPT_FAILED &&
              used == 23 && plain == 5,
          "error after a good record reports the good record");
    print_message("%s tampered records: %u checks\n", cipher_name(c), g_checks);
}

static void test_record_lengths(void **state) {
    ky_noise_cipher c = cipher_of(state);
    static const size_t bad[] = {0, 1, 15, 16};
    size_t used = 0, out = 0;
    for (unsigned i = 0; i < 4; i++) {
        handshake(c, false);
        memset(g_wire, 0x5A, 70000);
        g_wire[0] = 0;
        g_wire[1] = (uint8_t)bad[i];
        CHECK(open_raw(&g_srv, 2 + bad[i], &used) == KY_E_MSG_MALFORMED, "length %zu", bad[i]);
        check_failed(&g_srv, "short length");
    }
    handshake(c, false);
    g_wire[0] = 0;
    g_wire[1] = 17;
    CHECK(open_raw(&g_srv, 2 + 17, &used) == KY_E_DECRYPT_FAILED, "length 17 of garbage");
    handshake(c, false);
    g_wire[0] = g_wire[1] = 0xFF;
    CHECK(open_raw(&g_srv, 2 + 65534, &used) == KY_OK && used == 0, "65535 announced, 65534 here");
    CHECK(open_raw(&g_srv, 1, &used) == KY_OK && used == 0, "half a length field");
    CHECK(open_raw(&g_srv, 2 + 65535, &used) == KY_E_DECRYPT_FAILED, "65535 bytes of garbage");
    /* Seal into one byte less than it needs. */
    handshake(c, false);
    CHECK(ky_chan_seal(&g_cli, g_src, 100, g_wire, ky_chan_sealed_bytes(100) - 1, &out) ==
              KY_E_BUFFER_TOO_SMALL,
          "seal cap one short");
    check_failed(&g_cli, "seal cap");
    handshake(c, false);
    CHECK(ky_chan_seal(&g_cli, g_src, 100, g_wire, ky_chan_sealed_bytes(100), &out) == KY_OK,
          "seal cap exact");
    print_message("%s record lengths 0, 1, 15, 16, 17, 65535: %u checks\n", cipher_name(c),
                  g_checks);
}

/* ---- 3. handshake refusals ------------------------------------------------------------ */

/* A fresh server reads g_hello with byte `at` set to `value`; returns its code. */
static int read_modified(size_t at, uint8_t value, size_t n) {
    uint8_t saved = g_hello[at];
    size_t used = 0;
    g_hello[at] = value;
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    int rc = ky_chan_server_read_hello(&g_srv, g_hello, n, &used);
    g_hello[at] = saved;
    if (rc < 0) CHECK(g_srv.state == KY_CHAN_FAILED && used == 0, "refusal leaves FAILED");
    return rc;
}

static void test_preamble(void **state) {
    ky_noise_cipher c = cipher_of(state);
    hello(c, g_k.srv_pk, true);
    for (size_t i = 0; i < 4; i++) {
        CHECK(read_modified(i, (uint8_t)(g_hello[i] ^ 0x20), g_hello_len) == KY_E_HANDSHAKE_FAILED,
              "magic byte %zu", i);
        CHECK(read_modified(i, (uint8_t)(g_hello[i] ^ 0x20), i + 1) == KY_E_HANDSHAKE_FAILED,
              "magic byte %zu refused as soon as it arrives", i);
    }
    static const uint8_t plaintext_frame[4] = {0x31, 0x4C, 0x59, 0x4B}; /* KY_WIRE_MAGIC */
    CHECK(read_modified(0, plaintext_frame[0], 1) == KY_E_HANDSHAKE_FAILED,
          "a plaintext client is refused at its first byte");
    CHECK(read_modified(4, 0, g_hello_len) == KY_E_HANDSHAKE_FAILED, "version 0");
    CHECK(read_modified(4, 2, g_hello_len) == KY_E_HANDSHAKE_FAILED, "version 2");
    CHECK(read_modified(5, 2, g_hello_len) == KY_E_HANDSHAKE_FAILED, "pattern 2 (XX)");
    CHECK(read_modified(5, 0, 6) == KY_E_HANDSHAKE_FAILED, "pattern 0, early");
    static const uint8_t unknown[] = {0, 3, 255};
    for (unsigned i = 0; i < 3; i++)
        CHECK(read_modified(6, unknown[i], g_hello_len) == KY_E_CIPHER_UNAVAILABLE,
              "cipher byte %u", unknown[i]);
    CHECK(read_modified(7, 1, g_hello_len) == KY_E_HANDSHAKE_FAILED, "reserved 1");
    CHECK(read_modified(7, 0x80, 8) == KY_E_HANDSHAKE_FAILED, "reserved 0x80, early");
    CHECK(read_modified(9, 95, g_hello_len) == KY_E_HANDSHAKE_FAILED, "length 95");
    CHECK(read_modified(9, 97, g_hello_len) == KY_E_HANDSHAKE_FAILED, "length 97");
    CHECK(read_modified(8, 1, 10) == KY_E_HANDSHAKE_FAILED, "length 352, judged at once");
    /* The preamble is the prologue: a cipher byte changed in flight (both allowed) makes
     * the hashes differ, so message 1 fails to authenticate. */
    ky_noise_cipher other = c == KY_NOISE_AESGCM ? KY_NOISE_CHACHAPOLY : KY_NOISE_AESGCM;
    bool other_ok = ky_noise_cipher_available(other);
    CHECK(read_modified(6, (uint8_t)other, g_hello_len) ==
              (other_ok ? KY_E_HANDSHAKE_FAILED : KY_E_CIPHER_UNAVAILABLE),
          "cipher byte switched in flight");
    CHECK(read_modified(6, (uint8_t)c, g_hello_len) == KY_OK, "the untouched hello is fine");
    print_message("%s preamble fields: %u checks\n", cipher_name(c), g_checks);
}

static void test_cipher_not_allowed(void **state) {
    ky_noise_cipher c = cipher_of(state);
    size_t used = 0;
    hello(c, g_k.srv_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, c != KY_NOISE_AESGCM, c != KY_NOISE_CHACHAPOLY);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_E_CIPHER_UNAVAILABLE,
          "%s not allowed", cipher_name(c));
    check_failed(&g_srv, "cipher not allowed");
    ky_chan_server_init(&g_srv, g_k.srv_sk, false, false);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, 7, &used) == KY_E_CIPHER_UNAVAILABLE,
          "nothing allowed: refused at the cipher byte");
    CHECK(ky_chan_client_hello(&g_cli, (ky_noise_cipher)9, g_k.cli_sk, g_k.srv_pk, NULL, g_hello,
                               sizeof g_hello, &used) == KY_E_CIPHER_UNAVAILABLE,
          "client: unknown cipher");
    check_failed(&g_cli, "client cipher");
    print_message("%s not allowed: %u checks\n", cipher_name(c), g_checks);
}

static void test_handshake_tamper(void **state) {
    ky_noise_cipher c = cipher_of(state);
    size_t used = 0;
    uint8_t other_sk[32], other_pk[32];
    fixed_key(other_sk, 8);
    crypto_scalarmult_curve25519_base(other_pk, other_sk);
    hello(c, other_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_E_HANDSHAKE_FAILED,
          "client pinned another server key");
    check_failed(&g_srv, "wrong pinned key");
    for (size_t j = 10; j < 106; j++) { /* every byte of message 1 */
        hello(c, g_k.srv_pk, false);
        g_hello[j] ^= 0x10;
        ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
        CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) ==
                  KY_E_HANDSHAKE_FAILED,
              "message 1 byte %zu", j);
    }
    for (size_t j = 0; j < 50; j++) { /* every byte of message 2, length included */
        handshake(c, false);
        hello(c, g_k.srv_pk, false);
        ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
        CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_OK, "hello");
        CHECK(ky_chan_server_reply(&g_srv, NULL, g_reply, sizeof g_reply, &g_reply_len) == KY_OK,
              "reply");
        g_reply[j] ^= 0x10;
        CHECK(ky_chan_client_finish(&g_cli, g_reply, g_reply_len, &used) == KY_E_HANDSHAKE_FAILED,
              "message 2 byte %zu", j);
        check_failed(&g_cli, "tampered reply");
    }
    print_message("%s wrong key, every byte of messages 1 and 2 tampered: %u checks\n",
                  cipher_name(c), g_checks);
}

static void test_replay(void **state) {
    ky_noise_cipher c = cipher_of(state);
    static ky_chan other;
    size_t used = 0;
    hello(c, g_k.srv_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    ky_chan_server_init(&other, g_k.srv_sk, true, true);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_OK, "first");
    CHECK(ky_chan_server_read_hello(&other, g_hello, g_hello_len, &used) == KY_OK, "replayed");
    CHECK(memcmp(g_srv.remote_ephemeral, other.remote_ephemeral, 32) == 0 &&
              memcmp(g_srv.remote_ephemeral, g_hello + 10, 32) == 0,
          "a replayed message 1 shows the same ephemeral (the replay cache key)");
    CHECK(memcmp(g_srv.remote_static, other.remote_static, 32) == 0, "and the same client key");
    ky_chan_wipe(&other);
    print_message("%s replayed hello: %u checks\n", cipher_name(c), g_checks);
}

/* ---- 4. rekey, nonces, states, wipe --------------------------------------------------- */

static int one_record(ky_chan *tx, ky_chan *rx, size_t n) {
    size_t out = 0, used = 0, plain = 0;
    fill_src(n, (uint32_t)(tx->tx_records + 1));
    CHECK(ky_chan_seal(tx, g_src, n, g_wire, sizeof g_wire, &out) == KY_OK, "seal");
    int rc = ky_chan_open(rx, g_wire, out, &used, g_dst, sizeof g_dst, &plain);
    if (rc == KY_OK) CHECK(used == out && plain == n && memcmp(g_dst, g_src, n) == 0, "open");
    return rc;
}

static void test_rekey_interval(void **state) {
    ky_noise_cipher c = cipher_of(state);
    handshake(c, false);
    g_cli.rekey_interval_records = g_srv.rekey_interval_records = 3;
    uint8_t k0[32];
    memcpy(k0, g_cli.tx.k, 32);
    for (unsigned i = 0; i < 10; i++) {
        CHECK(one_record(&g_cli, &g_srv, 10 + i) == KY_OK, "client record %u", i);
        CHECK(one_record(&g_srv, &g_cli, 20 + i) == KY_OK, "server record %u", i);
    }
    CHECK(g_cli.tx_records == 10 && g_srv.rx_records == 10 && g_srv.tx_records == 10,
          "10 records each way");
    CHECK(memcmp(k0, g_cli.tx.k, 32) != 0 && g_cli.tx.n == 10, "key rekeyed 3 times, n kept");
    /* A multi-record seal crosses rekey boundaries inside one call. */
    CHECK(one_record(&g_cli, &g_srv, 5 * KY_CHAN_RECORD_PLAIN_BYTES_MAX + 3) == KY_OK,
          "6 records in one seal");
    g_cli.rekey_interval_records = g_srv.rekey_interval_records = 1;
    for (unsigned i = 0; i < 5; i++) CHECK(one_record(&g_cli, &g_srv, 3) == KY_OK, "interval 1");
    /* Ends that disagree part ways at the first rekey one of them skips. */
    handshake(c, false);
    g_cli.rekey_interval_records = 3;
    g_srv.rekey_interval_records = 4;
    for (unsigned i = 0; i < 3; i++) CHECK(one_record(&g_cli, &g_srv, 8) == KY_OK, "in step");
    CHECK(one_record(&g_cli, &g_srv, 8) == KY_E_DECRYPT_FAILED, "record 4 after a lone rekey");
    check_failed(&g_srv, "rekey mismatch");
    handshake(c, false);
    g_cli.rekey_interval_records = 0;
    size_t out = 0;
    CHECK(ky_chan_seal(&g_cli, g_src, 1, g_wire, 100, &out) == KY_E_INVALID_ARG, "interval 0");
    print_message("%s rekey every 3 records, 10 each way: %u checks\n", cipher_name(c), g_checks);
}

static void test_nonce_exhausted(void **state) {
    ky_noise_cipher c = cipher_of(state);
    size_t out = 0, used = 0, plain = 0;
    handshake(c, false);
    ky_noise_cs_set_nonce(&g_cli.tx, UINT64_MAX - 1);
    ky_noise_cs_set_nonce(&g_srv.rx, UINT64_MAX - 1);
    CHECK(one_record(&g_cli, &g_srv, 4) == KY_OK, "nonce 2^64-2 is the last one");
    CHECK(ky_chan_seal(&g_cli, g_src, 1, g_wire, 100, &out) == KY_E_NONCE_EXHAUSTED,
          "seal at 2^64-1");
    check_failed(&g_cli, "tx exhausted");
    handshake(c, false);
    CHECK(ky_chan_seal(&g_cli, g_src, 1, g_wire, 100, &out) == KY_OK, "seal");
    ky_noise_cs_set_nonce(&g_srv.rx, UINT64_MAX);
    CHECK(ky_chan_open(&g_srv, g_wire, out, &used, g_dst, 100, &plain) == KY_E_NONCE_EXHAUSTED,
          "open at 2^64-1");
    check_failed(&g_srv, "rx exhausted");
    print_message("%s nonce exhaustion: %u checks\n", cipher_name(c), g_checks);
}

static void test_states(void **state) {
    ky_noise_cipher c = cipher_of(state);
    size_t used = 0, out = 0, plain = 0;
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_seal(&g_srv, g_src, 1, g_wire, 100, &out) == KY_E_INVALID_ARG, "seal at NEW");
    check_failed(&g_srv, "seal at NEW");
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_open(&g_srv, g_wire, 19, &used, g_dst, 100, &plain) == KY_E_INVALID_ARG,
          "open at NEW");
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_server_reply(&g_srv, NULL, g_reply, sizeof g_reply, &out) == KY_E_INVALID_ARG,
          "reply before hello");
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_client_finish(&g_srv, g_reply, 50, &used) == KY_E_INVALID_ARG,
          "finish on a responder");
    hello(c, g_k.srv_pk, false);
    CHECK(ky_chan_server_read_hello(&g_cli, g_hello, g_hello_len, &used) == KY_E_INVALID_ARG,
          "read_hello on an initiator");
    hello(c, g_k.srv_pk, false);
    CHECK(ky_chan_client_hello(&g_cli, c, g_k.cli_sk, g_k.srv_pk, NULL, g_hello, 105, &used) ==
              KY_E_BUFFER_TOO_SMALL,
          "hello cap 105");
    check_failed(&g_cli, "hello cap");
    hello(c, g_k.srv_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_OK, "hello");
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_E_INVALID_ARG,
          "hello twice");
    hello(c, g_k.srv_pk, false);
    ky_chan_server_init(&g_srv, g_k.srv_sk, true, true);
    CHECK(ky_chan_server_read_hello(&g_srv, g_hello, g_hello_len, &used) == KY_OK, "hello");
    CHECK(ky_chan_server_reply(&g_srv, NULL, g_reply, 49, &out) == KY_E_BUFFER_TOO_SMALL,
          "reply cap 49");
    handshake(c, false);
    CHECK(ky_chan_client_finish(&g_cli, g_reply, 50, &used) == KY_E_INVALID_ARG,
          "finish in TRANSPORT");
    CHECK(sodium_is_zero(g_srv.local_static_sk, 32), "responder's kept secret wiped");
    print_message("%s calls in the wrong state: %u checks\n", cipher_name(c), g_checks);
}

static void test_wipe(void **state) {
    ky_noise_cipher c = cipher_of(state);
    handshake(c, false);
    CHECK(one_record(&g_cli, &g_srv, 100) == KY_OK, "a record");
    ky_chan_wipe(&g_cli);
    ky_chan_wipe(&g_srv);
    CHECK(sodium_is_zero((const unsigned char *)&g_cli, sizeof g_cli) &&
              sodium_is_zero((const unsigned char *)&g_srv, sizeof g_srv),
          "every byte zero after wipe");
    ky_chan_wipe(&g_cli);
    CHECK(sodium_is_zero((const unsigned char *)&g_cli, sizeof g_cli), "wipe twice");
    hello(c, g_k.srv_pk, false);
    size_t used = 0;
    CHECK(ky_chan_client_finish(&g_cli, g_hello, 50, &used) == KY_E_HANDSHAKE_FAILED, "fail");
    ky_chan_wipe(&g_cli);
    CHECK(sodium_is_zero((const unsigned char *)&g_cli, sizeof g_cli), "wipe of a FAILED one");
    print_message("%s wipe: %u checks\n", cipher_name(c), g_checks);
}

#define BOTH(f) cmocka_unit_test_prestate(f, &g_chachapoly), cmocka_unit_test_prestate(f, &g_aesgcm)

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preferred_cipher),
        BOTH(test_handshake),
        BOTH(test_sizes),
        BOTH(test_tamper_record),
        BOTH(test_record_lengths),
        BOTH(test_preamble),
        BOTH(test_cipher_not_allowed),
        BOTH(test_handshake_tamper),
        BOTH(test_replay),
        BOTH(test_rekey_interval),
        BOTH(test_nonce_exhausted),
        BOTH(test_states),
        BOTH(test_wipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
