/*
 * test_note.c — C2SP signed notes and tlog checkpoints (ledger/note.h).
 *
 * Goal: we open, sign, and parse exactly as c2sp.org/signed-note, c2sp.org/tlog-checkpoint
 * and golang.org/x/mod/sumdb/note do — byte for byte where bytes are produced — and we
 * reject every tampered, malformed or over-limit input with its specific code.
 * Method:
 *   1. note/signed_notes.json: every cases[] entry is opened with its verifier keys and
 *      compared with the expected outcome (error class, text, verified and unverified
 *      signature lists in order, checkpoint fields); signing[] is re-signed and must
 *      equal expected_note; every vkey_parsing[] and checkpoint_bodies[] verdict, with
 *      valid keys and bodies formatted back to the identical string.
 *   2. Tampering: each byte of each accepted note's text flipped must be rejected, and
 *      in single-signature notes every byte of the whole note.
 *   3. Limits at max and max + 1: note bytes, signature lines, key name bytes; buffer
 *      capacities at exactly the needed size and one less.
 *   4. Keys: generate / format / parse round trips, signer-key failures, and signatures
 *      from keys that share only the name or only the key id are ignored (C2SP).
 * Vectors come from $KY_VECTORS; the test fails loudly if it is unset or a file is
 * missing. Each group prints how many checks it made.
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
#include "../../common/ky_limits.h"
#include "../../ledger/note.h"

static unsigned g_checks; /* checks made by the running test, printed at its end */

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        g_checks++;                                                                                \
        if (!(cond)) fail_msg(__VA_ARGS__);                                                        \
    } while (0)

#define KEYS_MAX 8u

static char g_note[KY_NOTE_BYTES_MAX + 2]; /* a note under test */
static char g_out[KY_NOTE_BYTES_MAX + 2];  /* output of sign / format */
static ky_note_opened g_opened;            /* result of ky_note_open */

/* ---- vector file and JSON ------------------------------------------------------------- */

static cJSON *g_json; /* signed_notes.json, loaded once by setup */

static int setup(void **state) {
    (void)state;
    const char *dir = getenv("KY_VECTORS");
    if (dir == NULL || dir[0] == '\0') {
        fprintf(stderr, "KY_VECTORS is not set: point it at the shared/vectors directory\n");
        return -1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/note/signed_notes.json", dir);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "cannot open vector file %s\n", path);
        return -1;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    int too_big = !feof(f);
    fclose(f);
    buf[n] = '\0';
    g_json = too_big ? NULL : cJSON_Parse(buf);
    if (g_json == NULL) fprintf(stderr, "vector file %s is not JSON (or too big)\n", path);
    return g_json == NULL ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    cJSON_Delete(g_json);
    return 0;
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

static uint64_t u64_field(const cJSON *o, const char *name) {
    const cJSON *f = field(o, name);
    if (!cJSON_IsNumber(f) || f->valuedouble < 0 || f->valuedouble > 9007199254740992.0)
        fail_msg("field \"%s\" is not an exactly representable integer", name);
    return (uint64_t)f->valuedouble;
}

static bool bool_field(const cJSON *o, const char *name) {
    const cJSON *f = field(o, name);
    if (!cJSON_IsBool(f)) fail_msg("field \"%s\" is not a bool", name);
    return cJSON_IsTrue(f);
}

static size_t b64_decode(const char *s, uint8_t *out, size_t cap) {
    size_t n = 0;
    if (sodium_base642bin(out, cap, s, strlen(s), NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
        0)
        fail_msg("cannot decode base64 \"%.40s\"", s);
    return n;
}

static size_t load_keys(const cJSON *arr, ky_note_verifier keys[KEYS_MAX]) {
    size_t n = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, arr) {
        assert_true(n < KEYS_MAX && cJSON_IsString(e));
        int rc = ky_note_verifier_parse(e->valuestring, strlen(e->valuestring), &keys[n++]);
        if (rc != KY_OK) fail_msg("verifier key %s: %s", e->valuestring, ky_strerror(rc));
    }
    return n;
}

/* ---- 1. cases[] ------------------------------------------------------------------------ */

/* Compares the sigs with key_index set (verified) or not with the expected list. */
static void check_sig_list(const cJSON *want, bool verified, const ky_note_verifier *keys,
                           const char *id) {
    size_t w = 0;
    int want_count = cJSON_GetArraySize(want);
    for (size_t i = 0; i < g_opened.sig_count; i++) {
        const ky_note_sig *s = &g_opened.sigs[i];
        if ((s->key_index != SIZE_MAX) != verified) continue;
        CHECK((int)w < want_count, "%s: more %s signatures than expected", id,
              verified ? "verified" : "unverified");
        const cJSON *e = cJSON_GetArrayItem(want, (int)w++);
        const char *name = str_field(e, "name");
        char hex[9];
        snprintf(hex, sizeof hex, "%08x", (unsigned)s->key_id);
        CHECK(strlen(name) == s->name_bytes && memcmp(name, s->name, s->name_bytes) == 0 &&
                  strcmp(hex, str_field(e, "key_id")) == 0,
              "%s: signature %zu is %.*s+%s, want %s+%s", id, i, (int)s->name_bytes, s->name, hex,
              name, str_field(e, "key_id"));
        if (verified)
            CHECK(keys[s->key_index].key_id == s->key_id &&
                      strncmp(keys[s->key_index].name, s->name, s->name_bytes) == 0,
                  "%s: key_index points at the wrong key", id);
    }
    CHECK((int)w == want_count, "%s: %zu %s signatures, want %d", id, w,
          verified ? "verified" : "unverified", want_count);
}

static void check_checkpoint(const cJSON *c, const char *text, size_t text_bytes, const char *id) {
    ky_note_checkpoint cp;
    uint8_t root[64];
    CHECK(ky_note_checkpoint_parse(text, text_bytes, &cp) == KY_OK, "%s: checkpoint", id);
    const char *origin = str_field(c, "origin");
    size_t root_bytes = b64_decode(str_field(c, "root_hash_b64"), root, sizeof root);
    CHECK(cp.origin_bytes == strlen(origin) && memcmp(cp.origin, origin, cp.origin_bytes) == 0 &&
              cp.tree_size == u64_field(c, "tree_size") && root_bytes == 32 &&
              memcmp(cp.root_hash, root, 32) == 0 && cp.extensions_bytes == 0,
          "%s: checkpoint fields differ", id);
}

static void check_error(const cJSON *expect, int rc, const char *id) {
    const char *err = str_field(expect, "error");
    if (strcmp(err, "malformed note") == 0) {
        /* x/mod reports its 100-line limit as malformed; we name the limit. */
        int want = strcmp(id, "xmod-open-101-signatures") == 0 ? KY_E_NOTE_SIGNATURES_TOO_MANY
                                                               : KY_E_NOTE_MALFORMED;
        CHECK(rc == want, "%s: got %s, want %s", id, ky_errname(rc), ky_errname(want));
    } else if (strcmp(err, "note has no verifiable signatures") == 0) {
        CHECK(rc == KY_E_NOTE_UNVERIFIED, "%s: got %s", id, ky_errname(rc));
    } else if (strncmp(err, "invalid signature for key ", 26) == 0) {
        char who[KY_NOTE_KEY_NAME_BYTES_MAX + 16];
        snprintf(who, sizeof who, "%.*s+%08x", (int)g_opened.invalid.name_bytes,
                 g_opened.invalid.name, (unsigned)g_opened.invalid.key_id);
        CHECK(rc == KY_E_NOTE_SIGNATURE_INVALID && strcmp(who, err + 26) == 0, "%s: got %s for %s",
              id, ky_errname(rc), who);
    } else {
        fail_msg("%s: unknown expected error \"%s\"", id, err);
    }
}

static void run_case(const cJSON *c) {
    const char *id = str_field(c, "id");
    const cJSON *expect = field(c, "expect");
    ky_note_verifier keys[KEYS_MAX];
    size_t key_count = load_keys(field(c, "verifier_keys"), keys);
    size_t n = b64_decode(str_field(c, "note_b64"), (uint8_t *)g_note, sizeof g_note);
    if (cJSON_IsString(field(c, "note"))) /* the UTF-8 form, when present, is the same */
        assert_true(strlen(str_field(c, "note")) == n &&
                    memcmp(str_field(c, "note"), g_note, n) == 0);
    int rc = ky_note_open(g_note, n, keys, key_count, &g_opened);
    if (bool_field(expect, "ok")) {
        CHECK(rc == KY_OK, "%s: got %s", id, ky_strerror(rc));
        const char *text = str_field(expect, "text");
        CHECK(g_opened.text == g_note && g_opened.text_bytes == strlen(text) &&
                  memcmp(text, g_opened.text, g_opened.text_bytes) == 0,
              "%s: text differs", id);
    } else {
        CHECK(rc != KY_OK, "%s: accepted", id);
        check_error(expect, rc, id);
    }
    if (rc == KY_OK || rc == KY_E_NOTE_UNVERIFIED) {
        check_sig_list(field(expect, "verified_signatures"), true, keys, id);
        check_sig_list(field(expect, "unverified_signatures"), false, keys, id);
    }
    const cJSON *cp = cJSON_GetObjectItemCaseSensitive(c, "checkpoint");
    if (cp != NULL) {
        CHECK(rc == KY_OK || rc == KY_E_NOTE_UNVERIFIED, "%s: checkpoint note not opened", id);
        check_checkpoint(cp, g_opened.text, g_opened.text_bytes, id);
    }
}

static void test_cases(void **state) {
    (void)state;
    g_checks = 0;
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, field(g_json, "cases")) {
        run_case(c);
        count++;
    }
    assert_int_equal(count, 20);
    print_message("signed_notes.json cases[]: %d cases, %u checks\n", count, g_checks);
}

/* ---- signing[], vkey_parsing[], checkpoint_bodies[] ------------------------------------- */

static void test_signing(void **state) {
    (void)state;
    g_checks = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, field(g_json, "signing")) {
        const char *skey = str_field(c, "signer_key"),
                   *vkey = str_field(c, "matching_verifier_key");
        const char *text = str_field(c, "text"), *want = str_field(c, "expected_note");
        ky_note_signer s;
        ky_note_verifier v;
        size_t n;
        CHECK(ky_note_signer_parse(skey, strlen(skey), &s) == KY_OK, "signer key parse");
        CHECK(ky_note_signer_format(&s, g_out, sizeof g_out, &n) == KY_OK && n == strlen(skey) &&
                  strcmp(g_out, skey) == 0,
              "signer key round trip: %s", g_out);
        CHECK(ky_note_verifier_format(&s.verifier, g_out, sizeof g_out, &n) == KY_OK &&
                  strcmp(g_out, vkey) == 0,
              "derived verifier key %s, want %s", g_out, vkey);
        CHECK(ky_note_sign(text, strlen(text), &s, g_out, sizeof g_out, &n) == KY_OK &&
                  n == strlen(want) && strcmp(g_out, want) == 0,
              "signed note differs:\n%s\nwant:\n%s", g_out, want);
        CHECK(ky_note_verifier_parse(vkey, strlen(vkey), &v) == KY_OK &&
                  ky_note_open(g_out, n, &v, 1, &g_opened) == KY_OK && g_opened.verified_count == 1,
              "own signature does not open");
        /* The same seed through ky_note_signer_from_seed gives the same key. */
        ky_note_signer t;
        CHECK(ky_note_signer_from_seed(s.verifier.name, s.verifier.name_bytes, s.secret_key, &t) ==
                      KY_OK &&
                  memcmp(&t, &s, sizeof t) == 0,
              "from_seed differs from the parsed signer");
        ky_note_signer_clear(&s);
        ky_note_signer_clear(&t);
        CHECK(sodium_is_zero((const unsigned char *)&s, sizeof s), "clear left key bytes");
    }
    print_message("signed_notes.json signing[]: %u checks\n", g_checks);
    assert_int_equal(g_checks, 7);
}

static void test_vkey_parsing(void **state) {
    (void)state;
    g_checks = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, field(g_json, "vkey_parsing")) {
        const char *vkey = str_field(c, "vkey");
        ky_note_verifier v;
        size_t n;
        int rc = ky_note_verifier_parse(vkey, strlen(vkey), &v);
        if (bool_field(c, "valid")) {
            CHECK(rc == KY_OK, "%s: %s", vkey, ky_errname(rc));
            CHECK(ky_note_verifier_format(&v, g_out, sizeof g_out, &n) == KY_OK &&
                      n == strlen(vkey) && strcmp(g_out, vkey) == 0,
                  "round trip: %s", g_out);
        } else {
            CHECK(rc == KY_E_NOTE_KEY_INVALID, "%s (%s): got %s", vkey, str_field(c, "reason"),
                  ky_errname(rc));
        }
    }
    print_message("signed_notes.json vkey_parsing[]: %u checks\n", g_checks);
    assert_int_equal(g_checks, 7 * 2 + 2);
}

static void test_checkpoint_bodies(void **state) {
    (void)state;
    g_checks = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, field(g_json, "checkpoint_bodies")) {
        const char *body = str_field(c, "body");
        ky_note_checkpoint cp;
        int rc = ky_note_checkpoint_parse(body, strlen(body), &cp);
        if (!bool_field(c, "valid")) {
            CHECK(rc == KY_E_CHECKPOINT_MALFORMED, "%s: %s", str_field(c, "reason"),
                  ky_errname(rc));
            continue;
        }
        check_checkpoint(c, body, strlen(body), body);
        size_t n;
        CHECK(ky_note_checkpoint_format(cp.origin, cp.origin_bytes, cp.tree_size, cp.root_hash,
                                        NULL, 0, g_out, sizeof g_out, &n) == KY_OK &&
                  n == strlen(body) && strcmp(g_out, body) == 0,
              "format: %s", g_out);
    }
    print_message("signed_notes.json checkpoint_bodies[]: %u checks\n", g_checks);
    assert_int_equal(g_checks, 2 * 3 + 9);
}

/* ---- 2. tampering ------------------------------------------------------------------------- */

static void tamper_case(const cJSON *c) {
    const char *id = str_field(c, "id");
    ky_note_verifier keys[KEYS_MAX];
    size_t key_count = load_keys(field(c, "verifier_keys"), keys);
    size_t n = b64_decode(str_field(c, "note_b64"), (uint8_t *)g_note, sizeof g_note);
    assert_int_equal(ky_note_open(g_note, n, keys, key_count, &g_opened), KY_OK);
    size_t text_bytes = g_opened.text_bytes;
    /* With one signature every byte matters; with several, a changed name or
     * signature of one line may rightly leave it unknown and the note still valid. */
    size_t sig_count = g_opened.sig_count;
    size_t limit = sig_count == 1 ? n : text_bytes;
    for (size_t i = 0; i < limit; i++) {
        for (unsigned bit = 0; bit < 8; bit += 3) {
            g_note[i] ^= (char)(1u << bit);
            int rc = ky_note_open(g_note, n, keys, key_count, &g_opened);
            g_note[i] ^= (char)(1u << bit);
            CHECK(rc != KY_OK, "%s: flipping bit %u of byte %zu is accepted", id, bit, i);
            if (i < text_bytes)
                CHECK(rc == KY_E_NOTE_SIGNATURE_INVALID || rc == KY_E_NOTE_MALFORMED,
                      "%s: text byte %zu: %s", id, i, ky_errname(rc));
        }
    }
    /* Truncation (anywhere in a single-signature note; in others, before the first
     * signature line is complete) and an extra byte at the end are rejected too. */
    for (size_t len = 0; len < (sig_count == 1 ? n : text_bytes + 2); len++)
        CHECK(ky_note_open(g_note, len, keys, key_count, &g_opened) != KY_OK,
              "%s: truncated to %zu accepted", id, len);
    g_note[n] = 'x';
    CHECK(ky_note_open(g_note, n + 1, keys, key_count, &g_opened) == KY_E_NOTE_MALFORMED,
          "%s: trailing byte accepted", id);
}

static void test_tamper(void **state) {
    (void)state;
    g_checks = 0;
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, field(g_json, "cases")) {
        if (!bool_field(field(c, "expect"), "ok")) continue;
        tamper_case(c);
        count++;
    }
    assert_int_equal(count, 8);
    print_message("tampered copies of the %d accepted notes: %u checks\n", count, g_checks);
}

/* ---- 3. limits ---------------------------------------------------------------------------- */

static void fill_text(char *buf, size_t n) {
    for (size_t i = 0; i < n; i++) buf[i] = (i % 64 == 63) ? '\n' : (char)('a' + i % 26);
    buf[n - 1] = '\n';
}

static void limit_note_bytes(const ky_note_signer *s) {
    static char text[KY_NOTE_BYTES_MAX];
    size_t line = 4 + s->verifier.name_bytes + 1 + 92 + 1, n;
    size_t text_bytes = KY_NOTE_BYTES_MAX - 1 - line; /* the note is then exactly max */
    fill_text(text, text_bytes);
    CHECK(ky_note_sign(text, text_bytes, s, g_out, sizeof g_out, &n) == KY_OK &&
              n == KY_NOTE_BYTES_MAX,
          "note of max bytes not signed");
    CHECK(ky_note_open(g_out, n, &s->verifier, 1, &g_opened) == KY_OK, "max-byte note rejected");
    CHECK(ky_note_sign(text, text_bytes, s, g_note, n + 1, &n) == KY_OK, "exact buffer refused");
    CHECK(ky_note_sign(text, text_bytes, s, g_note, n, &n) == KY_E_BUFFER_TOO_SMALL,
          "no room for the NUL");
    fill_text(text, text_bytes + 1);
    CHECK(ky_note_sign(text, text_bytes + 1, s, g_out, sizeof g_out, &n) == KY_E_NOTE_TOO_LARGE,
          "note of max + 1 bytes signed");
    /* max + 1 bytes to open: the max note with one more text byte. */
    memcpy(g_note, "x", 1);
    memcpy(g_note + 1, g_out, KY_NOTE_BYTES_MAX);
    CHECK(ky_note_open(g_note, KY_NOTE_BYTES_MAX + 1, &s->verifier, 1, &g_opened) ==
              KY_E_NOTE_TOO_LARGE,
          "note of max + 1 bytes opened");
    CHECK(ky_note_checkpoint_parse(g_note, KY_NOTE_BYTES_MAX + 1, &(ky_note_checkpoint){0}) ==
              KY_E_NOTE_TOO_LARGE,
          "checkpoint text of max + 1 bytes parsed");
}

static void limit_signature_lines(const ky_note_signer *s) {
    /* One line KY_NOTE_SIGNATURES_MAX times opens (duplicates count once); one more line
     * is refused before anything is verified. */
    size_t n;
    assert_int_equal(ky_note_sign("hello\n", 6, s, g_out, sizeof g_out, &n), KY_OK);
    size_t one = n - 7; /* "hello\n\n" then one signature line */
    memcpy(g_note, g_out, 7);
    for (size_t i = 0; i <= KY_NOTE_SIGNATURES_MAX; i++)
        memcpy(g_note + 7 + i * one, g_out + 7, one);
    size_t total = 7 + KY_NOTE_SIGNATURES_MAX * one;
    CHECK(ky_note_open(g_note, total, &s->verifier, 1, &g_opened) == KY_OK &&
              g_opened.sig_count == 1 && g_opened.verified_count == 1,
          "100 identical lines");
    CHECK(ky_note_open(g_note, total + one, &s->verifier, 1, &g_opened) ==
              KY_E_NOTE_SIGNATURES_TOO_MANY,
          "101 lines accepted");
    /* C2SP: verifiers MUST accept at least 16 signatures: 16 distinct signers. */
    static ky_note_signer many[16];
    ky_note_verifier keys[16];
    size_t at = 7;
    for (int i = 0; i < 16; i++) {
        char name[32];
        int len = snprintf(name, sizeof name, "witness-%02d.example", i);
        assert_int_equal(ky_note_signer_generate(name, (size_t)len, &many[i]), KY_OK);
        keys[i] = many[i].verifier;
        assert_int_equal(ky_note_sign("hello\n", 6, &many[i], g_out, sizeof g_out, &n), KY_OK);
        memcpy(g_note + at, g_out + 7, n - 7);
        at += n - 7;
        ky_note_signer_clear(&many[i]);
    }
    CHECK(ky_note_open(g_note, at, keys, 16, &g_opened) == KY_OK && g_opened.sig_count == 16 &&
              g_opened.verified_count == 16,
          "16 distinct signatures");
    for (size_t i = 0; i < 16; i++)
        CHECK(g_opened.sigs[i].key_index == i, "signature %zu verified by key %zu", i,
              g_opened.sigs[i].key_index);
}

static void limit_key_name(void) {
    char name[KY_NOTE_KEY_NAME_BYTES_MAX + 2];
    memset(name, 'n', sizeof name);
    uint8_t seed[KY_NOTE_SEED_BYTES] = {7};
    ky_note_signer s;
    ky_note_verifier v;
    size_t n;
    CHECK(ky_note_signer_from_seed(name, KY_NOTE_KEY_NAME_BYTES_MAX, seed, &s) == KY_OK, "255");
    CHECK(ky_note_verifier_format(&s.verifier, g_out, KY_NOTE_VERIFIER_KEY_BYTES_MAX + 1, &n) ==
                  KY_OK &&
              n == KY_NOTE_VERIFIER_KEY_BYTES_MAX,
          "vkey of the longest name");
    CHECK(ky_note_verifier_parse(g_out, n, &v) == KY_OK && memcmp(&v, &s.verifier, sizeof v) == 0,
          "longest vkey round trip");
    CHECK(ky_note_verifier_format(&s.verifier, g_out, n, &n) == KY_E_BUFFER_TOO_SMALL, "cap");
    CHECK(ky_note_signer_format(&s, g_out, KY_NOTE_SIGNER_KEY_BYTES_MAX + 1, &n) == KY_OK &&
              n == KY_NOTE_SIGNER_KEY_BYTES_MAX,
          "signer key of the longest name");
    CHECK(ky_note_sign("t\n", 2, &s, g_out, sizeof g_out, &n) == KY_OK &&
              n == 3 + KY_NOTE_SIGNATURE_LINE_BYTES_MAX,
          "longest signature line");
    CHECK(ky_note_signer_from_seed(name, KY_NOTE_KEY_NAME_BYTES_MAX + 1, seed, &s) ==
              KY_E_NOTE_KEY_NAME_TOO_LONG,
          "256-byte name accepted");
    memcpy(name + KY_NOTE_KEY_NAME_BYTES_MAX + 1, "+", 1);
    snprintf(g_out, sizeof g_out, "%.*s+00000000+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
             (int)KY_NOTE_KEY_NAME_BYTES_MAX + 1, name);
    CHECK(ky_note_verifier_parse(g_out, strlen(g_out), &v) == KY_E_NOTE_KEY_NAME_TOO_LONG,
          "256-byte vkey name accepted");
    ky_note_signer_clear(&s);
}

static void test_limits(void **state) {
    (void)state;
    g_checks = 0;
    ky_note_signer s;
    assert_int_equal(ky_note_signer_generate("example.com/kyosai", 18, &s), KY_OK);
    limit_note_bytes(&s);
    limit_signature_lines(&s);
    limit_key_name();
    ky_note_signer_clear(&s);
    print_message("limits (note bytes, signature lines, key name bytes): %u checks\n", g_checks);
}

/* ---- 4. keys and signature edge cases ---------------------------------------------------- */

static const char peter_vkey[] =
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
static const char peter_note[] =
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\xE2\x80\x94 PeterNeumann "
    "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfq"
    "dngotpRZb6KE6RyyBwJnAM=\n";

static int open_peter_with(const ky_note_verifier *v, const char *note) {
    return ky_note_open(note, strlen(note), v, 1, &g_opened);
}

static void keys_round_trip(void) {
    ky_note_signer a, b, c;
    ky_note_verifier v;
    size_t n;
    CHECK(ky_note_signer_generate("example.com/a", 13, &a) == KY_OK &&
              ky_note_signer_generate("example.com/a", 13, &b) == KY_OK &&
              memcmp(a.secret_key, b.secret_key, sizeof a.secret_key) != 0,
          "generate");
    CHECK(ky_note_signer_format(&a, g_out, sizeof g_out, &n) == KY_OK &&
              ky_note_signer_parse(g_out, n, &c) == KY_OK && memcmp(&a, &c, sizeof a) == 0,
          "signer key round trip");
    g_out[n - 2] = g_out[n - 2] == 'A' ? 'B' : 'A'; /* another seed: key id mismatch */
    CHECK(ky_note_signer_parse(g_out, n, &c) == KY_E_NOTE_KEY_INVALID &&
              sodium_is_zero((const unsigned char *)&c, sizeof c),
          "tampered signer key");
    CHECK(ky_note_verifier_format(&a.verifier, g_out, sizeof g_out, &n) == KY_OK &&
              ky_note_signer_parse(g_out, n, &c) == KY_E_NOTE_KEY_INVALID,
          "verifier key taken as signer key");
    CHECK(ky_note_verifier_parse(g_out, n, &v) == KY_OK && memcmp(&v, &a.verifier, sizeof v) == 0,
          "verifier key round trip");
    CHECK(ky_note_verifier_parse(g_out, n - 1, &v) == KY_E_NOTE_KEY_INVALID, "short vkey");
    char *hex = strchr(g_out, '+') + 1; /* uppercase hex ids parse, as with x/mod */
    for (int i = 0; i < 8; i++)
        if (hex[i] >= 'a' && hex[i] <= 'f') hex[i] = (char)(hex[i] - 'a' + 'A');
    CHECK(ky_note_verifier_parse(g_out, n, &v) == KY_OK && v.key_id == a.verifier.key_id,
          "uppercase key id");
    hex[3] = 'g';
    CHECK(ky_note_verifier_parse(g_out, n, &v) == KY_E_NOTE_KEY_INVALID, "non-hex key id");
    ky_note_signer_clear(&a);
    ky_note_signer_clear(&b);
    ky_note_signer_clear(&c);
}

static void key_names(void) {
    static const char *bad[] = {
        "",                 /* empty */
        "a b",              /* space */
        "a+b",              /* plus */
        "a\tb",             /* tab */
        "a\xC2\xA0z",       /* U+00A0 no-break space */
        "a\xE3\x80\x80z",   /* U+3000 ideographic space */
        "a\xE2\x80\xA8z",   /* U+2028 line separator */
        "a\x01",            /* control character */
        "\xFF",             /* not UTF-8 */
        "\xC0\xAF",         /* overlong '/' (2 bytes) */
        "\xE0\x80\xAF",     /* overlong '/' (3 bytes) */
        "\xED\xA0\x80",     /* surrogate U+D800 */
        "\xF4\x90\x80\x80", /* above U+10FFFF */
        "\xE4\xBE",         /* truncated */
    };
    uint8_t seed[KY_NOTE_SEED_BYTES] = {1};
    ky_note_signer s;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(ky_note_signer_from_seed(bad[i], strlen(bad[i]), seed, &s) == KY_E_NOTE_KEY_INVALID,
              "bad key name %zu accepted", i);
    /* A sequence cut by the length, though the bytes after it would complete it. */
    CHECK(ky_note_signer_from_seed("\xE4\xBE\x8B", 2, seed, &s) == KY_E_NOTE_KEY_INVALID,
          "sequence cut by the length accepted");
    static const char good[] = "\xE4\xBE\x8B.jp/\xE3\x83\xAD\xE3\x82\xB0"; /* 例.jp/ログ */
    CHECK(ky_note_signer_from_seed(good, strlen(good), seed, &s) == KY_OK, "UTF-8 name");
    ky_note_signer_clear(&s);
}

static void unknown_and_wrong_keys(void) {
    ky_note_verifier peter, v;
    ky_note_signer other;
    assert_int_equal(ky_note_verifier_parse(peter_vkey, strlen(peter_vkey), &peter), KY_OK);
    CHECK(open_peter_with(&peter, peter_note) == KY_OK, "peter's note");
    /* Same name, other key (so other id): ignored, so nothing verifies. */
    assert_int_equal(ky_note_signer_generate("PeterNeumann", 12, &other), KY_OK);
    CHECK(open_peter_with(&other.verifier, peter_note) == KY_E_NOTE_UNVERIFIED &&
              g_opened.sig_count == 1 && g_opened.sigs[0].key_index == SIZE_MAX,
          "same name");
    /* Same id, other name: ignored too. */
    v = peter;
    memcpy(v.name, "PeterNeumanm", 12);
    CHECK(open_peter_with(&v, peter_note) == KY_E_NOTE_UNVERIFIED, "same id, other name");
    /* Same name and id but another public key (a colliding key): verified, and fails. */
    v = peter;
    memcpy(v.public_key, other.verifier.public_key, sizeof v.public_key);
    CHECK(open_peter_with(&v, peter_note) == KY_E_NOTE_SIGNATURE_INVALID &&
              g_opened.invalid.key_index == 0,
          "colliding key");
    ky_note_signer_clear(&other);
}

static void signature_edges(void) {
    ky_note_verifier peter;
    assert_int_equal(ky_note_verifier_parse(peter_vkey, strlen(peter_vkey), &peter), KY_OK);
    size_t sig_at = strlen(peter_note) - 93; /* the 92 base64 characters and \n */
    strcpy(g_note, peter_note);
    g_note[sig_at + 90] = 'N'; /* "AM=" -> "AN=": non-zero padding bits, not canonical */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "non-canonical base64");
    strcpy(g_note + sig_at, "x08go/ZJ\n"); /* key id and 2 bytes: a short signature */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_SIGNATURE_INVALID, "short signature");
    strcpy(g_note + sig_at, "x08g\n"); /* 3 bytes: too short to hold a key id and data */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "3-byte signature");
    strcpy(g_note + sig_at, "x08gow==\n"); /* 4 bytes: the key id alone */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "4-byte signature");
    strcpy(g_note + sig_at, "x08gow=A\n"); /* padding before the end */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "misplaced padding");
    strcpy(g_note + sig_at, "x08gow\n"); /* unpadded */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "unpadded base64");
    strcpy(g_note + sig_at - 1, "\n"); /* no space, no signature */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "name only");
    strcpy(g_note, peter_note);
    memcpy(g_note + sig_at - 17, "---", 3); /* hyphens for the em dash: not a signature line */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "hyphens for em dash");
    memcpy(g_note + sig_at - 17, "\xE2\x80\x93", 3); /* en dash U+2013 */
    CHECK(open_peter_with(&peter, g_note) == KY_E_NOTE_MALFORMED, "en dash for em dash");
    size_t n;
    ky_note_signer s;
    assert_int_equal(ky_note_signer_generate("k", 1, &s), KY_OK);
    static const char *bad_text[] = {
        "",       "no newline",     "ctl\x01\n",      "\xFF\n",
        "cr\r\n", "\xED\xA0\x80\n", "\xE0\x80\xAF\n", "\xF4\x90\x80\x80\n"};
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++)
        CHECK(ky_note_sign(bad_text[i], strlen(bad_text[i]), &s, g_out, sizeof g_out, &n) ==
                  KY_E_NOTE_MALFORMED,
              "text %zu signed", i);
    /* Texts with blank lines, or only a newline, still round trip. */
    static const char *odd_text[] = {"\n", "a\n\nb\n", "a\n\n\n", "\xE2\x80\x94 x y\n"};
    for (size_t i = 0; i < sizeof odd_text / sizeof odd_text[0]; i++) {
        CHECK(ky_note_sign(odd_text[i], strlen(odd_text[i]), &s, g_out, sizeof g_out, &n) ==
                      KY_OK &&
                  ky_note_open(g_out, n, &s.verifier, 1, &g_opened) == KY_OK &&
                  g_opened.text_bytes == strlen(odd_text[i]),
              "text %zu does not round trip", i);
    }
    ky_note_signer_clear(&s);
}

static void test_keys_and_signatures(void **state) {
    (void)state;
    g_checks = 0;
    keys_round_trip();
    key_names();
    unknown_and_wrong_keys();
    signature_edges();
    print_message("keys, names, unknown and colliding keys, signature edges: %u checks\n",
                  g_checks);
}

/* ---- 5. checkpoints beyond the vectors ----------------------------------------------------- */

#define ROOT_B64 "TszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0="

static void checkpoint_strictness(void) {
    static const char *bad[] = {
        "o\n00\n" ROOT_B64 "\n",                                /* leading zero */
        "o\n01\n" ROOT_B64 "\n",                                /* leading zero */
        "o\n+1\n" ROOT_B64 "\n",                                /* sign */
        "o\n 1\n" ROOT_B64 "\n",                                /* space */
        "o\n1 \n" ROOT_B64 "\n",                                /* space */
        "o\n\n" ROOT_B64 "\n",                                  /* empty size */
        "o\n18446744073709551616\n" ROOT_B64 "\n",              /* 2^64 */
        "o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb0\n",  /* unpadded */
        "o\n1\nTszzRgjTG6xce+z2AG31kAXYKBgQVtCSCE40HmuwBb1=\n", /* padding bits set */
        "o\n1\n" ROOT_B64 " \n",                                /* trailing space */
        "o\n1\n" ROOT_B64 "\n\n",                               /* empty extension line */
        "o\n1\n" ROOT_B64 "\nepoch 1\n\nhead x\n",              /* empty extension line */
        "o\n1\n" ROOT_B64 "\nepoch 1",                          /* unterminated extension line */
        "o\r\n1\n" ROOT_B64 "\n",                               /* CR */
        "o\n1\n",                                               /* two lines */
        "",                                                     /* nothing */
    };
    ky_note_checkpoint cp;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK(ky_note_checkpoint_parse(bad[i], strlen(bad[i]), &cp) == KY_E_CHECKPOINT_MALFORMED,
              "bad checkpoint %zu accepted", i);
    static const char max[] = "o\n18446744073709551615\n" ROOT_B64 "\n";
    CHECK(ky_note_checkpoint_parse(max, strlen(max), &cp) == KY_OK && cp.tree_size == UINT64_MAX,
          "UINT64_MAX tree size");
    static const char zero[] = "o\n0\n" ROOT_B64 "\n";
    CHECK(ky_note_checkpoint_parse(zero, strlen(zero), &cp) == KY_OK && cp.tree_size == 0, "0");
}

static void checkpoint_extensions_and_signing(void) {
    static const char ext[] = "epoch 7\nhead " ROOT_B64 "\n";
    static const char want[] = "example.com/kyosai\n42\n" ROOT_B64 "\n"
                               "epoch 7\nhead " ROOT_B64 "\n";
    uint8_t root[32];
    size_t n;
    assert_int_equal(b64_decode(ROOT_B64, root, sizeof root), 32);
    CHECK(ky_note_checkpoint_format("example.com/kyosai", 18, 42, root, ext, strlen(ext), g_out,
                                    sizeof g_out, &n) == KY_OK &&
              n == strlen(want) && strcmp(g_out, want) == 0,
          "format with extensions: %s", g_out);
    CHECK(ky_note_checkpoint_format("example.com/kyosai", 18, 42, root, ext, strlen(ext), g_out, n,
                                    &n) == KY_E_BUFFER_TOO_SMALL,
          "no room for the NUL");
    static const char *bad_ext[] = {"\n", "a\n\nb\n", "a", "a\x01\n"};
    for (size_t i = 0; i < sizeof bad_ext / sizeof bad_ext[0]; i++)
        CHECK(ky_note_checkpoint_format("o", 1, 1, root, bad_ext[i], strlen(bad_ext[i]), g_out,
                                        sizeof g_out, &n) == KY_E_INVALID_ARG,
              "ext %zu", i);
    CHECK(ky_note_checkpoint_format("", 0, 1, root, NULL, 0, g_out, sizeof g_out, &n) ==
                  KY_E_INVALID_ARG &&
              ky_note_checkpoint_format("a\nb", 3, 1, root, NULL, 0, g_out, sizeof g_out, &n) ==
                  KY_E_INVALID_ARG,
          "bad origins");
    /* End to end: format, sign, open, parse. */
    ky_note_signer s;
    ky_note_checkpoint cp;
    static char body[256];
    assert_int_equal(ky_note_signer_generate("example.com/kyosai", 18, &s), KY_OK);
    ky_note_checkpoint_format("example.com/kyosai", 18, 42, root, ext, strlen(ext), body,
                              sizeof body, &n);
    CHECK(ky_note_sign(body, n, &s, g_note, sizeof g_note, &n) == KY_OK &&
              ky_note_open(g_note, n, &s.verifier, 1, &g_opened) == KY_OK &&
              ky_note_checkpoint_parse(g_opened.text, g_opened.text_bytes, &cp) == KY_OK,
          "signed checkpoint does not open");
    CHECK(cp.tree_size == 42 && memcmp(cp.root_hash, root, 32) == 0 &&
              cp.extensions_bytes == strlen(ext) && memcmp(cp.extensions, ext, strlen(ext)) == 0 &&
              cp.origin_bytes == 18 && memcmp(cp.origin, "example.com/kyosai", 18) == 0,
          "checkpoint fields after the round trip");
    ky_note_signer_clear(&s);
}

static void test_checkpoints(void **state) {
    (void)state;
    g_checks = 0;
    checkpoint_strictness();
    checkpoint_extensions_and_signing();
    print_message("checkpoint strictness, extensions, sign/open/parse: %u checks\n", g_checks);
}

int main(void) {
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_signing),
        cmocka_unit_test(test_vkey_parsing),
        cmocka_unit_test(test_checkpoint_bodies),
        cmocka_unit_test(test_tamper),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_keys_and_signatures),
        cmocka_unit_test(test_checkpoints),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
