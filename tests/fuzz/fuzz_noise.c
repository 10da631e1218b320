/*
 * fuzz_noise.c — libFuzzer harness for the secure channel's readers (secure/channel.h).
 *
 * Why: the handshake reader is the only code a node runs on bytes from a peer it has not
 * yet authenticated, and the record reader runs on every byte afterwards; a memory bug in
 * either is reachable by anyone who can open a TCP connection. Keys and ephemerals are
 * fixed so a run is reproducible and so the seeds (real messages made with those keys)
 * stay valid. Byte 0 of the input picks a mode, byte 1 a parameter, the rest is the data:
 *   0  a responder with a fixed static key reads the data as preamble + message 1
 *      (ky_chan_server_read_hello), first a prefix of it, then all of it;
 *   1  an initiator that sent a real hello reads the data as message 2
 *      (ky_chan_client_finish);
 *   2  the responder of an established channel opens the data as records (ky_chan_open),
 *      with a plaintext buffer as small as the parameter says;
 *   3  round trip: the initiator seals the data (repeated past one record when the
 *      parameter asks) and the responder must open exactly it; with one byte of the
 *      ciphertext flipped it must never return the whole plaintext.
 * Oracles: ASan/UBSan, `used` never beyond the input, NEED_MORE consumes nothing, and the
 * round trip above (abort() on violation).
 *
 * KY_FUZZ_WRITE_SEEDS=DIR makes the binary write its seed corpus to DIR and exit
 * (`make fuzz-corpus`), because only this file holds the fixed keys.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "../../common/ky_err.h"
#include "../../secure/channel.h"

#define MODE_SERVER_HELLO  0u
#define MODE_CLIENT_FINISH 1u
#define MODE_OPEN          2u
#define MODE_ROUND_TRIP    3u
#define MODE_COUNT         4u
#define PLAIN_BIG_BYTES    (2u * KY_CHAN_RECORD_PLAIN_BYTES_MAX + 1u) /* three records */

static const ky_noise_cipher cipher = KY_NOISE_CHACHAPOLY; /* available on every CPU */
static uint8_t client_sk[32], server_sk[32], server_pk[32], client_e[32], server_e[32];
static ky_chan client_sent;          /* initiator after ky_chan_client_hello */
static ky_chan client_up, server_up; /* an established pair */
static uint8_t hello[KY_CHAN_HELLO_BYTES_MAX], reply[KY_CHAN_REPLY_BYTES_MAX];
static size_t hello_len, reply_len;
static uint8_t plain_big[PLAIN_BIG_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, int rc) {
    fprintf(stderr, "fuzz_noise: %s (%d %s)\n", what, rc, ky_strerror(rc));
    abort();
}

static void must(int rc, const char *what) {
    if (rc != KY_OK) fail(what, rc);
}

/* Builds the fixed keys, a sent hello and an established channel pair. */
static void setup(void) {
    if (sodium_init() < 0) fail("sodium_init", KY_E_INTERNAL);
    for (unsigned i = 0; i < 32; i++) {
        client_sk[i] = (uint8_t)(0x11 + i);
        server_sk[i] = (uint8_t)(0x22 + i);
        client_e[i] = (uint8_t)(0x33 + i);
        server_e[i] = (uint8_t)(0x44 + i);
    }
    crypto_scalarmult_curve25519_base(server_pk, server_sk);
    must(ky_chan_client_hello(&client_sent, cipher, client_sk, server_pk, client_e, hello,
                              sizeof hello, &hello_len),
         "client hello");
    ky_chan server;
    ky_chan_server_init(&server, server_sk, true, true);
    size_t used = 0;
    must(ky_chan_server_read_hello(&server, hello, hello_len, &used), "server read hello");
    if (used != hello_len) fail("server read hello: used", (int)used);
    must(ky_chan_server_reply(&server, server_e, reply, sizeof reply, &reply_len), "reply");
    client_up = client_sent;
    must(ky_chan_client_finish(&client_up, reply, reply_len, &used), "client finish");
    if (used != reply_len) fail("client finish: used", (int)used);
    server_up = server;
}

static void write_seed(const char *dir, const char *name, uint8_t mode, uint8_t param,
                       const uint8_t *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    uint8_t head[2] = {mode, param};
    if (f == NULL || fwrite(head, 1, 2, f) != 2 || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "fuzz_noise: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* The seed corpus: the real hello and reply, records of a few sizes, round-trip texts. */
static void write_seeds(const char *dir) {
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) fail("mkdir seeds", KY_E_IO);
    write_seed(dir, "server_hello", MODE_SERVER_HELLO, 40, hello, hello_len);
    write_seed(dir, "client_finish", MODE_CLIENT_FINISH, 0, reply, reply_len);
    static uint8_t rec[3 * (KY_CHAN_LENGTH_BYTES + KY_CHAN_TAG_BYTES) + 64];
    static const char text[] = "frames travel as opaque plaintext";
    ky_chan tx = client_up;
    size_t n = 0, total = 0;
    must(ky_chan_seal(&tx, (const uint8_t *)text, sizeof text - 1, rec, sizeof rec, &n), "seal");
    total += n;
    must(ky_chan_seal(&tx, (const uint8_t *)text, 0, rec + total, sizeof rec - total, &n),
         "seal empty");
    total += n;
    must(ky_chan_seal(&tx, (const uint8_t *)"x", 1, rec + total, sizeof rec - total, &n), "seal");
    total += n;
    ky_chan_wipe(&tx);
    write_seed(dir, "open_records", MODE_OPEN, 255, rec, total);
    write_seed(dir, "round_trip", MODE_ROUND_TRIP, 0, (const uint8_t *)text, sizeof text - 1);
    write_seed(dir, "round_trip_big_rekey", MODE_ROUND_TRIP, 0x06, (const uint8_t *)text, 8);
    write_seed(dir, "round_trip_tamper", MODE_ROUND_TRIP, 0x01, (const uint8_t *)text, 8);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    setup();
    const char *dir = getenv("KY_FUZZ_WRITE_SEEDS");
    if (dir != NULL) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}

/* Mode 0: the responder reads a prefix (NEED_MORE must take nothing), then everything. */
static void server_hello(uint8_t param, const uint8_t *d, size_t n) {
    ky_chan ch;
    ky_chan_server_init(&ch, server_sk, (param & 0x80) == 0, (param & 0x40) == 0);
    size_t cut = n ? (size_t)(param & 0x3F) % (n + 1) : 0, used = 0;
    int rc = ky_chan_server_read_hello(&ch, d, cut, &used);
    if (rc == KY_CHAN_NEED_MORE && used != 0) fail("hello: NEED_MORE consumed bytes", rc);
    if (rc == KY_CHAN_NEED_MORE) rc = ky_chan_server_read_hello(&ch, d, n, &used);
    if (rc == KY_CHAN_NEED_MORE && used != 0) fail("hello: NEED_MORE consumed bytes", rc);
    if (used > n) fail("hello: used beyond the input", rc);
    if (rc == KY_OK) {
        uint8_t out[KY_CHAN_REPLY_BYTES_MAX];
        size_t out_len = 0;
        must(ky_chan_server_reply(&ch, server_e, out, sizeof out, &out_len), "reply after hello");
        if (out_len > sizeof out) fail("reply longer than its buffer", (int)out_len);
    }
    ky_chan_wipe(&ch);
}

/* Mode 1: the initiator reads message 2. */
static void client_finish(const uint8_t *d, size_t n) {
    ky_chan ch = client_sent;
    size_t used = 0;
    int rc = ky_chan_client_finish(&ch, d, n, &used);
    if (rc == KY_CHAN_NEED_MORE && used != 0) fail("finish: NEED_MORE consumed bytes", rc);
    if (used > n) fail("finish: used beyond the input", rc);
    ky_chan_wipe(&ch);
}

/* Mode 2: open records until an error or no progress, with a small plaintext buffer. */
static void open_records(uint8_t param, const uint8_t *d, size_t n) {
    ky_chan ch = server_up;
    size_t cap = param == 255 ? KY_CHAN_RECORD_PLAIN_BYTES_MAX : (size_t)param * 16u;
    uint8_t *plain = malloc(cap ? cap : 1); /* exact size: ASan guards the end */
    if (plain == NULL) abort();
    size_t off = 0;
    for (;;) {
        size_t used = 0, plain_len = 0;
        int rc = ky_chan_open(&ch, d + off, n - off, &used, plain, cap, &plain_len);
        if (used > n - off || plain_len > cap) fail("open: beyond input or buffer", rc);
        if (rc != KY_OK || used == 0) break;
        off += used;
    }
    free(plain);
    ky_chan_wipe(&ch);
}

/* Mode 3: seal with the initiator, open with the responder; optionally flip one byte. */
static void round_trip(uint8_t param, const uint8_t *d, size_t n) {
    const uint8_t *plain = d;
    if (param & 0x02) { /* repeat the data past two record boundaries */
        for (size_t i = 0; i < PLAIN_BIG_BYTES; i++) plain_big[i] = n ? d[i % n] : (uint8_t)i;
        plain = plain_big;
        n = PLAIN_BIG_BYTES;
    }
    ky_chan tx = client_up, rx = server_up;
    uint64_t rekey = (param & 0x04) ? 1u + (param >> 6) : KY_CHAN_REKEY_RECORDS_DEFAULT;
    tx.rekey_interval_records = rx.rekey_interval_records = rekey; /* both ends agree */
    size_t sealed_cap = ky_chan_sealed_bytes(n), sealed_len = 0;
    uint8_t *sealed = malloc(sealed_cap ? sealed_cap : 1), *out = malloc(n ? n : 1);
    if (sealed == NULL || out == NULL) abort();
    must(ky_chan_seal(&tx, plain, n, sealed, sealed_cap, &sealed_len), "seal");
    if (sealed_len != sealed_cap) fail("seal: length differs from ky_chan_sealed_bytes", 0);
    bool tampered = (param & 0x01) && sealed_len > 0;
    if (tampered) sealed[((size_t)param * 7919u + n) % sealed_len] ^= 0x20;
    size_t used = 0, out_len = 0;
    int rc = ky_chan_open(&rx, sealed, sealed_len, &used, out, n, &out_len);
    if (used > sealed_len || out_len > n) fail("round trip: beyond input or buffer", rc);
    if (!tampered && (rc != KY_OK || used != sealed_len || out_len != n))
        fail("round trip: not everything opened", rc);
    if (out_len > 0 && memcmp(out, plain, out_len) != 0) /* records opened before any error */
        fail("round trip: plaintext differs", rc);
    if (tampered && rc == KY_OK && out_len == n && used == sealed_len)
        fail("round trip: tampered records opened", rc);
    free(sealed);
    free(out);
    ky_chan_wipe(&tx);
    ky_chan_wipe(&rx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t mode = data[0] % MODE_COUNT, param = data[1];
    const uint8_t *d = data + 2; /* one past the end when n is 0: valid, never read */
    size_t n = size - 2;
    switch (mode) {
    case MODE_SERVER_HELLO: server_hello(param, d, n); break;
    case MODE_CLIENT_FINISH: client_finish(d, n); break;
    case MODE_OPEN: open_records(param, d, n); break;
    default: round_trip(param, d, n); break;
    }
    return 0;
}
