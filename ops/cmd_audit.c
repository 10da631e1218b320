/*
 * cmd_audit.c — kyosaictl's audit commands (see cmd_audit.h for the contract).
 *
 * Why separate from kyosaictl.c: the offline checks are the auditor's trust anchor, so
 * they are kept small, next to each other and apart from the commands that write. The
 * check commands read only the files named on the command line; every size they parse
 * is bounded before anything is allocated (FILE_BYTES_MAX, KY_MERKLE_PROOF_HASHES_MAX).
 */
#include "cmd_audit.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/ky_assert.h"
#include "../common/ky_err.h"
#include "../ledger/checkpoint.h"
#include "../ledger/ledger.h"
#include "../ledger/merkle.h"
#include "../ledger/note.h"
#include "../secure/keys.h"
#include "cli_util.h"

#define EXIT_OK      0
#define EXIT_PROBLEM 1
#define EXIT_USAGE   2
#define EXIT_CANNOT  3

/* Largest key, checkpoint or proof file read, bytes: a signed note is at most
 * KY_NOTE_BYTES_MAX and a 65-hash proof JSON under 5 KiB. */
#define FILE_BYTES_MAX KY_NOTE_BYTES_MAX
/* Integers in proof JSON must be exact in a double (cJSON parses numbers as doubles). */
#define JSON_INT_MAX   (UINT64_C(1) << 53)
#define HASH_HEX_CHARS (2u * KY_HASH_BYTES)
#define PROOF_BYTES    (KY_MERKLE_PROOF_HASHES_MAX * KY_HASH_BYTES)
#define PATH_BYTES_MAX 4096u

/* ---- help texts ------------------------------------------------------------------------ */

const char KY_CMD_KEYGEN_ARGS[] = "--name NAME --out PREFIX | --channel --out PREFIX";
const char KY_CMD_KEYGEN_SUMMARY[] = "create a checkpoint signing key (Ed25519) or a channel key";
const char KY_CMD_KEYGEN_HELP[] =
    "--name NAME: a checkpoint signing key (C2SP note, Ed25519). Writes PREFIX.key (the\n"
    "signer key, mode 0600: keep it secret, on the node only) and PREFIX.pub (the verifier\n"
    "key line: give it to auditors out of band), and prints the verifier key. NAME names\n"
    "the key in signature lines, e.g. example.jp/kyosai.\n"
    "--channel: a secure-channel static key (X25519, docs/SECURITY.md) for a node or a\n"
    "client. Writes PREFIX.key (x25519-secret:<hex>, mode 0600) and PREFIX.pub, and prints\n"
    "the public key line x25519:<hex> that goes into the node's clients_file or the\n"
    "client's --server-key. Channel and signing keys are separate on purpose.\n"
    "Never overwrites: exit 1 if either file exists.\n";

const char KY_CMD_CHECKPOINT_ARGS[] = "--key FILE [--origin ORIGIN]";
const char KY_CMD_CHECKPOINT_SUMMARY[] = "print a signed checkpoint of the ledger head";
const char KY_CMD_CHECKPOINT_HELP[] =
    "Reads the committed head (read-only; works while a writer runs) and prints a C2SP\n"
    "tlog-checkpoint signed with the key FILE written by keygen:\n"
    "  ORIGIN / tree size (= head seq) / base64 Merkle root / epoch N / head <base64 leaf>\n"
    "ORIGIN defaults to kyosai-ledger/<node id hex>. Save the output: it is what the\n"
    "check-inclusion and check-consistency commands verify.\n";

const char KY_CMD_PROVE_ARGS[] = "SEQ [--size N]";
const char KY_CMD_PROVE_SUMMARY[] = "print an inclusion proof (JSON) of entry SEQ";
const char KY_CMD_PROVE_HELP[] =
    "Prints {\"seq\",\"tree_size\",\"leaf_hash\",\"proof\":[hex...]} proving entry SEQ is in\n"
    "the Merkle tree of the first N entries (default: the head). Use the tree size of a\n"
    "checkpoint you hold. Reads O(N) entries (no Merkle node cache yet).\n";

const char KY_CMD_PROVE_CONSISTENCY_ARGS[] = "--old N [--new M]";
const char KY_CMD_PROVE_CONSISTENCY_SUMMARY[] = "print a consistency proof (JSON) from N to M";
const char KY_CMD_PROVE_CONSISTENCY_HELP[] =
    "Prints {\"old_size\",\"new_size\",\"proof\":[hex...]} proving the tree of the first M\n"
    "entries (default: the head) extends the tree of the first N. Reads O(M) entries.\n";

const char KY_CMD_CHECK_INCLUSION_ARGS[] =
    "--checkpoint NOTE --pub PUBFILE --proof PROOF [--origin ORIGIN] [--leaf-hash HEX]";
const char KY_CMD_CHECK_INCLUSION_SUMMARY[] = "verify an inclusion proof offline";
const char KY_CMD_CHECK_INCLUSION_HELP[] =
    "Offline: never opens a ledger. Verifies the checkpoint NOTE's signature with the\n"
    "verifier key in PUBFILE, then that the proof file (from prove) leads from its\n"
    "leaf_hash at seq to the checkpoint's root at its tree size. --origin requires that\n"
    "origin; --leaf-hash requires that leaf hash (recompute it yourself from the entry\n"
    "bytes: SHA-256(0x00 || entry bytes), see docs/AUDIT-CHECKPOINTS.md). Exit 0 verified, 1 "
    "not.\n";

const char KY_CMD_CHECK_CONSISTENCY_ARGS[] =
    "--old NOTE1 --new NOTE2 --pub PUBFILE --proof PROOF [--origin ORIGIN]";
const char KY_CMD_CHECK_CONSISTENCY_SUMMARY[] = "verify two checkpoints are consistent, offline";
const char KY_CMD_CHECK_CONSISTENCY_HELP[] =
    "Offline: never opens a ledger. Verifies both checkpoint notes with PUBFILE, that they\n"
    "name the same origin, that the epoch did not go back, and that the proof file (from\n"
    "prove-consistency) shows the NOTE2 tree extends the NOTE1 tree (no entry of NOTE1\n"
    "changed or vanished). Exit 0 verified, 1 not.\n";

/* ---- options --------------------------------------------------------------------------- */

typedef struct opt {
    const char *name;   /* "--name" */
    const char **value; /* set to the argument that follows; must start NULL */
} opt;

/* Parses "--name VALUE" pairs into opts and at most *positional_count (in: capacity)
 * other arguments. Returns 0, or -1 on an unknown, repeated or valueless option. */
static int opts_parse(int argc, char **argv, const opt *opts, size_t opt_count,
                      const char **positional, size_t *positional_count) {
    size_t cap = *positional_count, used = 0;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            if (used == cap) return -1;
            positional[used++] = argv[i];
            continue;
        }
        size_t k = 0;
        while (k < opt_count && strcmp(argv[i], opts[k].name) != 0) k++;
        if (k == opt_count || i + 1 >= argc || *opts[k].value != NULL) return -1;
        *opts[k].value = argv[++i];
    }
    *positional_count = used;
    return 0;
}

/* ---- files ----------------------------------------------------------------------------- */

/* Reads all of path (at most FILE_BYTES_MAX bytes) into a malloc'd, NUL-terminated buffer
 * the caller frees. Prints why on failure. Returns 0 or -1. */
static int file_read(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "kyosaictl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(FILE_BYTES_MAX + 2u);
    size_t n = buf != NULL ? fread(buf, 1, FILE_BYTES_MAX + 1u, f) : 0;
    int failed = buf == NULL || ferror(f);
    fclose(f);
    if (failed || n > FILE_BYTES_MAX) {
        fprintf(stderr, "kyosaictl: %s: %s\n", path,
                failed ? "cannot read" : "larger than 65536 bytes, not a key/note/proof file");
        free(buf);
        return -1;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Length of s[0..n) without trailing white space (a key file's final newline). */
static size_t trim_right(const char *s, size_t n) {
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return n;
}

/* Loads the one verifier key line of a .pub file. Returns 0 or EXIT_CANNOT. */
static int verifier_load(const char *path, ky_note_verifier *v) {
    char *buf;
    size_t n;
    if (file_read(path, &buf, &n) != 0) return EXIT_CANNOT;
    n = trim_right(buf, n);
    int rc =
        memchr(buf, '\n', n) != NULL ? KY_E_NOTE_KEY_INVALID : ky_note_verifier_parse(buf, n, v);
    free(buf);
    if (rc == KY_OK) return 0;
    fprintf(stderr, "kyosaictl: %s: not a verifier key (one line NAME+ID+KEY): %s\n", path,
            ky_strerror(rc));
    return EXIT_CANNOT;
}

/* Loads a signer key file written by keygen; warns if others may read it. The caller
 * wipes *s with ky_note_signer_clear. Returns 0 or EXIT_CANNOT. */
static int signer_load(const char *path, ky_note_signer *s) {
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077) != 0)
        fprintf(stderr, "kyosaictl: warning: %s is readable by other users (chmod 600 it)\n", path);
    char *buf;
    size_t n;
    if (file_read(path, &buf, &n) != 0) return EXIT_CANNOT;
    size_t used = trim_right(buf, n);
    int rc = ky_note_signer_parse(buf, used, s);
    sodium_memzero(buf, n);
    free(buf);
    if (rc == KY_OK) return 0;
    fprintf(stderr, "kyosaictl: %s: not a signer key (PRIVATE+KEY+...): %s\n", path,
            ky_strerror(rc));
    return EXIT_CANNOT;
}

/* Creates path exclusively with mode, writes data and fsyncs. Returns 0 or an errno. */
static int file_create(const char *path, const char *data, size_t len, mode_t mode) {
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return errno;
    size_t done = 0;
    int err = 0;
    while (done < len && err == 0) {
        ssize_t w = write(fd, data + done, len - done);
        if (w > 0)
            done += (size_t)w;
        else if (w < 0 && errno != EINTR)
            err = errno;
    }
    if (err == 0 && fsync(fd) != 0) err = errno;
    if (close(fd) != 0 && err == 0) err = errno;
    return err;
}

/* ---- output ---------------------------------------------------------------------------- */

static void hex_add(cJSON *obj, const char *name, const uint8_t hash[KY_HASH_BYTES]) {
    char hex[HASH_HEX_CHARS + 1];
    ky_cli_hex(hash, KY_HASH_BYTES, hex);
    cJSON_AddStringToObject(obj, name, hex);
}

/* Prints obj as one line of JSON and frees it. Returns 0, or EXIT_CANNOT without memory. */
static int json_print(cJSON *obj) {
    char *s = obj != NULL ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    if (s == NULL) {
        fprintf(stderr, "kyosaictl: out of memory\n");
        return EXIT_CANNOT;
    }
    printf("%s\n", s);
    cJSON_free(s);
    return 0;
}

static cJSON *proof_json(const uint8_t *proof, size_t count) {
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr != NULL && i < count; i++) {
        char hex[HASH_HEX_CHARS + 1];
        ky_cli_hex(proof + i * KY_HASH_BYTES, KY_HASH_BYTES, hex);
        cJSON_AddItemToArray(arr, cJSON_CreateString(hex));
    }
    return arr;
}

static int sodium_ready(void) {
    if (sodium_init() >= 0) return 0;
    fprintf(stderr, "kyosaictl: libsodium failed to initialise\n");
    return EXIT_CANNOT;
}

/* ---- keygen ---------------------------------------------------------------------------- */

/* Writes PREFIX.key then PREFIX.pub; on a .pub failure removes the .key just created. */
static int key_files_write(const char *prefix, const char *skey, size_t skey_bytes,
                           const char *vkey, size_t vkey_bytes, char *key_path, char *pub_path) {
    int n1 = snprintf(key_path, PATH_BYTES_MAX, "%s.key", prefix);
    int n2 = snprintf(pub_path, PATH_BYTES_MAX, "%s.pub", prefix);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= PATH_BYTES_MAX || (size_t)n2 >= PATH_BYTES_MAX)
        return EXIT_USAGE;
    int err = file_create(key_path, skey, skey_bytes, 0600);
    if (err != 0) {
        fprintf(stderr, "kyosaictl: %s: %s%s\n", key_path, strerror(err),
                err == EEXIST ? " (keygen never overwrites a key)" : "");
        return err == EEXIST ? EXIT_PROBLEM : EXIT_CANNOT;
    }
    err = file_create(pub_path, vkey, vkey_bytes, 0644);
    if (err != 0) {
        fprintf(stderr, "kyosaictl: %s: %s; removed %s again\n", pub_path, strerror(err), key_path);
        unlink(key_path);
        return err == EEXIST ? EXIT_PROBLEM : EXIT_CANNOT;
    }
    return EXIT_OK;
}

/* keygen --channel: an X25519 key pair for the secure channel. */
static int keygen_channel(bool json, const char *prefix) {
    uint8_t pk[KY_KEY_BYTES], sk[KY_KEY_BYTES];
    if (ky_key_generate(pk, sk) != KY_OK) return EXIT_CANNOT;
    char secret[KY_KEY_SECRET_TEXT_BYTES + 2], pub[KY_KEY_PUBLIC_TEXT_BYTES + 2];
    ky_key_secret_format(sk, secret, sizeof secret);
    sodium_memzero(sk, sizeof sk);
    ky_key_public_format(pk, pub, sizeof pub);
    size_t pn = strlen(pub);
    pub[pn] = '\n';
    char key_path[PATH_BYTES_MAX], pub_path[PATH_BYTES_MAX];
    int ex = key_files_write(prefix, secret, strlen(secret), pub, pn + 1, key_path, pub_path);
    sodium_memzero(secret, sizeof secret);
    if (ex != EXIT_OK) return ex;
    pub[pn] = '\0';
    if (!json) {
        printf("%s\n", pub);
        fprintf(stderr, "kyosaictl: wrote %s (secret, mode 0600) and %s\n", key_path, pub_path);
        return EXIT_OK;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "public_key", pub);
    cJSON_AddStringToObject(o, "key_file", key_path);
    cJSON_AddStringToObject(o, "pub_file", pub_path);
    return json_print(o);
}

int ky_cmd_keygen(const char *data_dir, bool json, int argc, char **argv) {
    (void)data_dir;
    const char *name = NULL, *prefix = NULL;
    const opt opts[] = {{"--name", &name}, {"--out", &prefix}};
    char *rest[8];
    int nrest = 0;
    bool channel = false;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--channel") == 0) {
            channel = true;
        } else {
            if (nrest == 8) return EXIT_USAGE;
            rest[nrest++] = argv[i];
        }
    }
    size_t npos = 0;
    if (opts_parse(nrest, rest, opts, 2, NULL, &npos) != 0 || prefix == NULL ||
        (name == NULL) == !channel)
        return EXIT_USAGE;
    if (channel) return keygen_channel(json, prefix);
    if (sodium_ready() != 0) return EXIT_CANNOT;
    ky_note_signer s;
    int rc = ky_note_signer_generate(name, strlen(name), &s);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: key name '%s': %s\n", name, ky_strerror(rc));
        return EXIT_USAGE;
    }
    char skey[KY_NOTE_SIGNER_KEY_BYTES_MAX + 2], vkey[KY_NOTE_VERIFIER_KEY_BYTES_MAX + 2];
    size_t sn, vn;
    rc = ky_note_signer_format(&s, skey, sizeof skey - 1, &sn);
    KY_ASSERT(rc == KY_OK); /* buffer sized by the _MAX constant */
    rc = ky_note_verifier_format(&s.verifier, vkey, sizeof vkey - 1, &vn);
    KY_ASSERT(rc == KY_OK);
    ky_note_signer_clear(&s);
    skey[sn++] = '\n';
    vkey[vn++] = '\n';
    char key_path[PATH_BYTES_MAX], pub_path[PATH_BYTES_MAX];
    int ex = key_files_write(prefix, skey, sn, vkey, vn, key_path, pub_path);
    sodium_memzero(skey, sizeof skey);
    if (ex != EXIT_OK) return ex;
    vkey[--vn] = '\0';
    if (!json) {
        printf("%s\n", vkey);
        fprintf(stderr, "kyosaictl: wrote %s (secret, mode 0600) and %s\n", key_path, pub_path);
        return EXIT_OK;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", name);
    cJSON_AddStringToObject(o, "verifier_key", vkey);
    cJSON_AddStringToObject(o, "key_file", key_path);
    cJSON_AddStringToObject(o, "pub_file", pub_path);
    return json_print(o);
}

/* ---- node side: checkpoint, prove, prove-consistency ----------------------------------- */

static int ledger_open_ro(const char *data_dir, ky_ledger **l, ky_ledger_head *head) {
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = data_dir;
    o.read_only = true;
    int rc = ky_ledger_open(l, &o);
    if (rc == KY_OK) {
        rc = ky_ledger_head_get(*l, head);
        if (rc == KY_OK) return 0;
        ky_ledger_close(*l);
        *l = NULL;
    }
    fprintf(stderr, "kyosaictl: cannot open ledger %s: %s\n", data_dir, ky_strerror(rc));
    return EXIT_CANNOT;
}

/* Exit code for a ledger error during a command. */
static int ledger_fail(const char *what, int rc) {
    fprintf(stderr, "kyosaictl: %s: %s\n", what, ky_strerror(rc));
    return rc == KY_E_NOT_FOUND || rc == KY_E_CORRUPT || rc == KY_E_CHAIN_BROKEN ? EXIT_PROBLEM
                                                                                 : EXIT_CANNOT;
}

static int checkpoint_print(ky_ledger *l, const ky_ledger_head *head, const ky_note_signer *s,
                            const char *origin, bool json) {
    char def[64];
    if (origin == NULL) {
        char node[2 * KY_NODE_ID_BYTES + 1];
        ky_cli_hex(head->node_id, KY_NODE_ID_BYTES, node);
        snprintf(def, sizeof def, "kyosai-ledger/%s", node);
        origin = def;
    }
    char note[KY_CHECKPOINT_NOTE_BYTES_MAX];
    size_t bytes;
    int rc = ky_checkpoint_make(l, s, origin, note, sizeof note, &bytes);
    if (rc == KY_E_INVALID_ARG) {
        fprintf(stderr, "kyosaictl: bad --origin (1..%u bytes of text, no newline)\n",
                KY_CHECKPOINT_ORIGIN_BYTES_MAX);
        return EXIT_USAGE;
    }
    if (rc != KY_OK) return ledger_fail("checkpoint", rc);
    if (!json) {
        fwrite(note, 1, bytes, stdout);
        return EXIT_OK;
    }
    ky_checkpoint cp; /* the head may have moved since head_get: take the size signed */
    rc = ky_checkpoint_open(note, bytes, &s->verifier, &cp);
    KY_ASSERT(rc == KY_OK); /* we just signed it with this key */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "origin", origin);
    cJSON_AddNumberToObject(o, "tree_size", (double)cp.body.tree_size);
    cJSON_AddStringToObject(o, "note", note);
    return json_print(o);
}

int ky_cmd_checkpoint(const char *data_dir, bool json, int argc, char **argv) {
    const char *key = NULL, *origin = NULL;
    const opt opts[] = {{"--key", &key}, {"--origin", &origin}};
    size_t npos = 0;
    if (opts_parse(argc, argv, opts, 2, NULL, &npos) != 0 || key == NULL) return EXIT_USAGE;
    if (sodium_ready() != 0) return EXIT_CANNOT;
    ky_note_signer s;
    int ex = signer_load(key, &s);
    if (ex != 0) return ex;
    ky_ledger *l;
    ky_ledger_head head;
    ex = ledger_open_ro(data_dir, &l, &head);
    if (ex == 0) {
        ex = checkpoint_print(l, &head, &s, origin, json);
        ky_ledger_close(l);
    }
    ky_note_signer_clear(&s);
    return ex;
}

/* Leaf hash of entry seq, read from the ledger. */
static int leaf_read(ky_ledger *l, uint64_t seq, uint8_t leaf[KY_HASH_BYTES]) {
    uint8_t buf[KY_ENTRY_BYTES_MAX];
    size_t n;
    int rc = ky_ledger_get(l, seq, buf, sizeof buf, &n);
    if (rc == KY_OK) ky_entry_leaf_hash(buf, n, leaf);
    return rc;
}

static int prove_print(ky_ledger *l, uint64_t seq, uint64_t size) {
    uint8_t proof[PROOF_BYTES], leaf[KY_HASH_BYTES];
    size_t count;
    int rc = ky_checkpoint_inclusion_proof(l, seq, size, proof, KY_MERKLE_PROOF_HASHES_MAX, &count);
    if (rc == KY_OK) rc = leaf_read(l, seq, leaf);
    if (rc != KY_OK) return ledger_fail("prove", rc);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "seq", (double)seq);
    cJSON_AddNumberToObject(o, "tree_size", (double)size);
    hex_add(o, "leaf_hash", leaf);
    cJSON_AddItemToObject(o, "proof", proof_json(proof, count));
    return json_print(o);
}

/* Checks that size is within the head; prints why not. */
static int size_check(const char *what, uint64_t size, const ky_ledger_head *head) {
    if (size > head->seq) {
        fprintf(stderr, "kyosaictl: %s %" PRIu64 " is beyond the head (seq %" PRIu64 ")\n", what,
                size, head->seq);
        return EXIT_PROBLEM;
    }
    return EXIT_OK;
}

int ky_cmd_prove(const char *data_dir, bool json, int argc, char **argv) {
    (void)json; /* the output is always the JSON proof file */
    const char *size_arg = NULL, *seq_arg = NULL;
    const opt opts[] = {{"--size", &size_arg}};
    size_t npos = 1;
    uint64_t seq, size = 0;
    if (opts_parse(argc, argv, opts, 1, &seq_arg, &npos) != 0 || npos != 1 ||
        ky_cli_parse_u64(seq_arg, 1, JSON_INT_MAX, &seq) != 0 ||
        (size_arg != NULL && ky_cli_parse_u64(size_arg, 1, JSON_INT_MAX, &size) != 0))
        return EXIT_USAGE;
    if (size_arg != NULL && seq > size) {
        fprintf(stderr, "kyosaictl: seq %" PRIu64 " is beyond --size %" PRIu64 "\n", seq, size);
        return EXIT_USAGE;
    }
    ky_ledger *l;
    ky_ledger_head head;
    int ex = ledger_open_ro(data_dir, &l, &head);
    if (ex != 0) return ex;
    if (size_arg == NULL) size = head.seq;
    ex = size_check("seq", seq, &head);
    if (ex == EXIT_OK) ex = size_check("--size", size, &head);
    if (ex == EXIT_OK) ex = prove_print(l, seq, size);
    ky_ledger_close(l);
    return ex;
}

int ky_cmd_prove_consistency(const char *data_dir, bool json, int argc, char **argv) {
    (void)json; /* the output is always the JSON proof file */
    const char *old_arg = NULL, *new_arg = NULL;
    const opt opts[] = {{"--old", &old_arg}, {"--new", &new_arg}};
    size_t npos = 0;
    uint64_t size1, size2 = 0;
    if (opts_parse(argc, argv, opts, 2, NULL, &npos) != 0 || old_arg == NULL ||
        ky_cli_parse_u64(old_arg, 1, JSON_INT_MAX, &size1) != 0 ||
        (new_arg != NULL && ky_cli_parse_u64(new_arg, 1, JSON_INT_MAX, &size2) != 0))
        return EXIT_USAGE;
    if (new_arg != NULL && size1 > size2) return EXIT_USAGE;
    ky_ledger *l;
    ky_ledger_head head;
    int ex = ledger_open_ro(data_dir, &l, &head);
    if (ex != 0) return ex;
    if (new_arg == NULL) size2 = head.seq;
    ex = size_check("--new", size2, &head);
    if (ex == EXIT_OK) ex = size_check("--old", size1, &head);
    uint8_t proof[PROOF_BYTES];
    size_t count = 0;
    if (ex == EXIT_OK) {
        int rc = ky_checkpoint_consistency_proof(l, size1, size2, proof, KY_MERKLE_PROOF_HASHES_MAX,
                                                 &count);
        if (rc != KY_OK) ex = ledger_fail("prove-consistency", rc);
    }
    ky_ledger_close(l);
    if (ex != EXIT_OK) return ex;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "old_size", (double)size1);
    cJSON_AddNumberToObject(o, "new_size", (double)size2);
    cJSON_AddItemToObject(o, "proof", proof_json(proof, count));
    return json_print(o);
}

/* ---- auditor side: proof files and verdicts --------------------------------------------- */

/* A parsed proof file: inclusion (a = seq, b = tree_size, leaf) or consistency (a = old
 * size, b = new size). */
typedef struct proof_file {
    uint64_t a;                  /* seq, or old_size */
    uint64_t b;                  /* tree_size, or new_size */
    uint8_t leaf[KY_HASH_BYTES]; /* leaf_hash (inclusion only) */
    uint8_t proof[PROOF_BYTES];  /* count hashes */
    size_t count;                /* hashes in proof */
} proof_file;

static bool json_u64(const cJSON *obj, const char *name, uint64_t *out) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (!cJSON_IsNumber(it)) return false;
    double d = it->valuedouble;
    if (!(d >= 0 && d <= (double)JSON_INT_MAX)) return false; /* also refuses NaN */
    *out = (uint64_t)d;
    return (double)*out == d; /* an integer */
}

static bool hash_from_hex(const char *hex, uint8_t out[KY_HASH_BYTES]) {
    size_t bin_bytes;
    const char *end;
    return hex != NULL && strlen(hex) == HASH_HEX_CHARS &&
           sodium_hex2bin(out, KY_HASH_BYTES, hex, HASH_HEX_CHARS, NULL, &bin_bytes, &end) == 0 &&
           bin_bytes == KY_HASH_BYTES && end == hex + HASH_HEX_CHARS;
}

static bool json_hash(const cJSON *obj, const char *name, uint8_t out[KY_HASH_BYTES]) {
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(it) && hash_from_hex(it->valuestring, out);
}

/* Parses the proof file text; names on *why what is wrong. Returns true when well formed. */
static bool proof_parse(const char *text, bool inclusion, proof_file *pf, const char **why) {
    cJSON *root = cJSON_Parse(text);
    bool ok = false;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "proof");
    if (root == NULL || !cJSON_IsObject(root))
        *why = "proof file is not a JSON object";
    else if (!json_u64(root, inclusion ? "seq" : "old_size", &pf->a) ||
             !json_u64(root, inclusion ? "tree_size" : "new_size", &pf->b))
        *why = inclusion ? "proof file: seq and tree_size must be integers below 2^53"
                         : "proof file: old_size and new_size must be integers below 2^53";
    else if (inclusion && !json_hash(root, "leaf_hash", pf->leaf))
        *why = "proof file: leaf_hash must be 64 hex digits";
    else if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) > (int)KY_MERKLE_PROOF_HASHES_MAX)
        *why = "proof file: proof must be an array of at most 65 hashes";
    else
        ok = true;
    pf->count = 0;
    const cJSON *h;
    const cJSON *hashes = ok ? arr : NULL;
    cJSON_ArrayForEach(h, hashes) {
        KY_ASSERT(pf->count < KY_MERKLE_PROOF_HASHES_MAX);
        if (!cJSON_IsString(h) ||
            !hash_from_hex(h->valuestring, pf->proof + pf->count * KY_HASH_BYTES)) {
            *why = "proof file: every proof element must be 64 hex digits";
            ok = false;
            break;
        }
        pf->count++;
    }
    cJSON_Delete(root);
    return ok;
}

/* Prints the verdict: "OK: text" / "FAIL: text", or in JSON {"ok":..,...,"reason"}.
 * Consumes o. Returns EXIT_OK or EXIT_PROBLEM. */
static int verdict(bool json, cJSON *o, bool ok, const char *text) {
    if (!json) {
        cJSON_Delete(o);
        printf("%s: %s\n", ok ? "OK" : "FAIL", text);
    } else {
        cJSON_AddBoolToObject(o, "ok", ok);
        cJSON_AddStringToObject(o, ok ? "summary" : "reason", text);
        if (json_print(o) != 0) return EXIT_CANNOT;
    }
    return ok ? EXIT_OK : EXIT_PROBLEM;
}

/* Reads and opens a checkpoint note. *buf (caller frees) backs the borrowed strings of
 * *cp. Returns EXIT_OK, EXIT_CANNOT (unreadable), or EXIT_PROBLEM with *why filled. */
static int note_load(const char *path, const ky_note_verifier *key, char **buf, ky_checkpoint *cp,
                     char *why, size_t why_cap) {
    size_t n;
    if (file_read(path, buf, &n) != 0) return EXIT_CANNOT;
    int rc = ky_checkpoint_open(*buf, n, key, cp);
    if (rc == KY_OK) return EXIT_OK;
    snprintf(why, why_cap, "checkpoint %s does not verify with key %s: %s", path, key->name,
             ky_strerror(rc));
    return EXIT_PROBLEM;
}

static bool origin_is(const ky_checkpoint *cp, const char *origin) {
    return cp->body.origin_bytes == strlen(origin) &&
           memcmp(cp->body.origin, origin, cp->body.origin_bytes) == 0;
}

/* ---- check-inclusion ------------------------------------------------------------------- */

typedef struct inclusion_args {
    const char *note_path;       /* --checkpoint */
    const char *pub_path;        /* --pub */
    const char *proof_path;      /* --proof */
    const char *origin;          /* --origin or NULL */
    bool has_leaf;               /* --leaf-hash given */
    uint8_t leaf[KY_HASH_BYTES]; /* its value */
} inclusion_args;

/* The checks after the signature: proof shape and sizes, pinned leaf, Merkle path, head.
 * Writes the verdict text to why; returns true when everything verifies. */
static bool inclusion_judge(const inclusion_args *a, const ky_checkpoint *cp, const proof_file *pf,
                            char *why, size_t why_cap) {
    uint64_t size = cp->body.tree_size;
    char leaf[HASH_HEX_CHARS + 1], root[HASH_HEX_CHARS + 1];
    ky_cli_hex(pf->leaf, KY_HASH_BYTES, leaf);
    ky_cli_hex(cp->body.root_hash, KY_HASH_BYTES, root);
    if (pf->b != size) {
        snprintf(why, why_cap,
                 "proof is for tree size %" PRIu64 " but the checkpoint has %" PRIu64
                 " (ask for: kyosaictl prove SEQ --size %" PRIu64 ")",
                 pf->b, size, size);
        return false;
    }
    if (pf->a == 0 || pf->a > size) {
        snprintf(why, why_cap, "seq %" PRIu64 " is not in a tree of %" PRIu64 " entries", pf->a,
                 size);
        return false;
    }
    if (a->has_leaf && memcmp(a->leaf, pf->leaf, KY_HASH_BYTES) != 0) {
        snprintf(why, why_cap, "proof's leaf_hash %s differs from --leaf-hash", leaf);
        return false;
    }
    int rc = ky_merkle_inclusion_verify(pf->a - 1, size, pf->leaf, pf->proof, pf->count,
                                        cp->body.root_hash);
    if (rc != KY_OK) {
        snprintf(why, why_cap,
                 "entry seq %" PRIu64 " (leaf %s) is NOT proven in the tree of "
                 "size %" PRIu64 " with root %s: %s",
                 pf->a, leaf, size, root, ky_strerror(rc));
        return false;
    }
    if (pf->a == size && cp->has_head && memcmp(cp->head_leaf_hash, pf->leaf, 32) != 0) {
        snprintf(why, why_cap,
                 "seq %" PRIu64 " is the checkpoint's head but its leaf differs "
                 "from the signed head line",
                 pf->a);
        return false;
    }
    snprintf(why, why_cap,
             "entry seq %" PRIu64 " (leaf %s) is included in the tree of size %" PRIu64
             " with root %s (origin %.*s)%s",
             pf->a, leaf, size, root, (int)cp->body.origin_bytes, cp->body.origin,
             a->has_leaf ? "" : "; recompute leaf_hash from the entry bytes yourself");
    return true;
}

static int inclusion_run(const inclusion_args *a, const ky_note_verifier *key, bool json) {
    char why[1024];
    char *note = NULL, *proof_text = NULL;
    ky_checkpoint cp;
    proof_file pf;
    size_t n;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "check", "inclusion");
    int ex = note_load(a->note_path, key, &note, &cp, why, sizeof why);
    if (ex == EXIT_OK && file_read(a->proof_path, &proof_text, &n) != 0) ex = EXIT_CANNOT;
    bool ok = ex == EXIT_OK;
    const char *perr = NULL;
    if (ok && a->origin != NULL && !origin_is(&cp, a->origin)) {
        snprintf(why, sizeof why, "checkpoint origin '%.*s' is not '%s'", (int)cp.body.origin_bytes,
                 cp.body.origin, a->origin);
        ok = false;
    } else if (ok && !proof_parse(proof_text, true, &pf, &perr)) {
        snprintf(why, sizeof why, "%s: %s", a->proof_path, perr);
        ok = false;
    } else if (ok) {
        ok = inclusion_judge(a, &cp, &pf, why, sizeof why);
        cJSON_AddNumberToObject(o, "seq", (double)pf.a);
        cJSON_AddNumberToObject(o, "tree_size", (double)cp.body.tree_size);
        hex_add(o, "leaf_hash", pf.leaf);
        hex_add(o, "root", cp.body.root_hash);
    }
    cJSON_AddStringToObject(o, "key", key->name);
    if (ex != EXIT_CANNOT)
        ex = verdict(json, o, ok, why);
    else
        cJSON_Delete(o);
    free(note);
    free(proof_text);
    return ex;
}

int ky_cmd_check_inclusion(const char *data_dir, bool json, int argc, char **argv) {
    (void)data_dir; /* offline: no ledger access at all */
    inclusion_args a = {0};
    const char *leaf_hex = NULL;
    const opt opts[] = {{"--checkpoint", &a.note_path},
                        {"--pub", &a.pub_path},
                        {"--proof", &a.proof_path},
                        {"--origin", &a.origin},
                        {"--leaf-hash", &leaf_hex}};
    size_t npos = 0;
    if (opts_parse(argc, argv, opts, 5, NULL, &npos) != 0 || a.note_path == NULL ||
        a.pub_path == NULL || a.proof_path == NULL)
        return EXIT_USAGE;
    if (leaf_hex != NULL && !hash_from_hex(leaf_hex, a.leaf)) {
        fprintf(stderr, "kyosaictl: --leaf-hash must be 64 hex digits\n");
        return EXIT_USAGE;
    }
    a.has_leaf = leaf_hex != NULL;
    if (sodium_ready() != 0) return EXIT_CANNOT;
    ky_note_verifier key;
    int ex = verifier_load(a.pub_path, &key);
    if (ex != 0) return ex;
    return inclusion_run(&a, &key, json);
}

/* ---- check-consistency ----------------------------------------------------------------- */

typedef struct consistency_args {
    const char *old_path;   /* --old */
    const char *new_path;   /* --new */
    const char *pub_path;   /* --pub */
    const char *proof_path; /* --proof */
    const char *origin;     /* --origin or NULL */
} consistency_args;

/* Origins, epochs, sizes and the Merkle proof of two verified checkpoints. */
static bool consistency_judge(const consistency_args *a, const ky_checkpoint *c1,
                              const ky_checkpoint *c2, const proof_file *pf, char *why,
                              size_t why_cap) {
    uint64_t s1 = c1->body.tree_size, s2 = c2->body.tree_size;
    if (c1->body.origin_bytes != c2->body.origin_bytes ||
        memcmp(c1->body.origin, c2->body.origin, c1->body.origin_bytes) != 0) {
        snprintf(why, why_cap, "the checkpoints name different logs: '%.*s' and '%.*s'",
                 (int)c1->body.origin_bytes, c1->body.origin, (int)c2->body.origin_bytes,
                 c2->body.origin);
        return false;
    }
    if (a->origin != NULL && !origin_is(c1, a->origin)) {
        snprintf(why, why_cap, "checkpoint origin '%.*s' is not '%s'", (int)c1->body.origin_bytes,
                 c1->body.origin, a->origin);
        return false;
    }
    if (s2 < s1) {
        snprintf(why, why_cap,
                 "the --new checkpoint (size %" PRIu64 ") is smaller than the "
                 "--old one (size %" PRIu64 "): a log never shrinks",
                 s2, s1);
        return false;
    }
    if (c1->has_epoch && c2->has_epoch && c2->epoch < c1->epoch) {
        snprintf(why, why_cap, "epoch went back from %" PRIu64 " to %" PRIu64, c1->epoch,
                 c2->epoch);
        return false;
    }
    if (pf->a != s1 || pf->b != s2) {
        snprintf(why, why_cap,
                 "proof is for sizes %" PRIu64 " -> %" PRIu64 " but the "
                 "checkpoints have %" PRIu64 " -> %" PRIu64 " (ask for: kyosaictl "
                 "prove-consistency --old %" PRIu64 " --new %" PRIu64 ")",
                 pf->a, pf->b, s1, s2, s1, s2);
        return false;
    }
    int rc = ky_merkle_consistency_verify(s1, s2, c1->body.root_hash, c2->body.root_hash, pf->proof,
                                          pf->count);
    char r1[HASH_HEX_CHARS + 1], r2[HASH_HEX_CHARS + 1];
    ky_cli_hex(c1->body.root_hash, KY_HASH_BYTES, r1);
    ky_cli_hex(c2->body.root_hash, KY_HASH_BYTES, r2);
    if (rc != KY_OK) {
        snprintf(why, why_cap,
                 "the tree of size %" PRIu64 " (root %s) is NOT proven to extend "
                 "the tree of size %" PRIu64 " (root %s): %s",
                 s2, r2, s1, r1, ky_strerror(rc));
        return false;
    }
    snprintf(why, why_cap,
             "the tree of size %" PRIu64 " (root %s) extends the tree of size %" PRIu64
             " (root %s) (origin %.*s)",
             s2, r2, s1, r1, (int)c1->body.origin_bytes, c1->body.origin);
    return true;
}

/* Loads both notes and the proof file; judges; prints the verdict. */
static int consistency_run(const consistency_args *a, const ky_note_verifier *key, bool json) {
    char why[1024];
    char *n1 = NULL, *n2 = NULL, *proof_text = NULL;
    ky_checkpoint c1, c2;
    proof_file pf;
    size_t len;
    const char *perr = NULL;
    int ex = note_load(a->old_path, key, &n1, &c1, why, sizeof why);
    if (ex == EXIT_OK) ex = note_load(a->new_path, key, &n2, &c2, why, sizeof why);
    if (ex == EXIT_OK && file_read(a->proof_path, &proof_text, &len) != 0) ex = EXIT_CANNOT;
    bool ok = ex == EXIT_OK;
    if (ok && !proof_parse(proof_text, false, &pf, &perr)) {
        snprintf(why, sizeof why, "%s: %s", a->proof_path, perr);
        ok = false;
    } else if (ok) {
        ok = consistency_judge(a, &c1, &c2, &pf, why, sizeof why);
    }
    if (ex != EXIT_CANNOT) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "check", "consistency");
        if (ex == EXIT_OK) {
            cJSON_AddNumberToObject(o, "old_size", (double)c1.body.tree_size);
            cJSON_AddNumberToObject(o, "new_size", (double)c2.body.tree_size);
            hex_add(o, "old_root", c1.body.root_hash);
            hex_add(o, "new_root", c2.body.root_hash);
        }
        cJSON_AddStringToObject(o, "key", key->name);
        ex = verdict(json, o, ok, why);
    }
    free(n1);
    free(n2);
    free(proof_text);
    return ex;
}

int ky_cmd_check_consistency(const char *data_dir, bool json, int argc, char **argv) {
    (void)data_dir; /* offline: no ledger access at all */
    consistency_args a = {0};
    const opt opts[] = {{"--old", &a.old_path},
                        {"--new", &a.new_path},
                        {"--pub", &a.pub_path},
                        {"--proof", &a.proof_path},
                        {"--origin", &a.origin}};
    size_t npos = 0;
    if (opts_parse(argc, argv, opts, 5, NULL, &npos) != 0 || a.old_path == NULL ||
        a.new_path == NULL || a.pub_path == NULL || a.proof_path == NULL)
        return EXIT_USAGE;
    if (sodium_ready() != 0) return EXIT_CANNOT;
    ky_note_verifier key;
    int ex = verifier_load(a.pub_path, &key);
    if (ex != 0) return ex;
    return consistency_run(&a, &key, json);
}
