/*
 * test_noise.c — the Noise core (secure/noise.h): HKDF, CipherState, HandshakeState.
 *
 * Goal: our Noise implementation produces exactly the bytes three independent
 * implementations produced (cacophony, snow, noise-c) for Noise_{XX,IK}_25519_
 * {AESGCM,ChaChaPoly}_SHA256, and it refuses every tampered, misdirected, exhausted or
 * over-limit input with its specific code.
 * Method:
 *   1. Every vector of noise/noise_{cacophony,snow,noise_c}_selected.json is replayed
 *      from both sides with the vector's ephemerals injected: each handshake ciphertext
 *      is compared byte for byte and decrypted back to its payload, handshake_hash (when
 *      present) is compared on both sides, then the transport messages after Split. The
 *      AESGCM vectors are a separate test that is reported as SKIPPED, with the reason,
 *      on a CPU without AES-NI.
 *   2. HKDF-SHA256 against RFC 5869 A.1-A.3 (PRK and OKM) and every Wycheproof case
 *      (invalid = output longer than 255 * 32 bytes must be refused).
 *   3. Rekey (both sides -> still decrypts; one side -> fails; the new key equals the
 *      spec's formula computed with libsodium directly), nonce exhaustion at 2^64-1, the
 *      nonce byte order at a large n, every byte of every handshake message tampered,
 *      a wrong pinned responder key, low-order keys, limits at max and max + 1, and calls
 *      in the wrong state.
 * Vectors come from $KY_VECTORS; the test fails loudly if it is unset or a file is
 * missing. Each test prints how many checks it made.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <sodium.h>

#include "../../common/ky_err.h"
#include "../../secure/noise.h"

static unsigned g_checks; /* checks made by the running test, printed at its end */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        g_checks++;                                                                                \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                        \
    } while (0)

#define BUF_BYTES (KY_NOISE_MSG_BYTES_MAX + 64u)

static uint8_t g_msg[BUF_BYTES];   /* a message on the wire */
static uint8_t g_plain[BUF_BYTES]; /* a payload or plaintext read back */
static uint8_t g_want[BUF_BYTES];  /* an expected value from a vector */
static uint8_t g_data[BUF_BYTES];  /* a payload to send */

/* ---- vector files and JSON ------------------------------------------------------------ */

static cJSON *load_json(const char *rel) {
    const char *dir = getenv("KY_VECTORS");
    if (dir == NULL || dir[0] == '\0')
        fail_msg("KY_VECTORS is not set: point it at the shared/vectors directory");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "rb");
    if (f == NULL) fail_msg("cannot open vector file %s", path);
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int too_big = !feof(f);
    fclose(f);
    if (too_big) fail_msg("vector file %s larger than the test's buffer", path);
    buf[n] = '\0';
    cJSON *j = cJSON_Parse(buf);
    if (j == NULL) fail_msg("vector file %s is not JSON", path);
    return j;
}

static const cJSON *field(const cJSON *o, const char *name) {
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);
    if (f == NULL) fail_msg("vector lacks field \"%s\"", name);
    return f;
}

static const char *str_field(const cJSON *o, const char *name) {
    const cJSON *f = field(o, name);
    if (!cJSON_IsString(f)) fail_msg("field \"%s\" is not a string", name);
    return f->valuestring;
}

static size_t int_field(const cJSON *o, const char *name) {
    const cJSON *f = field(o, name);
    if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 1e9 ||
        (double)(size_t)f->valuedouble != f->valuedouble)
        fail_msg("field \"%s\" is not a small non-negative integer", name);
    return (size_t)f->valuedouble;
}

/* Decodes hex into out; returns the length, fails on bad input. */
static size_t hex(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    if (sodium_hex2bin(out, cap, s, strlen(s), NULL, &n, NULL) != 0 || n * 2 != strlen(s))
        fail_msg("cannot decode hex \"%.40s...\"", s);
    return n;
}

static void hex_key(const cJSON *o, const char *name, uint8_t out[32]) {
    if (hex(str_field(o, name), out, 32) != 32) fail_msg("field \"%s\" is not 32 bytes", name);
}

/* ---- handshake helpers ---------------------------------------------------------------- */

typedef struct party {
    ky_noise_handshake hs;
    ky_noise_cipherstate tx, rx;
    uint8_t hash[KY_NOISE_HASH_BYTES];
} party;

static party g_i, g_r;    /* initiator and responder */
static size_t g_last_len; /* length of the last message hs_step sent */

static const char *cipher_name(ky_noise_cipher c) {
    return c == KY_NOISE_AESGCM ? "AESGCM" : "ChaChaPoly";
}

static void public_of(const uint8_t sk[32], uint8_t pk[32]) {
    if (crypto_scalarmult_curve25519_base(pk, sk) != 0) fail_msg("bad test key");
}

/* Fixed keys for generated handshakes (not from vectors), so failures reproduce. */
static void fixed_key(uint8_t out[32], uint8_t tag) {
    for (unsigned i = 0; i < 32; i++) out[i] = (uint8_t)(tag * 31u + i * 7u + 1u);
}

typedef struct hs_keys {
    uint8_t is[32], rs[32], ie[32], re[32]; /* secrets */
    uint8_t rs_pk[32];                      /* responder's public static */
} hs_keys;

static void keys_default(hs_keys *k) {
    fixed_key(k->is, 1);
    fixed_key(k->rs, 2);
    fixed_key(k->ie, 3);
    fixed_key(k->re, 4);
    public_of(k->rs, k->rs_pk);
}

/* Initialises both parties. pinned: the responder key the IK initiator pins. */
static void parties_init(ky_noise_pattern p, ky_noise_cipher c, const hs_keys *k,
                         const uint8_t *pinned) {
    static const uint8_t prologue[] = {'k', 'y'};
    ky_noise_hs_config ci = {p, c, true, prologue, sizeof prologue, k->is, NULL, k->ie};
    ky_noise_hs_config cr = {p, c, false, prologue, sizeof prologue, k->rs, NULL, k->re};
    if (p == KY_NOISE_IK) ci.remote_static_pk = pinned != NULL ? pinned : k->rs_pk;
    CHECK(ky_noise_hs_init(&g_i.hs, &ci) == KY_OK, "initiator init");
    CHECK(ky_noise_hs_init(&g_r.hs, &cr) == KY_OK, "responder init");
}

static unsigned pattern_messages(ky_noise_pattern p) {
    return p == KY_NOISE_IK ? 2u : 3u;
}

/* Sends handshake message i (payload of payload_bytes) from its writer to its reader.
 * Returns the reader's code; the writer must succeed. */
static int hs_step(unsigned i, size_t payload_bytes, int flip_at) {
    party *w = i % 2 == 0 ? &g_i : &g_r, *r = i % 2 == 0 ? &g_r : &g_i;
    for (size_t j = 0; j < payload_bytes; j++) g_data[j] = (uint8_t)(i + j);
    size_t len = 0, plen = 0;
    CHECK(ky_noise_hs_my_turn(&w->hs) && !ky_noise_hs_my_turn(&r->hs), "turn of message %u", i);
    CHECK(ky_noise_hs_write(&w->hs, g_data, payload_bytes, g_msg, sizeof g_msg, &len) == KY_OK,
          "write message %u", i);
    g_last_len = len;
    if (flip_at >= 0) g_msg[flip_at] ^= 0x01;
    int rc = ky_noise_hs_read(&r->hs, g_msg, len, g_plain, sizeof g_plain, &plen);
    if (rc == KY_OK && flip_at < 0)
        CHECK(plen == payload_bytes && memcmp(g_plain, g_data, plen) == 0, "payload %u", i);
    return rc;
}

static void split_both(void) {
    CHECK(ky_noise_hs_split(&g_i.hs, &g_i.tx, &g_i.rx, g_i.hash) == KY_OK, "initiator split");
    CHECK(ky_noise_hs_split(&g_r.hs, &g_r.tx, &g_r.rx, g_r.hash) == KY_OK, "responder split");
    CHECK(memcmp(g_i.hash, g_r.hash, 32) == 0, "handshake hashes agree");
}

/* A complete handshake with the default keys. */
static void handshake(ky_noise_pattern p, ky_noise_cipher c) {
    hs_keys k;
    keys_default(&k);
    parties_init(p, c, &k, NULL);
    for (unsigned i = 0; i < pattern_messages(p); i++)
        CHECK(hs_step(i, 5, -1) == KY_OK, "message %u", i);
    split_both();
}

static bool aes_or_skip(const char *what) {
    if (ky_noise_cipher_available(KY_NOISE_AESGCM)) return true;
    print_message("SKIPPED %s: AES-256-GCM unavailable (no AES-NI; "
                  "crypto_aead_aes256gcm_is_available() == 0)\n",
                  what);
    return false;
}

/* ---- 1. vectors ----------------------------------------------------------------------- */

static bool parse_name(const char *name, ky_noise_pattern *p, ky_noise_cipher *c) {
    static const ky_noise_pattern ps[] = {KY_NOISE_IK, KY_NOISE_XX};
    static const ky_noise_cipher cs[] = {KY_NOISE_AESGCM, KY_NOISE_CHACHAPOLY};
    for (unsigned i = 0; i < 2; i++)
        for (unsigned j = 0; j < 2; j++)
            if (strcmp(ky_noise_protocol_name(ps[i], cs[j]), name) == 0) {
                *p = ps[i];
                *c = cs[j];
                return true;
            }
    return false;
}

static void vector_init(const cJSON *v, ky_noise_pattern p, ky_noise_cipher c) {
    uint8_t is[32], rs[32], ie[32], re[32], pin[32], rs_pk[32];
    static uint8_t ipro[1024], rpro[1024];
    hex_key(v, "init_static", is);
    hex_key(v, "resp_static", rs);
    hex_key(v, "init_ephemeral", ie);
    hex_key(v, "resp_ephemeral", re);
    size_t ipro_len = hex(str_field(v, "init_prologue"), ipro, sizeof ipro);
    size_t rpro_len = hex(str_field(v, "resp_prologue"), rpro, sizeof rpro);
    ky_noise_hs_config ci = {p, c, true, ipro, ipro_len, is, NULL, ie};
    ky_noise_hs_config cr = {p, c, false, rpro, rpro_len, rs, NULL, re};
    if (p == KY_NOISE_IK) {
        hex_key(v, "init_remote_static", pin);
        public_of(rs, rs_pk);
        CHECK(memcmp(pin, rs_pk, 32) == 0, "init_remote_static is resp_static's public key");
        ci.remote_static_pk = pin;
    }
    CHECK(ky_noise_hs_init(&g_i.hs, &ci) == KY_OK, "initiator init");
    CHECK(ky_noise_hs_init(&g_r.hs, &cr) == KY_OK, "responder init");
}

/* One message of a vector: handshake (i < hs_count) or transport, sent and received. */
static void vector_message(const cJSON *m, unsigned i, unsigned hs_count, const char *name) {
    party *w = i % 2 == 0 ? &g_i : &g_r, *r = i % 2 == 0 ? &g_r : &g_i;
    size_t pay_len = hex(str_field(m, "payload"), g_data, sizeof g_data);
    size_t want_len = hex(str_field(m, "ciphertext"), g_want, sizeof g_want);
    size_t len = 0, plen = 0;
    int rc;
    if (i < hs_count) {
        CHECK(ky_noise_hs_my_turn(&w->hs), "%s message %u: writer's turn", name, i);
        rc = ky_noise_hs_write(&w->hs, g_data, pay_len, g_msg, sizeof g_msg, &len);
    } else {
        rc = ky_noise_cs_encrypt(&w->tx, NULL, 0, g_data, pay_len, g_msg, sizeof g_msg, &len);
    }
    CHECK(rc == KY_OK, "%s message %u: write %s", name, i, ky_errname(rc));
    CHECK(len == want_len && memcmp(g_msg, g_want, len) == 0, "%s message %u: ciphertext", name, i);
    if (i < hs_count)
        rc = ky_noise_hs_read(&r->hs, g_msg, len, g_plain, sizeof g_plain, &plen);
    else
        rc = ky_noise_cs_decrypt(&r->rx, NULL, 0, g_msg, len, g_plain, sizeof g_plain, &plen);
    CHECK(rc == KY_OK, "%s message %u: read %s", name, i, ky_errname(rc));
    CHECK(plen == pay_len && memcmp(g_plain, g_data, plen) == 0, "%s message %u: payload", name, i);
}

static void vector_split(const cJSON *v, const char *name) {
    CHECK(g_i.hs.state == KY_NOISE_HS_DONE && g_r.hs.state == KY_NOISE_HS_DONE, "%s: done", name);
    split_both();
    const cJSON *hh = cJSON_GetObjectItemCaseSensitive(v, "handshake_hash");
    if (hh == NULL) return; /* snow's vectors carry none */
    uint8_t want[32];
    hex_key(v, "handshake_hash", want);
    CHECK(memcmp(g_i.hash, want, 32) == 0, "%s: initiator handshake_hash", name);
    CHECK(memcmp(g_r.hash, want, 32) == 0, "%s: responder handshake_hash", name);
}

/* Replays v if it uses cipher; returns whether it did. */
static bool replay_vector(const cJSON *v, ky_noise_cipher cipher) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(v, "protocol_name");
    const char *name = n != NULL ? str_field(v, "protocol_name") : str_field(v, "name");
    ky_noise_pattern p = KY_NOISE_IK;
    ky_noise_cipher c = KY_NOISE_CHACHAPOLY;
    if (!parse_name(name, &p, &c)) fail_msg("unexpected protocol name %s", name);
    if (c != cipher) return false;
    vector_init(v, p, c);
    const cJSON *msgs = field(v, "messages");
    unsigned hs_count = pattern_messages(p), i = 0;
    CHECK(cJSON_GetArraySize(msgs) > (int)hs_count, "%s: has transport messages", name);
    for (const cJSON *m = msgs->child; m != NULL; m = m->next, i++) {
        if (i == hs_count) vector_split(v, name);
        vector_message(m, i, hs_count, name);
    }
    ky_noise_hs_wipe(&g_i.hs);
    ky_noise_hs_wipe(&g_r.hs);
    return true;
}

static void replay_files(ky_noise_cipher cipher) {
    static const char *files[] = {"noise/noise_cacophony_selected.json",
                                  "noise/noise_snow_selected.json",
                                  "noise/noise_noise_c_selected.json"};
    unsigned replayed = 0;
    g_checks = 0;
    for (unsigned f = 0; f < 3; f++) {
        cJSON *j = load_json(files[f]);
        unsigned here = 0;
        for (const cJSON *v = field(j, "vectors")->child; v != NULL; v = v->next)
            here += replay_vector(v, cipher);
        CHECK(here == 2, "%s: %u %s vectors, want 2 (XX and IK)", files[f], here,
              cipher_name(cipher));
        replayed += here;
        cJSON_Delete(j);
    }
    print_message("%s: %u vectors (XX, IK from cacophony, snow, noise-c) replayed, %u checks\n",
                  cipher_name(cipher), replayed, g_checks);
}

static void test_vectors_chachapoly(void **state) {
    (void)state;
    replay_files(KY_NOISE_CHACHAPOLY);
}

static void test_vectors_aesgcm(void **state) {
    (void)state;
    if (!aes_or_skip("the 6 AESGCM Noise vectors")) skip();
    replay_files(KY_NOISE_AESGCM);
}

/* ---- 2. HKDF -------------------------------------------------------------------------- */

static void test_hkdf_rfc5869(void **state) {
    (void)state;
    g_checks = 0;
    cJSON *j = load_json("hkdf/hkdf_sha256_rfc5869.json");
    static uint8_t ikm[256], salt[256], info[256], prk[32], okm[512];
    for (const cJSON *v = field(j, "vectors")->child; v != NULL; v = v->next) {
        const char *name = str_field(v, "name");
        size_t ikm_len = hex(str_field(v, "ikm"), ikm, sizeof ikm);
        size_t salt_len = hex(str_field(v, "salt"), salt, sizeof salt);
        size_t info_len = hex(str_field(v, "info"), info, sizeof info);
        size_t len = int_field(v, "length");
        ky_hkdf_sha256_extract(salt_len ? salt : NULL, salt_len, ikm, ikm_len, prk);
        hex_key(v, "prk", g_want);
        CHECK(memcmp(prk, g_want, 32) == 0, "%s: PRK", name);
        CHECK(ky_hkdf_sha256(salt_len ? salt : NULL, salt_len, ikm, ikm_len, info_len ? info : NULL,
                             info_len, okm, len) == KY_OK,
              "%s: HKDF", name);
        CHECK(hex(str_field(v, "okm"), g_want, sizeof g_want) == len, "%s: okm length", name);
        CHECK(memcmp(okm, g_want, len) == 0, "%s: OKM", name);
        memset(okm, 0, sizeof okm);
        CHECK(ky_hkdf_sha256_expand(prk, info, info_len, okm, len) == KY_OK, "%s: expand", name);
        CHECK(memcmp(okm, g_want, len) == 0, "%s: OKM via expand", name);
    }
    cJSON_Delete(j);
    print_message("RFC 5869 A.1-A.3: %u checks\n", g_checks);
}

static void test_hkdf_wycheproof(void **state) {
    (void)state;
    g_checks = 0;
    cJSON *j = load_json("hkdf/wycheproof_hkdf_sha256_test.json");
    static uint8_t ikm[1024], salt[1024], info[1024], okm[KY_HKDF_SHA256_BYTES_MAX + 8];
    unsigned valid = 0, invalid = 0;
    for (const cJSON *g = field(j, "testGroups")->child; g != NULL; g = g->next) {
        for (const cJSON *t = field(g, "tests")->child; t != NULL; t = t->next) {
            size_t id = int_field(t, "tcId"), size = int_field(t, "size");
            size_t ikm_len = hex(str_field(t, "ikm"), ikm, sizeof ikm);
            size_t salt_len = hex(str_field(t, "salt"), salt, sizeof salt);
            size_t info_len = hex(str_field(t, "info"), info, sizeof info);
            bool ok = strcmp(str_field(t, "result"), "valid") == 0;
            if (size > sizeof okm) fail_msg("tcId %zu: size %zu beyond the test buffer", id, size);
            int rc = ky_hkdf_sha256(salt, salt_len, ikm, ikm_len, info, info_len, okm, size);
            if (!ok) {
                CHECK(rc == KY_E_INVALID_ARG && size > KY_HKDF_SHA256_BYTES_MAX,
                      "tcId %zu: size %zu must be refused", id, size);
                invalid++;
                continue;
            }
            CHECK(rc == KY_OK, "tcId %zu: %s", id, ky_errname(rc));
            CHECK(hex(str_field(t, "okm"), g_want, sizeof g_want) == size, "tcId %zu", id);
            CHECK(memcmp(okm, g_want, size) == 0, "tcId %zu: OKM", id);
            valid++;
        }
    }
    cJSON_Delete(j);
    CHECK(valid == 83 && invalid == 3, "wycheproof: %u valid, %u invalid", valid, invalid);
    /* The limit itself, at max and max + 1, and an empty output. */
    CHECK(ky_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm, KY_HKDF_SHA256_BYTES_MAX) == KY_OK,
          "8160 bytes");
    CHECK(ky_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm, KY_HKDF_SHA256_BYTES_MAX + 1) ==
              KY_E_INVALID_ARG,
          "8161 bytes");
    CHECK(ky_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, NULL, 0) == KY_OK, "0 bytes");
    print_message("Wycheproof HKDF-SHA256: %u valid, %u invalid (size > 8160) cases, %u checks\n",
                  valid, invalid, g_checks);
}

/* ---- 3. behaviour --------------------------------------------------------------------- */

static ky_noise_cipher g_aesgcm = KY_NOISE_AESGCM, g_chachapoly = KY_NOISE_CHACHAPOLY;

/* The cipher a per-cipher test runs with; skips the AESGCM run without AES-NI. */
static ky_noise_cipher cipher_of(void **state) {
    ky_noise_cipher c = *(const ky_noise_cipher *)*state;
    if (c == KY_NOISE_AESGCM && !aes_or_skip("this AESGCM run")) skip();
    g_checks = 0;
    return c;
}

/* ENCRYPT(k, n, empty ad, plain) straight from libsodium, with the nonce built here. */
static void reference_encrypt(ky_noise_cipher c, const uint8_t k[32], uint64_t n,
                              const uint8_t *plain, size_t len, uint8_t *out) {
    uint8_t nonce[12] = {0};
    for (unsigned i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(n >> (8 * i));
        if (c == KY_NOISE_AESGCM)
            nonce[11 - i] = b; /* big-endian */
        else
            nonce[4 + i] = b; /* little-endian */
    }
    unsigned long long out_len = 0;
    int rc = c == KY_NOISE_AESGCM
                 ? crypto_aead_aes256gcm_encrypt(out, &out_len, plain, len, NULL, 0, NULL, nonce, k)
                 : crypto_aead_chacha20poly1305_ietf_encrypt(out, &out_len, plain, len, NULL, 0,
                                                             NULL, nonce, k);
    if (rc != 0 || out_len != len + 16) fail_msg("reference encrypt failed");
}

/* One transport message from w's tx to r's rx; returns r's code. */
static int send_one(ky_noise_cipherstate *tx, ky_noise_cipherstate *rx, uint8_t tag) {
    size_t len = 0, plen = 0;
    for (unsigned j = 0; j < 40; j++) g_data[j] = (uint8_t)(tag + j);
    CHECK(ky_noise_cs_encrypt(tx, NULL, 0, g_data, 40, g_msg, sizeof g_msg, &len) == KY_OK,
          "encrypt");
    int rc = ky_noise_cs_decrypt(rx, NULL, 0, g_msg, len, g_plain, sizeof g_plain, &plen);
    if (rc == KY_OK) CHECK(plen == 40 && memcmp(g_plain, g_data, 40) == 0, "round trip");
    return rc;
}

static void test_rekey(void **state) {
    ky_noise_cipher c = cipher_of(state);
    handshake(KY_NOISE_XX, c);
    CHECK(send_one(&g_i.tx, &g_r.rx, 1) == KY_OK, "before rekey");
    /* The new key is the first 32 bytes of ENCRYPT(k, 2^64-1, "", zeros) (§11.3). */
    uint8_t old[32], zeros[32] = {0}, want[48];
    memcpy(old, g_i.tx.k, 32);
    reference_encrypt(c, old, UINT64_MAX, zeros, 32, want);
    uint64_t n = g_i.tx.n;
    CHECK(ky_noise_cs_rekey(&g_i.tx) == KY_OK && ky_noise_cs_rekey(&g_r.rx) == KY_OK, "rekey");
    CHECK(memcmp(g_i.tx.k, want, 32) == 0, "rekeyed k is ENCRYPT(k, maxnonce, zeros)[0..32]");
    CHECK(g_i.tx.n == n && g_r.rx.n == n, "rekey keeps n");
    CHECK(send_one(&g_i.tx, &g_r.rx, 2) == KY_OK, "both rekeyed: still decrypts");
    CHECK(ky_noise_cs_rekey(&g_i.tx) == KY_OK, "sender alone rekeys");
    size_t len = 0, plen = 0;
    CHECK(ky_noise_cs_encrypt(&g_i.tx, NULL, 0, g_data, 9, g_msg, sizeof g_msg, &len) == KY_OK,
          "encrypt");
    n = g_r.rx.n;
    CHECK(ky_noise_cs_decrypt(&g_r.rx, NULL, 0, g_msg, len, g_plain, sizeof g_plain, &plen) ==
              KY_E_DECRYPT_FAILED,
          "one side rekeyed: fails");
    CHECK(g_r.rx.n == n, "a failed decrypt keeps n");
    CHECK(ky_noise_cs_rekey(&g_r.rx) == KY_OK, "receiver catches up");
    CHECK(ky_noise_cs_decrypt(&g_r.rx, NULL, 0, g_msg, len, g_plain, sizeof g_plain, &plen) ==
              KY_OK,
          "same message decrypts after the receiver's rekey");
    CHECK(send_one(&g_r.tx, &g_i.rx, 3) == KY_OK, "other direction untouched");
    ky_noise_cipherstate empty;
    CHECK(ky_noise_cs_init(&empty, c, NULL) == KY_OK &&
              ky_noise_cs_rekey(&empty) == KY_E_INVALID_ARG,
          "rekey without a key");
    print_message("%s rekey: %u checks\n", cipher_name(c), g_checks);
}

static void test_nonce(void **state) {
    ky_noise_cipher c = cipher_of(state);
    ky_noise_cipherstate tx, rx;
    uint8_t k[32], want[64];
    fixed_key(k, 7);
    CHECK(ky_noise_cs_init(&tx, c, k) == KY_OK && ky_noise_cs_init(&rx, c, k) == KY_OK, "init");
    /* Byte order of n inside the nonce, at an n where every byte differs. */
    const uint64_t n = 0x0102030405060708ull;
    ky_noise_cs_set_nonce(&tx, n);
    ky_noise_cs_set_nonce(&rx, n);
    static const uint8_t abc[3] = {'a', 'b', 'c'};
    size_t len = 0, plen = 0;
    CHECK(ky_noise_cs_encrypt(&tx, NULL, 0, abc, 3, g_msg, sizeof g_msg, &len) == KY_OK, "enc");
    reference_encrypt(c, k, n, abc, 3, want);
    CHECK(len == 19 && memcmp(g_msg, want, 19) == 0, "nonce layout at n = 0x0102030405060708");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, len, g_plain, 64, &plen) == KY_OK, "dec");
    /* 2^64-2 is the last usable nonce; 2^64-1 is refused on both sides. */
    ky_noise_cs_set_nonce(&tx, UINT64_MAX - 1);
    ky_noise_cs_set_nonce(&rx, UINT64_MAX - 1);
    CHECK(send_one(&tx, &rx, 4) == KY_OK, "nonce 2^64-2 works");
    CHECK(tx.n == UINT64_MAX && rx.n == UINT64_MAX, "n reached 2^64-1");
    CHECK(ky_noise_cs_encrypt(&tx, NULL, 0, abc, 3, g_msg, sizeof g_msg, &len) ==
                  KY_E_NONCE_EXHAUSTED &&
              len == 0 && tx.n == UINT64_MAX,
          "encrypt at 2^64-1 refused");
    reference_encrypt(c, k, UINT64_MAX, abc, 3, want);
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, want, 19, g_plain, 64, &plen) == KY_E_NONCE_EXHAUSTED,
          "decrypt at 2^64-1 refused, even of an authentic message");
    ky_noise_cipherstate empty;
    CHECK(ky_noise_cs_init(&empty, c, NULL) == KY_OK, "empty");
    ky_noise_cs_set_nonce(&empty, UINT64_MAX);
    CHECK(ky_noise_cs_encrypt(&empty, NULL, 0, abc, 3, g_msg, 64, &len) == KY_OK && len == 3 &&
              memcmp(g_msg, abc, 3) == 0,
          "no key: identity, no nonce used");
    ky_noise_cs_wipe(&tx);
    static const ky_noise_cipherstate zero;
    CHECK(memcmp(&tx, &zero, sizeof tx) == 0, "cs wipe zeroes");
    ky_noise_cs_wipe(&rx);
    print_message("%s nonces: %u checks\n", cipher_name(c), g_checks);
}

/* Flips each byte of each handshake message in turn; the handshake must fail with
 * KY_E_HANDSHAKE_FAILED at the reader of that message, or, for XX message 0 (sent before
 * any key exists), at the reader of message 1, whose hash then differs. */
static void tamper_pattern(ky_noise_pattern p, ky_noise_cipher c, unsigned *flips) {
    hs_keys k;
    keys_default(&k);
    size_t lens[KY_NOISE_HS_MESSAGES_MAX];
    /* Message sizes with a 5-byte payload, from the token lists (§7.5). */
    static const size_t ik[] = {32 + 48 + 5 + 16, 32 + 5 + 16};
    static const size_t xx[] = {32 + 5, 32 + 48 + 5 + 16, 48 + 5 + 16};
    parties_init(p, c, &k, NULL);
    for (unsigned i = 0; i < pattern_messages(p); i++) {
        CHECK(hs_step(i, 5, -1) == KY_OK, "clean handshake");
        lens[i] = g_last_len;
        CHECK(lens[i] == (p == KY_NOISE_IK ? ik[i] : xx[i]), "message %u size %zu", i, lens[i]);
    }
    for (unsigned m = 0; m < pattern_messages(p); m++) {
        for (size_t j = 0; j < lens[m]; j++) {
            parties_init(p, c, &k, NULL);
            for (unsigned i = 0; i < m; i++) CHECK(hs_step(i, 5, -1) == KY_OK, "clean message");
            party *reader = m % 2 == 0 ? &g_r : &g_i;
            int rc = hs_step(m, 5, (int)j);
            if (rc == KY_OK) {
                CHECK(p == KY_NOISE_XX && m == 0, "message %u byte %zu undetected", m, j);
                rc = hs_step(m + 1, 5, -1);
                reader = &g_i;
            }
            CHECK(rc == KY_E_HANDSHAKE_FAILED, "message %u byte %zu: %s", m, j, ky_errname(rc));
            CHECK(reader->hs.state == KY_NOISE_HS_FAILED, "reader FAILED");
            size_t len = 0;
            CHECK(ky_noise_hs_read(&reader->hs, g_msg, 64, g_plain, 64, &len) == KY_E_INVALID_ARG,
                  "read refused after failure");
            CHECK(ky_noise_hs_write(&reader->hs, NULL, 0, g_msg, 64, &len) == KY_E_INVALID_ARG,
                  "write refused after failure");
            CHECK(ky_noise_hs_split(&reader->hs, &reader->tx, &reader->rx, NULL) ==
                      KY_E_INVALID_ARG,
                  "split refused after failure");
            CHECK(sodium_is_zero(reader->hs.s_sk, 32) && sodium_is_zero(reader->hs.ss.ck, 32),
                  "secrets wiped on failure");
            (*flips)++;
        }
    }
}

static void test_tamper(void **state) {
    ky_noise_cipher c = cipher_of(state);
    unsigned flips = 0;
    tamper_pattern(KY_NOISE_IK, c, &flips);
    tamper_pattern(KY_NOISE_XX, c, &flips);
    print_message("%s: %u single-byte tamperings of IK and XX handshake messages all fail, "
                  "%u checks\n",
                  cipher_name(c), flips, g_checks);
}

static void test_wrong_key_and_low_order(void **state) {
    ky_noise_cipher c = cipher_of(state);
    hs_keys k;
    keys_default(&k);
    uint8_t other_sk[32], other_pk[32];
    fixed_key(other_sk, 9);
    public_of(other_sk, other_pk);
    parties_init(KY_NOISE_IK, c, &k, other_pk);
    CHECK(hs_step(0, 0, -1) == KY_E_HANDSHAKE_FAILED, "IK: wrong pinned key fails message 1");
    CHECK(g_r.hs.state == KY_NOISE_HS_FAILED, "responder FAILED");
    /* Low-order ephemerals (u = 0 and u = 1) give an all-zero DH output. */
    for (uint8_t u = 0; u <= 1; u++) {
        size_t len = 0, plen = 0;
        parties_init(KY_NOISE_IK, c, &k, NULL);
        CHECK(ky_noise_hs_write(&g_i.hs, NULL, 0, g_msg, sizeof g_msg, &len) == KY_OK, "write");
        memset(g_msg, 0, 32);
        g_msg[0] = u;
        CHECK(ky_noise_hs_read(&g_r.hs, g_msg, len, g_plain, 64, &plen) == KY_E_HANDSHAKE_FAILED,
              "IK: low-order e (u = %u) refused at es", u);
        parties_init(KY_NOISE_XX, c, &k, NULL);
        CHECK(ky_noise_hs_write(&g_i.hs, NULL, 0, g_msg, sizeof g_msg, &len) == KY_OK, "write");
        memset(g_msg, 0, 32);
        g_msg[0] = u;
        CHECK(ky_noise_hs_read(&g_r.hs, g_msg, len, g_plain, 64, &plen) == KY_OK, "XX msg 0");
        CHECK(ky_noise_hs_write(&g_r.hs, NULL, 0, g_msg, sizeof g_msg, &len) ==
                      KY_E_HANDSHAKE_FAILED &&
                  g_r.hs.state == KY_NOISE_HS_FAILED,
              "XX: low-order e (u = %u) refused at ee", u);
    }
    print_message("%s wrong pinned key, low-order keys: %u checks\n", cipher_name(c), g_checks);
}

static void limits_cipherstate(ky_noise_cipher c) {
    ky_noise_cipherstate tx, rx, empty;
    uint8_t k[32];
    size_t len = 0, plen = 0;
    fixed_key(k, 5);
    CHECK(ky_noise_cs_init(&tx, c, k) == KY_OK && ky_noise_cs_init(&rx, c, k) == KY_OK, "init");
    const size_t max = KY_NOISE_PLAIN_BYTES_MAX;
    CHECK(ky_noise_cs_encrypt(&tx, NULL, 0, g_data, max + 1, g_msg, sizeof g_msg, &len) ==
                  KY_E_INVALID_ARG &&
              tx.n == 0,
          "plaintext 65520 refused");
    CHECK(ky_noise_cs_encrypt(&tx, NULL, 0, g_data, max, g_msg, max + 15, &len) ==
              KY_E_BUFFER_TOO_SMALL,
          "cap one short");
    CHECK(ky_noise_cs_encrypt(&tx, NULL, 0, g_data, max, g_msg, max + 16, &len) == KY_OK &&
              len == KY_NOISE_MSG_BYTES_MAX,
          "plaintext 65519 -> 65535-byte message");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, len, g_plain, max - 1, &plen) ==
                  KY_E_BUFFER_TOO_SMALL &&
              rx.n == 0,
          "decrypt cap one short");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, len, g_plain, max, &plen) == KY_OK &&
              plen == max && memcmp(g_plain, g_data, max) == 0,
          "65535-byte message decrypts");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, KY_NOISE_MSG_BYTES_MAX + 1, g_plain,
                              sizeof g_plain, &plen) == KY_E_DECRYPT_FAILED,
          "65536-byte message refused");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, 15, g_plain, 64, &plen) == KY_E_DECRYPT_FAILED,
          "shorter than a tag");
    CHECK(ky_noise_cs_decrypt(&rx, NULL, 0, g_msg, 16, g_plain, 64, &plen) == KY_E_DECRYPT_FAILED,
          "a bare wrong tag");
    CHECK(ky_noise_cs_init(&empty, c, NULL) == KY_OK, "empty");
    CHECK(ky_noise_cs_encrypt(&empty, NULL, 0, g_data, 65535, g_msg, sizeof g_msg, &len) == KY_OK,
          "no key: 65535");
    CHECK(ky_noise_cs_encrypt(&empty, NULL, 0, g_data, 65536, g_msg, sizeof g_msg, &len) ==
              KY_E_INVALID_ARG,
          "no key: 65536");
}

/* Message 0 of XX carries no tag (32 + payload); of IK, 96 + payload. */
static void limits_handshake(ky_noise_pattern p, ky_noise_cipher c) {
    hs_keys k;
    keys_default(&k);
    size_t fixed = p == KY_NOISE_IK ? 96 : 32, max = KY_NOISE_MSG_BYTES_MAX - fixed;
    size_t len = 0, plen = 0;
    for (size_t j = 0; j < max + 1; j++) g_data[j] = (uint8_t)(j * 13);
    parties_init(p, c, &k, NULL);
    CHECK(ky_noise_hs_write(&g_i.hs, g_data, max + 1, g_msg, sizeof g_msg, &len) ==
              KY_E_INVALID_ARG,
          "message of 65536 bytes refused");
    CHECK(ky_noise_hs_write(&g_i.hs, g_data, max, g_msg, KY_NOISE_MSG_BYTES_MAX - 1, &len) ==
              KY_E_BUFFER_TOO_SMALL,
          "cap one short");
    CHECK(g_i.hs.state == KY_NOISE_HS_ACTIVE && !g_i.hs.has_e, "refusals left hs unchanged");
    CHECK(ky_noise_hs_write(&g_i.hs, g_data, max, g_msg, KY_NOISE_MSG_BYTES_MAX, &len) == KY_OK &&
              len == KY_NOISE_MSG_BYTES_MAX,
          "message of 65535 bytes");
    CHECK(ky_noise_hs_read(&g_r.hs, g_msg, len, g_plain, max - 1, &plen) == KY_E_BUFFER_TOO_SMALL &&
              g_r.hs.state == KY_NOISE_HS_ACTIVE && !g_r.hs.has_re,
          "payload cap one short leaves hs unchanged");
    CHECK(ky_noise_hs_read(&g_r.hs, g_msg, len, g_plain, max, &plen) == KY_OK && plen == max &&
              memcmp(g_plain, g_data, max) == 0,
          "65535-byte handshake message read");
    parties_init(p, c, &k, NULL);
    CHECK(ky_noise_hs_read(&g_r.hs, g_msg, KY_NOISE_MSG_BYTES_MAX + 1, g_plain, sizeof g_plain,
                           &plen) == KY_E_HANDSHAKE_FAILED,
          "65536-byte handshake message refused");
    parties_init(p, c, &k, NULL);
    CHECK(ky_noise_hs_read(&g_r.hs, g_msg, fixed - 1 + (p == KY_NOISE_IK ? 16 : 0), g_plain,
                           sizeof g_plain, &plen) == KY_E_HANDSHAKE_FAILED,
          "message one byte shorter than its tokens");
}

static void test_limits(void **state) {
    ky_noise_cipher c = cipher_of(state);
    limits_cipherstate(c);
    limits_handshake(KY_NOISE_XX, c);
    limits_handshake(KY_NOISE_IK, c);
    print_message("%s limits at max and max + 1: %u checks\n", cipher_name(c), g_checks);
}

static void misuse_init(void) {
    hs_keys k;
    keys_default(&k);
    ky_noise_handshake hs;
    ky_noise_hs_config ok = {KY_NOISE_IK, KY_NOISE_CHACHAPOLY, true, NULL, 0, k.is, k.rs_pk, NULL};
    ky_noise_hs_config bad = ok;
    bad.remote_static_pk = NULL;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "IK initiator without rs");
    CHECK(hs.state == KY_NOISE_HS_FAILED, "failed init");
    bad = ok;
    bad.pattern = KY_NOISE_XX;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "XX with a pre-known rs");
    bad = ok;
    bad.initiator = false;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "IK responder with rs");
    bad = ok;
    bad.cipher = (ky_noise_cipher)7;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "unknown cipher");
    bad = ok;
    bad.pattern = (ky_noise_pattern)9;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "unknown pattern");
    bad = ok;
    bad.local_static_sk = NULL;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "no static key");
    bad = ok;
    bad.prologue_bytes = 3;
    CHECK(ky_noise_hs_init(&hs, &bad) == KY_E_INVALID_ARG, "NULL prologue with a length");
    CHECK(ky_noise_protocol_name((ky_noise_pattern)3, KY_NOISE_AESGCM) == NULL &&
              ky_noise_protocol_name(KY_NOISE_XX, (ky_noise_cipher)0) == NULL,
          "unknown names");
    ky_noise_cipherstate cs;
    CHECK(ky_noise_cs_init(&cs, (ky_noise_cipher)3, k.is) == KY_E_INVALID_ARG, "cs: bad cipher");
    /* Fresh ephemerals differ from run to run. */
    uint8_t first[96];
    size_t len = 0;
    CHECK(ky_noise_hs_init(&hs, &ok) == KY_OK, "init");
    CHECK(ky_noise_hs_write(&hs, NULL, 0, first, sizeof first, &len) == KY_OK, "write");
    CHECK(ky_noise_hs_init(&hs, &ok) == KY_OK, "init");
    CHECK(ky_noise_hs_write(&hs, NULL, 0, g_msg, sizeof g_msg, &len) == KY_OK, "write");
    CHECK(memcmp(first, g_msg, 32) != 0, "random ephemerals differ");
    ky_noise_hs_wipe(&hs);
}

static void test_misuse(void **state) {
    (void)state;
    g_checks = 0;
    misuse_init();
    hs_keys k;
    keys_default(&k);
    size_t len = 0;
    parties_init(KY_NOISE_XX, KY_NOISE_CHACHAPOLY, &k, NULL);
    CHECK(ky_noise_hs_write(&g_r.hs, NULL, 0, g_msg, sizeof g_msg, &len) == KY_E_INVALID_ARG,
          "responder cannot write first");
    CHECK(ky_noise_hs_read(&g_i.hs, g_msg, 32, g_plain, 64, &len) == KY_E_INVALID_ARG,
          "initiator cannot read first");
    CHECK(ky_noise_hs_split(&g_i.hs, &g_i.tx, &g_i.rx, NULL) == KY_E_INVALID_ARG,
          "split before the end");
    CHECK(g_i.hs.state == KY_NOISE_HS_ACTIVE && g_r.hs.state == KY_NOISE_HS_ACTIVE,
          "wrong-turn calls change nothing");
    CHECK(hs_step(0, 3, -1) == KY_OK, "message 0");
    CHECK(ky_noise_hs_set_ephemeral(&g_i.hs, k.ie) == KY_E_INVALID_ARG, "e already used");
    CHECK(hs_step(1, 3, -1) == KY_OK && hs_step(2, 3, -1) == KY_OK, "messages 1, 2");
    CHECK(memcmp(g_r.hs.rs, g_i.hs.s_pk, 32) == 0 && memcmp(g_i.hs.rs, g_r.hs.s_pk, 32) == 0,
          "XX: both learnt the other's static key");
    split_both();
    CHECK(g_i.hs.state == KY_NOISE_HS_SPLIT, "SPLIT");
    CHECK(sodium_is_zero(g_i.hs.s_sk, 32) && sodium_is_zero(g_i.hs.e_sk, 32) &&
              sodium_is_zero(g_i.hs.ss.ck, 32) && !g_i.hs.ss.cs.has_key,
          "split wipes secrets");
    CHECK(ky_noise_hs_split(&g_i.hs, &g_i.tx, &g_i.rx, NULL) == KY_E_INVALID_ARG, "split twice");
    CHECK(ky_noise_hs_write(&g_i.hs, NULL, 0, g_msg, sizeof g_msg, &len) == KY_E_INVALID_ARG,
          "write after split");
    CHECK(send_one(&g_i.tx, &g_r.rx, 1) == KY_OK && send_one(&g_r.tx, &g_i.rx, 2) == KY_OK,
          "transport both ways");
    CHECK(send_one(&g_i.tx, &g_i.rx, 3) == KY_E_DECRYPT_FAILED, "directions have distinct keys");
    ky_noise_hs_wipe(&g_i.hs);
    static const ky_noise_handshake zero;
    CHECK(memcmp(&g_i.hs, &zero, sizeof zero) == 0, "hs wipe zeroes");
    print_message("argument and state misuse: %u checks\n", g_checks);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_chachapoly),
        cmocka_unit_test(test_vectors_aesgcm),
        cmocka_unit_test(test_hkdf_rfc5869),
        cmocka_unit_test(test_hkdf_wycheproof),
        cmocka_unit_test_prestate(test_rekey, &g_chachapoly),
        cmocka_unit_test_prestate(test_rekey, &g_aesgcm),
        cmocka_unit_test_prestate(test_nonce, &g_chachapoly),
        cmocka_unit_test_prestate(test_nonce, &g_aesgcm),
        cmocka_unit_test_prestate(test_tamper, &g_chachapoly),
        cmocka_unit_test_prestate(test_tamper, &g_aesgcm),
        cmocka_unit_test_prestate(test_wrong_key_and_low_order, &g_chachapoly),
        cmocka_unit_test_prestate(test_wrong_key_and_low_order, &g_aesgcm),
        cmocka_unit_test_prestate(test_limits, &g_chachapoly),
        cmocka_unit_test_prestate(test_limits, &g_aesgcm),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
