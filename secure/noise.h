/*
 * noise.h — the Noise Protocol Framework (revision 34) core: X25519, AES-256-GCM or
 * ChaCha20-Poly1305, SHA-256; handshake patterns IK and XX.
 *
 * Why our own: the secure channel (channel.h, DESIGN §6) must follow a published protocol
 * checked against public test vectors, and be built from libsodium primitives only. This
 * module is written from the Noise specification; its section numbers are cited below.
 * tests/unit/test_noise.c replays the cacophony, snow and noise-c vectors bit for bit.
 *
 * Layers, as in the specification:
 *   ky_hkdf_sha256*   HKDF (RFC 5869); Noise's HKDF(ck, ikm, 2) is its first 64 bytes with
 *                     salt = ck and empty info (§4.3).
 *   ky_noise_cs_*     CipherState (§5.1): key k, nonce n, EncryptWithAd/DecryptWithAd,
 *                     SetNonce, Rekey.
 *   ky_noise_hs_*     HandshakeState (§5.3) with its SymmetricState (§5.2) inside:
 *                     Initialize, WriteMessage, ReadMessage, Split.
 *
 * Ownership: every struct here is a plain value the caller embeds; nothing allocates. They
 * hold key material: end them with ky_noise_cs_wipe / ky_noise_hs_wipe (sodium_memzero).
 * Not thread-safe per struct; separate structs may be used from separate threads. The
 * structs need 16-byte alignment (libsodium's AES state), which malloc gives on 64-bit
 * Linux and the compiler gives to any embedding struct.
 *
 * Rules:
 *   1. Every message (handshake or transport) is at most KY_NOISE_MSG_BYTES_MAX bytes
 *      (§3); every length is checked before a byte is written.
 *   2. Nonce 2^64-1 is reserved (§5.1): a CipherState whose n reaches it refuses with
 *      KY_E_NONCE_EXHAUSTED; only Rekey uses it.
 *   3. An all-zero X25519 output (a low-order peer key) fails the handshake: libsodium
 *      reports it, and §4.1 lets DH() reject invalid public keys.
 *   4. Any failure while a handshake message is being processed moves the handshake to
 *      KY_NOISE_HS_FAILED and wipes its secrets; every later call refuses. Refusals
 *      made before anything is touched (wrong turn, output buffer too small) leave the
 *      handshake as it was.
 *   5. Handshake state diagram (function behind each transition):
 *
 *        (zeroed) --ky_noise_hs_init--> ACTIVE --write/read, messages remain--> ACTIVE
 *                                         |
 *                                         +--write/read of the last message--> DONE
 *                                         |                                      |
 *                                         +--error in write/read--> FAILED       |
 *                                                                   ky_noise_hs_split
 *                                                                                v
 *                                                                              SPLIT
 *
 * Errors (common/ky_err.h): KY_E_INVALID_ARG, KY_E_CIPHER_UNAVAILABLE, KY_E_BUFFER_TOO_SMALL,
 * KY_E_HANDSHAKE_FAILED, KY_E_DECRYPT_FAILED, KY_E_NONCE_EXHAUSTED, KY_E_INTERNAL
 * (sodium_init failed). Passing NULL where a buffer is required is a programmer error and
 * aborts (KY_ASSERT), as libsodium does on misuse.
 */
#ifndef KY_NOISE_H
#define KY_NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#define KY_NOISE_DH_BYTES        32u    /* DHLEN: X25519 public key, secret, shared secret */
#define KY_NOISE_HASH_BYTES      32u    /* HASHLEN: SHA-256 */
#define KY_NOISE_KEY_BYTES       32u    /* cipher key */
#define KY_NOISE_TAG_BYTES       16u    /* AEAD tag */
#define KY_NOISE_MSG_BYTES_MAX   65535u /* any Noise message, bytes (§3) */
#define KY_NOISE_PLAIN_BYTES_MAX (KY_NOISE_MSG_BYTES_MAX - KY_NOISE_TAG_BYTES)
#define KY_NOISE_NONCE_MAX       UINT64_MAX   /* reserved nonce, never used for a message */
#define KY_NOISE_HS_MESSAGES_MAX 3u           /* messages in the longest pattern (XX) */
#define KY_HKDF_SHA256_BYTES_MAX (255u * 32u) /* RFC 5869: L <= 255 * HashLen */

typedef enum ky_noise_cipher {
    KY_NOISE_AESGCM = 1,    /* AES-256-GCM, nonce 0^32 || n big-endian; needs AES-NI */
    KY_NOISE_CHACHAPOLY = 2 /* ChaCha20-Poly1305 (IETF), nonce 0^32 || n little-endian */
} ky_noise_cipher;

typedef enum ky_noise_pattern {
    KY_NOISE_IK = 1, /* <- s ... -> e, es, s, ss  <- e, ee, se */
    KY_NOISE_XX = 2  /* -> e  <- e, ee, s, es  -> s, se */
} ky_noise_pattern;

/* CipherState (§5.1). has_key false means "k is empty": encryption is the identity. */
typedef struct ky_noise_cipherstate {
    crypto_aead_aes256gcm_state aes; /* expanded AES key (AESGCM only), 16-byte aligned */
    uint8_t k[KY_NOISE_KEY_BYTES];   /* raw key */
    uint64_t n;                      /* next nonce */
    ky_noise_cipher cipher;          /* which AEAD k is for */
    bool has_key;                    /* false: InitializeKey(empty) */
} ky_noise_cipherstate;

/* SymmetricState (§5.2). Internal to the handshake; here only so it can be embedded. */
typedef struct ky_noise_symmetricstate {
    ky_noise_cipherstate cs;         /* k and n of the handshake */
    uint8_t ck[KY_NOISE_HASH_BYTES]; /* chaining key */
    uint8_t h[KY_NOISE_HASH_BYTES];  /* handshake hash */
} ky_noise_symmetricstate;

typedef enum ky_noise_hs_state {
    KY_NOISE_HS_ZEROED = 0, /* never initialised, or wiped */
    KY_NOISE_HS_ACTIVE,     /* messages remain */
    KY_NOISE_HS_DONE,       /* every message processed; ky_noise_hs_split is due */
    KY_NOISE_HS_SPLIT,      /* split done; secrets wiped, public values kept */
    KY_NOISE_HS_FAILED      /* an error; secrets wiped */
} ky_noise_hs_state;

/* HandshakeState (§5.3). Callers may read: state, rs and has_rs (the peer's static public
 * key), re and has_re (the peer's ephemeral public key), ss.h (the handshake hash, final
 * once the state is DONE or SPLIT). Everything else is private to noise.c. */
typedef struct ky_noise_handshake {
    ky_noise_symmetricstate ss;      /* ck, h and the handshake CipherState */
    ky_noise_hs_state state;         /* see the diagram above */
    ky_noise_pattern pattern;        /* IK or XX */
    bool initiator;                  /* true: this side sends message 0 */
    bool has_e, has_rs, has_re;      /* which of e, rs, re hold a key */
    bool e_preset;                   /* e_sk was injected (test vectors) */
    uint8_t msg_index;               /* next message of the pattern, 0-based */
    uint8_t s_sk[KY_NOISE_DH_BYTES]; /* local static secret key */
    uint8_t s_pk[KY_NOISE_DH_BYTES]; /* local static public key */
    uint8_t e_sk[KY_NOISE_DH_BYTES]; /* local ephemeral secret key */
    uint8_t e_pk[KY_NOISE_DH_BYTES]; /* local ephemeral public key */
    uint8_t rs[KY_NOISE_DH_BYTES];   /* remote static public key */
    uint8_t re[KY_NOISE_DH_BYTES];   /* remote ephemeral public key */
} ky_noise_handshake;

/* Arguments of ky_noise_hs_init. Pointers are borrowed for the call only. */
typedef struct ky_noise_hs_config {
    ky_noise_pattern pattern;
    ky_noise_cipher cipher;
    bool initiator;
    const uint8_t *prologue;           /* may be NULL when prologue_bytes is 0 */
    size_t prologue_bytes;             /* any length: it is only hashed */
    const uint8_t *local_static_sk;    /* 32 bytes; both patterns need it on both sides */
    const uint8_t *remote_static_pk;   /* 32 bytes for the IK initiator (the pre-message),
                                        * NULL otherwise */
    const uint8_t *local_ephemeral_sk; /* NULL in production (randombytes_buf when the e
                                        * token is reached); 32 fixed bytes in tests */
} ky_noise_hs_config;

/* ---- HKDF-SHA256 (RFC 5869) ------------------------------------------------------------ */

/* HKDF-Extract: prk = HMAC-SHA256(salt, ikm). An empty salt acts as 32 zero bytes (HMAC
 * pads the key with zeros). Pointers may be NULL when their length is 0. */
void ky_hkdf_sha256_extract(const uint8_t *salt, size_t salt_bytes, const uint8_t *ikm,
                            size_t ikm_bytes, uint8_t prk[KY_NOISE_HASH_BYTES]);

/* HKDF-Expand to out_bytes (0..KY_HKDF_SHA256_BYTES_MAX). Returns KY_OK or
 * KY_E_INVALID_ARG (out_bytes too large; out untouched). */
int ky_hkdf_sha256_expand(const uint8_t prk[KY_NOISE_HASH_BYTES], const uint8_t *info,
                          size_t info_bytes, uint8_t *out, size_t out_bytes);

/* Extract then Expand. Returns KY_OK or KY_E_INVALID_ARG (out_bytes too large). */
int ky_hkdf_sha256(const uint8_t *salt, size_t salt_bytes, const uint8_t *ikm, size_t ikm_bytes,
                   const uint8_t *info, size_t info_bytes, uint8_t *out, size_t out_bytes);

/* ---- names and availability ------------------------------------------------------------ */

/* True when this build and CPU can use the cipher (AESGCM needs AES-NI, as reported by
 * crypto_aead_aes256gcm_is_available). Calls sodium_init(); false if it fails. */
bool ky_noise_cipher_available(ky_noise_cipher cipher);

/* "Noise_IK_25519_AESGCM_SHA256" and so on: a static string constant, or NULL for an
 * unknown pattern or cipher. */
const char *ky_noise_protocol_name(ky_noise_pattern pattern, ky_noise_cipher cipher);

/* ---- CipherState (§5.1) ----------------------------------------------------------------- */

/* InitializeKey: k = key (32 bytes) and n = 0; key NULL means "empty" (has_key false).
 * Returns KY_OK, KY_E_INVALID_ARG (unknown cipher), KY_E_CIPHER_UNAVAILABLE,
 * KY_E_INTERNAL. On error cs is wiped. */
int ky_noise_cs_init(ky_noise_cipherstate *cs, ky_noise_cipher cipher, const uint8_t *key);

/* SetNonce (§5.1). Used by tests; the channel never needs it. */
void ky_noise_cs_set_nonce(ky_noise_cipherstate *cs, uint64_t n);

/* EncryptWithAd: writes plain_bytes + 16 bytes (plain_bytes when there is no key) to out
 * and increments n. out may be the same pointer as plain (in place), no other overlap.
 * Returns KY_OK, KY_E_INVALID_ARG (the result would exceed KY_NOISE_MSG_BYTES_MAX),
 * KY_E_BUFFER_TOO_SMALL, KY_E_NONCE_EXHAUSTED. On error nothing changes. */
int ky_noise_cs_encrypt(ky_noise_cipherstate *cs, const uint8_t *ad, size_t ad_bytes,
                        const uint8_t *plain, size_t plain_bytes, uint8_t *out, size_t cap,
                        size_t *out_len);

/* DecryptWithAd: writes ct_bytes - 16 bytes to out and increments n; on an authentication
 * failure n stays as it was (§5.1). out may equal ct, no other overlap. Returns KY_OK,
 * KY_E_DECRYPT_FAILED (tag mismatch, or ct_bytes below 16 or above the message limit),
 * KY_E_BUFFER_TOO_SMALL, KY_E_NONCE_EXHAUSTED. */
int ky_noise_cs_decrypt(ky_noise_cipherstate *cs, const uint8_t *ad, size_t ad_bytes,
                        const uint8_t *ct, size_t ct_bytes, uint8_t *out, size_t cap,
                        size_t *out_len);

/* Rekey (§4.2, §11.3): k = first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zero bytes);
 * n is unchanged. Returns KY_OK or KY_E_INVALID_ARG (no key). */
int ky_noise_cs_rekey(ky_noise_cipherstate *cs);

/* Zeroes the whole struct. */
void ky_noise_cs_wipe(ky_noise_cipherstate *cs);

/* ---- HandshakeState (§5.3) -------------------------------------------------------------- */

/* Initialize(): InitializeSymmetric(protocol name), MixHash(prologue), the pre-message
 * (IK: the responder's static key), and the local static key pair. hs is overwritten
 * whatever it held. Returns KY_OK, KY_E_INVALID_ARG (unknown pattern or cipher, missing
 * static key, remote_static_pk given or missing against the rule above),
 * KY_E_CIPHER_UNAVAILABLE, KY_E_INTERNAL. On error hs is FAILED. */
int ky_noise_hs_init(ky_noise_handshake *hs, const ky_noise_hs_config *cfg);

/* Injects the ephemeral secret key the next e token will use instead of fresh randomness
 * (test vectors only; same as cfg->local_ephemeral_sk, for callers that learn it after
 * init). Returns KY_OK or KY_E_INVALID_ARG (not ACTIVE, or e already generated). */
int ky_noise_hs_set_ephemeral(ky_noise_handshake *hs, const uint8_t e_sk[KY_NOISE_DH_BYTES]);

/* True when the next message is this side's to write. */
bool ky_noise_hs_my_turn(const ky_noise_handshake *hs);

/* WriteMessage(payload): writes the next message to out. Returns KY_OK (state ACTIVE or,
 * after the last message, DONE), KY_E_INVALID_ARG (not ACTIVE, not our turn, or the
 * message would exceed KY_NOISE_MSG_BYTES_MAX), KY_E_BUFFER_TOO_SMALL (those two leave hs
 * unchanged), KY_E_HANDSHAKE_FAILED (a DH gave all zeros: the peer's key has low order;
 * hs FAILED), KY_E_INTERNAL (key generation failed; hs FAILED). */
int ky_noise_hs_write(ky_noise_handshake *hs, const uint8_t *payload, size_t payload_bytes,
                      uint8_t *out, size_t cap, size_t *out_len);

/* ReadMessage(msg): processes the peer's next message and writes its payload to payload
 * (payload_cap may be 0 when an empty payload is expected). Returns KY_OK,
 * KY_E_INVALID_ARG (not ACTIVE or not the peer's turn), KY_E_BUFFER_TOO_SMALL (both leave
 * hs unchanged), KY_E_HANDSHAKE_FAILED (malformed length, low-order key, authentication
 * failure; hs FAILED). */
int ky_noise_hs_read(ky_noise_handshake *hs, const uint8_t *msg, size_t msg_bytes, uint8_t *payload,
                     size_t payload_cap, size_t *payload_len);

/* Split() (§5.2) from this side's view: tx encrypts what we send, rx decrypts what we
 * receive (initiator: tx = c1, rx = c2; responder the reverse). handshake_hash (may be
 * NULL) receives h. Then wipes ck, the handshake key and the local secret keys; the state
 * is SPLIT. Returns KY_OK or KY_E_INVALID_ARG (state is not DONE). */
int ky_noise_hs_split(ky_noise_handshake *hs, ky_noise_cipherstate *tx, ky_noise_cipherstate *rx,
                      uint8_t handshake_hash[KY_NOISE_HASH_BYTES]);

/* Zeroes the whole struct (state ZEROED). */
void ky_noise_hs_wipe(ky_noise_handshake *hs);

#endif
