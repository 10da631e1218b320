/*
 * note.h — C2SP signed notes (Ed25519) and tlog-checkpoint bodies.
 *
 * Why: a checkpoint — origin, tree size, Merkle root, extension lines — signed as a
 * C2SP signed note is what lets anyone holding the node's verifier key check the
 * ledger without access to the node (DESIGN §3.3), with our own client or with any
 * standard transparency-log tool. This module formats, signs, opens and parses those
 * texts and keys byte for byte as c2sp.org/signed-note and c2sp.org/tlog-checkpoint
 * specify and golang.org/x/mod/sumdb/note implements.
 *
 * Ownership and threads: pure functions over caller buffers; nothing is allocated,
 * nothing printed. Results that point into an input ("borrowed") stay valid while the
 * caller keeps that input unchanged. ky_note_signer holds a secret key: wipe it with
 * ky_note_signer_clear. Any thread; sodium_init() must have succeeded first.
 *
 * Formats:
 *   verifier key  <name>+<8 hex key id>+base64(0x01 || 32-byte Ed25519 public key)
 *   signer key    PRIVATE+KEY+<name>+<8 hex key id>+base64(0x01 || 32-byte seed)
 *   key id        first 4 bytes, big-endian, of SHA-256(name || 0x0A || 0x01 || pub)
 *   note          <text ending in \n> \n then lines "— <name> base64(id4 || sig64)\n"
 *   checkpoint    <origin>\n<tree size, decimal>\n<base64 32-byte root>\n[extension\n]*
 *
 * Rules (ky_note_open):
 *   1. At most KY_NOTE_BYTES_MAX bytes and KY_NOTE_SIGNATURES_MAX signature lines,
 *      counted before identical lines are dropped (as x/mod does).
 *   2. The note is valid UTF-8 without ASCII control characters other than \n; the text
 *      ends at the last blank line; every signature line is well formed (key name
 *      non-empty, without Unicode spaces or '+'; signature canonical standard base64
 *      of at least 5 bytes). Anything else is KY_E_NOTE_MALFORMED.
 *   3. A signature whose (name, key id) matches no given verifier is listed and ignored.
 *      One that matches is verified; if it fails the whole note is rejected.
 *   4. At least one signature must verify.
 * Only signature type 0x01 (Ed25519) is supported.
 */
#ifndef KY_NOTE_H
#define KY_NOTE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/ky_limits.h"

#define KY_NOTE_PUBLIC_KEY_BYTES 32u /* Ed25519 public key */
#define KY_NOTE_SEED_BYTES       32u /* Ed25519 seed (RFC 8032 private key) */
#define KY_NOTE_SECRET_KEY_BYTES 64u /* libsodium secret key: seed || public key */
#define KY_NOTE_ROOT_HASH_BYTES  32u /* checkpoint root hash (SHA-256) */

/* Longest key strings and signature line the formatters can produce, in bytes, not
 * counting a terminating NUL: base64(0x01 || 32 bytes) is 44 characters, base64(key
 * id || signature) 92, and the em dash is 3 bytes of UTF-8. */
#define KY_NOTE_VERIFIER_KEY_BYTES_MAX   (KY_NOTE_KEY_NAME_BYTES_MAX + 1u + 8u + 1u + 44u)
#define KY_NOTE_SIGNER_KEY_BYTES_MAX     (12u + KY_NOTE_VERIFIER_KEY_BYTES_MAX)
#define KY_NOTE_SIGNATURE_LINE_BYTES_MAX (4u + KY_NOTE_KEY_NAME_BYTES_MAX + 1u + 92u + 1u)

/* A note verifier key: the public half, with its name and key id. Plain data. */
typedef struct ky_note_verifier {
    char name[KY_NOTE_KEY_NAME_BYTES_MAX + 1];    /* key name, UTF-8, NUL-terminated */
    size_t name_bytes;                            /* bytes in name, without the NUL */
    uint32_t key_id;                              /* SHA-256(name \n 0x01 pub)[:4], big-endian */
    uint8_t public_key[KY_NOTE_PUBLIC_KEY_BYTES]; /* Ed25519 public key */
} ky_note_verifier;

/* A note signer key: the verifier plus the secret key. Wipe with ky_note_signer_clear. */
typedef struct ky_note_signer {
    ky_note_verifier verifier;                    /* the matching verifier key */
    uint8_t secret_key[KY_NOTE_SECRET_KEY_BYTES]; /* libsodium Ed25519 secret key */
} ky_note_signer;

/* One distinct signature line of an opened note. */
typedef struct ky_note_sig {
    const char *name;  /* key name, borrowed from the note, not NUL-terminated */
    size_t name_bytes; /* bytes at name */
    uint32_t key_id;   /* key id from the signature's first 4 bytes */
    size_t key_index;  /* index in keys[] of the verifier that verified it, or SIZE_MAX */
} ky_note_sig;

/* What ky_note_open found. About 3.2 KiB; callers may keep it on the stack. */
typedef struct ky_note_opened {
    const char *text;                         /* the note text, borrowed; ends in \n */
    size_t text_bytes;                        /* bytes at text */
    ky_note_sig sigs[KY_NOTE_SIGNATURES_MAX]; /* distinct signature lines, in note order */
    size_t sig_count;                         /* entries used in sigs */
    size_t verified_count;                    /* entries with key_index != SIZE_MAX */
    ky_note_sig invalid; /* on KY_E_NOTE_SIGNATURE_INVALID: the line that failed */
} ky_note_opened;

/* A parsed checkpoint body. Strings are borrowed from the parsed text. */
typedef struct ky_note_checkpoint {
    const char *origin;                         /* first line, without its \n */
    size_t origin_bytes;                        /* bytes at origin, > 0 */
    uint64_t tree_size;                         /* leaves in the tree, count */
    uint8_t root_hash[KY_NOTE_ROOT_HASH_BYTES]; /* RFC 6962 root at tree_size */
    const char *extensions;  /* extension lines, each non-empty and ending in \n */
    size_t extensions_bytes; /* bytes at extensions; 0 when there are none */
} ky_note_checkpoint;

/* ---- keys ------------------------------------------------------------------------------ */

/* Parses the verifier key string (vkey_bytes bytes at vkey, no NUL needed) into *out.
 * Returns KY_OK; KY_E_NOTE_KEY_NAME_TOO_LONG if the name exceeds
 * KY_NOTE_KEY_NAME_BYTES_MAX; KY_E_NOTE_KEY_INVALID if it is malformed, the type byte
 * is not 0x01, the key is not 32 bytes or the key id does not match. */
int ky_note_verifier_parse(const char *vkey, size_t vkey_bytes, ky_note_verifier *out);

/* Writes the verifier key string of v to out (room for out_cap bytes), NUL-terminated,
 * and its length without the NUL to *out_bytes. KY_NOTE_VERIFIER_KEY_BYTES_MAX + 1
 * always suffices. Returns KY_OK or KY_E_BUFFER_TOO_SMALL. */
int ky_note_verifier_format(const ky_note_verifier *v, char *out, size_t out_cap,
                            size_t *out_bytes);

/* Builds the signer (and its verifier) for key name `name` from a 32-byte Ed25519 seed.
 * Returns KY_OK; KY_E_NOTE_KEY_NAME_TOO_LONG; or KY_E_NOTE_KEY_INVALID if the name is
 * empty, not UTF-8, or holds a control character, a Unicode space or '+'. */
int ky_note_signer_from_seed(const char *name, size_t name_bytes,
                             const uint8_t seed[KY_NOTE_SEED_BYTES], ky_note_signer *out);

/* As ky_note_signer_from_seed with a fresh seed from libsodium's randombytes. */
int ky_note_signer_generate(const char *name, size_t name_bytes, ky_note_signer *out);

/* Parses an x/mod signer key string (PRIVATE+KEY+...). Returns KY_OK,
 * KY_E_NOTE_KEY_NAME_TOO_LONG, or KY_E_NOTE_KEY_INVALID (malformed, wrong type or
 * length, or a key id that does not match the key derived from the seed). On error
 * *out is wiped. */
int ky_note_signer_parse(const char *skey, size_t skey_bytes, ky_note_signer *out);

/* Writes the signer key string of s like ky_note_verifier_format (the buffer then holds
 * the secret seed: wipe it after use). KY_NOTE_SIGNER_KEY_BYTES_MAX + 1 suffices.
 * Returns KY_OK or KY_E_BUFFER_TOO_SMALL. */
int ky_note_signer_format(const ky_note_signer *s, char *out, size_t out_cap, size_t *out_bytes);

/* Wipes the secret key and everything else in *s. */
void ky_note_signer_clear(ky_note_signer *s);

/* ---- notes ----------------------------------------------------------------------------- */

/* Signs `text` (text_bytes bytes: non-empty, ending in \n, UTF-8 without control
 * characters other than \n) with s and writes the signed note — text, blank line, one
 * signature line — to out, NUL-terminated, its length without the NUL to *out_bytes.
 * Ed25519 is deterministic, so the same text and key give the same bytes.
 * Returns KY_OK; KY_E_NOTE_MALFORMED if the text breaks those rules;
 * KY_E_NOTE_TOO_LARGE if the note would exceed KY_NOTE_BYTES_MAX;
 * KY_E_BUFFER_TOO_SMALL if out_cap < note length + 1. */
int ky_note_sign(const char *text, size_t text_bytes, const ky_note_signer *s, char *out,
                 size_t out_cap, size_t *out_bytes);

/* Opens the signed note (note_bytes bytes at note) against key_count verifiers at keys
 * (keys may be NULL when key_count == 0), following rules 1-4 above.
 * Returns KY_OK with *out describing the text and every distinct signature line;
 * KY_E_NOTE_TOO_LARGE; KY_E_NOTE_SIGNATURES_TOO_MANY; KY_E_NOTE_MALFORMED;
 * KY_E_NOTE_SIGNATURE_INVALID (out->invalid names the line); or KY_E_NOTE_UNVERIFIED
 * (no signature from a known key; out->text and out->sigs are still filled, so the
 * caller can report which keys signed). The text MUST NOT be trusted unless KY_OK. */
int ky_note_open(const char *note, size_t note_bytes, const ky_note_verifier *keys,
                 size_t key_count, ky_note_opened *out);

/* ---- checkpoints ----------------------------------------------------------------------- */

/* Parses a tlog-checkpoint note text strictly: origin non-empty; tree size decimal
 * without sign or leading zeros ("0" alone for the empty tree) and within uint64; root
 * hash canonical base64 of exactly 32 bytes; extension lines non-empty; every line,
 * the last included, ends in \n; UTF-8 without control characters.
 * Returns KY_OK, KY_E_NOTE_TOO_LARGE (over KY_NOTE_BYTES_MAX) or
 * KY_E_CHECKPOINT_MALFORMED. */
int ky_note_checkpoint_parse(const char *text, size_t text_bytes, ky_note_checkpoint *out);

/* Formats a checkpoint body: origin (origin_bytes > 0, UTF-8, no control character),
 * tree size, root hash, then `extensions` (extensions_bytes bytes of non-empty lines
 * each ending in \n, or none) into out, NUL-terminated, length to *out_bytes.
 * Returns KY_OK, KY_E_INVALID_ARG for a bad origin or extension block, or
 * KY_E_BUFFER_TOO_SMALL. */
int ky_note_checkpoint_format(const char *origin, size_t origin_bytes, uint64_t tree_size,
                              const uint8_t root_hash[KY_NOTE_ROOT_HASH_BYTES],
                              const char *extensions, size_t extensions_bytes, char *out,
                              size_t out_cap, size_t *out_bytes);

#endif
