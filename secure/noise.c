/*
 * noise.c — Noise Protocol Framework core (revision 34) from libsodium primitives.
 *
 * Written from the specification text; section numbers in comments are its sections.
 * Owns nothing but the caller's structs; never allocates, never prints. See noise.h for
 * the contracts and the handshake state diagram.
 *
 * Invariants:
 *   1. A CipherState with has_key holds a valid cipher, and for AESGCM the expanded key
 *      in cs->aes always matches cs->k (set_key is the only writer of both).
 *   2. Handshake messages are sized completely (msg_layout) before any state changes, so
 *      a refusal for space leaves the handshake untouched, and every byte written is
 *      inside the size checked.
 *   3. A token that needs a key pair finds it: the pattern table is checked by asserts
 *      at the point of use (has_e, has_re, has_rs).
 */
#include "noise.h"

#include <string.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

_Static_assert(KY_NOISE_DH_BYTES == crypto_scalarmult_curve25519_BYTES, "DHLEN");
_Static_assert(KY_NOISE_DH_BYTES == crypto_scalarmult_curve25519_SCALARBYTES, "DH secret");
_Static_assert(KY_NOISE_HASH_BYTES == crypto_hash_sha256_BYTES, "HASHLEN");
_Static_assert(KY_NOISE_HASH_BYTES == crypto_auth_hmacsha256_BYTES, "HMAC output");
_Static_assert(KY_NOISE_KEY_BYTES == crypto_aead_aes256gcm_KEYBYTES, "AES key");
_Static_assert(KY_NOISE_KEY_BYTES == crypto_aead_chacha20poly1305_ietf_KEYBYTES, "ChaCha key");
_Static_assert(KY_NOISE_TAG_BYTES == crypto_aead_aes256gcm_ABYTES, "AES tag");
_Static_assert(KY_NOISE_TAG_BYTES == crypto_aead_chacha20poly1305_ietf_ABYTES, "ChaCha tag");
_Static_assert(crypto_aead_aes256gcm_NPUBBYTES == 12, "AES nonce");
_Static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == 12, "ChaCha nonce");

#define NONCE_BYTES 12u

/* ---- pattern table (§7.5) ------------------------------------------------------------- */

enum token { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_SS };

#define TOKENS_PER_MSG_MAX 4u

typedef struct pattern_def {
    ky_noise_pattern pattern;
    bool resp_static_premessage;                                      /* "<- s" before "..." */
    uint8_t msg_count;                                                /* handshake messages */
    uint8_t tokens[KY_NOISE_HS_MESSAGES_MAX][TOKENS_PER_MSG_MAX + 1]; /* TOK_END-terminated */
} pattern_def;

static const pattern_def g_patterns[] = {
    {KY_NOISE_IK, true, 2, {{TOK_E, TOK_ES, TOK_S, TOK_SS}, {TOK_E, TOK_EE, TOK_SE}}},
    {KY_NOISE_XX, false, 3, {{TOK_E}, {TOK_E, TOK_EE, TOK_S, TOK_ES}, {TOK_S, TOK_SE}}},
};

static const pattern_def *pattern_find(ky_noise_pattern p) {
    for (size_t i = 0; i < sizeof g_patterns / sizeof g_patterns[0]; i++)
        if (g_patterns[i].pattern == p) return &g_patterns[i];
    return NULL;
}

const char *ky_noise_protocol_name(ky_noise_pattern pattern, ky_noise_cipher cipher) {
    bool aes = cipher == KY_NOISE_AESGCM, chacha = cipher == KY_NOISE_CHACHAPOLY;
    if (!aes && !chacha) return NULL;
    switch (pattern) {
    case KY_NOISE_IK:
        return aes ? "Noise_IK_25519_AESGCM_SHA256" : "Noise_IK_25519_ChaChaPoly_SHA256";
    case KY_NOISE_XX:
        return aes ? "Noise_XX_25519_AESGCM_SHA256" : "Noise_XX_25519_ChaChaPoly_SHA256";
    }
    return NULL;
}

static bool sodium_ready(void) {
    return sodium_init() >= 0; /* 0: initialised now, 1: already; both fine */
}

bool ky_noise_cipher_available(ky_noise_cipher cipher) {
    if (!sodium_ready()) return false;
    if (cipher == KY_NOISE_AESGCM) return crypto_aead_aes256gcm_is_available() != 0;
    return cipher == KY_NOISE_CHACHAPOLY;
}

/* ---- HKDF (RFC 5869; Noise §4.3) ------------------------------------------------------ */

static const uint8_t g_empty[1]; /* non-NULL stand-in for empty inputs */

static const uint8_t *or_empty(const uint8_t *p, size_t n) {
    KY_ASSERT(p != NULL || n == 0);
    return p != NULL ? p : g_empty;
}

void ky_hkdf_sha256_extract(const uint8_t *salt, size_t salt_bytes, const uint8_t *ikm,
                            size_t ikm_bytes, uint8_t prk[KY_NOISE_HASH_BYTES]) {
    KY_ASSERT(prk != NULL);
    crypto_auth_hmacsha256_state st;
    /* HMAC keys of any length: keys above 64 bytes are hashed, shorter ones zero-padded,
     * so an empty salt equals HashLen zero bytes as RFC 5869 §2.2 asks. */
    crypto_auth_hmacsha256_init(&st, or_empty(salt, salt_bytes), salt_bytes);
    crypto_auth_hmacsha256_update(&st, or_empty(ikm, ikm_bytes), ikm_bytes);
    crypto_auth_hmacsha256_final(&st, prk);
    sodium_memzero(&st, sizeof st);
}

int ky_hkdf_sha256_expand(const uint8_t prk[KY_NOISE_HASH_BYTES], const uint8_t *info,
                          size_t info_bytes, uint8_t *out, size_t out_bytes) {
    KY_ASSERT(prk != NULL);
    if (out_bytes > KY_HKDF_SHA256_BYTES_MAX) return KY_E_INVALID_ARG;
    KY_ASSERT(out != NULL || out_bytes == 0);
    uint8_t t[KY_NOISE_HASH_BYTES];
    crypto_auth_hmacsha256_state st;
    size_t done = 0;
    /* T(i) = HMAC(PRK, T(i-1) || info || i), T(0) empty, i = 1..N (N <= 255). */
    for (unsigned i = 1; done < out_bytes; i++) {
        KY_ASSERT(i <= 255);
        uint8_t counter = (uint8_t)i;
        crypto_auth_hmacsha256_init(&st, prk, KY_NOISE_HASH_BYTES);
        if (i > 1) crypto_auth_hmacsha256_update(&st, t, sizeof t);
        crypto_auth_hmacsha256_update(&st, or_empty(info, info_bytes), info_bytes);
        crypto_auth_hmacsha256_update(&st, &counter, 1);
        crypto_auth_hmacsha256_final(&st, t);
        size_t take = out_bytes - done < sizeof t ? out_bytes - done : sizeof t;
        memcpy(out + done, t, take);
        done += take;
    }
    sodium_memzero(t, sizeof t);
    sodium_memzero(&st, sizeof st);
    return KY_OK;
}

int ky_hkdf_sha256(const uint8_t *salt, size_t salt_bytes, const uint8_t *ikm, size_t ikm_bytes,
                   const uint8_t *info, size_t info_bytes, uint8_t *out, size_t out_bytes) {
    if (out_bytes > KY_HKDF_SHA256_BYTES_MAX) return KY_E_INVALID_ARG;
    uint8_t prk[KY_NOISE_HASH_BYTES];
    ky_hkdf_sha256_extract(salt, salt_bytes, ikm, ikm_bytes, prk);
    int rc = ky_hkdf_sha256_expand(prk, info, info_bytes, out, out_bytes);
    sodium_memzero(prk, sizeof prk);
    return rc;
}

/* Noise's HKDF(ck, ikm, 2) (§4.3) is RFC 5869 HKDF with salt = ck, empty info, L = 64:
 * temp_key = HMAC(ck, ikm) is the PRK, output1 = T(1), output2 = T(2). */
static void noise_hkdf2(const uint8_t ck[KY_NOISE_HASH_BYTES], const uint8_t *ikm, size_t ikm_bytes,
                        uint8_t out[2 * KY_NOISE_HASH_BYTES]) {
    int rc = ky_hkdf_sha256(ck, KY_NOISE_HASH_BYTES, ikm, ikm_bytes, NULL, 0, out,
                            2 * KY_NOISE_HASH_BYTES);
    KY_ASSERT(rc == KY_OK);
}

/* ---- CipherState (§5.1) --------------------------------------------------------------- */

/* The 96-bit nonce: 32 zero bits, then n (§12.3 ChaChaPoly little-endian, §12.4 AESGCM
 * big-endian). */
static void nonce_bytes(ky_noise_cipher cipher, uint64_t n, uint8_t out[NONCE_BYTES]) {
    memset(out, 0, NONCE_BYTES);
    for (unsigned i = 0; i < 8; i++) {
        uint8_t b = (uint8_t)(n >> (8 * i));
        if (cipher == KY_NOISE_AESGCM)
            out[NONCE_BYTES - 1 - i] = b;
        else
            out[4 + i] = b;
    }
}

/* ENCRYPT(k, n, ad, plaintext) into out (plain_bytes + 16 bytes). */
static void aead_seal(const ky_noise_cipherstate *cs, uint64_t n, const uint8_t *ad,
                      size_t ad_bytes, const uint8_t *plain, size_t plain_bytes, uint8_t *out) {
    KY_ASSERT(cs->has_key);
    KY_ASSERT(plain_bytes <= KY_NOISE_PLAIN_BYTES_MAX);
    uint8_t nonce[NONCE_BYTES];
    unsigned long long out_len = 0;
    int rc;
    nonce_bytes(cs->cipher, n, nonce);
    ad = or_empty(ad, ad_bytes);
    plain = or_empty(plain, plain_bytes);
    if (cs->cipher == KY_NOISE_AESGCM)
        rc = crypto_aead_aes256gcm_encrypt_afternm(out, &out_len, plain, plain_bytes, ad, ad_bytes,
                                                   NULL, nonce, &cs->aes);
    else
        rc = crypto_aead_chacha20poly1305_ietf_encrypt(out, &out_len, plain, plain_bytes, ad,
                                                       ad_bytes, NULL, nonce, cs->k);
    KY_ASSERT(rc == 0);
    KY_ASSERT(out_len == plain_bytes + KY_NOISE_TAG_BYTES);
}

/* DECRYPT(k, n, ad, ciphertext) into out (ct_bytes - 16 bytes); 0 or -1 (tag mismatch). */
static int aead_open(const ky_noise_cipherstate *cs, uint64_t n, const uint8_t *ad, size_t ad_bytes,
                     const uint8_t *ct, size_t ct_bytes, uint8_t *out) {
    KY_ASSERT(cs->has_key);
    KY_ASSERT(ct_bytes >= KY_NOISE_TAG_BYTES && ct_bytes <= KY_NOISE_MSG_BYTES_MAX);
    uint8_t nonce[NONCE_BYTES], none[1];
    unsigned long long out_len = 0;
    int rc;
    nonce_bytes(cs->cipher, n, nonce);
    ad = or_empty(ad, ad_bytes);
    KY_ASSERT(out != NULL || ct_bytes == KY_NOISE_TAG_BYTES);
    if (out == NULL) out = none; /* an empty plaintext into a caller's NULL buffer */
    if (cs->cipher == KY_NOISE_AESGCM)
        rc = crypto_aead_aes256gcm_decrypt_afternm(out, &out_len, NULL, ct, ct_bytes, ad, ad_bytes,
                                                   nonce, &cs->aes);
    else
        rc = crypto_aead_chacha20poly1305_ietf_decrypt(out, &out_len, NULL, ct, ct_bytes, ad,
                                                       ad_bytes, nonce, cs->k);
    KY_ASSERT(rc != 0 || out_len == ct_bytes - KY_NOISE_TAG_BYTES);
    return rc == 0 ? 0 : -1;
}

/* The only writer of k and the expanded AES key (invariant 1). n is the caller's. */
static void set_key(ky_noise_cipherstate *cs, const uint8_t key[KY_NOISE_KEY_BYTES]) {
    KY_ASSERT(cs->cipher == KY_NOISE_AESGCM || cs->cipher == KY_NOISE_CHACHAPOLY);
    memmove(cs->k, key, KY_NOISE_KEY_BYTES);
    if (cs->cipher == KY_NOISE_AESGCM) crypto_aead_aes256gcm_beforenm(&cs->aes, cs->k);
    cs->has_key = true;
}

int ky_noise_cs_init(ky_noise_cipherstate *cs, ky_noise_cipher cipher, const uint8_t *key) {
    KY_ASSERT(cs != NULL);
    sodium_memzero(cs, sizeof *cs);
    if (cipher != KY_NOISE_AESGCM && cipher != KY_NOISE_CHACHAPOLY) return KY_E_INVALID_ARG;
    if (!sodium_ready()) return KY_E_INTERNAL;
    if (!ky_noise_cipher_available(cipher)) return KY_E_CIPHER_UNAVAILABLE;
    cs->cipher = cipher;
    if (key != NULL) set_key(cs, key);
    return KY_OK;
}

void ky_noise_cs_set_nonce(ky_noise_cipherstate *cs, uint64_t n) {
    KY_ASSERT(cs != NULL);
    cs->n = n;
}

int ky_noise_cs_encrypt(ky_noise_cipherstate *cs, const uint8_t *ad, size_t ad_bytes,
                        const uint8_t *plain, size_t plain_bytes, uint8_t *out, size_t cap,
                        size_t *out_len) {
    KY_ASSERT(cs != NULL && out_len != NULL);
    KY_ASSERT(out != NULL || cap == 0);
    *out_len = 0;
    size_t tag = cs->has_key ? KY_NOISE_TAG_BYTES : 0;
    if (plain_bytes > KY_NOISE_MSG_BYTES_MAX - tag) return KY_E_INVALID_ARG;
    if (cap < plain_bytes + tag) return KY_E_BUFFER_TOO_SMALL;
    if (!cs->has_key) {
        if (plain_bytes > 0) memmove(out, plain, plain_bytes);
        *out_len = plain_bytes;
        return KY_OK;
    }
    if (cs->n == KY_NOISE_NONCE_MAX) return KY_E_NONCE_EXHAUSTED;
    aead_seal(cs, cs->n, ad, ad_bytes, plain, plain_bytes, out);
    cs->n++;
    *out_len = plain_bytes + tag;
    return KY_OK;
}

int ky_noise_cs_decrypt(ky_noise_cipherstate *cs, const uint8_t *ad, size_t ad_bytes,
                        const uint8_t *ct, size_t ct_bytes, uint8_t *out, size_t cap,
                        size_t *out_len) {
    KY_ASSERT(cs != NULL && out_len != NULL);
    KY_ASSERT(ct != NULL || ct_bytes == 0);
    KY_ASSERT(out != NULL || cap == 0);
    *out_len = 0;
    if (ct_bytes > KY_NOISE_MSG_BYTES_MAX) return KY_E_DECRYPT_FAILED;
    if (!cs->has_key) {
        if (cap < ct_bytes) return KY_E_BUFFER_TOO_SMALL;
        if (ct_bytes > 0) memmove(out, ct, ct_bytes);
        *out_len = ct_bytes;
        return KY_OK;
    }
    if (ct_bytes < KY_NOISE_TAG_BYTES) return KY_E_DECRYPT_FAILED;
    if (cap < ct_bytes - KY_NOISE_TAG_BYTES) return KY_E_BUFFER_TOO_SMALL;
    if (cs->n == KY_NOISE_NONCE_MAX) return KY_E_NONCE_EXHAUSTED;
    if (aead_open(cs, cs->n, ad, ad_bytes, ct, ct_bytes, out) != 0) return KY_E_DECRYPT_FAILED;
    cs->n++;
    *out_len = ct_bytes - KY_NOISE_TAG_BYTES;
    return KY_OK;
}

int ky_noise_cs_rekey(ky_noise_cipherstate *cs) {
    KY_ASSERT(cs != NULL);
    if (!cs->has_key) return KY_E_INVALID_ARG;
    static const uint8_t zeros[KY_NOISE_KEY_BYTES];
    uint8_t out[KY_NOISE_KEY_BYTES + KY_NOISE_TAG_BYTES];
    aead_seal(cs, KY_NOISE_NONCE_MAX, NULL, 0, zeros, sizeof zeros, out);
    set_key(cs, out); /* the first 32 bytes; the tag is dropped */
    sodium_memzero(out, sizeof out);
    return KY_OK;
}

void ky_noise_cs_wipe(ky_noise_cipherstate *cs) {
    KY_ASSERT(cs != NULL);
    sodium_memzero(cs, sizeof *cs);
}

/* ---- SymmetricState (§5.2) ------------------------------------------------------------ */

static void mix_hash(ky_noise_symmetricstate *ss, const uint8_t *data, size_t n) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    crypto_hash_sha256_update(&st, ss->h, sizeof ss->h);
    crypto_hash_sha256_update(&st, or_empty(data, n), n);
    crypto_hash_sha256_final(&st, ss->h);
}

/* MixKey: ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). HASHLEN is 32, so temp_k
 * needs no truncation. */
static void mix_key(ky_noise_symmetricstate *ss, const uint8_t *ikm, size_t n) {
    uint8_t out[2 * KY_NOISE_HASH_BYTES];
    noise_hkdf2(ss->ck, ikm, n, out);
    memcpy(ss->ck, out, KY_NOISE_HASH_BYTES);
    set_key(&ss->cs, out + KY_NOISE_HASH_BYTES);
    ss->cs.n = 0;
    sodium_memzero(out, sizeof out);
}

/* InitializeSymmetric: h = name padded with zeros when it fits HASHLEN, else HASH(name);
 * ck = h; k empty. */
static void symmetric_init(ky_noise_symmetricstate *ss, const char *name, ky_noise_cipher c) {
    size_t len = strlen(name);
    memset(ss->h, 0, sizeof ss->h);
    if (len <= sizeof ss->h)
        memcpy(ss->h, name, len);
    else
        crypto_hash_sha256(ss->h, (const uint8_t *)name, len);
    memcpy(ss->ck, ss->h, sizeof ss->ck);
    int rc = ky_noise_cs_init(&ss->cs, c, NULL);
    KY_ASSERT(rc == KY_OK); /* availability was checked by the caller */
}

/* EncryptAndHash: out receives n (+16 once a key exists) bytes; capacity was checked. */
static size_t encrypt_and_hash(ky_noise_symmetricstate *ss, const uint8_t *plain, size_t n,
                               uint8_t *out, size_t cap) {
    size_t len = 0;
    int rc = ky_noise_cs_encrypt(&ss->cs, ss->h, sizeof ss->h, plain, n, out, cap, &len);
    KY_ASSERT(rc == KY_OK); /* space was checked; a handshake uses a few nonces per key */
    mix_hash(ss, out, len);
    return len;
}

/* DecryptAndHash; false on an authentication failure. */
static bool decrypt_and_hash(ky_noise_symmetricstate *ss, const uint8_t *ct, size_t n, uint8_t *out,
                             size_t cap) {
    size_t len = 0;
    int rc = ky_noise_cs_decrypt(&ss->cs, ss->h, sizeof ss->h, ct, n, out, cap, &len);
    if (rc != KY_OK) return false;
    mix_hash(ss, ct, n);
    return true;
}

/* ---- HandshakeState (§5.3) ------------------------------------------------------------ */

static const pattern_def *hs_pattern(const ky_noise_handshake *hs) {
    const pattern_def *def = pattern_find(hs->pattern);
    KY_ASSERT(def != NULL);
    KY_ASSERT(hs->msg_index <= def->msg_count);
    return def;
}

static int hs_fail(ky_noise_handshake *hs, int rc) {
    KY_ASSERT(rc < 0);
    ky_noise_pattern pattern = hs->pattern;
    bool initiator = hs->initiator;
    sodium_memzero(hs, sizeof *hs);
    hs->pattern = pattern;
    hs->initiator = initiator;
    hs->state = KY_NOISE_HS_FAILED;
    return rc;
}

static int keypair_from_secret(const uint8_t sk[KY_NOISE_DH_BYTES], uint8_t pk[KY_NOISE_DH_BYTES]) {
    /* Fails only if the public key would be all zeros, which a clamped scalar never gives. */
    return crypto_scalarmult_curve25519_base(pk, sk) == 0 ? KY_OK : KY_E_INVALID_ARG;
}

static int hs_check_config(const ky_noise_hs_config *cfg) {
    if (pattern_find(cfg->pattern) == NULL) return KY_E_INVALID_ARG;
    if (ky_noise_protocol_name(cfg->pattern, cfg->cipher) == NULL) return KY_E_INVALID_ARG;
    if (cfg->local_static_sk == NULL) return KY_E_INVALID_ARG;
    if (cfg->prologue == NULL && cfg->prologue_bytes > 0) return KY_E_INVALID_ARG;
    bool needs_rs = cfg->pattern == KY_NOISE_IK && cfg->initiator;
    if (needs_rs != (cfg->remote_static_pk != NULL)) return KY_E_INVALID_ARG;
    if (!sodium_ready()) return KY_E_INTERNAL;
    if (!ky_noise_cipher_available(cfg->cipher)) return KY_E_CIPHER_UNAVAILABLE;
    return KY_OK;
}

int ky_noise_hs_init(ky_noise_handshake *hs, const ky_noise_hs_config *cfg) {
    KY_ASSERT(hs != NULL && cfg != NULL);
    sodium_memzero(hs, sizeof *hs);
    hs->pattern = cfg->pattern;
    hs->initiator = cfg->initiator;
    int rc = hs_check_config(cfg);
    if (rc != KY_OK) return hs_fail(hs, rc);
    const pattern_def *def = pattern_find(cfg->pattern);
    symmetric_init(&hs->ss, ky_noise_protocol_name(cfg->pattern, cfg->cipher), cfg->cipher);
    mix_hash(&hs->ss, cfg->prologue, cfg->prologue_bytes);
    memcpy(hs->s_sk, cfg->local_static_sk, KY_NOISE_DH_BYTES);
    rc = keypair_from_secret(hs->s_sk, hs->s_pk);
    if (rc != KY_OK) return hs_fail(hs, rc);
    if (cfg->remote_static_pk != NULL) {
        memcpy(hs->rs, cfg->remote_static_pk, KY_NOISE_DH_BYTES);
        hs->has_rs = true;
    }
    /* Pre-message "<- s": both sides hash the responder's static key (§7.1). */
    if (def->resp_static_premessage)
        mix_hash(&hs->ss, hs->initiator ? hs->rs : hs->s_pk, KY_NOISE_DH_BYTES);
    hs->state = KY_NOISE_HS_ACTIVE;
    if (cfg->local_ephemeral_sk == NULL) return KY_OK;
    rc = ky_noise_hs_set_ephemeral(hs, cfg->local_ephemeral_sk);
    return rc == KY_OK ? KY_OK : hs_fail(hs, rc);
}

int ky_noise_hs_set_ephemeral(ky_noise_handshake *hs, const uint8_t e_sk[KY_NOISE_DH_BYTES]) {
    KY_ASSERT(hs != NULL && e_sk != NULL);
    if (hs->state != KY_NOISE_HS_ACTIVE || hs->has_e) return KY_E_INVALID_ARG;
    uint8_t pk[KY_NOISE_DH_BYTES];
    if (keypair_from_secret(e_sk, pk) != KY_OK) return KY_E_INVALID_ARG;
    memcpy(hs->e_sk, e_sk, KY_NOISE_DH_BYTES);
    memcpy(hs->e_pk, pk, KY_NOISE_DH_BYTES);
    hs->e_preset = true;
    return KY_OK;
}

bool ky_noise_hs_my_turn(const ky_noise_handshake *hs) {
    KY_ASSERT(hs != NULL);
    if (hs->state != KY_NOISE_HS_ACTIVE) return false;
    /* The initiator writes messages 0, 2, ...; the responder 1, 3, ... */
    return ((hs->msg_index % 2) == 0) == hs->initiator;
}

/* Sizes of the current message for a payload of payload_bytes: the bytes before the
 * payload, and the payload's tag (0 while no key exists). Pure (invariant 2). */
static void msg_layout(const ky_noise_handshake *hs, size_t *fixed_bytes, size_t *tag_bytes) {
    const uint8_t *tok = hs_pattern(hs)->tokens[hs->msg_index];
    bool key = hs->ss.cs.has_key;
    size_t fixed = 0;
    for (; *tok != TOK_END; tok++) {
        if (*tok == TOK_E)
            fixed += KY_NOISE_DH_BYTES;
        else if (*tok == TOK_S)
            fixed += KY_NOISE_DH_BYTES + (key ? KY_NOISE_TAG_BYTES : 0);
        else
            key = true; /* every DH token ends in MixKey */
    }
    *fixed_bytes = fixed;
    *tag_bytes = key ? KY_NOISE_TAG_BYTES : 0;
}

/* The DH token: which local secret meets which remote public key (§7.1). */
static int dh_token(ky_noise_handshake *hs, uint8_t tok) {
    bool me_e, them_e; /* whether the local / remote key of this token is the ephemeral */
    switch (tok) {
    case TOK_EE: me_e = them_e = true; break;
    case TOK_SS: me_e = them_e = false; break;
    case TOK_ES: me_e = hs->initiator, them_e = !hs->initiator; break;
    case TOK_SE: me_e = !hs->initiator, them_e = hs->initiator; break;
    default: KY_BUG("not a DH token");
    }
    KY_ASSERT(me_e ? hs->has_e : true);
    KY_ASSERT(them_e ? hs->has_re : hs->has_rs);
    uint8_t shared[KY_NOISE_DH_BYTES];
    /* libsodium returns -1 when the result is all zeros (a low-order remote key). */
    int rc =
        crypto_scalarmult_curve25519(shared, me_e ? hs->e_sk : hs->s_sk, them_e ? hs->re : hs->rs);
    if (rc == 0) mix_key(&hs->ss, shared, sizeof shared);
    sodium_memzero(shared, sizeof shared);
    return rc == 0 ? KY_OK : KY_E_HANDSHAKE_FAILED;
}

/* Writes one token at out + *pos; the space was checked by msg_layout. */
static int write_token(ky_noise_handshake *hs, uint8_t tok, uint8_t *out, size_t cap, size_t *pos) {
    if (tok == TOK_E) {
        KY_ASSERT(!hs->has_e);
        if (!hs->e_preset) {
            randombytes_buf(hs->e_sk, sizeof hs->e_sk);
            if (keypair_from_secret(hs->e_sk, hs->e_pk) != KY_OK) return KY_E_INTERNAL;
        }
        hs->has_e = true;
        KY_ASSERT(cap - *pos >= KY_NOISE_DH_BYTES);
        memcpy(out + *pos, hs->e_pk, KY_NOISE_DH_BYTES);
        mix_hash(&hs->ss, hs->e_pk, KY_NOISE_DH_BYTES);
        *pos += KY_NOISE_DH_BYTES;
        return KY_OK;
    }
    if (tok == TOK_S) {
        *pos += encrypt_and_hash(&hs->ss, hs->s_pk, KY_NOISE_DH_BYTES, out + *pos, cap - *pos);
        return KY_OK;
    }
    return dh_token(hs, tok);
}

static void hs_advance(ky_noise_handshake *hs) {
    hs->msg_index++;
    if (hs->msg_index == hs_pattern(hs)->msg_count) hs->state = KY_NOISE_HS_DONE;
}

int ky_noise_hs_write(ky_noise_handshake *hs, const uint8_t *payload, size_t payload_bytes,
                      uint8_t *out, size_t cap, size_t *out_len) {
    KY_ASSERT(hs != NULL && out_len != NULL);
    KY_ASSERT(payload != NULL || payload_bytes == 0);
    *out_len = 0;
    if (!ky_noise_hs_my_turn(hs)) return KY_E_INVALID_ARG;
    size_t fixed = 0, tag = 0;
    msg_layout(hs, &fixed, &tag);
    if (payload_bytes > KY_NOISE_MSG_BYTES_MAX - fixed - tag) return KY_E_INVALID_ARG;
    size_t need = fixed + payload_bytes + tag;
    if (cap < need) return KY_E_BUFFER_TOO_SMALL;
    KY_ASSERT(out != NULL);
    size_t pos = 0;
    for (const uint8_t *tok = hs_pattern(hs)->tokens[hs->msg_index]; *tok != TOK_END; tok++) {
        int rc = write_token(hs, *tok, out, need, &pos);
        if (rc != KY_OK) return hs_fail(hs, rc == KY_E_INTERNAL ? rc : KY_E_HANDSHAKE_FAILED);
    }
    KY_ASSERT(pos == fixed);
    pos += encrypt_and_hash(&hs->ss, payload, payload_bytes, out + pos, need - pos);
    KY_ASSERT(pos == need);
    hs_advance(hs);
    *out_len = pos;
    return KY_OK;
}

/* Reads one token from msg + *pos; the length was checked by msg_layout. */
static int read_token(ky_noise_handshake *hs, uint8_t tok, const uint8_t *msg, size_t *pos) {
    if (tok == TOK_E) {
        KY_ASSERT(!hs->has_re);
        memcpy(hs->re, msg + *pos, KY_NOISE_DH_BYTES);
        hs->has_re = true;
        mix_hash(&hs->ss, hs->re, KY_NOISE_DH_BYTES);
        *pos += KY_NOISE_DH_BYTES;
        return KY_OK;
    }
    if (tok == TOK_S) {
        KY_ASSERT(!hs->has_rs);
        size_t n = KY_NOISE_DH_BYTES + (hs->ss.cs.has_key ? KY_NOISE_TAG_BYTES : 0);
        if (!decrypt_and_hash(&hs->ss, msg + *pos, n, hs->rs, sizeof hs->rs))
            return KY_E_HANDSHAKE_FAILED;
        hs->has_rs = true;
        *pos += n;
        return KY_OK;
    }
    return dh_token(hs, tok);
}

int ky_noise_hs_read(ky_noise_handshake *hs, const uint8_t *msg, size_t msg_bytes, uint8_t *payload,
                     size_t payload_cap, size_t *payload_len) {
    KY_ASSERT(hs != NULL && payload_len != NULL);
    KY_ASSERT(msg != NULL || msg_bytes == 0);
    *payload_len = 0;
    if (hs->state != KY_NOISE_HS_ACTIVE || ky_noise_hs_my_turn(hs)) return KY_E_INVALID_ARG;
    size_t fixed = 0, tag = 0;
    msg_layout(hs, &fixed, &tag);
    if (msg_bytes > KY_NOISE_MSG_BYTES_MAX || msg_bytes < fixed + tag)
        return hs_fail(hs, KY_E_HANDSHAKE_FAILED);
    size_t plain = msg_bytes - fixed - tag;
    if (payload_cap < plain) return KY_E_BUFFER_TOO_SMALL;
    size_t pos = 0;
    for (const uint8_t *tok = hs_pattern(hs)->tokens[hs->msg_index]; *tok != TOK_END; tok++) {
        int rc = read_token(hs, *tok, msg, &pos);
        if (rc != KY_OK) return hs_fail(hs, rc);
    }
    KY_ASSERT(pos == fixed);
    if (!decrypt_and_hash(&hs->ss, msg + pos, msg_bytes - pos, payload, payload_cap))
        return hs_fail(hs, KY_E_HANDSHAKE_FAILED);
    hs_advance(hs);
    *payload_len = plain;
    return KY_OK;
}

int ky_noise_hs_split(ky_noise_handshake *hs, ky_noise_cipherstate *tx, ky_noise_cipherstate *rx,
                      uint8_t handshake_hash[KY_NOISE_HASH_BYTES]) {
    KY_ASSERT(hs != NULL && tx != NULL && rx != NULL && tx != rx);
    if (hs->state != KY_NOISE_HS_DONE) return KY_E_INVALID_ARG;
    uint8_t out[2 * KY_NOISE_HASH_BYTES];
    noise_hkdf2(hs->ss.ck, NULL, 0, out);
    ky_noise_cipher cipher = hs->ss.cs.cipher;
    ky_noise_cipherstate *c1 = hs->initiator ? tx : rx, *c2 = hs->initiator ? rx : tx;
    int rc1 = ky_noise_cs_init(c1, cipher, out);
    int rc2 = ky_noise_cs_init(c2, cipher, out + KY_NOISE_HASH_BYTES);
    KY_ASSERT(rc1 == KY_OK && rc2 == KY_OK); /* the cipher was usable at init */
    sodium_memzero(out, sizeof out);
    if (handshake_hash != NULL) memcpy(handshake_hash, hs->ss.h, KY_NOISE_HASH_BYTES);
    ky_noise_cs_wipe(&hs->ss.cs);
    sodium_memzero(hs->ss.ck, sizeof hs->ss.ck);
    sodium_memzero(hs->s_sk, sizeof hs->s_sk);
    sodium_memzero(hs->e_sk, sizeof hs->e_sk);
    hs->state = KY_NOISE_HS_SPLIT;
    return KY_OK;
}

void ky_noise_hs_wipe(ky_noise_handshake *hs) {
    KY_ASSERT(hs != NULL);
    sodium_memzero(hs, sizeof *hs);
}
