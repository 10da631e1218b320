/*
 * merkle.c — RFC 9162 §2.1 Merkle tree hashes, proofs and verification.
 *
 * How: every MTH of a leaf range goes through the compact range (a binary-counter
 * stack of perfect-subtree roots), so any range costs one pass over its leaves and
 * O(log n) stack. Proofs follow the RFC 6962 PATH/SUBPROOF recursions as loops that
 * walk from the root down; the hashes they emit are written from the end of the proof
 * buffer backwards, because the recursion emits the outermost sibling last. The proof
 * lengths come from the same walks (*_shape), and the RFC 9162 verifier loops assert
 * that they consume exactly that many hashes: two independent descriptions of the tree
 * checking each other.
 */
#include "merkle.h"

#include <stdbool.h>
#include <string.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

#define HASH_BYTES KY_SHA256_BYTES

_Static_assert(sizeof(((ky_merkle_compact *)0)->hashes) == 64u * HASH_BYTES,
               "one slot per bit of a u64 size");
_Static_assert(KY_MERKLE_COMPACT_ENCODED_BYTES_MAX == 8u + 64u * HASH_BYTES, "encoding");

static unsigned popcount64(uint64_t x) {
    return (unsigned)__builtin_popcountll(x);
}

/* Largest power of two strictly below n (RFC 6962's k), n >= 2. */
static uint64_t split_point(uint64_t n) {
    KY_ASSERT(n >= 2);
    uint64_t k = UINT64_C(1) << (63 - __builtin_clzll(n - 1));
    KY_ASSERT(k < n);
    KY_ASSERT(n - k <= k);
    return k;
}

/* out = SHA-256(0x01 || left || right); out may alias left or right. */
static void node_hash(const uint8_t *left, const uint8_t *right, uint8_t *out) {
    uint8_t tmp[HASH_BYTES];
    ky_sha256_node(left, right, tmp);
    memcpy(out, tmp, HASH_BYTES);
}

void ky_merkle_leaf_hash(const void *data, size_t data_bytes, uint8_t out[KY_SHA256_BYTES]) {
    KY_ASSERT(data != NULL || data_bytes == 0);
    ky_sha256_prefixed(0x00, data_bytes ? data : "", data_bytes, out);
}

/* ---- compact range ------------------------------------------------------------------ */

void ky_merkle_compact_init(ky_merkle_compact *c) {
    KY_ASSERT(c != NULL);
    memset(c, 0, sizeof *c);
}

uint64_t ky_merkle_compact_size(const ky_merkle_compact *c) {
    return c->size;
}

void ky_merkle_compact_append(ky_merkle_compact *c, const uint8_t leaf_hash[KY_SHA256_BYTES]) {
    KY_ASSERT(c->size < UINT64_MAX);
    unsigned count = popcount64(c->size);
    KY_ASSERT(count < 64);
    memcpy(c->hashes[count], leaf_hash, HASH_BYTES);
    count++;
    /* Each trailing one bit of the old size is a subtree as large as the one being
     * completed: merge them, as a carry ripples through a binary counter. */
    for (uint64_t s = c->size; (s & 1) != 0; s >>= 1) {
        KY_ASSERT(count >= 2);
        node_hash(c->hashes[count - 2], c->hashes[count - 1], c->hashes[count - 2]);
        count--;
    }
    c->size++;
    KY_ASSERT(count == popcount64(c->size));
}

void ky_merkle_compact_root(const ky_merkle_compact *c, uint8_t out[KY_SHA256_BYTES]) {
    unsigned count = popcount64(c->size);
    if (count == 0) {
        ky_sha256("", 0, out);
        return;
    }
    /* MTH splits at the largest power of two, which is the first (largest) subtree;
     * the rest is the MTH of the remaining subtrees: fold from the right. */
    uint8_t acc[HASH_BYTES];
    memcpy(acc, c->hashes[count - 1], HASH_BYTES);
    for (unsigned i = count - 1; i-- > 0;) node_hash(c->hashes[i], acc, acc);
    memcpy(out, acc, HASH_BYTES);
}

size_t ky_merkle_compact_encode(const ky_merkle_compact *c, uint8_t *out, size_t out_cap) {
    unsigned count = popcount64(c->size);
    size_t need = 8u + (size_t)count * HASH_BYTES;
    KY_ASSERT(need <= KY_MERKLE_COMPACT_ENCODED_BYTES_MAX);
    if (out_cap < need) return 0;
    for (unsigned i = 0; i < 8; i++) out[i] = (uint8_t)(c->size >> (8 * i));
    memcpy(out + 8, c->hashes, (size_t)count * HASH_BYTES);
    return need;
}

int ky_merkle_compact_decode(ky_merkle_compact *c, const uint8_t *data, size_t data_bytes) {
    ky_merkle_compact_init(c);
    if (data_bytes < 8) return KY_E_CORRUPT;
    uint64_t size = 0;
    for (unsigned i = 0; i < 8; i++) size |= (uint64_t)data[i] << (8 * i);
    size_t count = popcount64(size);
    if (data_bytes != 8u + count * HASH_BYTES) return KY_E_CORRUPT;
    c->size = size;
    memcpy(c->hashes, data + 8, count * HASH_BYTES);
    return KY_OK;
}

/* ---- hashing ranges through the accessor ---------------------------------------------- */

int ky_merkle_range_hash(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t lo, uint64_t hi,
                         uint8_t out[KY_SHA256_BYTES]) {
    if (lo > hi) return KY_E_RANGE;
    KY_ASSERT(get_leaf != NULL || lo == hi);
    ky_merkle_compact c;
    ky_merkle_compact_init(&c);
    for (uint64_t i = lo; i < hi; i++) {
        uint8_t leaf[HASH_BYTES];
        int rc = get_leaf(ctx, i, leaf);
        if (rc != KY_OK) return rc;
        ky_merkle_compact_append(&c, leaf);
    }
    KY_ASSERT(c.size == hi - lo);
    ky_merkle_compact_root(&c, out);
    return KY_OK;
}

int ky_merkle_root(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t tree_size,
                   uint8_t out[KY_SHA256_BYTES]) {
    return ky_merkle_range_hash(get_leaf, ctx, 0, tree_size, out);
}

/* ---- proof shapes (RFC 6962 §2.1.1 / §2.1.2 walked from the root down) ---------------- */

/* Number of hashes in PATH(m, D[n]), m < n: one per split on the way to the leaf. */
static size_t inclusion_shape(uint64_t m, uint64_t n) {
    KY_ASSERT(m < n);
    size_t count = 0;
    uint64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        if (m - lo < k)
            hi = lo + k;
        else
            lo += k;
        count++;
    }
    KY_ASSERT(lo == m && count <= 64);
    return count;
}

/* Shape of PROOF(m, D[n]), 0 < m < n: the number of sibling hashes (one per split) and
 * whether SUBPROOF ends with b == false, which emits MTH of the final range first. */
static size_t consistency_shape(uint64_t m, uint64_t n, bool *terminal) {
    KY_ASSERT(0 < m && m < n);
    size_t siblings = 0;
    bool b = true;
    uint64_t lo = 0, hi = n;
    while (m != hi - lo) {
        uint64_t k = split_point(hi - lo);
        if (m <= k) {
            hi = lo + k;
        } else {
            m -= k;
            lo += k;
            b = false;
        }
        siblings++;
    }
    *terminal = !b;
    KY_ASSERT(siblings <= 64);
    return siblings + (b ? 0u : 1u);
}

/* ---- proof generation ---------------------------------------------------------------- */

int ky_merkle_inclusion_proof(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t leaf_index,
                              uint64_t tree_size, uint8_t *proof, size_t proof_cap,
                              size_t *proof_count) {
    KY_ASSERT(get_leaf != NULL && proof_count != NULL);
    if (leaf_index >= tree_size) return KY_E_RANGE;
    size_t count = inclusion_shape(leaf_index, tree_size);
    if (count > proof_cap) return KY_E_BUFFER_TOO_SMALL;
    KY_ASSERT(proof != NULL || count == 0);
    size_t slot = count; /* the first sibling found is the last one in the path */
    uint64_t lo = 0, hi = tree_size;
    while (hi - lo > 1) {
        uint64_t k = split_point(hi - lo);
        uint8_t *out = proof + (--slot) * HASH_BYTES;
        int rc;
        if (leaf_index - lo < k) {
            rc = ky_merkle_range_hash(get_leaf, ctx, lo + k, hi, out);
            hi = lo + k;
        } else {
            rc = ky_merkle_range_hash(get_leaf, ctx, lo, lo + k, out);
            lo += k;
        }
        if (rc != KY_OK) return rc;
    }
    KY_ASSERT(slot == 0 && lo == leaf_index);
    *proof_count = count;
    return KY_OK;
}

int ky_merkle_consistency_proof(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t size1,
                                uint64_t size2, uint8_t *proof, size_t proof_cap,
                                size_t *proof_count) {
    KY_ASSERT(get_leaf != NULL && proof_count != NULL);
    if (size1 == 0 || size1 > size2) return KY_E_RANGE;
    if (size1 == size2) {
        *proof_count = 0;
        return KY_OK;
    }
    bool terminal;
    size_t count = consistency_shape(size1, size2, &terminal);
    if (count > proof_cap) return KY_E_BUFFER_TOO_SMALL;
    size_t slot = count; /* siblings fill from the end; the terminal hash goes first */
    uint64_t m = size1, lo = 0, hi = size2;
    int rc = KY_OK;
    while (rc == KY_OK && m != hi - lo) {
        uint64_t k = split_point(hi - lo);
        uint8_t *out = proof + (--slot) * HASH_BYTES;
        if (m <= k) {
            rc = ky_merkle_range_hash(get_leaf, ctx, lo + k, hi, out);
            hi = lo + k;
        } else {
            rc = ky_merkle_range_hash(get_leaf, ctx, lo, lo + k, out);
            m -= k;
            lo += k;
        }
    }
    if (rc == KY_OK && terminal) rc = ky_merkle_range_hash(get_leaf, ctx, lo, hi, proof);
    if (rc != KY_OK) return rc;
    KY_ASSERT(slot == (terminal ? 1u : 0u));
    *proof_count = count;
    return KY_OK;
}

/* ---- verification (RFC 9162 §2.1.3.2 / §2.1.4.2) -------------------------------------- */

/* Right-shift fn and sn together until LSB(fn) is set or fn is 0. */
static void shift_to_odd(uint64_t *fn, uint64_t *sn) {
    while ((*fn & 1) == 0 && *fn != 0) {
        *fn >>= 1;
        *sn >>= 1;
    }
}

int ky_merkle_inclusion_verify(uint64_t leaf_index, uint64_t tree_size,
                               const uint8_t leaf_hash[KY_SHA256_BYTES], const uint8_t *proof,
                               size_t proof_count, const uint8_t root[KY_SHA256_BYTES]) {
    KY_ASSERT(leaf_hash != NULL && root != NULL);
    if (leaf_index >= tree_size) return KY_E_RANGE;
    if (proof_count > KY_MERKLE_PROOF_HASHES_MAX) return KY_E_PROOF_INVALID;
    if (proof_count != inclusion_shape(leaf_index, tree_size)) return KY_E_PROOF_INVALID;
    KY_ASSERT(proof != NULL || proof_count == 0);
    uint64_t fn = leaf_index, sn = tree_size - 1;
    uint8_t r[HASH_BYTES];
    memcpy(r, leaf_hash, HASH_BYTES);
    for (size_t i = 0; i < proof_count; i++) {
        const uint8_t *p = proof + i * HASH_BYTES;
        KY_ASSERT(sn != 0); /* the length check above guarantees it */
        if ((fn & 1) != 0 || fn == sn) {
            node_hash(p, r, r);
            shift_to_odd(&fn, &sn);
        } else {
            node_hash(r, p, r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    KY_ASSERT(sn == 0);
    return memcmp(r, root, HASH_BYTES) == 0 ? KY_OK : KY_E_PROOF_INVALID;
}

int ky_merkle_consistency_verify(uint64_t size1, uint64_t size2,
                                 const uint8_t root1[KY_SHA256_BYTES],
                                 const uint8_t root2[KY_SHA256_BYTES], const uint8_t *proof,
                                 size_t proof_count) {
    KY_ASSERT(root1 != NULL && root2 != NULL);
    if (size1 == 0 || size1 > size2) return KY_E_RANGE;
    if (proof_count > KY_MERKLE_PROOF_HASHES_MAX) return KY_E_PROOF_INVALID;
    if (size1 == size2)
        return proof_count == 0 && memcmp(root1, root2, HASH_BYTES) == 0 ? KY_OK
                                                                         : KY_E_PROOF_INVALID;
    bool terminal;
    if (proof_count != consistency_shape(size1, size2, &terminal)) return KY_E_PROOF_INVALID;
    KY_ASSERT(proof != NULL && proof_count > 0);
    /* A power-of-two size1 is a complete subtree of the new tree, so the proof omits its
     * hash and the verifier starts from root1 (RFC 9162 step 2). */
    bool pow2 = (size1 & (size1 - 1)) == 0;
    KY_ASSERT(pow2 == !terminal);
    uint8_t fr[HASH_BYTES], sr[HASH_BYTES];
    memcpy(fr, pow2 ? root1 : proof, HASH_BYTES);
    memcpy(sr, fr, HASH_BYTES);
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while ((fn & 1) != 0) {
        fn >>= 1;
        sn >>= 1;
    }
    for (size_t i = pow2 ? 0 : 1; i < proof_count; i++) {
        const uint8_t *c = proof + i * HASH_BYTES;
        KY_ASSERT(sn != 0); /* the length check above guarantees it */
        if ((fn & 1) != 0 || fn == sn) {
            node_hash(c, fr, fr);
            node_hash(c, sr, sr);
            shift_to_odd(&fn, &sn);
        } else {
            node_hash(sr, c, sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    KY_ASSERT(sn == 0);
    if (memcmp(fr, root1, HASH_BYTES) != 0) return KY_E_PROOF_INVALID;
    return memcmp(sr, root2, HASH_BYTES) == 0 ? KY_OK : KY_E_PROOF_INVALID;
}
