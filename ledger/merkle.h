/*
 * merkle.h — RFC 9162 §2.1 Merkle tree hashes, proofs and their verification.
 *
 * Why: the ledger's leaf hashes form both the hash chain and a Merkle tree (DESIGN
 * §3.2), so that anyone holding a signed checkpoint (tree size + root) can check that an
 * entry is in the ledger (inclusion proof) and that a later checkpoint extends an
 * earlier one (consistency proof) without reading the ledger. This module is pure: it
 * owns no storage, reads leaf hashes only through the caller's ky_merkle_leaf_cb, never
 * allocates and never prints. Any thread may call it; a ky_merkle_compact belongs to
 * one thread at a time.
 *
 * Hashing (RFC 6962 / RFC 9162 §2.1.1): leaf = SHA-256(0x00 || data), node =
 * SHA-256(0x01 || left || right), and MTH of n > 1 leaves splits at the largest power
 * of two k < n. The empty tree's root is SHA-256(""). Leaves are indexed 0..n-1 here;
 * the ledger maps seq s to leaf index s - 1.
 *
 * Rules:
 *   1. Every hash is exactly KY_SHA256_BYTES (32) bytes. A proof is `proof_count`
 *      consecutive 32-byte hashes, ordered as RFC 9162 orders them (leaf side first).
 *   2. Verification is strict (as transparency-dev/merkle): a leaf index outside the
 *      tree, a proof of the wrong length, size1 > size2, or size1 == 0 are rejected.
 *      Consistency from the empty tree is rejected as meaningless: every tree extends
 *      the empty tree, so such a "proof" proves nothing and accepting it only invites
 *      callers to skip a real check. size1 == size2 is accepted only with an empty proof
 *      and equal roots.
 *   3. Proof generation and ky_merkle_root cost O(leaves) accessor calls and SHA-256s
 *      and O(log n) stack; nothing here caches interior nodes.
 *   4. An error from the accessor is returned unchanged, and then the out parameters
 *      hold no meaningful value.
 */
#ifndef KY_MERKLE_H
#define KY_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/ky_limits.h"
#include "sha256.h"

/* Leaf-hash accessor: writes the leaf hash (already SHA-256(0x00 || data)) of leaf
 * `index` to `out` and returns KY_OK, or returns a ky_err that the caller propagates.
 * Called with indexes in increasing order within one range; it must be deterministic. */
typedef int (*ky_merkle_leaf_cb)(void *ctx, uint64_t index, uint8_t out[KY_SHA256_BYTES]);

/* Compact range over leaves [0, size): the roots of the perfect subtrees that the set
 * bits of `size` describe, largest first. Appending a leaf merges equal-sized subtrees
 * like a binary counter carry, so the current root is known without rereading leaves.
 * Initialise with ky_merkle_compact_init; plain data, may be copied. */
typedef struct ky_merkle_compact {
    uint64_t size;                       /* leaves appended so far, count */
    uint8_t hashes[64][KY_SHA256_BYTES]; /* popcount(size) subtree roots, largest first */
} ky_merkle_compact;

/* out = SHA-256(0x00 || data): the RFC 6962 leaf hash of `data_bytes` bytes at `data`
 * (data may be NULL when data_bytes == 0). Never fails. */
void ky_merkle_leaf_hash(const void *data, size_t data_bytes, uint8_t out[KY_SHA256_BYTES]);

/* Sets `c` to the empty range (size 0). Never fails. */
void ky_merkle_compact_init(ky_merkle_compact *c);

/* Appends one leaf hash to `c`: O(1) amortised, at most 63 node hashes. Never fails;
 * asserts that c holds fewer than UINT64_MAX leaves (no ledger gets there). */
void ky_merkle_compact_append(ky_merkle_compact *c, const uint8_t leaf_hash[KY_SHA256_BYTES]);

/* Returns the number of leaves appended to `c`. */
uint64_t ky_merkle_compact_size(const ky_merkle_compact *c);

/* out = MTH of the c->size leaves appended so far (SHA-256("") for size 0).
 * At most 63 node hashes; never fails; `c` is not modified. */
void ky_merkle_compact_root(const ky_merkle_compact *c, uint8_t out[KY_SHA256_BYTES]);

/* Canonical bytes of a compact range, for storing it beside the ledger head:
 * u64 little-endian size, then popcount(size) 32-byte hashes, largest subtree first. */
#define KY_MERKLE_COMPACT_ENCODED_BYTES_MAX (8u + 64u * KY_SHA256_BYTES)

/* Writes the encoding of `c` to `out` (room for out_cap bytes) and returns its length,
 * at most KY_MERKLE_COMPACT_ENCODED_BYTES_MAX; returns 0 if out_cap is too small. */
size_t ky_merkle_compact_encode(const ky_merkle_compact *c, uint8_t *out, size_t out_cap);

/* Sets `c` from `data_bytes` bytes at `data` written by ky_merkle_compact_encode.
 * Returns KY_OK, or KY_E_CORRUPT if the length does not match the encoded size (then
 * `c` is the empty range). The hashes themselves cannot be checked here. */
int ky_merkle_compact_decode(ky_merkle_compact *c, const uint8_t *data, size_t data_bytes);

/* out = MTH(D[lo:hi]), the hash of leaves lo..hi-1 taken as a tree of their own (for a
 * perfect subtree [i*2^k, (i+1)*2^k) that is the interior node RFC 6962 stores there).
 * Reads each leaf in [lo, hi) once, in order; O(log) memory. lo == hi gives SHA-256("").
 * Returns KY_OK, KY_E_RANGE if lo > hi, or the accessor's error. */
int ky_merkle_range_hash(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t lo, uint64_t hi,
                         uint8_t out[KY_SHA256_BYTES]);

/* out = MTH(D[0:tree_size]), the root of the first tree_size leaves; equivalent to
 * ky_merkle_range_hash(get_leaf, ctx, 0, tree_size, out). Same returns. */
int ky_merkle_root(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t tree_size,
                   uint8_t out[KY_SHA256_BYTES]);

/* Inclusion proof PATH(leaf_index, D[tree_size]) (RFC 6962 §2.1.1), written to `proof`
 * as *proof_count 32-byte hashes, leaf side first. `proof` has room for proof_cap
 * hashes (KY_MERKLE_PROOF_HASHES_MAX always suffices).
 * Returns KY_OK; KY_E_RANGE if leaf_index >= tree_size; KY_E_BUFFER_TOO_SMALL if the
 * proof needs more than proof_cap hashes; or the accessor's error. */
int ky_merkle_inclusion_proof(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t leaf_index,
                              uint64_t tree_size, uint8_t *proof, size_t proof_cap,
                              size_t *proof_count);

/* Consistency proof PROOF(size1, D[size2]) (RFC 6962 §2.1.2), written like the above.
 * size1 == size2 gives an empty proof. Returns KY_OK; KY_E_RANGE if size1 == 0 or
 * size1 > size2 (rule 2); KY_E_BUFFER_TOO_SMALL; or the accessor's error. */
int ky_merkle_consistency_proof(ky_merkle_leaf_cb get_leaf, void *ctx, uint64_t size1,
                                uint64_t size2, uint8_t *proof, size_t proof_cap,
                                size_t *proof_count);

/* Verifies that `leaf_hash` is leaf `leaf_index` of the tree of `tree_size` leaves whose
 * root is `root`, given `proof_count` hashes at `proof` (RFC 9162 §2.1.3.2). proof may
 * be NULL when proof_count == 0. Pure; reads only its arguments.
 * Returns KY_OK; KY_E_RANGE if leaf_index >= tree_size; KY_E_PROOF_INVALID if the proof
 * has the wrong length (including > KY_MERKLE_PROOF_HASHES_MAX) or does not lead to
 * `root`. */
int ky_merkle_inclusion_verify(uint64_t leaf_index, uint64_t tree_size,
                               const uint8_t leaf_hash[KY_SHA256_BYTES], const uint8_t *proof,
                               size_t proof_count, const uint8_t root[KY_SHA256_BYTES]);

/* Verifies that the tree (size2, root2) extends the tree (size1, root1), given the
 * consistency proof (RFC 9162 §2.1.4.2). Pure.
 * Returns KY_OK; KY_E_RANGE if size1 == 0 or size1 > size2 (rule 2);
 * KY_E_PROOF_INVALID if size1 == size2 and the proof is not empty or the roots differ,
 * if the proof has the wrong length, or if it does not lead to both roots. */
int ky_merkle_consistency_verify(uint64_t size1, uint64_t size2,
                                 const uint8_t root1[KY_SHA256_BYTES],
                                 const uint8_t root2[KY_SHA256_BYTES], const uint8_t *proof,
                                 size_t proof_count);

#endif
