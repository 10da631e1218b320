/*
 * checkpoint.h — signed checkpoints of a ledger and the Merkle proofs that go with them.
 *
 * Why: an auditor must be able to check, without trusting the node, that an entry is in
 * the ledger and that a later checkpoint extends an earlier one (DESIGN §3.3). The node
 * signs its committed head as a C2SP tlog-checkpoint note (note.h) and serves RFC 9162
 * inclusion and consistency proofs (merkle.h) over the entries' leaf hashes; anyone
 * holding the verifier key checks both offline. This module is the ledger-side glue:
 * it reads the head and the leaves through ledger.h, and opens checkpoints (pure, no
 * ledger) for the offline checker.
 *
 * Checkpoint body (every line ends in \n):
 *     <origin>                         e.g. kyosai-ledger/<node id hex>
 *     <tree size>                      decimal; = head seq (seq s is leaf index s - 1)
 *     <base64 root>                    RFC 9162 root of leaves 1..tree size
 *     epoch <n>                        extension: the ledger's current epoch, decimal
 *     head <base64 leaf hash>          extension: leaf hash of entry seq = tree size,
 *                                      i.e. the hash-chain head (DESIGN §3.2)
 * Standard tlog tools ignore the two extension lines; ours check them (see
 * ky_checkpoint_open). Signature lines follow per C2SP signed-note (Ed25519).
 *
 * Cost: proof generation reads every leaf of the proof's sibling subtrees — O(tree
 * size) entry reads and SHA-256s (about tree size entries for an inclusion proof),
 * sequentially, one ky_ledger_scan read transaction per sibling subtree (at most
 * KY_MERKLE_PROOF_HASHES_MAX), O(log n) memory. Seqs at or below the committed head
 * never change, so the per-subtree snapshots agree. Planned: a Merkle node cache (an
 * LMDB database of the roots of perfect subtrees of 2^8 leaves and up, written in the
 * same transaction as each batch) to make proofs O(log n) reads; the proofs' bytes do
 * not change when it lands.
 *
 * Threads: any thread (only ledger read calls are used). Nothing is printed; nothing
 * is allocated except by ky_ledger_* internally. sodium_init() must have succeeded
 * before ky_checkpoint_make or ky_checkpoint_open.
 */
#ifndef KY_CHECKPOINT_H
#define KY_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "note.h"

/* Longest origin ky_checkpoint_make accepts, bytes. An origin names the log (a schema-less
 * URL such as "example.jp/kyosai/ledger" or "kyosai-ledger/<32 hex>"); 255 matches the key
 * name bound and keeps a signed checkpoint far below KY_NOTE_BYTES_MAX. */
#define KY_CHECKPOINT_ORIGIN_BYTES_MAX 255u

/* A buffer this large always holds a note from ky_checkpoint_make, with its NUL: origin,
 * 20-digit size, 44-char root, "epoch " + 20 digits, "head " + 44 chars, newlines, the
 * blank line and one signature line. */
#define KY_CHECKPOINT_NOTE_BYTES_MAX                                                               \
    (KY_CHECKPOINT_ORIGIN_BYTES_MAX + 1u + 21u + 45u + 27u + 50u + 1u +                            \
     KY_NOTE_SIGNATURE_LINE_BYTES_MAX + 1u)

/* An opened, verified checkpoint. Strings are borrowed from the note text. */
typedef struct ky_checkpoint {
    ky_note_checkpoint body;               /* origin, tree size, root hash, extensions */
    bool has_epoch;                        /* an "epoch <n>" line was present */
    uint64_t epoch;                        /* its value, or 0 */
    bool has_head;                         /* a "head <base64>" line was present */
    uint8_t head_leaf_hash[KY_HASH_BYTES]; /* its value (leaf hash of seq tree size), or 0s */
} ky_checkpoint;

/* Reads the committed head of `l` and writes a signed checkpoint note for it (format
 * above) to out (room for out_cap bytes; KY_CHECKPOINT_NOTE_BYTES_MAX always suffices),
 * NUL-terminated, its length without the NUL to *out_bytes. `origin` is a NUL-terminated
 * string, 1..KY_CHECKPOINT_ORIGIN_BYTES_MAX bytes of UTF-8 without control characters.
 * Before signing it reads entry head.seq and checks its leaf hash equals the head
 * record's hash (a paired check of the stored head against the stored entry).
 * Returns KY_OK; KY_E_NOT_FOUND if the ledger is empty (head seq 0: nothing to attest);
 * KY_E_INVALID_ARG for a bad origin; KY_E_BUFFER_TOO_SMALL; KY_E_CORRUPT if the head
 * record and the head entry disagree; KY_E_STORAGE. Deterministic for a given head and
 * key (Ed25519 signatures are deterministic). */
int ky_checkpoint_make(ky_ledger *l, const ky_note_signer *signer, const char *origin, char *out,
                       size_t out_cap, size_t *out_bytes);

/* Opens the signed note (note_bytes bytes at note) against one verifier key, parses
 * the checkpoint body and the epoch/head extension lines into *out. Unknown extension
 * lines are allowed (checkpoints of other logs); each of ours at most once, strictly
 * formatted ("epoch " decimal without leading zeros; "head " canonical base64 of 32
 * bytes). Pure: touches no ledger. Everything borrowed from `note` stays valid while
 * the caller keeps it unchanged.
 * Returns KY_OK; any error of ky_note_open (KY_E_NOTE_MALFORMED, KY_E_NOTE_TOO_LARGE,
 * KY_E_NOTE_SIGNATURES_TOO_MANY, KY_E_NOTE_SIGNATURE_INVALID, KY_E_NOTE_UNVERIFIED);
 * KY_E_CHECKPOINT_MALFORMED for a bad body or extension line. */
int ky_checkpoint_open(const char *note, size_t note_bytes, const ky_note_verifier *key,
                       ky_checkpoint *out);

/* Writes the leaf hashes of seqs from_seq..to_seq (inclusive, from_seq >= 1) to out,
 * which has room for (to_seq - from_seq + 1) * KY_HASH_BYTES bytes, reading them in one
 * ky_ledger_scan (one read transaction) and checking each stored checksum.
 * Returns KY_OK; KY_E_RANGE if from_seq == 0 or from_seq > to_seq; KY_E_NOT_FOUND if a
 * seq in the range is missing; KY_E_CORRUPT; KY_E_STORAGE. */
int ky_checkpoint_leaf_hashes(ky_ledger *l, uint64_t from_seq, uint64_t to_seq, uint8_t *out);

/* Inclusion proof of entry `seq` in the tree of the first `tree_size` entries, as
 * ky_merkle_inclusion_proof writes it (proof_count 32-byte hashes, leaf side first;
 * proof_cap hashes of room, KY_MERKLE_PROOF_HASHES_MAX always suffices). The leaf index
 * is seq - 1. When tree_size is the committed head the proof is checked against the
 * head's Merkle root before it is returned.
 * Returns KY_OK; KY_E_RANGE if seq == 0, seq > tree_size or tree_size > head seq;
 * KY_E_BUFFER_TOO_SMALL; KY_E_NOT_FOUND / KY_E_CORRUPT (a leaf missing or damaged, or
 * the proof does not reach the head root); KY_E_STORAGE. O(tree_size) reads (above). */
int ky_checkpoint_inclusion_proof(ky_ledger *l, uint64_t seq, uint64_t tree_size, uint8_t *proof,
                                  size_t proof_cap, size_t *proof_count);

/* Consistency proof that the tree of the first size2 entries extends the tree of the
 * first size1, as ky_merkle_consistency_proof writes it (size1 == size2: empty proof).
 * Returns KY_OK; KY_E_RANGE if size1 == 0, size1 > size2 or size2 > head seq;
 * KY_E_BUFFER_TOO_SMALL; KY_E_NOT_FOUND; KY_E_CORRUPT; KY_E_STORAGE. O(size2) reads. */
int ky_checkpoint_consistency_proof(ky_ledger *l, uint64_t size1, uint64_t size2, uint8_t *proof,
                                    size_t proof_cap, size_t *proof_count);

#endif
