/*
 * sha256.c — SHA-256 from OpenSSL's libcrypto behind the ky_sha256 seam.
 *
 * Why libcrypto: it uses the SHA-NI instructions where present (DESIGN §2); this file
 * is the only place an OpenSSL header is included. The low-level SHA256_* API is
 * deprecated in OpenSSL 3 but remains the fastest path for many small messages (the
 * EVP layer costs an allocation and dispatch per hash), so we silence that warning
 * here only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include "sha256.h"

#include <openssl/sha.h>

_Static_assert(sizeof(SHA256_CTX) <= sizeof(ky_sha256_ctx), "ky_sha256_ctx too small");
_Static_assert(SHA256_DIGEST_LENGTH == KY_SHA256_BYTES, "digest size");

void ky_sha256_init(ky_sha256_ctx *ctx) {
    SHA256_Init((SHA256_CTX *)(void *)ctx);
}

void ky_sha256_update(ky_sha256_ctx *ctx, const void *data, size_t data_bytes) {
    SHA256_Update((SHA256_CTX *)(void *)ctx, data, data_bytes);
}

void ky_sha256_final(ky_sha256_ctx *ctx, uint8_t out[KY_SHA256_BYTES]) {
    SHA256_Final(out, (SHA256_CTX *)(void *)ctx);
}

/* Never the one-shot SHA256(): in OpenSSL 3 it goes through EVP_Q_digest, which fetches
 * the algorithm on every call (measured: half of the cost of a Merkle node hash). */
static void digest(const void *data, size_t data_bytes, uint8_t out[KY_SHA256_BYTES]) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, data, data_bytes);
    SHA256_Final(out, &c);
}

void ky_sha256(const void *data, size_t data_bytes, uint8_t out[KY_SHA256_BYTES]) {
    digest(data, data_bytes, out);
}

void ky_sha256_prefixed(uint8_t prefix_byte, const void *data, size_t data_bytes,
                        uint8_t out[KY_SHA256_BYTES]) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, &prefix_byte, 1);
    SHA256_Update(&c, data, data_bytes);
    SHA256_Final(out, &c);
}

void ky_sha256_node(const uint8_t left[KY_SHA256_BYTES], const uint8_t right[KY_SHA256_BYTES],
                    uint8_t out[KY_SHA256_BYTES]) {
    uint8_t buf[1 + 2 * KY_SHA256_BYTES];
    buf[0] = 0x01;
    for (unsigned i = 0; i < KY_SHA256_BYTES; i++) {
        buf[1 + i] = left[i];
        buf[1 + KY_SHA256_BYTES + i] = right[i];
    }
    digest(buf, sizeof buf, out);
}
