/*
 * sha256.h — the one SHA-256 seam of kyosai-ledger.
 *
 * Why a seam: SHA-256 is the hot path of writing and auditing. OpenSSL's libcrypto
 * uses the CPU's SHA extensions (about 5x libsodium's portable C here, DESIGN §2), so
 * SHA-256 comes from libcrypto through these functions and nothing else in the
 * project includes an OpenSSL header. Everything else cryptographic is libsodium.
 *
 * Thread-safety: all functions are reentrant; a ky_sha256_ctx belongs to one thread.
 */
#ifndef KY_SHA256_H
#define KY_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define KY_SHA256_BYTES 32u

/* Opaque-sized streaming context (holds an OpenSSL SHA256_CTX). */
typedef struct ky_sha256_ctx {
    uint64_t opaque_[16]; /* 128 bytes, checked against SHA256_CTX at compile time */
} ky_sha256_ctx;

void ky_sha256_init(ky_sha256_ctx *ctx);
void ky_sha256_update(ky_sha256_ctx *ctx, const void *data, size_t data_bytes);
void ky_sha256_final(ky_sha256_ctx *ctx, uint8_t out[KY_SHA256_BYTES]);

/* out = SHA-256(data). */
void ky_sha256(const void *data, size_t data_bytes, uint8_t out[KY_SHA256_BYTES]);

/* out = SHA-256(prefix_byte || data): the RFC 6962 leaf (0x00) form. */
void ky_sha256_prefixed(uint8_t prefix_byte, const void *data, size_t data_bytes,
                        uint8_t out[KY_SHA256_BYTES]);

/* out = SHA-256(0x01 || left || right): the RFC 6962 interior node. */
void ky_sha256_node(const uint8_t left[KY_SHA256_BYTES], const uint8_t right[KY_SHA256_BYTES],
                    uint8_t out[KY_SHA256_BYTES]);

#endif
