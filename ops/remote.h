/*
 * remote.h — kyosaictl commands against a running node through libkyosai (--server).
 * Each returns the process exit code (0 ok, 1 problem found, 3 could not run).
 */
#ifndef KY_REMOTE_H
#define KY_REMOTE_H

#include <stdbool.h>
#include <stdint.h>

#include "cli_util.h"

/* servers: "host:port[,host:port...]", tried in order. */
int ky_remote_get(const char *servers, bool json, uint64_t seq);
int ky_remote_range(const char *servers, bool json, uint64_t from_seq, uint64_t to_seq);
int ky_remote_history(const char *servers, bool json, uint64_t contract_id, uint64_t after,
                      uint64_t limit);
int ky_remote_contract(const char *servers, bool json, uint64_t contract_id);
int ky_remote_status(const char *servers, bool json);

#define KY_REMOTE_PROMOTE_FORCE       0x1u
#define KY_REMOTE_PROMOTE_ACCEPT_LOSS 0x2u

/* kyosai_promote against servers; prints the new epoch, or the node's refusal (exit 1). */
int ky_remote_promote(const char *servers, bool json, uint32_t flags);

/* kyosai_switchover against the primary; exit 1 when refused or aborted. */
int ky_remote_switchover(const char *servers, bool json);

/* kyosai_degrade (restore false) or kyosai_restore_sync; exit 1 when refused. */
int ky_remote_mode(const char *servers, bool json, bool restore);

/* Secure channel for every later call: this client's secret key file and the node keys
 * ("x25519:<hex>" or .pub paths), comma-separated, one per endpoint or one for all. Both
 * NULL: plaintext. */
void ky_remote_set_keys(const char *key_file, const char *server_keys);
/* Posts a file like `post`, in batches of up to 1,000 through kyosai_append (which retries
 * with the same keys on a dropped connection), with a progress bar on a terminal unless
 * quiet. Fills sum, also when it stops early (what was posted until then). */
int ky_remote_post(const char *servers, const char *path, bool quiet, ky_cli_post_summary *sum);

#endif
