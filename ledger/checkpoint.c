/*
 * checkpoint.c — signed checkpoints and ledger-backed Merkle proofs (see checkpoint.h).
 *
 * How proofs are built: an RFC 9162 proof is a list of subtree hashes MTH(D[lo:hi]).
 * Which subtrees is a function of the sizes alone, so we first list them ("spans", in
 * proof order) by walking the RFC 6962 PATH / SUBPROOF recursion top-down, then hash
 * each span with one ky_ledger_scan feeding a compact range (whose root over leaves
 * lo..hi-1 appended from empty is exactly MTH(D[lo:hi])). merkle.c's generators take a
 * random-access leaf callback, which over LMDB would cost one read transaction per leaf;
 * this way each span is one sequential cursor walk. The unit test checks that the two
 * give identical bytes.
 */
#include "checkpoint.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "merkle.h"

#define B64_HASH_CHARS 44u /* base64 of 32 bytes, padded */

_Static_assert(KY_HASH_BYTES == KY_NOTE_ROOT_HASH_BYTES, "checkpoint root is a SHA-256 hash");
_Static_assert(sodium_base64_ENCODED_LEN(KY_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL) ==
                   B64_HASH_CHARS + 1u,
               "base64 of a hash is 44 characters and a NUL");
_Static_assert(KY_CHECKPOINT_NOTE_BYTES_MAX < KY_NOTE_BYTES_MAX, "a checkpoint fits a note");

/* ---- leaves over the ledger ------------------------------------------------------------ */

/* Scan state: leaves of seqs next_seq..last_seq go either to `array` or to `compact`. */
typedef struct leaf_scan {
    uint64_t next_seq;          /* seq the scan must deliver next (no gaps allowed) */
    uint64_t last_seq;          /* last seq wanted */
    uint8_t *array;             /* leaf hashes out, or NULL */
    ky_merkle_compact *compact; /* compact range to append to, or NULL */
} leaf_scan;

static int leaf_scan_cb(void *ctx, uint64_t seq, const uint8_t *stored, size_t stored_len) {
    leaf_scan *s = ctx;
    KY_ASSERT(s->next_seq <= s->last_seq);
    KY_ASSERT(seq <= s->last_seq);                 /* ky_ledger_scan stops at to_seq */
    if (seq != s->next_seq) return KY_E_NOT_FOUND; /* a gap: invariant 1 of ledger.h broken */
    const uint8_t *entry;
    size_t entry_len;
    int rc = ky_ledger_stored_check(stored, stored_len, &entry, &entry_len);
    if (rc != KY_OK) return rc;
    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(entry, entry_len, leaf);
    if (s->array != NULL) {
        memcpy(s->array, leaf, KY_HASH_BYTES);
        s->array += KY_HASH_BYTES;
    }
    if (s->compact != NULL) ky_merkle_compact_append(s->compact, leaf);
    s->next_seq++;
    return s->next_seq > s->last_seq ? 1 : 0; /* 1: all read, stop early */
}

/* Runs one scan over from_seq..to_seq; every seq must be delivered. */
static int leaf_scan_run(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, leaf_scan *s) {
    KY_ASSERT(from_seq >= 1);
    KY_ASSERT(from_seq <= to_seq);
    s->next_seq = from_seq;
    s->last_seq = to_seq;
    int rc = ky_ledger_scan(l, from_seq, to_seq, leaf_scan_cb, s);
    if (rc == 1) return KY_OK; /* the callback saw the last seq */
    if (rc != KY_OK) return rc;
    return KY_E_NOT_FOUND; /* the scan ended before to_seq */
}

int ky_checkpoint_leaf_hashes(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, uint8_t *out) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(out != NULL);
    if (from_seq == 0 || from_seq > to_seq) return KY_E_RANGE;
    leaf_scan s = {.array = out, .compact = NULL};
    return leaf_scan_run(l, from_seq, to_seq, &s);
}

/* ---- proofs ---------------------------------------------------------------------------- */

/* A subtree of leaf indexes [lo, hi). */
typedef struct span {
    uint64_t lo; /* first leaf index */
    uint64_t hi; /* one past the last */
} span;

/* Largest power of two strictly below n (n >= 2). */
static uint64_t split_point(uint64_t n) {
    KY_ASSERT(n >= 2);
    uint64_t k = 1;
    while (k < n - k) k <<= 1; /* while 2k < n, doubling stays below n */
    KY_ASSERT(k < n);
    KY_ASSERT(k >= n - k); /* 2k >= n without overflow: k is the largest */
    return k;
}

/* Reverses spans[0..count) in place: the walks below find siblings root side first. */
static void spans_reverse(span *spans, size_t count) {
    for (size_t i = 0; i < count / 2; i++) {
        span t = spans[i];
        spans[i] = spans[count - 1 - i];
        spans[count - 1 - i] = t;
    }
}

/* Spans of PATH(m, D[0:n]) (RFC 6962 §2.1.1) in proof order, leaf side first. */
static size_t inclusion_spans(uint64_t m, uint64_t n, span spans[KY_MERKLE_PROOF_HASHES_MAX]) {
    KY_ASSERT(m < n);
    size_t count = 0;
    uint64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        KY_ASSERT(count < KY_MERKLE_PROOF_HASHES_MAX);
        if (m < lo + k) {
            spans[count++] = (span){lo + k, hi};
            hi = lo + k;
        } else {
            spans[count++] = (span){lo, lo + k};
            lo += k;
        }
    }
    KY_ASSERT(lo == m && hi == m + 1);
    spans_reverse(spans, count);
    return count;
}

/* Spans of PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true) (RFC 6962 §2.1.2), proof order. */
static size_t consistency_spans(uint64_t m, uint64_t n, span spans[KY_MERKLE_PROOF_HASHES_MAX]) {
    KY_ASSERT(m >= 1 && m <= n);
    span sib[KY_MERKLE_PROOF_HASHES_MAX];
    size_t sib_count = 0;
    uint64_t lo = 0, hi = n;
    bool whole = true; /* b: the old tree is still a prefix we need not send */
    while (m != hi) {
        KY_ASSERT(m > lo && m < hi);
        KY_ASSERT(sib_count < KY_MERKLE_PROOF_HASHES_MAX - 1u);
        uint64_t k = split_point(hi - lo);
        if (m - lo <= k) {
            sib[sib_count++] = (span){lo + k, hi};
            hi = lo + k;
        } else {
            sib[sib_count++] = (span){lo, lo + k};
            lo += k;
            whole = false;
        }
    }
    size_t count = 0;
    if (!whole) spans[count++] = (span){lo, hi};
    for (size_t i = sib_count; i > 0; i--) spans[count++] = sib[i - 1];
    return count;
}

/* Hashes each span with one scan and writes the hashes to proof, in order. */
static int spans_hash(ky_ledger *l, const span *spans, size_t count, uint8_t *proof) {
    for (size_t i = 0; i < count; i++) {
        KY_ASSERT(spans[i].lo < spans[i].hi);
        ky_merkle_compact c;
        ky_merkle_compact_init(&c);
        leaf_scan s = {.array = NULL, .compact = &c};
        int rc = leaf_scan_run(l, spans[i].lo + 1, spans[i].hi, &s);
        if (rc != KY_OK) return rc;
        KY_ASSERT(ky_merkle_compact_size(&c) == spans[i].hi - spans[i].lo);
        ky_merkle_compact_root(&c, proof + i * KY_HASH_BYTES);
    }
    return KY_OK;
}

/* Reads the committed head and checks size against it. */
static int head_covers(ky_ledger *l, uint64_t size, ky_ledger_head *head) {
    int rc = ky_ledger_head_get(l, head);
    if (rc != KY_OK) return rc;
    return size <= head->seq ? KY_OK : KY_E_RANGE;
}

/* Reads entry seq and writes its leaf hash. */
static int leaf_of(ky_ledger *l, uint64_t seq, uint8_t leaf[KY_HASH_BYTES]) {
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    int rc = ky_ledger_get(l, seq, buf, sizeof buf, &n);
    if (rc != KY_OK) return rc;
    ky_entry_leaf_hash(buf, n, leaf);
    return KY_OK;
}

int ky_checkpoint_inclusion_proof(ky_ledger *l, uint64_t seq, uint64_t tree_size, uint8_t *proof,
                                  size_t proof_cap, size_t *proof_count) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(proof_count != NULL && (proof != NULL || proof_cap == 0));
    *proof_count = 0;
    if (seq == 0 || seq > tree_size) return KY_E_RANGE;
    ky_ledger_head head;
    int rc = head_covers(l, tree_size, &head);
    if (rc != KY_OK) return rc;
    span spans[KY_MERKLE_PROOF_HASHES_MAX];
    size_t count = inclusion_spans(seq - 1, tree_size, spans);
    if (count > proof_cap) return KY_E_BUFFER_TOO_SMALL;
    rc = spans_hash(l, spans, count, proof);
    if (rc != KY_OK) return rc;
    if (tree_size == head.seq) {
        /* Paired check: the proof from the stored entries must reach the stored root. */
        uint8_t leaf[KY_HASH_BYTES];
        rc = leaf_of(l, seq, leaf);
        if (rc != KY_OK) return rc;
        rc = ky_merkle_inclusion_verify(seq - 1, tree_size, leaf, proof, count, head.merkle_root);
        if (rc != KY_OK) return KY_E_CORRUPT;
    }
    *proof_count = count;
    return KY_OK;
}

int ky_checkpoint_consistency_proof(ky_ledger *l, uint64_t size1, uint64_t size2, uint8_t *proof,
                                    size_t proof_cap, size_t *proof_count) {
    KY_ASSERT(l != NULL);
    KY_ASSERT(proof_count != NULL && (proof != NULL || proof_cap == 0));
    *proof_count = 0;
    if (size1 == 0 || size1 > size2) return KY_E_RANGE;
    ky_ledger_head head;
    int rc = head_covers(l, size2, &head);
    if (rc != KY_OK) return rc;
    span spans[KY_MERKLE_PROOF_HASHES_MAX];
    size_t count = consistency_spans(size1, size2, spans);
    if (count > proof_cap) return KY_E_BUFFER_TOO_SMALL;
    rc = spans_hash(l, spans, count, proof);
    if (rc != KY_OK) return rc;
    *proof_count = count;
    return KY_OK;
}

/* ---- making a checkpoint --------------------------------------------------------------- */

static void b64_hash(const uint8_t hash[KY_HASH_BYTES], char out[B64_HASH_CHARS + 1]) {
    sodium_bin2base64(out, B64_HASH_CHARS + 1, hash, KY_HASH_BYTES, sodium_base64_VARIANT_ORIGINAL);
}

int ky_checkpoint_make(ky_ledger *l, const ky_note_signer *signer, const char *origin, char *out,
                       size_t out_cap, size_t *out_bytes) {
    KY_ASSERT(l != NULL && signer != NULL && origin != NULL);
    KY_ASSERT(out != NULL && out_bytes != NULL);
    *out_bytes = 0;
    size_t origin_bytes = strnlen(origin, KY_CHECKPOINT_ORIGIN_BYTES_MAX + 1u);
    if (origin_bytes == 0 || origin_bytes > KY_CHECKPOINT_ORIGIN_BYTES_MAX) return KY_E_INVALID_ARG;
    ky_ledger_head head;
    int rc = ky_ledger_head_get(l, &head);
    if (rc != KY_OK) return rc;
    if (head.seq == 0) return KY_E_NOT_FOUND;
    uint8_t leaf[KY_HASH_BYTES];
    rc = leaf_of(l, head.seq, leaf);
    if (rc == KY_E_NOT_FOUND) return KY_E_CORRUPT; /* the head names a missing entry */
    if (rc != KY_OK) return rc;
    if (memcmp(leaf, head.hash, KY_HASH_BYTES) != 0) return KY_E_CORRUPT;

    char head_b64[B64_HASH_CHARS + 1];
    b64_hash(head.hash, head_b64);
    char ext[64];
    int n = snprintf(ext, sizeof ext, "epoch %" PRIu64 "\nhead %s\n", head.epoch, head_b64);
    KY_ASSERT(n > 0 && (size_t)n < sizeof ext);
    char text[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t text_bytes;
    rc = ky_note_checkpoint_format(origin, origin_bytes, head.seq, head.merkle_root, ext, (size_t)n,
                                   text, sizeof text, &text_bytes);
    if (rc != KY_OK) return rc;
    return ky_note_sign(text, text_bytes, signer, out, out_cap, out_bytes);
}

/* ---- opening a checkpoint -------------------------------------------------------------- */

/* Strict decimal: digits only, no leading zero unless "0", within uint64. */
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

/* Canonical padded base64 of exactly 32 bytes: decodes, re-encodes and compares. */
static bool b64_hash_parse(const char *s, size_t n, uint8_t out[KY_HASH_BYTES]) {
    if (n != B64_HASH_CHARS) return false;
    size_t bin_bytes;
    if (sodium_base642bin(out, KY_HASH_BYTES, s, n, NULL, &bin_bytes, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        bin_bytes != KY_HASH_BYTES)
        return false;
    char again[B64_HASH_CHARS + 1];
    b64_hash(out, again);
    return memcmp(again, s, n) == 0;
}

/* Parses one extension line (without its \n) into out. The keyword is the text before
 * the first space; lines whose keyword is not ours are skipped (other logs' extensions). */
static int extension_parse(const char *line, size_t n, ky_checkpoint *out) {
    const char *space = memchr(line, ' ', n);
    size_t kw = space != NULL ? (size_t)(space - line) : n;
    const char *arg = line + kw + 1;
    size_t arg_bytes = space != NULL ? n - kw - 1 : 0;
    if (kw == 5 && memcmp(line, "epoch", 5) == 0) {
        if (out->has_epoch || space == NULL || !decimal_parse(arg, arg_bytes, &out->epoch))
            return KY_E_CHECKPOINT_MALFORMED;
        out->has_epoch = true;
    } else if (kw == 4 && memcmp(line, "head", 4) == 0) {
        if (out->has_head || space == NULL || !b64_hash_parse(arg, arg_bytes, out->head_leaf_hash))
            return KY_E_CHECKPOINT_MALFORMED;
        out->has_head = true;
    }
    return KY_OK;
}

int ky_checkpoint_open(const char *note, size_t note_bytes, const ky_note_verifier *key,
                       ky_checkpoint *out) {
    KY_ASSERT(note != NULL || note_bytes == 0);
    KY_ASSERT(key != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    ky_note_opened opened;
    int rc = ky_note_open(note, note_bytes, key, 1, &opened);
    if (rc != KY_OK) return rc;
    KY_ASSERT(opened.verified_count == 1); /* one key given, rule 4 of note.h */
    rc = ky_note_checkpoint_parse(opened.text, opened.text_bytes, &out->body);
    if (rc != KY_OK) return rc;
    const char *p = out->body.extensions;
    const char *end = p + out->body.extensions_bytes;
    while (out->body.extensions_bytes > 0 && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        KY_ASSERT(nl != NULL); /* ky_note_checkpoint_parse: every line ends in \n */
        rc = extension_parse(p, (size_t)(nl - p), out);
        if (rc != KY_OK) {
            memset(out, 0, sizeof *out);
            return rc;
        }
        p = nl + 1;
    }
    return KY_OK;
}
