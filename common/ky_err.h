/*
 * ky_err.h — the one error enum of kyosai-ledger and its messages.
 *
 * Why: every refusal must carry a specific code naming the rule or limit that was
 * hit (DESIGN §3.4, §4). One enum for all internal modules, negative and
 * contiguous, so a table can give each a message and `_Static_assert` can check
 * the table is complete. errno, MDB and libev values are translated where they
 * happen and never carried in the same int (STYLE rule 10, anti-pattern A3).
 *
 * Wire status codes (proto/) are a separate, frozen numbering mapped from these
 * in exactly one function; renumbering this enum is therefore allowed.
 *
 * Thread-safety: ky_strerror() is pure and may be called from any thread.
 */
#ifndef KY_ERR_H
#define KY_ERR_H

/* X-macro: symbol, message (the message starts with the symbolic name). */
#define KY_ERR_LIST(X)                                                                             \
    X(KY_E_NOMEM, "out of memory")                                                                 \
    X(KY_E_IO, "input/output error (see the log line for errno)")                                  \
    X(KY_E_INVALID_ARG, "invalid argument")                                                        \
    X(KY_E_LEDGER_FAILED,                                                                          \
      "ledger is in the failed state after a durability error; restart the process")               \
    X(KY_E_STORAGE, "storage engine error (see the log line for the LMDB code)")                   \
    X(KY_E_MAP_FULL, "ledger map size reached; raise map_bytes")                                   \
    X(KY_E_LOCKED, "ledger directory is in use by another process")                                \
    X(KY_E_NOT_FOUND, "not found")                                                                 \
    X(KY_E_EXISTS, "already exists")                                                               \
    X(KY_E_CORRUPT, "stored record is corrupt (checksum or structure mismatch)")                   \
    X(KY_E_CHAIN_BROKEN, "hash chain broken: prev_hash does not match the previous leaf hash")     \
    X(KY_E_FORMAT_VERSION, "unsupported format version")                                           \
    X(KY_E_READ_ONLY, "ledger opened read-only")                                                   \
    X(KY_E_BUFFER_TOO_SMALL, "caller buffer too small")                                            \
    X(KY_E_ENTRY_TRUNCATED, "entry bytes shorter than the encoding requires")                      \
    X(KY_E_ENTRY_TRAILING_BYTES, "entry bytes longer than the encoding requires")                  \
    X(KY_E_ENTRY_VERSION, "entry format-version byte unknown")                                     \
    X(KY_E_ENTRY_KIND, "entry kind unknown")                                                       \
    X(KY_E_ENTRY_SCHEME, "entry scheme unknown or not allowed for this kind")                      \
    X(KY_E_ENTRY_FLAGS, "entry reserved flags are not zero")                                       \
    X(KY_E_ENTRY_SEQ, "entry seq is zero or out of order")                                         \
    X(KY_E_PAYLOAD_TOO_LARGE, "payload longer than payload_bytes_max")                             \
    X(KY_E_BATCH_TOO_LARGE, "batch holds more events than batch_count_max")                        \
    X(KY_E_BATCH_EMPTY, "batch holds no events")                                                   \
    X(KY_E_IDEM_KEY_MISSING, "idempotency key is all zero")                                        \
    X(KY_E_IDEM_KEY_REUSED, "idempotency key already used for a different event")                  \
    X(KY_E_KIND_SYSTEM_ONLY, "this kind is written by the node itself, not by clients")            \
    X(KY_E_CONTRACT_ID_INVALID, "contract id is zero or above contract_id_max")                    \
    X(KY_E_CONTRACT_UNKNOWN, "contract has not been opened")                                       \
    X(KY_E_CONTRACT_EXISTS, "contract already opened")                                             \
    X(KY_E_CONTRACT_CLOSED, "contract is closed and takes no further events of this kind")         \
    X(KY_E_SCHEME_MISMATCH, "event scheme differs from the contract's scheme")                     \
    X(KY_E_MEMBER_TYPE_INVALID, "member type not valid for the scheme")                            \
    X(KY_E_PREMIUM_RANGE, "premium outside the scheme's range")                                    \
    X(KY_E_PREMIUM_STEP, "premium not a multiple of the scheme's step")                            \
    X(KY_E_PREMIUM_UNCHANGED, "new monthly premium equals the current one")                        \
    X(KY_E_PERIOD_INVALID, "period is not a valid yyyymm month")                                   \
    X(KY_E_PERIOD_NOT_ALLOWED, "period must be zero for this kind")                                \
    X(KY_E_MONTH_ALREADY_PAID, "a premium for this contract and month is already posted")          \
    X(KY_E_SAFETY_CAP, "premium would take the safety-scheme total above 8,000,000 JPY")           \
    X(KY_E_REF_NOT_ALLOWED, "ref_seq must be zero for this kind")                                  \
    X(KY_E_REVERSAL_TARGET, "reversal must name a premium entry of the same contract")             \
    X(KY_E_ALREADY_REVERSED, "the named premium entry is already reversed")                        \
    X(KY_E_REVERSAL_AMOUNT, "reversal amount differs from the reversed entry")                     \
    X(KY_E_MONTHS_INVALID, "month count outside the range allowed for this kind")                  \
    X(KY_E_MONTHS_NOT_ALLOWED, "month count must be zero for this kind")                           \
    X(KY_E_PREPAID_AMOUNT, "prepaid amount differs from months x monthly premium")                 \
    X(KY_E_AMOUNT_INVALID, "amount must be positive and at most amount_jpy_max")                   \
    X(KY_E_AMOUNT_NOT_ALLOWED, "amount must be zero for this kind")                                \
    X(KY_E_LOAN_LIMIT, "loan would exceed the contract's loan limit")                              \
    X(KY_E_LOAN_REPAY_EXCEEDS, "repayment exceeds the outstanding loan balance")                   \
    X(KY_E_BENEFIT_REASON, "benefit reason not valid for the scheme")                              \
    X(KY_E_SUBTYPE_NOT_ALLOWED, "subtype must be zero for this kind")                              \
    X(KY_E_LINKED_FAILED, "not applied: another event of its linked chain was refused")            \
    X(KY_E_LINKED_OPEN, "linked chain not closed: the last event of a batch carries LINKED")       \
    X(KY_E_FLAGS_INVALID, "unknown event flag bits set")                                           \
    X(KY_E_PARSE, "input could not be parsed")                                                     \
    X(KY_E_PROOF_INVALID, "Merkle proof does not verify against the given root(s)")                \
    X(KY_E_NOTE_MALFORMED, "signed note is malformed (C2SP signed-note)")                          \
    X(KY_E_NOTE_TOO_LARGE, "signed note longer than KY_NOTE_BYTES_MAX")                            \
    X(KY_E_NOTE_SIGNATURES_TOO_MANY, "note has more than KY_NOTE_SIGNATURES_MAX signature lines")  \
    X(KY_E_NOTE_UNVERIFIED, "note has no verified signature from a known key")                     \
    X(KY_E_NOTE_SIGNATURE_INVALID, "signature from a known key does not verify")                   \
    X(KY_E_NOTE_KEY_INVALID, "note signer or verifier key string is malformed")                    \
    X(KY_E_NOTE_KEY_NAME_TOO_LONG, "key name longer than KY_NOTE_KEY_NAME_BYTES_MAX")              \
    X(KY_E_CHECKPOINT_MALFORMED, "checkpoint text is malformed (C2SP tlog-checkpoint)")            \
    X(KY_E_RANGE, "value out of the allowed range")                                                \
    X(KY_E_FRAME_TOO_LARGE, "frame body longer than frame_body_bytes_max")                         \
    X(KY_E_FRAME_MAGIC, "frame does not start with the KYL1 magic")                                \
    X(KY_E_FRAME_VERSION, "frame protocol version not supported")                                  \
    X(KY_E_FRAME_FLAGS, "unknown frame flag bits set")                                             \
    X(KY_E_FRAME_RESERVED, "frame reserved field is not zero")                                     \
    X(KY_E_FRAME_CHECKSUM, "frame body does not match its XXH3 checksum")                          \
    X(KY_E_FRAME_TYPE, "message type unknown, or not valid in this direction")                     \
    X(KY_E_FRAME_TRUNCATED, "stream ended inside a frame")                                         \
    X(KY_E_MSG_MALFORMED, "message body has a field with an invalid value")                        \
    X(KY_E_MSG_TRUNCATED, "message body shorter than its fields require")                          \
    X(KY_E_MSG_TRAILING_BYTES, "message body longer than its fields require")                      \
    X(KY_E_MSG_FIELD_TOO_LONG, "a length-prefixed field is longer than its wire limit")            \
    X(KY_E_VERSION_UNSUPPORTED, "no protocol version in common with the peer")                     \
    X(KY_E_SEQ_RANGE_INVALID, "seq is zero, or from_seq is greater than to_seq")                   \
    X(KY_E_READ_COUNT_INVALID, "count_max is zero or above read_count_max")                        \
    X(KY_E_NOT_PRIMARY, "this node is not the primary; send writes to the primary")                \
    X(KY_E_UNAVAILABLE, "node is shutting down or overloaded")                                     \
    X(KY_E_RETRY_LATER, "temporarily unable to serve; retry the same request later")               \
    X(KY_E_REPLICA_UNAVAILABLE, "synchronous replica unavailable; the write is not acknowledged")  \
    X(KY_E_TIMEOUT, "operation timed out")                                                         \
    X(KY_E_CONNECTION_LIMIT, "node has reached connections_max")                                   \
    X(KY_E_QUEUE_FULL, "per-connection queue is full (queued bytes or requests in flight)")        \
    X(KY_E_PROTOCOL, "peer broke the protocol (unexpected message, type or status)")               \
    X(KY_E_FORBIDDEN, "the client's role does not allow this request")                             \
    X(KY_E_INTERNAL, "node internal error with no wire status; see the node log")                  \
    X(KY_E_REPLAY_INVALID, "entry breaks a ledger invariant when replayed (crafted or corrupt)")   \
    X(KY_E_HANDSHAKE_FAILED, "secure channel handshake failed (wrong key, tampered or malformed)") \
    X(KY_E_HANDSHAKE_REPLAYED, "secure channel handshake message was seen before (replay)")        \
    X(KY_E_KEY_UNKNOWN, "peer's static key is not pinned or not in the client registry")           \
    X(KY_E_KEY_INVALID, "channel key text or key file is malformed")                               \
    X(KY_E_DECRYPT_FAILED,                                                                         \
      "secure channel record failed authentication (tampered or out of order)")                    \
    X(KY_E_CIPHER_UNAVAILABLE,                                                                     \
      "cipher not offered by this build or CPU, or not allowed by config")                         \
    X(KY_E_NONCE_EXHAUSTED, "secure channel nonce space exhausted; reconnect")                     \
    X(KY_E_PLAINTEXT_REFUSED,                                                                      \
      "plaintext is allowed only when configured and on a loopback address")                       \
    X(KY_E_QUARANTINE_ACKED,                                                                       \
      "would quarantine entries acknowledged to clients; the operator must accept the loss")       \
    X(KY_E_PROMOTE_REFUSED, "refused: it could lose acknowledged entries or split the brain")

/* Contiguous negative codes: KY_E_NOMEM == -1, the next -2, ... */
enum ky_err_codes_ {
    KY_E__ZERO_ = 0,
#define KY_ERR_IDX_(sym, msg) sym##__IDX,
    KY_ERR_LIST(KY_ERR_IDX_)
#undef KY_ERR_IDX_
        KY_E__COUNT_IDX
};

typedef enum ky_err {
    KY_OK = 0,
#define KY_ERR_VAL_(sym, msg) sym = -(int)(sym##__IDX),
    KY_ERR_LIST(KY_ERR_VAL_)
#undef KY_ERR_VAL_
        KY_E__COUNT = (int)KY_E__COUNT_IDX - 1 /* number of error codes, not a code */
} ky_err;

/* Returns a static, immutable message "KY_E_NAME: sentence" for any int.
 * Unknown values give "KY_E_UNKNOWN: unknown error code". Never NULL. */
const char *ky_strerror(int code);

/* Returns the symbolic name ("KY_E_PREMIUM_STEP", "KY_OK"), or "KY_E_UNKNOWN". */
const char *ky_errname(int code);

#endif
