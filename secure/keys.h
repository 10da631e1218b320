/*
 * keys.h — static X25519 channel keys: generation, one-line text form, key files.
 *
 * Why a text form: operators paste public keys into config files and client registries,
 * and compare them by eye; "x25519:" + 64 lowercase hex digits is unambiguous, greppable
 * and cannot be confused with an Ed25519 checkpoint-signing key (note keys, note.h), which
 * are separate on purpose (DESIGN §6).
 *
 * Files: a secret key file holds one line "x25519-secret:" + 64 hex digits. It is created
 * 0600 with O_EXCL (never overwritten) and refused when readable by group or others, as
 * ssh does. A public key file holds the public line. Secret bytes read from a file are
 * wiped from every buffer this module used (sodium_memzero).
 */
#ifndef KY_KEYS_H
#define KY_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KY_KEY_BYTES             32u
#define KY_KEY_PUBLIC_PREFIX     "x25519:"
#define KY_KEY_SECRET_PREFIX     "x25519-secret:"
#define KY_KEY_PUBLIC_TEXT_BYTES (sizeof KY_KEY_PUBLIC_PREFIX - 1 + 2 * KY_KEY_BYTES)
#define KY_KEY_SECRET_TEXT_BYTES (sizeof KY_KEY_SECRET_PREFIX - 1 + 2 * KY_KEY_BYTES)
#define KY_KEY_FILE_BYTES_MAX    512u /* a key file longer than this is refused */
#define KY_KEY_FINGERPRINT_BYTES 16u  /* hex chars of the public key shown in logs */

/* A fresh key pair from libsodium's CSPRNG. Returns KY_OK or KY_E_INTERNAL (sodium_init). */
int ky_key_generate(uint8_t pk[KY_KEY_BYTES], uint8_t sk[KY_KEY_BYTES]);

/* The public key of a secret key. */
void ky_key_public_of(const uint8_t sk[KY_KEY_BYTES], uint8_t pk[KY_KEY_BYTES]);

/* "x25519:<hex>" into out (cap > KY_KEY_PUBLIC_TEXT_BYTES), NUL-terminated. */
void ky_key_public_format(const uint8_t pk[KY_KEY_BYTES], char *out, size_t cap);

/* Parses exactly "x25519:" + 64 hex digits (either case), nothing before or after.
 * Returns KY_OK or KY_E_KEY_INVALID. */
int ky_key_public_parse(const char *text, size_t len, uint8_t pk[KY_KEY_BYTES]);

/* Accepts either a literal public key text or the path of a file whose first line is one.
 * Returns KY_OK, KY_E_KEY_INVALID or KY_E_IO; err says which and why. */
int ky_key_public_load(const char *text_or_path, uint8_t pk[KY_KEY_BYTES], char *err,
                       size_t err_cap);

/* Reads a secret key file (see above) and derives its public key. Returns KY_OK, KY_E_IO
 * (missing, unreadable, or mode allows group/other access), KY_E_KEY_INVALID. */
int ky_key_secret_load(const char *path, uint8_t sk[KY_KEY_BYTES], uint8_t pk[KY_KEY_BYTES],
                       char *err, size_t err_cap);

/* "x25519-secret:<hex>\n" into out (cap > KY_KEY_SECRET_TEXT_BYTES + 1), NUL-terminated;
 * the caller wipes out after use. */
void ky_key_secret_format(const uint8_t sk[KY_KEY_BYTES], char *out, size_t cap);

/* Writes a secret key file, 0600, refusing to overwrite. Returns KY_OK or KY_E_IO. */
int ky_key_secret_write(const char *path, const uint8_t sk[KY_KEY_BYTES], char *err,
                        size_t err_cap);

/* First KY_KEY_FINGERPRINT_BYTES hex digits of the public key, for log lines. */
void ky_key_fingerprint(const uint8_t pk[KY_KEY_BYTES], char out[KY_KEY_FINGERPRINT_BYTES + 1]);

#endif
