/*
 * note.c — C2SP signed notes (Ed25519) and tlog-checkpoint bodies.
 *
 * How: every parser works in place over the caller's bytes and returns borrowed
 * pointers; only fixed-size values (keys, the 68-byte signature, the 32-byte root) are
 * decoded into stack buffers. Signature base64 of unknown keys may be long (C2SP allows
 * post-quantum signatures of about 5 kB), so base64 is validated and decoded in chunks
 * and only the bytes we need are kept (b64_decode_head). libsodium's decoder rejects
 * non-zero padding bits, so every byte string has exactly one accepted encoding — a
 * little stricter than Go's, which ignores those bits.
 *
 * ky_note_open makes two passes over the signature block: the first checks the structure
 * of every line and the limits, the second verifies. A note is therefore rejected as
 * malformed before any signature work, whatever the order of its lines.
 */
#include "note.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "sha256.h"

#define SIG_TYPE_ED25519  0x01u
#define KEY_ID_BYTES      4u
#define ED25519_SIG_BYTES 64u
#define SIG_BLOB_BYTES    (KEY_ID_BYTES + ED25519_SIG_BYTES) /* key id || signature */
#define KEY_BLOB_BYTES    (1u + 32u)                         /* type byte || key or seed */
#define KEY_B64_CHARS     44u                                /* base64 of KEY_BLOB_BYTES */
#define SIG_B64_CHARS     92u                                /* base64 of SIG_BLOB_BYTES */
#define B64_CHUNK_CHARS   64u                                /* decoded 48 bytes at a time */

static const char sig_prefix[] = "\xE2\x80\x94 "; /* em dash U+2014, space */
static const char private_prefix[] = "PRIVATE+KEY+";
#define SIG_PREFIX_BYTES     (sizeof sig_prefix - 1)
#define PRIVATE_PREFIX_BYTES (sizeof private_prefix - 1)

_Static_assert(KY_NOTE_PUBLIC_KEY_BYTES == crypto_sign_PUBLICKEYBYTES, "Ed25519 public key");
_Static_assert(KY_NOTE_SECRET_KEY_BYTES == crypto_sign_SECRETKEYBYTES, "Ed25519 secret key");
_Static_assert(KY_NOTE_SEED_BYTES == crypto_sign_SEEDBYTES, "Ed25519 seed");
_Static_assert(ED25519_SIG_BYTES == crypto_sign_BYTES, "Ed25519 signature");
_Static_assert(KY_NOTE_ROOT_HASH_BYTES == KY_SHA256_BYTES, "checkpoint roots are SHA-256");
_Static_assert(sodium_base64_ENCODED_LEN(KEY_BLOB_BYTES, sodium_base64_VARIANT_ORIGINAL) ==
                   KEY_B64_CHARS + 1,
               "key base64 length");
_Static_assert(sodium_base64_ENCODED_LEN(SIG_BLOB_BYTES, sodium_base64_VARIANT_ORIGINAL) ==
                   SIG_B64_CHARS + 1,
               "signature base64 length");
_Static_assert(SIG_PREFIX_BYTES == 4, "em dash is 3 bytes of UTF-8");
_Static_assert(KY_NOTE_SIGNATURE_LINE_BYTES_MAX ==
                   SIG_PREFIX_BYTES + KY_NOTE_KEY_NAME_BYTES_MAX + 1 + SIG_B64_CHARS + 1,
               "signature line bound");

/* ---- UTF-8, text and key names ------------------------------------------------------- */

/* Decodes one UTF-8 scalar value from s (n > 0 bytes); returns its length, or 0 if the
 * bytes are not well-formed UTF-8 (overlong, surrogate, above U+10FFFF, truncated). */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp) {
    KY_ASSERT(n > 0);
    uint8_t c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        len = 2, v = c & 0x1Fu, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3, v = c & 0x0Fu, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4, v = c & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0u) != 0x80u) return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

/* C2SP: valid UTF-8 and no ASCII control character other than newline. */
static bool text_valid(const char *s, size_t n) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        if (len == 0 || (cp < 0x20 && cp != '\n')) return false;
        i += len;
    }
    return true;
}

/* Unicode White_Space, as Go's unicode.IsSpace (which x/mod uses for key names). */
static bool is_unicode_space(uint32_t cp) {
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || cp == 0x85 || cp == 0xA0) return true;
    if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A)) return true;
    return cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* C2SP key name: non-empty UTF-8 without spaces or '+'; we also refuse control
 * characters, which can never appear in a valid note. */
static bool name_valid(const char *s, size_t n) {
    if (n == 0) return false;
    const uint8_t *p = (const uint8_t *)s;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t len = utf8_next(p + i, n - i, &cp);
        if (len == 0 || cp < 0x20 || cp == '+' || is_unicode_space(cp)) return false;
        i += len;
    }
    return true;
}

static int name_check(const char *s, size_t n) {
    if (n > KY_NOTE_KEY_NAME_BYTES_MAX) return KY_E_NOTE_KEY_NAME_TOO_LONG;
    return name_valid(s, n) ? KY_OK : KY_E_NOTE_KEY_INVALID;
}

/* ---- base64 ----------------------------------------------------------------------------- */

/* Validates canonical padded standard base64 (RFC 4648 §4) of any length, writes the
 * first head_cap decoded bytes to head and the decoded length to *total. */
static bool b64_decode_head(const char *b64, size_t len, uint8_t *head, size_t head_cap,
                            size_t *total) {
    if (len == 0 || len % 4 != 0) return false;
    for (size_t i = 0; i + 2 < len; i++)
        if (b64[i] == '=') return false; /* padding only at the very end */
    if (b64[len - 2] == '=' && b64[len - 1] != '=') return false;
    size_t done = 0;
    bool ok = true;
    uint8_t bin[B64_CHUNK_CHARS / 4 * 3];
    for (size_t at = 0; ok && at < len; at += B64_CHUNK_CHARS) {
        size_t chars = len - at < B64_CHUNK_CHARS ? len - at : B64_CHUNK_CHARS;
        size_t n = 0;
        ok = sodium_base642bin(bin, sizeof bin, b64 + at, chars, NULL, &n, NULL,
                               sodium_base64_VARIANT_ORIGINAL) == 0;
        if (ok && done < head_cap)
            memcpy(head + done, bin, n < head_cap - done ? n : head_cap - done);
        done += n;
    }
    sodium_memzero(bin, sizeof bin); /* it may have held a secret seed */
    *total = done;
    return ok;
}

static void b64_encode(const uint8_t *bin, size_t bin_bytes, char *out, size_t out_cap) {
    KY_ASSERT(out_cap == sodium_base64_ENCODED_LEN(bin_bytes, sodium_base64_VARIANT_ORIGINAL));
    sodium_bin2base64(out, out_cap, bin, bin_bytes, sodium_base64_VARIANT_ORIGINAL);
}

/* ---- keys --------------------------------------------------------------------------------- */

static uint32_t get_be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t key_id_of(const char *name, size_t name_bytes,
                          const uint8_t pub[KY_NOTE_PUBLIC_KEY_BYTES]) {
    static const uint8_t sep[2] = {'\n', SIG_TYPE_ED25519};
    uint8_t h[KY_SHA256_BYTES];
    ky_sha256_ctx c;
    ky_sha256_init(&c);
    ky_sha256_update(&c, name, name_bytes);
    ky_sha256_update(&c, sep, sizeof sep);
    ky_sha256_update(&c, pub, KY_NOTE_PUBLIC_KEY_BYTES);
    ky_sha256_final(&c, h);
    return get_be32(h);
}

static bool hex8_parse(const char *s, size_t n, uint32_t *out) {
    if (n != 8) return false;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return false;
        v = v << 4 | d;
    }
    *out = v;
    return true;
}

/* Parses "<name>+<hex id>+<base64 of type || 32 bytes>" and decodes the blob. The
 * name ends at the first '+' (names cannot hold one); base64 may hold '+'. */
static int key_parse(const char *s, size_t n, ky_note_verifier *v, uint8_t blob[KEY_BLOB_BYTES]) {
    const char *plus1 = memchr(s, '+', n);
    if (plus1 == NULL) return KY_E_NOTE_KEY_INVALID;
    size_t name_bytes = (size_t)(plus1 - s);
    int rc = name_check(s, name_bytes);
    if (rc != KY_OK) return rc;
    const char *hex = plus1 + 1, *end = s + n;
    const char *plus2 = memchr(hex, '+', (size_t)(end - hex));
    if (plus2 == NULL || !hex8_parse(hex, (size_t)(plus2 - hex), &v->key_id))
        return KY_E_NOTE_KEY_INVALID;
    size_t total = 0;
    const char *b64 = plus2 + 1;
    if (!b64_decode_head(b64, (size_t)(end - b64), blob, KEY_BLOB_BYTES, &total) ||
        total != KEY_BLOB_BYTES || blob[0] != SIG_TYPE_ED25519)
        return KY_E_NOTE_KEY_INVALID;
    memcpy(v->name, s, name_bytes);
    v->name[name_bytes] = '\0';
    v->name_bytes = name_bytes;
    return KY_OK;
}

int ky_note_verifier_parse(const char *vkey, size_t vkey_bytes, ky_note_verifier *out) {
    KY_ASSERT(vkey != NULL || vkey_bytes == 0);
    KY_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    uint8_t blob[KEY_BLOB_BYTES];
    int rc = key_parse(vkey, vkey_bytes, out, blob);
    if (rc != KY_OK) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    memcpy(out->public_key, blob + 1, KY_NOTE_PUBLIC_KEY_BYTES);
    if (key_id_of(out->name, out->name_bytes, out->public_key) != out->key_id) {
        memset(out, 0, sizeof *out);
        return KY_E_NOTE_KEY_INVALID;
    }
    return KY_OK;
}

static int key_format(const char *prefix, const ky_note_verifier *v, const uint8_t key[32],
                      char *out, size_t out_cap, size_t *out_bytes) {
    KY_ASSERT(v->name_bytes > 0 && v->name_bytes <= KY_NOTE_KEY_NAME_BYTES_MAX);
    KY_ASSERT(v->name[v->name_bytes] == '\0');
    size_t need = strlen(prefix) + v->name_bytes + 1 + 8 + 1 + KEY_B64_CHARS;
    if (out_cap < need + 1) return KY_E_BUFFER_TOO_SMALL;
    uint8_t blob[KEY_BLOB_BYTES] = {SIG_TYPE_ED25519};
    char b64[KEY_B64_CHARS + 1];
    memcpy(blob + 1, key, 32);
    b64_encode(blob, sizeof blob, b64, sizeof b64);
    int n = snprintf(out, out_cap, "%s%s+%08" PRIx32 "+%s", prefix, v->name, v->key_id, b64);
    sodium_memzero(blob, sizeof blob); /* the signer's seed */
    sodium_memzero(b64, sizeof b64);
    KY_ASSERT(n >= 0 && (size_t)n == need);
    *out_bytes = need;
    return KY_OK;
}

int ky_note_verifier_format(const ky_note_verifier *v, char *out, size_t out_cap,
                            size_t *out_bytes) {
    KY_ASSERT(v != NULL && out != NULL && out_bytes != NULL);
    return key_format("", v, v->public_key, out, out_cap, out_bytes);
}

int ky_note_signer_from_seed(const char *name, size_t name_bytes,
                             const uint8_t seed[KY_NOTE_SEED_BYTES], ky_note_signer *out) {
    KY_ASSERT(name != NULL || name_bytes == 0);
    KY_ASSERT(seed != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    int rc = name_check(name, name_bytes);
    if (rc != KY_OK) return rc;
    ky_note_verifier *v = &out->verifier;
    memcpy(v->name, name, name_bytes);
    v->name[name_bytes] = '\0';
    v->name_bytes = name_bytes;
    crypto_sign_seed_keypair(v->public_key, out->secret_key, seed);
    v->key_id = key_id_of(v->name, v->name_bytes, v->public_key);
    return KY_OK;
}

int ky_note_signer_generate(const char *name, size_t name_bytes, ky_note_signer *out) {
    uint8_t seed[KY_NOTE_SEED_BYTES];
    randombytes_buf(seed, sizeof seed);
    int rc = ky_note_signer_from_seed(name, name_bytes, seed, out);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int ky_note_signer_parse(const char *skey, size_t skey_bytes, ky_note_signer *out) {
    KY_ASSERT(skey != NULL || skey_bytes == 0);
    KY_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    if (skey_bytes < PRIVATE_PREFIX_BYTES ||
        memcmp(skey, private_prefix, PRIVATE_PREFIX_BYTES) != 0)
        return KY_E_NOTE_KEY_INVALID;
    ky_note_verifier parsed;
    uint8_t blob[KEY_BLOB_BYTES];
    int rc =
        key_parse(skey + PRIVATE_PREFIX_BYTES, skey_bytes - PRIVATE_PREFIX_BYTES, &parsed, blob);
    if (rc == KY_OK) rc = ky_note_signer_from_seed(parsed.name, parsed.name_bytes, blob + 1, out);
    if (rc == KY_OK && out->verifier.key_id != parsed.key_id) rc = KY_E_NOTE_KEY_INVALID;
    sodium_memzero(blob, sizeof blob);
    if (rc != KY_OK) ky_note_signer_clear(out);
    return rc;
}

int ky_note_signer_format(const ky_note_signer *s, char *out, size_t out_cap, size_t *out_bytes) {
    KY_ASSERT(s != NULL && out != NULL && out_bytes != NULL);
    /* libsodium's secret key is seed || public key: the seed is its first half. */
    return key_format(private_prefix, &s->verifier, s->secret_key, out, out_cap, out_bytes);
}

void ky_note_signer_clear(ky_note_signer *s) {
    KY_ASSERT(s != NULL);
    sodium_memzero(s, sizeof *s);
}

/* ---- signing -------------------------------------------------------------------------------- */

int ky_note_sign(const char *text, size_t text_bytes, const ky_note_signer *s, char *out,
                 size_t out_cap, size_t *out_bytes) {
    KY_ASSERT(text != NULL && s != NULL && out != NULL && out_bytes != NULL);
    const ky_note_verifier *v = &s->verifier;
    KY_ASSERT(v->name_bytes > 0 && v->name_bytes <= KY_NOTE_KEY_NAME_BYTES_MAX);
    if (text_bytes == 0 || text[text_bytes - 1] != '\n' || !text_valid(text, text_bytes))
        return KY_E_NOTE_MALFORMED;
    size_t line = SIG_PREFIX_BYTES + v->name_bytes + 1 + SIG_B64_CHARS + 1;
    size_t need = text_bytes + 1 + line;
    if (need > KY_NOTE_BYTES_MAX) return KY_E_NOTE_TOO_LARGE;
    if (out_cap < need + 1) return KY_E_BUFFER_TOO_SMALL;
    uint8_t blob[SIG_BLOB_BYTES];
    blob[0] = (uint8_t)(v->key_id >> 24);
    blob[1] = (uint8_t)(v->key_id >> 16);
    blob[2] = (uint8_t)(v->key_id >> 8);
    blob[3] = (uint8_t)v->key_id;
    crypto_sign_detached(blob + KEY_ID_BYTES, NULL, (const uint8_t *)text, text_bytes,
                         s->secret_key);
    char b64[SIG_B64_CHARS + 1];
    b64_encode(blob, sizeof blob, b64, sizeof b64);
    char *p = out;
    memmove(p, text, text_bytes); /* memmove: out may be the text buffer itself */
    p += text_bytes;
    *p++ = '\n';
    memcpy(p, sig_prefix, SIG_PREFIX_BYTES);
    p += SIG_PREFIX_BYTES;
    memcpy(p, v->name, v->name_bytes);
    p += v->name_bytes;
    *p++ = ' ';
    memcpy(p, b64, SIG_B64_CHARS);
    p += SIG_B64_CHARS;
    *p++ = '\n';
    *p = '\0';
    KY_ASSERT((size_t)(p - out) == need);
    *out_bytes = need;
    return KY_OK;
}

/* ---- opening ------------------------------------------------------------------------------- */

typedef struct sig_line {
    const char *line;  /* the whole line after the em dash prefix, without \n */
    size_t line_bytes; /* bytes at line */
    const char *b64;   /* the base64 signature within line */
    size_t b64_bytes;  /* bytes at b64 */
} sig_line;

/* Parses one signature line (without its \n) into sig and ref. */
static int parse_sig_line(const char *line, size_t n, ky_note_sig *sig, sig_line *ref) {
    if (n < SIG_PREFIX_BYTES || memcmp(line, sig_prefix, SIG_PREFIX_BYTES) != 0)
        return KY_E_NOTE_MALFORMED;
    const char *rest = line + SIG_PREFIX_BYTES, *end = line + n;
    const char *space = memchr(rest, ' ', (size_t)(end - rest));
    if (space == NULL || !name_valid(rest, (size_t)(space - rest))) return KY_E_NOTE_MALFORMED;
    uint8_t head[KEY_ID_BYTES];
    size_t total = 0;
    const char *b64 = space + 1;
    if (!b64_decode_head(b64, (size_t)(end - b64), head, sizeof head, &total) ||
        total < KEY_ID_BYTES + 1)
        return KY_E_NOTE_MALFORMED;
    *sig = (ky_note_sig){rest, (size_t)(space - rest), get_be32(head), SIZE_MAX};
    *ref = (sig_line){rest, (size_t)(end - rest), b64, (size_t)(end - b64)};
    return KY_OK;
}

/* Pass 1: every line of the signature block (non-empty, ends in \n) is well formed and
 * within the limit; identical lines are recorded once, in note order. */
static int collect_sigs(const char *block, size_t block_bytes, ky_note_opened *out,
                        sig_line refs[KY_NOTE_SIGNATURES_MAX]) {
    KY_ASSERT(block_bytes > 0 && block[block_bytes - 1] == '\n');
    size_t lines = 0;
    const char *p = block, *end = block + block_bytes;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        KY_ASSERT(nl != NULL);
        if (++lines > KY_NOTE_SIGNATURES_MAX) return KY_E_NOTE_SIGNATURES_TOO_MANY;
        ky_note_sig sig;
        sig_line ref;
        int rc = parse_sig_line(p, (size_t)(nl - p), &sig, &ref);
        if (rc != KY_OK) return rc;
        p = nl + 1;
        bool seen = false;
        for (size_t i = 0; i < out->sig_count && !seen; i++)
            seen = refs[i].line_bytes == ref.line_bytes &&
                   memcmp(refs[i].line, ref.line, ref.line_bytes) == 0;
        if (seen) continue;
        KY_ASSERT(out->sig_count < KY_NOTE_SIGNATURES_MAX);
        refs[out->sig_count] = ref;
        out->sigs[out->sig_count++] = sig;
    }
    KY_ASSERT(out->sig_count > 0 && out->sig_count <= lines);
    return KY_OK;
}

static size_t find_key(const ky_note_verifier *keys, size_t key_count, const ky_note_sig *sig) {
    for (size_t i = 0; i < key_count; i++) {
        if (keys[i].key_id == sig->key_id && keys[i].name_bytes == sig->name_bytes &&
            memcmp(keys[i].name, sig->name, sig->name_bytes) == 0)
            return i;
    }
    return SIZE_MAX;
}

/* Pass 2: verify every signature from a known key (rule 3). */
static int verify_sigs(const ky_note_verifier *keys, size_t key_count, ky_note_opened *out,
                       const sig_line refs[KY_NOTE_SIGNATURES_MAX]) {
    for (size_t i = 0; i < out->sig_count; i++) {
        ky_note_sig *sig = &out->sigs[i];
        size_t k = find_key(keys, key_count, sig);
        if (k == SIZE_MAX) continue;
        uint8_t blob[SIG_BLOB_BYTES];
        size_t total = 0;
        bool ok = b64_decode_head(refs[i].b64, refs[i].b64_bytes, blob, sizeof blob, &total);
        KY_ASSERT(ok && get_be32(blob) == sig->key_id); /* pass 1 decoded the same bytes */
        if (total != SIG_BLOB_BYTES ||
            crypto_sign_verify_detached(blob + KEY_ID_BYTES, (const uint8_t *)out->text,
                                        out->text_bytes, keys[k].public_key) != 0) {
            out->invalid = *sig;
            out->invalid.key_index = k;
            return KY_E_NOTE_SIGNATURE_INVALID;
        }
        sig->key_index = k;
        out->verified_count++;
    }
    return out->verified_count > 0 ? KY_OK : KY_E_NOTE_UNVERIFIED;
}

int ky_note_open(const char *note, size_t note_bytes, const ky_note_verifier *keys,
                 size_t key_count, ky_note_opened *out) {
    KY_ASSERT(note != NULL || note_bytes == 0);
    KY_ASSERT((keys != NULL || key_count == 0) && out != NULL);
    memset(out, 0, sizeof *out);
    out->invalid.key_index = SIZE_MAX;
    if (note_bytes > KY_NOTE_BYTES_MAX) return KY_E_NOTE_TOO_LARGE;
    if (!text_valid(note, note_bytes)) return KY_E_NOTE_MALFORMED;
    /* The text ends at the last blank line: find the last "\n\n". */
    size_t split = note_bytes;
    for (size_t i = note_bytes; i >= 2 && split == note_bytes; i--)
        if (note[i - 2] == '\n' && note[i - 1] == '\n') split = i - 2;
    if (split == note_bytes) return KY_E_NOTE_MALFORMED;
    const char *block = note + split + 2;
    size_t block_bytes = note_bytes - split - 2;
    if (block_bytes == 0 || block[block_bytes - 1] != '\n') return KY_E_NOTE_MALFORMED;
    out->text = note;
    out->text_bytes = split + 1;
    sig_line refs[KY_NOTE_SIGNATURES_MAX];
    int rc = collect_sigs(block, block_bytes, out, refs);
    if (rc != KY_OK) {
        memset(out, 0, sizeof *out);
        out->invalid.key_index = SIZE_MAX;
        return rc;
    }
    return verify_sigs(keys, key_count, out, refs);
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

/* Takes the next line (without its \n) from [*p, end); false at the end. The text
 * must end in \n, so every line found is terminated. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len) {
    if (*p >= end) return false;
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    KY_ASSERT(nl != NULL);
    *line = *p;
    *len = (size_t)(nl - *p);
    *p = nl + 1;
    return true;
}

/* C2SP tree size: ASCII decimal, no sign, no leading zeros except "0", fits uint64. */
static bool decimal_parse(const char *s, size_t n, uint64_t *out) {
    if (n == 0 || n > 20 || (n > 1 && s[0] == '0')) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return false;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

int ky_note_checkpoint_parse(const char *text, size_t text_bytes, ky_note_checkpoint *out) {
    KY_ASSERT(text != NULL || text_bytes == 0);
    KY_ASSERT(out != NULL);
    memset(out, 0, sizeof *out);
    if (text_bytes > KY_NOTE_BYTES_MAX) return KY_E_NOTE_TOO_LARGE;
    if (text_bytes == 0 || text[text_bytes - 1] != '\n' || !text_valid(text, text_bytes))
        return KY_E_CHECKPOINT_MALFORMED;
    ky_note_checkpoint c = {0};
    const char *p = text, *end = text + text_bytes, *line;
    size_t len, total = 0;
    bool ok = next_line(&p, end, &c.origin, &c.origin_bytes) && c.origin_bytes > 0;
    ok = ok && next_line(&p, end, &line, &len) && decimal_parse(line, len, &c.tree_size);
    ok = ok && next_line(&p, end, &line, &len) &&
         b64_decode_head(line, len, c.root_hash, sizeof c.root_hash, &total) &&
         total == KY_NOTE_ROOT_HASH_BYTES;
    if (!ok) return KY_E_CHECKPOINT_MALFORMED;
    c.extensions = p;
    c.extensions_bytes = (size_t)(end - p);
    while (next_line(&p, end, &line, &len))
        if (len == 0) return KY_E_CHECKPOINT_MALFORMED; /* extension lines are non-empty */
    *out = c;
    return KY_OK;
}

/* Extension block: empty, or non-empty lines each ending in \n, UTF-8, no controls. */
static bool extensions_valid(const char *ext, size_t n) {
    if (n == 0) return true;
    if (ext[0] == '\n' || ext[n - 1] != '\n' || !text_valid(ext, n)) return false;
    for (size_t i = 1; i < n; i++)
        if (ext[i - 1] == '\n' && ext[i] == '\n') return false;
    return true;
}

int ky_note_checkpoint_format(const char *origin, size_t origin_bytes, uint64_t tree_size,
                              const uint8_t root_hash[KY_NOTE_ROOT_HASH_BYTES],
                              const char *extensions, size_t extensions_bytes, char *out,
                              size_t out_cap, size_t *out_bytes) {
    KY_ASSERT(origin != NULL && root_hash != NULL && out != NULL && out_bytes != NULL);
    KY_ASSERT(extensions != NULL || extensions_bytes == 0);
    if (origin_bytes == 0 || memchr(origin, '\n', origin_bytes) != NULL ||
        !text_valid(origin, origin_bytes) || !extensions_valid(extensions, extensions_bytes))
        return KY_E_INVALID_ARG;
    char size[24], b64[KEY_B64_CHARS + 1];
    int size_len = snprintf(size, sizeof size, "%" PRIu64, tree_size);
    KY_ASSERT(size_len > 0 && (size_t)size_len < sizeof size);
    b64_encode(root_hash, KY_NOTE_ROOT_HASH_BYTES, b64, sizeof b64);
    size_t b64_len = strlen(b64);
    size_t need = origin_bytes + 1 + (size_t)size_len + 1 + b64_len + 1 + extensions_bytes;
    if (out_cap < need + 1) return KY_E_BUFFER_TOO_SMALL;
    char *p = out;
    memcpy(p, origin, origin_bytes);
    p += origin_bytes;
    *p++ = '\n';
    memcpy(p, size, (size_t)size_len);
    p += size_len;
    *p++ = '\n';
    memcpy(p, b64, b64_len);
    p += b64_len;
    *p++ = '\n';
    if (extensions_bytes > 0) memcpy(p, extensions, extensions_bytes);
    p += extensions_bytes;
    *p = '\0';
    KY_ASSERT((size_t)(p - out) == need);
    *out_bytes = need;
    return KY_OK;
}
