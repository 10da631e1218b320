/*
 * channel.h — the secure channel every kyosai TCP link runs inside (DESIGN §6).
 *
 * Why a record layer over Noise: Noise transport messages are at most 65,535 bytes, while
 * protocol frames (docs/PROTOCOL.md) may be larger, and the frame format must not change
 * when it is encrypted. So the channel carries an opaque byte stream: the sender seals
 * whatever frame bytes it has into records of at most KY_CHAN_RECORD_PLAIN_BYTES_MAX
 * plaintext bytes, the receiver opens whole records and feeds the plaintext to the
 * unchanged frame reader.
 *
 * Wire (docs/PROTOCOL.md §"Secure channel" documents every byte):
 *
 *   initiator -> responder   preamble (8 bytes, plaintext, bound into the Noise prologue):
 *                              "KYSC" | version 1 | pattern 1 (IK) | cipher | 0
 *                            u16be length | Noise IK message 1 (-> e, es, s, ss)
 *   responder -> initiator   u16be length | Noise IK message 2 (<- e, ee, se)
 *   both ways, then          u16be length | Noise transport message (ciphertext + 16-byte tag)
 *
 * Protocol name: "Noise_IK_25519_AESGCM_SHA256" or "Noise_IK_25519_ChaChaPoly_SHA256".
 * Handshake payloads are empty (nothing replayable rides in message 1), so message 1 is
 * always 96 bytes and message 2 always 48. Both directions rekey (Noise §11.3 Rekey())
 * after every rekey_interval_records records they carry, a rule both ends apply without
 * signalling. A nonce reaching 2^64-1 ends the channel.
 *
 * Records carry 1..KY_CHAN_RECORD_PLAIN_BYTES_MAX plaintext bytes: ky_chan_seal never
 * makes an empty record (sealing 0 bytes writes nothing), and ky_chan_open refuses a
 * record length below 17 (KY_E_MSG_MALFORMED), so a peer cannot make the receiver spin
 * on records that carry nothing. The 16-bit length field cannot exceed the Noise limit.
 *
 * States (function behind each transition; any error from any state -> FAILED, and every
 * call on a FAILED channel returns KY_E_INVALID_ARG):
 *
 *   initiator:  ky_chan_client_hello --> HELLO_SENT --ky_chan_client_finish--> TRANSPORT
 *   responder:  ky_chan_server_init --> NEW --ky_chan_server_read_hello--> HELLO_READ
 *                                          --ky_chan_server_reply--> TRANSPORT
 *   TRANSPORT:  ky_chan_seal / ky_chan_open, any number of times
 *
 * Ownership: a ky_chan is a plain struct the caller embeds or allocates; it holds key
 * material and must be ended with ky_chan_wipe (sodium_memzero). Not thread-safe: one
 * connection, one thread.
 *
 * Errors: KY_E_HANDSHAKE_FAILED (malformed or unauthenticated handshake message, bad
 * preamble magic, version, pattern or reserved byte, wrong handshake length),
 * KY_E_CIPHER_UNAVAILABLE (cipher byte unknown, not allowed or not available),
 * KY_E_DECRYPT_FAILED (record tag mismatch), KY_E_MSG_MALFORMED (record length below 17),
 * KY_E_NONCE_EXHAUSTED, KY_E_BUFFER_TOO_SMALL (output buffer too small),
 * KY_E_INVALID_ARG (call in the wrong state, or on a FAILED channel; rekey interval 0),
 * KY_E_INTERNAL (sodium_init failed). Every error leaves the channel FAILED with its key
 * material wiped.
 */
#ifndef KY_CHANNEL_H
#define KY_CHANNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "noise.h"

#define KY_CHAN_PREAMBLE_BYTES         8u
#define KY_CHAN_LENGTH_BYTES           2u     /* big-endian length before every message */
#define KY_CHAN_TAG_BYTES              16u    /* AEAD tag per record */
#define KY_CHAN_RECORD_BYTES_MAX       65535u /* ciphertext of one record (Noise limit) */
#define KY_CHAN_RECORD_PLAIN_BYTES_MAX (KY_CHAN_RECORD_BYTES_MAX - KY_CHAN_TAG_BYTES)
#define KY_CHAN_HELLO_BYTES_MAX        256u     /* preamble + length + message 1, bytes */
#define KY_CHAN_REPLY_BYTES_MAX        128u     /* length + message 2, bytes */
#define KY_CHAN_REKEY_RECORDS_DEFAULT  1048576u /* records per direction between rekeys */
#define KY_CHAN_KEY_BYTES              32u      /* X25519 public or secret key */
#define KY_CHAN_NEED_MORE              1        /* return value: no whole message yet */

typedef enum ky_chan_state {
    KY_CHAN_NEW = 0,    /* initialised, nothing exchanged */
    KY_CHAN_HELLO_SENT, /* initiator: preamble + message 1 written, waiting for 2 */
    KY_CHAN_HELLO_READ, /* responder: message 1 read, remote key known, reply due */
    KY_CHAN_TRANSPORT,  /* handshake done: seal/open records */
    KY_CHAN_FAILED      /* any error: the channel can only be wiped */
} ky_chan_state;

typedef struct ky_chan {
    ky_chan_state state;
    bool initiator;
    ky_noise_cipher cipher;
    ky_noise_handshake hs;
    ky_noise_cipherstate tx, rx;
    uint64_t rekey_interval_records;             /* records per direction between rekeys */
    uint64_t tx_records, rx_records;             /* records carried, per direction */
    uint8_t remote_static[KY_CHAN_KEY_BYTES];    /* peer's static public key */
    uint8_t remote_ephemeral[KY_CHAN_KEY_BYTES]; /* peer's ephemeral; on the responder the
                                                  * initiator's (replay cache) */
    uint8_t handshake_hash[32];                  /* Noise h, once in TRANSPORT */
    uint8_t local_static_sk[KY_CHAN_KEY_BYTES];  /* responder: kept from server_init to
                                                  * read_hello only, then wiped */
    bool allow_aesgcm, allow_chachapoly;         /* responder: ciphers it accepts */
} ky_chan;

/* The cipher this machine should offer: AES-256-GCM when the CPU has AES-NI (libsodium's
 * crypto_aead_aes256gcm_is_available), ChaCha20-Poly1305 otherwise. */
ky_noise_cipher ky_chan_preferred_cipher(void);

/* Initiator (client, or the replica dialling its primary). Initialises *ch entirely
 * (whatever it held is overwritten) and pins the responder's static public key. Writes the
 * preamble and message 1 into out (cap >= KY_CHAN_HELLO_BYTES_MAX is always enough).
 * ephemeral_sk: NULL in production (fresh random), a fixed key only in tests.
 * rekey_interval_records starts at KY_CHAN_REKEY_RECORDS_DEFAULT; the caller may change it
 * before the first seal/open (both ends must agree). */
int ky_chan_client_hello(ky_chan *ch, ky_noise_cipher cipher, const uint8_t static_sk[32],
                         const uint8_t server_pk[32], const uint8_t *ephemeral_sk, uint8_t *out,
                         size_t cap, size_t *out_len);

/* Initiator: consumes the responder's message 2 from in. *used is the bytes consumed.
 * Returns KY_OK (now TRANSPORT), KY_CHAN_NEED_MORE (nothing consumed; call again with
 * more bytes), or an error (FAILED). It judges nothing before the whole 50-byte reply is
 * there, so a caller can still recognise a plaintext refusal in the first bytes. */
int ky_chan_client_finish(ky_chan *ch, const uint8_t *in, size_t n, size_t *used);

/* Responder: initialises *ch entirely with its static secret key (copied) and the ciphers
 * it allows; rekey_interval_records as for ky_chan_client_hello. */
void ky_chan_server_init(ky_chan *ch, const uint8_t static_sk[32], bool allow_aesgcm,
                         bool allow_chachapoly);

/* Responder: consumes preamble + message 1. Returns KY_OK (HELLO_READ: the caller now
 * checks ch->remote_static against its registry and ch->remote_ephemeral against its
 * replay cache), KY_CHAN_NEED_MORE (nothing consumed), or an error (FAILED). Preamble
 * bytes are judged as soon as they arrive, so a plaintext client is refused at once. */
int ky_chan_server_read_hello(ky_chan *ch, const uint8_t *in, size_t n, size_t *used);

/* Responder: writes message 2 (cap >= KY_CHAN_REPLY_BYTES_MAX); the channel is then in
 * TRANSPORT. ephemeral_sk as for ky_chan_client_hello. */
int ky_chan_server_reply(ky_chan *ch, const uint8_t *ephemeral_sk, uint8_t *out, size_t cap,
                         size_t *out_len);

/* Bytes ky_chan_seal writes for n plaintext bytes (length prefixes and tags included). */
size_t ky_chan_sealed_bytes(size_t n);

/* Seals n plaintext bytes into ceil(n / KY_CHAN_RECORD_PLAIN_BYTES_MAX) records (n = 0:
 * nothing is written, KY_OK). cap >= ky_chan_sealed_bytes(n) exactly suffices; out must
 * not overlap plain. */
int ky_chan_seal(ky_chan *ch, const uint8_t *plain, size_t n, uint8_t *out, size_t cap,
                 size_t *out_len);

/* Opens every whole record at the start of in (a partial record is left unconsumed).
 * plain must have room for the records opened; the call stops before a record that would
 * not fit (so plain_cap >= KY_CHAN_RECORD_PLAIN_BYTES_MAX always makes progress).
 * *used = ciphertext bytes consumed, *plain_len = plaintext bytes produced. Returns KY_OK
 * even when no whole record is there yet (*used == 0). On an error, *used and *plain_len
 * still count the records authenticated before the bad one. in and plain must not overlap. */
int ky_chan_open(ky_chan *ch, const uint8_t *in, size_t n, size_t *used, uint8_t *plain,
                 size_t plain_cap, size_t *plain_len);

/* Zeroes every key and state byte. Safe on a zeroed or failed channel. */
void ky_chan_wipe(ky_chan *ch);

#endif
