/*
 * keys.c — X25519 channel key generation, text form and key files (see keys.h).
 */
#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

int ky_key_generate(uint8_t pk[KY_KEY_BYTES], uint8_t sk[KY_KEY_BYTES]) {
    if (sodium_init() < 0) return KY_E_INTERNAL;
    randombytes_buf(sk, KY_KEY_BYTES);
    ky_key_public_of(sk, pk);
    return KY_OK;
}

void ky_key_public_of(const uint8_t sk[KY_KEY_BYTES], uint8_t pk[KY_KEY_BYTES]) {
    int rc = crypto_scalarmult_curve25519_base(pk, sk);
    KY_ASSERT(rc == 0); /* the base point never yields the zero output */
}

void ky_key_public_format(const uint8_t pk[KY_KEY_BYTES], char *out, size_t cap) {
    KY_ASSERT(cap > KY_KEY_PUBLIC_TEXT_BYTES);
    size_t prefix = strlen(KY_KEY_PUBLIC_PREFIX);
    memcpy(out, KY_KEY_PUBLIC_PREFIX, prefix);
    sodium_bin2hex(out + prefix, cap - prefix, pk, KY_KEY_BYTES);
}

void ky_key_fingerprint(const uint8_t pk[KY_KEY_BYTES], char out[KY_KEY_FINGERPRINT_BYTES + 1]) {
    char hex[2 * KY_KEY_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, pk, KY_KEY_BYTES);
    memcpy(out, hex, KY_KEY_FINGERPRINT_BYTES);
    out[KY_KEY_FINGERPRINT_BYTES] = '\0';
}

/* Parses prefix + exactly 64 hex digits into 32 bytes. */
static int hex_key_parse(const char *text, size_t len, const char *prefix,
                         uint8_t out[KY_KEY_BYTES]) {
    size_t plen = strlen(prefix);
    if (len != plen + 2 * KY_KEY_BYTES || memcmp(text, prefix, plen) != 0) return KY_E_KEY_INVALID;
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_hex2bin(out, KY_KEY_BYTES, text + plen, 2 * KY_KEY_BYTES, NULL, &bin_len, &end) !=
            0 ||
        bin_len != KY_KEY_BYTES || end != text + len)
        return KY_E_KEY_INVALID;
    return KY_OK;
}

int ky_key_public_parse(const char *text, size_t len, uint8_t pk[KY_KEY_BYTES]) {
    return hex_key_parse(text, len, KY_KEY_PUBLIC_PREFIX, pk);
}

/* Reads at most KY_KEY_FILE_BYTES_MAX bytes of a small file; the first line (without its
 * newline) is left in buf. `secret` also checks the mode. */
static int first_line_read(const char *path, bool secret, char *buf, size_t cap, size_t *len,
                           char *err, size_t err_cap) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_cap, "cannot open key file %s: %s", path, strerror(errno));
        return KY_E_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (secret && (st.st_mode & 077) != 0)) {
        snprintf(err, err_cap,
                 "secret key file %s must not be readable by group or others "
                 "(chmod 600 %s)",
                 path, path);
        close(fd);
        return KY_E_IO;
    }
    ssize_t n = read(fd, buf, cap - 1);
    close(fd);
    if (n < 0 || (size_t)n >= cap - 1) {
        snprintf(err, err_cap, "cannot read key file %s (or longer than %u bytes)", path,
                 KY_KEY_FILE_BYTES_MAX);
        return n < 0 ? KY_E_IO : KY_E_KEY_INVALID;
    }
    buf[n] = '\0';
    size_t l = strcspn(buf, "\r\n");
    *len = l;
    return KY_OK;
}

int ky_key_public_load(const char *text_or_path, uint8_t pk[KY_KEY_BYTES], char *err,
                       size_t err_cap) {
    size_t tlen = strlen(text_or_path);
    if (strncmp(text_or_path, KY_KEY_PUBLIC_PREFIX, strlen(KY_KEY_PUBLIC_PREFIX)) == 0) {
        if (ky_key_public_parse(text_or_path, tlen, pk) == KY_OK) return KY_OK;
        snprintf(err, err_cap, "public key '%s' is not x25519: followed by 64 hex digits",
                 text_or_path);
        return KY_E_KEY_INVALID;
    }
    char buf[KY_KEY_FILE_BYTES_MAX + 1];
    size_t len = 0;
    int rc = first_line_read(text_or_path, false, buf, sizeof buf, &len, err, err_cap);
    if (rc != KY_OK) return rc;
    if (ky_key_public_parse(buf, len, pk) != KY_OK) {
        snprintf(err, err_cap, "key file %s: first line is not x25519: followed by 64 hex digits",
                 text_or_path);
        return KY_E_KEY_INVALID;
    }
    return KY_OK;
}

int ky_key_secret_load(const char *path, uint8_t sk[KY_KEY_BYTES], uint8_t pk[KY_KEY_BYTES],
                       char *err, size_t err_cap) {
    char buf[KY_KEY_FILE_BYTES_MAX + 1];
    size_t len = 0;
    int rc = first_line_read(path, true, buf, sizeof buf, &len, err, err_cap);
    if (rc == KY_OK && hex_key_parse(buf, len, KY_KEY_SECRET_PREFIX, sk) != KY_OK) {
        snprintf(err, err_cap,
                 "key file %s: first line is not x25519-secret: followed by 64 "
                 "hex digits",
                 path);
        rc = KY_E_KEY_INVALID;
    }
    sodium_memzero(buf, sizeof buf);
    if (rc == KY_OK) ky_key_public_of(sk, pk);
    return rc;
}

void ky_key_secret_format(const uint8_t sk[KY_KEY_BYTES], char *out, size_t cap) {
    KY_ASSERT(cap > KY_KEY_SECRET_TEXT_BYTES + 1);
    size_t plen = strlen(KY_KEY_SECRET_PREFIX);
    memcpy(out, KY_KEY_SECRET_PREFIX, plen);
    sodium_bin2hex(out + plen, cap - plen, sk, KY_KEY_BYTES);
    out[KY_KEY_SECRET_TEXT_BYTES] = '\n';
    out[KY_KEY_SECRET_TEXT_BYTES + 1] = '\0';
}

int ky_key_secret_write(const char *path, const uint8_t sk[KY_KEY_BYTES], char *err,
                        size_t err_cap) {
    char line[KY_KEY_SECRET_TEXT_BYTES + 2];
    ky_key_secret_format(sk, line, sizeof line);
    int rc = KY_OK;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, err_cap, "cannot create %s: %s", path, strerror(errno));
        rc = KY_E_IO;
    } else {
        ssize_t n = write(fd, line, KY_KEY_SECRET_TEXT_BYTES + 1);
        if (n != (ssize_t)(KY_KEY_SECRET_TEXT_BYTES + 1) || fsync(fd) != 0) {
            snprintf(err, err_cap, "cannot write %s: %s", path, strerror(errno));
            rc = KY_E_IO;
        }
        close(fd);
    }
    sodium_memzero(line, sizeof line);
    return rc;
}
