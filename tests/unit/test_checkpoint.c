/*
 * test_checkpoint.c — signed checkpoints and ledger-backed Merkle proofs.
 *
 * Goal: a checkpoint made from a real ledger opens with the verifier key and states the
 * head's size, root, epoch and chain head; every inclusion and consistency proof the
 * ledger serves verifies against the roots, is byte-identical to merkle.c's generator
 * over the same leaves, and any tampering (note text, proof bytes, leaf, index, size)
 * is refused. Method: one real LMDB ledger in a temp dir with 301 entries appended in
 * three batches (the head root after each batch is kept as an independent reference);
 * roots at other sizes come from ky_merkle_root over the leaf array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "../../common/ky_err.h"
#include "../../ledger/checkpoint.h"
#include "../../ledger/ledger.h"
#include "../../ledger/merkle.h"

#define CONTRACTS 100u
#define BATCHES   3u
#define HEAD_SEQ  (1u + BATCHES * CONTRACTS) /* epoch_started + three batches */
#define ORIGIN    "kyosai-ledger/test"

typedef struct fixture {
    char dir[64];
    ky_ledger *l;
    uint8_t leaves[HEAD_SEQ][KY_HASH_BYTES];         /* leaf hashes of seqs 1..HEAD_SEQ */
    uint64_t batch_sizes[BATCHES + 1];               /* head seq after init and each batch */
    uint8_t batch_roots[BATCHES + 1][KY_HASH_BYTES]; /* head Merkle root at those sizes */
    ky_note_signer signer;
    ky_note_signer other; /* a second key that did not sign */
} fixture;

static ky_event event_make(uint8_t kind, uint64_t contract, uint64_t key) {
    ky_event e;
    memset(&e, 0, sizeof e);
    e.kind = kind;
    e.scheme = KY_SCHEME_SHOKIBO;
    e.contract_id = contract;
    e.amount_jpy = 42000;
    ky_put_u64be(e.idem_key, 0x0190000000000000ull + key);
    if (kind == KY_KIND_CONTRACT_OPENED) e.subtype = 1;
    return e;
}

/* Batch b: b == 0 opens CONTRACTS contracts, later batches pay one month each. */
static int batch_append(ky_ledger *l, unsigned b) {
    ky_event ev[CONTRACTS];
    ky_event_result res[CONTRACTS];
    for (unsigned i = 0; i < CONTRACTS; i++) {
        uint8_t kind = b == 0 ? KY_KIND_CONTRACT_OPENED : KY_KIND_PREMIUM_PAID;
        ev[i] = event_make(kind, 100000000001ull + i, b * CONTRACTS + i + 1);
        if (b > 0) ev[i].period_yyyymm = 202603u + b;
    }
    if (ky_ledger_append(l, ev, CONTRACTS, res) != KY_OK) return -1;
    for (unsigned i = 0; i < CONTRACTS; i++)
        if (res[i].code != KY_OK) return -1;
    return 0;
}

static int record_head(fixture *f, unsigned i) {
    ky_ledger_head h;
    if (ky_ledger_head_get(f->l, &h) != KY_OK) return -1;
    f->batch_sizes[i] = h.seq;
    memcpy(f->batch_roots[i], h.merkle_root, KY_HASH_BYTES);
    return 0;
}

static int group_setup(void **state) {
    if (sodium_init() < 0) return -1;
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/ky-test-checkpoint-XXXXXX");
    if (mkdtemp(f->dir) == NULL) {
        free(f);
        return -1;
    }
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = f->dir;
    o.create = true;
    o.map_bytes = 1ull << 28;
    if (ky_ledger_open(&f->l, &o) != KY_OK) return -1;
    if (ky_ledger_epoch_begin(f->l, 1, NULL) != KY_OK || record_head(f, 0) != 0) return -1;
    for (unsigned b = 0; b < BATCHES; b++)
        if (batch_append(f->l, b) != 0 || record_head(f, b + 1) != 0) return -1;
    if (ky_checkpoint_leaf_hashes(f->l, 1, HEAD_SEQ, &f->leaves[0][0]) != KY_OK) return -1;
    uint8_t seed[KY_NOTE_SEED_BYTES];
    memset(seed, 7, sizeof seed);
    if (ky_note_signer_from_seed("kyosai.test/node", 16, seed, &f->signer) != KY_OK) return -1;
    memset(seed, 9, sizeof seed);
    if (ky_note_signer_from_seed("kyosai.test/node", 16, seed, &f->other) != KY_OK) return -1;
    *state = f;
    return 0;
}

static int group_teardown(void **state) {
    fixture *f = *state;
    ky_ledger_close(f->l);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    int rc = system(cmd);
    ky_note_signer_clear(&f->signer);
    ky_note_signer_clear(&f->other);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* ky_merkle_leaf_cb over the fixture's leaf array. */
static int array_leaf_cb(void *ctx, uint64_t index, uint8_t out[KY_SHA256_BYTES]) {
    fixture *f = ctx;
    assert_true(index < HEAD_SEQ);
    memcpy(out, f->leaves[index], KY_SHA256_BYTES);
    return KY_OK;
}

static void root_at(fixture *f, uint64_t size, uint8_t root[KY_HASH_BYTES]) {
    assert_int_equal(ky_merkle_root(array_leaf_cb, f, size, root), KY_OK);
}

static int make_checkpoint(fixture *f, char *note, size_t cap, size_t *bytes) {
    return ky_checkpoint_make(f->l, &f->signer, ORIGIN, note, cap, bytes);
}

/* ---- leaves and roots ------------------------------------------------------------------ */

static void test_leaves_match_entries_and_roots(void **state) {
    fixture *f = *state;
    for (uint64_t seq = 1; seq <= HEAD_SEQ; seq += 37) {
        uint8_t buf[KY_ENTRY_BYTES_MAX], leaf[KY_HASH_BYTES];
        size_t n;
        assert_int_equal(ky_ledger_get(f->l, seq, buf, sizeof buf, &n), KY_OK);
        ky_entry_leaf_hash(buf, n, leaf);
        assert_memory_equal(leaf, f->leaves[seq - 1], KY_HASH_BYTES);
    }
    /* The ledger's incremental roots (compact range) equal roots recomputed from leaves. */
    for (unsigned i = 0; i <= BATCHES; i++) {
        uint8_t root[KY_HASH_BYTES];
        root_at(f, f->batch_sizes[i], root);
        assert_memory_equal(root, f->batch_roots[i], KY_HASH_BYTES);
    }
    assert_int_equal(f->batch_sizes[BATCHES], HEAD_SEQ);
    uint8_t one[2][KY_HASH_BYTES];
    assert_int_equal(ky_checkpoint_leaf_hashes(f->l, 150, 151, &one[0][0]), KY_OK);
    assert_memory_equal(one, f->leaves[149], 2 * KY_HASH_BYTES);
    assert_int_equal(ky_checkpoint_leaf_hashes(f->l, 0, 5, &one[0][0]), KY_E_RANGE);
    assert_int_equal(ky_checkpoint_leaf_hashes(f->l, 6, 5, &one[0][0]), KY_E_RANGE);
    assert_int_equal(ky_checkpoint_leaf_hashes(f->l, HEAD_SEQ + 1, HEAD_SEQ + 1, &one[0][0]),
                     KY_E_NOT_FOUND);
    uint8_t *big = malloc((HEAD_SEQ + 1) * KY_HASH_BYTES);
    assert_int_equal(ky_checkpoint_leaf_hashes(f->l, 1, HEAD_SEQ + 1, big), KY_E_NOT_FOUND);
    free(big);
}

/* ---- checkpoints ----------------------------------------------------------------------- */

static void test_checkpoint_make_and_open(void **state) {
    fixture *f = *state;
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX], again[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes, again_bytes;
    assert_int_equal(make_checkpoint(f, note, sizeof note, &bytes), KY_OK);
    assert_int_equal(strlen(note), bytes);
    assert_int_equal(make_checkpoint(f, again, sizeof again, &again_bytes), KY_OK);
    assert_int_equal(again_bytes, bytes); /* Ed25519 is deterministic */
    assert_memory_equal(again, note, bytes);

    ky_note_opened opened;
    assert_int_equal(ky_note_open(note, bytes, &f->signer.verifier, 1, &opened), KY_OK);
    assert_int_equal(ky_note_open(note, bytes, &f->other.verifier, 1, &opened),
                     KY_E_NOTE_UNVERIFIED);

    ky_ledger_head h;
    assert_int_equal(ky_ledger_head_get(f->l, &h), KY_OK);
    ky_checkpoint cp;
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp), KY_OK);
    assert_int_equal(cp.body.origin_bytes, strlen(ORIGIN));
    assert_memory_equal(cp.body.origin, ORIGIN, strlen(ORIGIN));
    assert_int_equal(cp.body.tree_size, HEAD_SEQ);
    assert_memory_equal(cp.body.root_hash, h.merkle_root, KY_HASH_BYTES);
    assert_true(cp.has_epoch && cp.has_head);
    assert_int_equal(cp.epoch, 1);
    assert_memory_equal(cp.head_leaf_hash, f->leaves[HEAD_SEQ - 1], KY_HASH_BYTES);
    assert_non_null(strstr(note, "kyosai-ledger/test\n301\n"));
    assert_non_null(strstr(note, "\nepoch 1\nhead "));
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->other.verifier, &cp),
                     KY_E_NOTE_UNVERIFIED);

    /* Buffer at the exact size (length + NUL) and one byte short. */
    assert_int_equal(make_checkpoint(f, again, bytes + 1, &again_bytes), KY_OK);
    assert_int_equal(make_checkpoint(f, again, bytes, &again_bytes), KY_E_BUFFER_TOO_SMALL);
}

static void test_checkpoint_origin_limits(void **state) {
    fixture *f = *state;
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes;
    char origin[KY_CHECKPOINT_ORIGIN_BYTES_MAX + 2];
    memset(origin, 'o', KY_CHECKPOINT_ORIGIN_BYTES_MAX);
    origin[KY_CHECKPOINT_ORIGIN_BYTES_MAX] = '\0'; /* at the maximum: accepted */
    assert_int_equal(ky_checkpoint_make(f->l, &f->signer, origin, note, sizeof note, &bytes),
                     KY_OK);
    ky_checkpoint cp;
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp), KY_OK);
    assert_int_equal(cp.body.origin_bytes, KY_CHECKPOINT_ORIGIN_BYTES_MAX);
    origin[KY_CHECKPOINT_ORIGIN_BYTES_MAX] = 'o'; /* maximum + 1: refused */
    origin[KY_CHECKPOINT_ORIGIN_BYTES_MAX + 1] = '\0';
    assert_int_equal(ky_checkpoint_make(f->l, &f->signer, origin, note, sizeof note, &bytes),
                     KY_E_INVALID_ARG);
    assert_int_equal(ky_checkpoint_make(f->l, &f->signer, "", note, sizeof note, &bytes),
                     KY_E_INVALID_ARG);
    assert_int_equal(ky_checkpoint_make(f->l, &f->signer, "a\nb", note, sizeof note, &bytes),
                     KY_E_INVALID_ARG);
}

/* Signs a hand-made checkpoint text and opens it. */
static int open_text(fixture *f, const char *text, ky_checkpoint *cp) {
    char note[1024];
    size_t bytes;
    assert_int_equal(ky_note_sign(text, strlen(text), &f->signer, note, sizeof note, &bytes),
                     KY_OK);
    return ky_checkpoint_open(note, bytes, &f->signer.verifier, cp);
}

static void test_checkpoint_extensions(void **state) {
    fixture *f = *state;
    const char *root = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const char *head = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
    char text[512];
    ky_checkpoint cp;
    snprintf(text, sizeof text, "o\n5\n%s\n", root); /* no extensions: another log's */
    assert_int_equal(open_text(f, text, &cp), KY_OK);
    assert_false(cp.has_epoch || cp.has_head);
    snprintf(text, sizeof text, "o\n5\n%s\nepochs 3\nvendor thing\nepoch 18446744073709551615\n",
             root);
    assert_int_equal(open_text(f, text, &cp), KY_OK);
    assert_true(cp.has_epoch && !cp.has_head);
    assert_true(cp.epoch == UINT64_MAX);
    const char *bad[] = {"epoch 01\n",
                         "epoch 18446744073709551616\n",
                         "epoch\n",
                         "epoch x\n",
                         "epoch 1\nepoch 1\n",
                         "head AAAA\n",
                         "head AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n", /* not canonical */
                         "head 1\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "o\n5\n%s\n%s", root, bad[i]);
        assert_int_equal(open_text(f, text, &cp), KY_E_CHECKPOINT_MALFORMED);
    }
    snprintf(text, sizeof text, "o\n5\n%s\nhead %s\n", root, head);
    assert_int_equal(open_text(f, text, &cp), KY_OK);
    assert_true(cp.has_head && !cp.has_epoch);
}

static void test_checkpoint_tampered(void **state) {
    fixture *f = *state;
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes;
    assert_int_equal(make_checkpoint(f, note, sizeof note, &bytes), KY_OK);
    ky_checkpoint cp;
    char *size = strstr(note, "\n301\n");
    assert_non_null(size);
    size[3] = '2'; /* claim 302 entries */
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp),
                     KY_E_NOTE_SIGNATURE_INVALID);
    size[3] = '1';
    char *epoch = strstr(note, "epoch 1\n");
    epoch[6] = '2';
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp),
                     KY_E_NOTE_SIGNATURE_INVALID);
    epoch[6] = '1';
    note[bytes - 3] ^= 0x01; /* a signature character */
    assert_int_not_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp), KY_OK);
}

static void test_checkpoint_empty_ledger(void **state) {
    fixture *f = *state;
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/ky-test-checkpoint-empty-XXXXXX");
    assert_non_null(mkdtemp(dir));
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dir;
    o.create = true;
    o.map_bytes = 1ull << 20;
    ky_ledger *l;
    assert_int_equal(ky_ledger_open(&l, &o), KY_OK);
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes;
    assert_int_equal(ky_checkpoint_make(l, &f->signer, ORIGIN, note, sizeof note, &bytes),
                     KY_E_NOT_FOUND);
    uint8_t proof[KY_MERKLE_PROOF_HASHES_MAX * KY_HASH_BYTES];
    size_t count;
    assert_int_equal(ky_checkpoint_inclusion_proof(l, 1, 1, proof, 65, &count), KY_E_RANGE);
    ky_ledger_close(l);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- proofs ---------------------------------------------------------------------------- */

#define PROOF_BYTES (KY_MERKLE_PROOF_HASHES_MAX * KY_HASH_BYTES)

/* Proves seq in size from the ledger; checks it equals merkle.c's proof and verifies. */
static void inclusion_check(fixture *f, uint64_t seq, uint64_t size) {
    uint8_t proof[PROOF_BYTES], ref[PROOF_BYTES], root[KY_HASH_BYTES];
    size_t count, ref_count;
    assert_int_equal(
        ky_checkpoint_inclusion_proof(f->l, seq, size, proof, KY_MERKLE_PROOF_HASHES_MAX, &count),
        KY_OK);
    assert_int_equal(ky_merkle_inclusion_proof(array_leaf_cb, f, seq - 1, size, ref,
                                               KY_MERKLE_PROOF_HASHES_MAX, &ref_count),
                     KY_OK);
    assert_int_equal(count, ref_count);
    if (count > 0) assert_memory_equal(proof, ref, count * KY_HASH_BYTES);
    root_at(f, size, root);
    assert_int_equal(
        ky_merkle_inclusion_verify(seq - 1, size, f->leaves[seq - 1], proof, count, root), KY_OK);
    /* Tampering: another leaf, another index, a flipped proof byte, a shorter proof. */
    uint64_t other = seq == 1 ? 2 : 1;
    if (other <= size)
        assert_int_equal(
            ky_merkle_inclusion_verify(seq - 1, size, f->leaves[other - 1], proof, count, root),
            KY_E_PROOF_INVALID);
    if (count > 0) {
        assert_int_not_equal(
            ky_merkle_inclusion_verify(other - 1, size, f->leaves[seq - 1], proof, count, root),
            KY_OK);
        proof[count * KY_HASH_BYTES - 1] ^= 0x80;
        assert_int_equal(
            ky_merkle_inclusion_verify(seq - 1, size, f->leaves[seq - 1], proof, count, root),
            KY_E_PROOF_INVALID);
        proof[count * KY_HASH_BYTES - 1] ^= 0x80;
        assert_int_equal(
            ky_merkle_inclusion_verify(seq - 1, size, f->leaves[seq - 1], proof, count - 1, root),
            KY_E_PROOF_INVALID);
    }
}

static void test_inclusion_proofs(void **state) {
    fixture *f = *state;
    const uint64_t sizes[] = {1,  2,   3,   4,   5,   7,   8,   9,   63,  64,
                              65, 100, 101, 128, 201, 255, 256, 257, 300, HEAD_SEQ};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint64_t n = sizes[i];
        const uint64_t seqs[] = {1, 2, n / 2, n / 2 + 1, n - 1, n};
        for (size_t j = 0; j < sizeof seqs / sizeof seqs[0]; j++)
            if (seqs[j] >= 1 && seqs[j] <= n) inclusion_check(f, seqs[j], n);
    }
    for (uint64_t seq = 1; seq <= HEAD_SEQ; seq += 13) inclusion_check(f, seq, HEAD_SEQ);
}

/* Proves size1 -> size2 from the ledger; equal to merkle.c's proof; verifies; tampering. */
static void consistency_check(fixture *f, uint64_t size1, uint64_t size2) {
    uint8_t proof[PROOF_BYTES], ref[PROOF_BYTES], root1[KY_HASH_BYTES], root2[KY_HASH_BYTES];
    size_t count, ref_count;
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, size1, size2, proof,
                                                     KY_MERKLE_PROOF_HASHES_MAX, &count),
                     KY_OK);
    assert_int_equal(ky_merkle_consistency_proof(array_leaf_cb, f, size1, size2, ref,
                                                 KY_MERKLE_PROOF_HASHES_MAX, &ref_count),
                     KY_OK);
    assert_int_equal(count, ref_count);
    if (count > 0) assert_memory_equal(proof, ref, count * KY_HASH_BYTES);
    root_at(f, size1, root1);
    root_at(f, size2, root2);
    assert_int_equal(ky_merkle_consistency_verify(size1, size2, root1, root2, proof, count), KY_OK);
    if (size1 == size2) return;
    /* A root of another size, swapped roots, a flipped byte: all refused. */
    uint8_t wrong[KY_HASH_BYTES];
    root_at(f, size2 - 1, wrong);
    if (size2 - 1 != size1)
        assert_int_not_equal(ky_merkle_consistency_verify(size1, size2, wrong, root2, proof, count),
                             KY_OK);
    assert_int_not_equal(ky_merkle_consistency_verify(size1, size2, root1, wrong, proof, count),
                         KY_OK);
    assert_int_not_equal(ky_merkle_consistency_verify(size1, size2, root2, root1, proof, count),
                         KY_OK);
    proof[0] ^= 0x01;
    assert_int_equal(ky_merkle_consistency_verify(size1, size2, root1, root2, proof, count),
                     KY_E_PROOF_INVALID);
}

static void test_consistency_proofs(void **state) {
    fixture *f = *state;
    const uint64_t pairs[][2] = {{1, 1},
                                 {1, 2},
                                 {1, HEAD_SEQ},
                                 {2, 3},
                                 {3, 7},
                                 {4, 8},
                                 {7, 8},
                                 {8, 9},
                                 {8, 300},
                                 {63, 64},
                                 {64, 65},
                                 {100, 257},
                                 {101, 201},
                                 {201, HEAD_SEQ},
                                 {255, 256},
                                 {256, 257},
                                 {257, HEAD_SEQ},
                                 {300, HEAD_SEQ},
                                 {HEAD_SEQ, HEAD_SEQ}};
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++)
        consistency_check(f, pairs[i][0], pairs[i][1]);
    /* The roots the ledger committed after each batch are consistent with each other. */
    for (unsigned i = 0; i < BATCHES; i++) {
        uint8_t proof[PROOF_BYTES];
        size_t count;
        uint64_t s1 = f->batch_sizes[i], s2 = f->batch_sizes[i + 1];
        assert_int_equal(ky_checkpoint_consistency_proof(f->l, s1, s2, proof,
                                                         KY_MERKLE_PROOF_HASHES_MAX, &count),
                         KY_OK);
        assert_int_equal(ky_merkle_consistency_verify(s1, s2, f->batch_roots[i],
                                                      f->batch_roots[i + 1], proof, count),
                         KY_OK);
    }
}

/* The full audit path: checkpoint note -> open -> proof -> verify against its root. */
static void test_proofs_against_checkpoints(void **state) {
    fixture *f = *state;
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes, count;
    assert_int_equal(make_checkpoint(f, note, sizeof note, &bytes), KY_OK);
    ky_checkpoint cp;
    assert_int_equal(ky_checkpoint_open(note, bytes, &f->signer.verifier, &cp), KY_OK);
    uint8_t proof[PROOF_BYTES];
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 42, cp.body.tree_size, proof,
                                                   KY_MERKLE_PROOF_HASHES_MAX, &count),
                     KY_OK);
    assert_int_equal(ky_merkle_inclusion_verify(41, cp.body.tree_size, f->leaves[41], proof, count,
                                                cp.body.root_hash),
                     KY_OK);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, HEAD_SEQ, HEAD_SEQ, proof,
                                                   KY_MERKLE_PROOF_HASHES_MAX, &count),
                     KY_OK);
    assert_int_equal(ky_merkle_inclusion_verify(HEAD_SEQ - 1, HEAD_SEQ, cp.head_leaf_hash, proof,
                                                count, cp.body.root_hash),
                     KY_OK);
    /* An earlier (size 101) root from the ledger's own head record, as an older checkpoint. */
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, f->batch_sizes[1], HEAD_SEQ, proof,
                                                     KY_MERKLE_PROOF_HASHES_MAX, &count),
                     KY_OK);
    assert_int_equal(ky_merkle_consistency_verify(f->batch_sizes[1], HEAD_SEQ, f->batch_roots[1],
                                                  cp.body.root_hash, proof, count),
                     KY_OK);
}

static void test_proof_argument_limits(void **state) {
    fixture *f = *state;
    uint8_t proof[PROOF_BYTES];
    size_t count = 99;
    const size_t cap = KY_MERKLE_PROOF_HASHES_MAX;
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 0, 5, proof, cap, &count), KY_E_RANGE);
    assert_int_equal(count, 0);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 6, 5, proof, cap, &count), KY_E_RANGE);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 1, HEAD_SEQ + 1, proof, cap, &count),
                     KY_E_RANGE);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, HEAD_SEQ, HEAD_SEQ, proof, cap, &count),
                     KY_OK);
    assert_int_equal(count, 4); /* 301 = 256 + 32 + 8 + 4 + 1: four siblings */
    /* Leaf 1 of 301 has a 9-hash path. Room for exactly 9 works; 8 is too small. */
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 1, HEAD_SEQ, proof, 9, &count), KY_OK);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 1, HEAD_SEQ, proof, 8, &count),
                     KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_checkpoint_inclusion_proof(f->l, 1, 1, NULL, 0, &count), KY_OK);
    assert_int_equal(count, 0);
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, 0, 5, proof, cap, &count), KY_E_RANGE);
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, 6, 5, proof, cap, &count), KY_E_RANGE);
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, 5, HEAD_SEQ + 1, proof, cap, &count),
                     KY_E_RANGE);
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, 5, 5, NULL, 0, &count), KY_OK);
    assert_int_equal(count, 0);
    assert_int_equal(ky_checkpoint_consistency_proof(f->l, 3, HEAD_SEQ, proof, 1, &count),
                     KY_E_BUFFER_TOO_SMALL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_leaves_match_entries_and_roots),
        cmocka_unit_test(test_checkpoint_make_and_open),
        cmocka_unit_test(test_checkpoint_origin_limits),
        cmocka_unit_test(test_checkpoint_extensions),
        cmocka_unit_test(test_checkpoint_tampered),
        cmocka_unit_test(test_checkpoint_empty_ledger),
        cmocka_unit_test(test_inclusion_proofs),
        cmocka_unit_test(test_consistency_proofs),
        cmocka_unit_test(test_proofs_against_checkpoints),
        cmocka_unit_test(test_proof_argument_limits),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
