/*
 * cmd_audit.h — kyosaictl's audit commands: note keys, signed checkpoints, Merkle proofs
 * and their offline checks.
 *
 * Why: an auditor must be able to verify, without trusting the node, that an entry is in
 * the ledger and that a later checkpoint extends an earlier one (DESIGN §3.3). The node
 * side (keygen, checkpoint, prove, prove-consistency) reads the ledger read-only; the
 * auditor side (check-inclusion, check-consistency) never opens a ledger: it trusts only
 * the verifier key file it was given out of band, and checks the signed checkpoint
 * notes and the proof JSON against it. docs/AUDIT.md section 6 walks through the procedure.
 *
 * Each command is `int ky_cmd_<name>(data_dir, json, argc, argv)` with argv the
 * arguments after the command name; it returns the kyosaictl exit code: 0 ok, 1 the
 * command ran and found a problem (a check failed, a seq is missing, a key file
 * exists), 2 usage error (printed by the caller with the help text), 3 cannot run
 * (unreadable file, bad verifier key, missing ledger). KY_CMD_<NAME>_ARGS, _SUMMARY and
 * _HELP are arrays so they can initialise kyosaictl's static command table.
 *
 * Proof files (JSON, one object, numbers are integers below 2^53):
 *   inclusion    {"seq":S,"tree_size":N,"leaf_hash":"<64 hex>","proof":["<64 hex>",...]}
 *   consistency  {"old_size":N,"new_size":M,"proof":["<64 hex>",...]}
 * Threads: the CLI's single thread. Commands print to stdout/stderr and never exit.
 */
#ifndef KY_CMD_AUDIT_H
#define KY_CMD_AUDIT_H

#include <stdbool.h>

/* keygen --name NAME --out PREFIX: new Ed25519 note key; PREFIX.key (mode 0600) and
 * PREFIX.pub, both created exclusively (never overwritten); prints the verifier key. */
extern const char KY_CMD_KEYGEN_ARGS[];
extern const char KY_CMD_KEYGEN_SUMMARY[];
extern const char KY_CMD_KEYGEN_HELP[];
int ky_cmd_keygen(const char *data_dir, bool json, int argc, char **argv);

/* checkpoint --key FILE [--origin ORIGIN]: prints the signed checkpoint of the head. */
extern const char KY_CMD_CHECKPOINT_ARGS[];
extern const char KY_CMD_CHECKPOINT_SUMMARY[];
extern const char KY_CMD_CHECKPOINT_HELP[];
int ky_cmd_checkpoint(const char *data_dir, bool json, int argc, char **argv);

/* prove SEQ [--size N]: prints the inclusion proof JSON of entry SEQ in tree size N. */
extern const char KY_CMD_PROVE_ARGS[];
extern const char KY_CMD_PROVE_SUMMARY[];
extern const char KY_CMD_PROVE_HELP[];
int ky_cmd_prove(const char *data_dir, bool json, int argc, char **argv);

/* prove-consistency --old N [--new M]: prints the consistency proof JSON. */
extern const char KY_CMD_PROVE_CONSISTENCY_ARGS[];
extern const char KY_CMD_PROVE_CONSISTENCY_SUMMARY[];
extern const char KY_CMD_PROVE_CONSISTENCY_HELP[];
int ky_cmd_prove_consistency(const char *data_dir, bool json, int argc, char **argv);

/* check-inclusion --checkpoint NOTE --pub PUB --proof PROOF [--origin O] [--leaf-hash H]:
 * offline; ignores data_dir. */
extern const char KY_CMD_CHECK_INCLUSION_ARGS[];
extern const char KY_CMD_CHECK_INCLUSION_SUMMARY[];
extern const char KY_CMD_CHECK_INCLUSION_HELP[];
int ky_cmd_check_inclusion(const char *data_dir, bool json, int argc, char **argv);

/* check-consistency --old NOTE1 --new NOTE2 --pub PUB --proof PROOF [--origin O]:
 * offline; ignores data_dir. */
extern const char KY_CMD_CHECK_CONSISTENCY_ARGS[];
extern const char KY_CMD_CHECK_CONSISTENCY_SUMMARY[];
extern const char KY_CMD_CHECK_CONSISTENCY_HELP[];
int ky_cmd_check_consistency(const char *data_dir, bool json, int argc, char **argv);

#endif
