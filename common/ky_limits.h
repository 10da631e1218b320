/*
 * ky_limits.h — every limit of kyosai-ledger, in one data-only header.
 *
 * Why one file: an operator or auditor must be able to see every bound the system
 * enforces, its unit and why it has this value (STYLE rule 17, after SQLite's
 * sqliteLimit.h). Parsers compare lengths with these before they allocate or copy.
 * Every limit is tested at its maximum and at maximum + 1.
 */
#ifndef KY_LIMITS_H
#define KY_LIMITS_H

/* Opaque business-document bytes per entry. 4 KiB holds a document id, its hash and
 * a few fields; personal data belongs outside the append-only ledger (DESIGN §3.1).
 * Hard ceiling: the u32 length field; raising it changes per-batch memory. */
#define KY_ENTRY_PAYLOAD_BYTES_MAX 4096u

/* Events per append batch (and per writer group commit). 10,000 is where LMDB
 * append throughput flattens on this hardware (DESIGN §3.5); the writer preallocates
 * its per-batch arrays to this size at open. */
#define KY_LEDGER_BATCH_COUNT_MAX 10000u

/* Months a single premium_prepaid event may cover (advance payment of up to one
 * year, as the schemes allow). Bounds the month-index updates per event. */
#define KY_PREPAID_MONTHS_MAX 12u

/* Months a months_carried_over event may bring from an earlier contract: 40 years. */
#define KY_CARRIED_MONTHS_MAX 480u

/* Largest amount in any single event, JPY: 10 billion JPY is far above any benefit
 * (the average is about 11.3 M JPY) yet keeps every running total of a contract far
 * from int64 overflow. */
#define KY_AMOUNT_JPY_MAX 10000000000LL

/* Contract numbers are positive and below 10^15 (15 decimal digits), so they fit a
 * double exactly for JSON tools and sort as big-endian u64 keys. */
#define KY_CONTRACT_ID_MAX 999999999999999ULL

/* LMDB map size default and bounds, bytes. The map is sparse on Linux; 64 GiB holds
 * roughly 100 M entries with their indexes. */
#define KY_LEDGER_MAP_BYTES_DEFAULT (64ULL << 30)
#define KY_LEDGER_MAP_BYTES_MIN     (1ULL << 20)
#define KY_LEDGER_MAP_BYTES_MAX     (1ULL << 44)

/* Entries returned by one history page. */
#define KY_HISTORY_PAGE_COUNT_MAX 1000u

/* Hashes in one Merkle proof (ledger/merkle.h). A tree of at most 2^64 - 1 leaves has at
 * most 64 levels, so an inclusion path holds at most 64 hashes; a consistency proof can
 * hold one more (the starting subtree hash when the old size is not a power of two, e.g.
 * 65 hashes from size 3 to size 2^64 - 1). Verifiers reject longer proofs before hashing
 * anything, and callers can size proof buffers statically. This is a mathematical
 * ceiling, not a tunable. */
#define KY_MERKLE_PROOF_HASHES_MAX 65u

/* Bytes in one C2SP signed note, text and signature lines together (ledger/note.h).
 * A checkpoint body with a few extension lines is under 1 KiB and an Ed25519 signature
 * line about 100 bytes plus the key name, so 64 KiB holds KY_NOTE_SIGNATURES_MAX
 * signatures with names of several hundred bytes, or post-quantum signatures (up to
 * about 5 kB each) from a handful of witnesses. Bounds the work of opening an
 * untrusted note; raising it only costs parsing time. */
#define KY_NOTE_BYTES_MAX 65536u

/* Signature lines in one signed note, counted before duplicates are dropped. C2SP
 * requires accepting at least 16; golang.org/x/mod and its test vectors use 100, and we
 * follow it so notes that tool accepts we accept too. Bounds the per-note signature
 * table (ky_note_opened) and the duplicate scan, which is quadratic in this count. */
#define KY_NOTE_SIGNATURES_MAX 100u

/* Bytes in a note key name (signer/verifier keys, ledger/note.h). Names are
 * schema-less URLs such as "example.com/kyosai/ledger"; 255 bytes is a DNS name
 * and a path. Key structs store the name inline, so this sizes them. */
#define KY_NOTE_KEY_NAME_BYTES_MAX 255u

/* ---- wire protocol (proto/, docs/PROTOCOL.md) --------------------------------------------
 * The client library links proto/ but never ledger/, so the wire layer has its own names
 * for the limits it shares with the ledger; the static asserts below tie them together. */

/* Bytes in a frame header (proto/frame.h). A format constant, not a tunable: it is kept
 * here beside the body limit because every per-connection buffer is
 * KY_WIRE_HEADER_BYTES + frame_body_bytes_max bytes. */
#define KY_WIRE_HEADER_BYTES 32u

/* Largest frame body, bytes (4 MiB). A batch of 10,000 small events is about 1 MB, so a
 * full batch of ordinary events fits with room to spare; large payloads need smaller
 * batches. The node preallocates one read buffer of this size (plus the header) per
 * connection, so this times connections_max is the node's read-buffer memory. A node may
 * be configured lower (frame_body_bytes_max, announced in HELLO) but never higher. Hard
 * ceiling: the u32 body_bytes field. */
#define KY_WIRE_FRAME_BODY_BYTES_MAX (4u << 20)

/* Smallest frame_body_bytes_max a node may be configured with or announce, bytes
 * (64 KiB). Below this one event with a full payload, or a useful page of entries, would
 * no longer fit a frame; clients refuse a HELLO announcing less. */
#define KY_WIRE_FRAME_BODY_BYTES_MIN 65536u

/* Events in one APPEND request. Equal to the ledger's batch limit, because one APPEND is
 * judged as one batch and answered with one result per event; a larger wire batch could
 * only be refused later. */
#define KY_WIRE_BATCH_COUNT_MAX 10000u

/* Payload bytes of one event on the wire; equal to the ledger's per-entry payload limit
 * so the wire never carries an event the ledger must refuse for its size. */
#define KY_WIRE_PAYLOAD_BYTES_MAX 4096u

/* Bytes of the client name in HELLO (ASCII, shown in logs and STATUS tooling). 64 holds
 * "service-name/version@host"; longer names only bloat log lines. u8 length field. */
#define KY_WIRE_CLIENT_NAME_BYTES_MAX 64u

/* Bytes of the `what` field of an ERROR frame: the name of the rule or limit that refused
 * the request (e.g. "frame_body_bytes_max"). Names are identifiers; 64 is ample. u8
 * length field. */
#define KY_WIRE_ERROR_WHAT_BYTES_MAX 64u

/* Bytes of the human-readable message of an ERROR frame. 512 holds a ky_strerror()
 * sentence with the offending values; a client must never need more to act on it.
 * u16 length field. */
#define KY_WIRE_ERROR_MESSAGE_BYTES_MAX 512u

/* Entries in one RANGE or HISTORY page (the count_max a request may ask for). Equal to
 * the ledger's history page, so one page is one bounded read transaction. A node may
 * return fewer when the frame body fills first. */
#define KY_WIRE_READ_COUNT_MAX 1000u

/* Bytes of one entry carried opaquely by GET, RANGE and HISTORY responses. The format-1
 * entry is a 152-byte header plus at most KY_ENTRY_PAYLOAD_BYTES_MAX; the extra 256 bytes
 * leave room for a later entry format's header without a protocol change. */
#define KY_WIRE_ENTRY_BYTES_MAX (KY_WIRE_PAYLOAD_BYTES_MAX + 256u)

/* Bytes of the opaque contract state in a CONTRACT response. The derived state of a
 * contract is a fixed record of about a hundred bytes; 1 KiB leaves room for fields
 * added later while keeping a client's buffer small and static. */
#define KY_WIRE_CONTRACT_STATE_BYTES_MAX 1024u

_Static_assert(KY_MERKLE_PROOF_HASHES_MAX == 64u + 1u, "64 levels plus the starting hash");
_Static_assert(KY_NOTE_SIGNATURES_MAX >= 16u, "C2SP: accept at least 16 signatures");
_Static_assert(KY_NOTE_KEY_NAME_BYTES_MAX < KY_NOTE_BYTES_MAX, "a key name fits a note");
_Static_assert(KY_PREPAID_MONTHS_MAX <= 65535u, "months is a u16 field");
_Static_assert(KY_CARRIED_MONTHS_MAX <= 65535u, "months is a u16 field");
_Static_assert(KY_LEDGER_BATCH_COUNT_MAX <= 1000000u, "batch arrays are preallocated");

_Static_assert(KY_WIRE_BATCH_COUNT_MAX == KY_LEDGER_BATCH_COUNT_MAX, "one APPEND = one batch");
_Static_assert(KY_WIRE_PAYLOAD_BYTES_MAX == KY_ENTRY_PAYLOAD_BYTES_MAX, "same payload bound");
_Static_assert(KY_WIRE_READ_COUNT_MAX == KY_HISTORY_PAGE_COUNT_MAX, "one page = one read");
_Static_assert(KY_WIRE_ENTRY_BYTES_MAX >= 152u + KY_ENTRY_PAYLOAD_BYTES_MAX,
               "a format-1 entry (152-byte header + payload) fits the wire entry bound");
_Static_assert(KY_WIRE_FRAME_BODY_BYTES_MIN <= KY_WIRE_FRAME_BODY_BYTES_MAX, "min <= max");
_Static_assert(KY_WIRE_FRAME_BODY_BYTES_MIN >= 4u * KY_WIRE_ENTRY_BYTES_MAX,
               "the smallest allowed frame carries several full-size entries");
_Static_assert(KY_WIRE_FRAME_BODY_BYTES_MAX <= 0xFFFFFFFFu, "body_bytes is a u32 field");
_Static_assert(KY_WIRE_CLIENT_NAME_BYTES_MAX <= 255u, "client_name_len is a u8 field");
_Static_assert(KY_WIRE_ERROR_WHAT_BYTES_MAX <= 255u, "what_len is a u8 field");
_Static_assert(KY_WIRE_ERROR_MESSAGE_BYTES_MAX <= 65535u, "msg_len is a u16 field");

#endif
