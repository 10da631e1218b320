/*
 * import.h — turns one line of an operator's input file (JSON lines or CSV) into a ky_event,
 * and one ky_event back into a JSON line.
 *
 * Why: `kyosaictl post` and the sample generator must agree on one field vocabulary, and a
 * bad line must be reported with the field and the problem, never half-posted. Parsing is
 * strict (unknown fields, floats, out-of-range numbers and malformed CSV are errors) because
 * a money record silently rounded or truncated on import cannot be fixed later in an
 * append-only ledger; judging the event against the contract rules is left to the ledger.
 *
 * Fields (both formats; JSON member names or CSV header names):
 *   kind         string, a client kind name as ky_kind_name ("premium_paid")   required
 *   contract     integer 1..KY_CONTRACT_ID_MAX                                 required
 *   scheme       string "shokibo" | "safety"
 *   amount       integer -KY_AMOUNT_JPY_MAX..KY_AMOUNT_JPY_MAX (JPY; the rules judge it)
 *   period       integer 0..999999 (yyyymm; the rules judge the month)
 *   months       integer 0..65535
 *   subtype      integer 0..65535
 *   member_type  integer 0..65535, alias of subtype, contract_opened only
 *   reason       string "A" | "B" | "quasi" | "cancellation" (subtype 1..4), benefit_paid only
 *   ref_seq      integer 0..2^64-1
 *   linked       true/false or 1/0 (CSV: true, false, 1, 0) -> KY_EVENT_LINKED
 *   idem_key     string of 32 hex digits, not all zero
 *   payload      string, stored as its UTF-8 bytes, at most KY_ENTRY_PAYLOAD_BYTES_MAX bytes
 * Absent fields are 0; a JSON null or an empty CSV cell counts as absent.
 *
 * Formats: the first non-empty line decides. If it starts with '{' (after an optional UTF-8
 * BOM and blanks) every line is one JSON object; otherwise it is a CSV header naming the
 * columns, and every later line is a record (RFC 4180 quoting with "" escapes; a record may
 * not span lines). Blank lines are skipped in both formats.
 *
 * Deterministic idempotency keys: when a line has no idem_key, the key is
 *     bytes 0..7  = file_base, big-endian (the caller's choice, e.g. the file's mtime in µs)
 *     bytes 8..15 = the caller's line number, big-endian (1-based physical line)
 * so posting the same file again names the same keys and the ledger answers with the
 * original seqs instead of writing twice. Keys of one file increase with the line number,
 * and a newer file's keys sort after an older file's, so they arrive in key order, which
 * keeps the LMDB idempotency index append-like (DESIGN §3.5). Editing a file changes its
 * mtime and therefore its keys: re-post an edited file only with explicit idem_key values.
 *
 * Memory: a ky_import is caller-allocated and holds its line and payload buffers inline
 * (about 37 KiB, so prefer static or heap storage). cJSON allocates while a JSON line is
 * parsed and frees before ky_import_line returns. Thread-safety: one ky_import per thread;
 * JSON parsing reads cJSON's global error pointer, so parse JSON on one thread at a time.
 */
#ifndef KY_IMPORT_H
#define KY_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../ledger/entry.h"

/* Bytes in one input line, line ending excluded. A full payload escaped as \uXXXX (6 bytes
 * per byte) plus every other field fits; anything longer is refused before parsing, so a
 * corrupt file cannot make the importer allocate without bound. (Belongs in ky_limits.h.) */
#define KY_IMPORT_LINE_BYTES_MAX 32768u

/* Columns a CSV header may name: each field at most once. */
#define KY_IMPORT_COLUMNS_MAX 13u

/* Message buffer size that holds every message the importer writes. */
#define KY_IMPORT_MSG_BYTES 160u

typedef enum ky_import_format {
    KY_IMPORT_FORMAT_UNKNOWN = 0, /* no non-empty line seen yet */
    KY_IMPORT_FORMAT_JSONL = 1,   /* one JSON object per line */
    KY_IMPORT_FORMAT_CSV = 2,     /* header line, then records */
} ky_import_format;

typedef struct ky_import {
    ky_import_format format;                     /* decided by the first non-empty line */
    uint64_t file_base;                          /* high 8 bytes of derived idem keys */
    uint32_t column_count;                       /* CSV: columns named by the header */
    uint8_t column_field[KY_IMPORT_COLUMNS_MAX]; /* CSV: field id of each column */
    char line[KY_IMPORT_LINE_BYTES_MAX + 1];     /* NUL-terminated copy / unquoted CSV cells */
    uint32_t cell_start[KY_IMPORT_COLUMNS_MAX];  /* CSV: cell offsets into line */
    uint32_t cell_bytes[KY_IMPORT_COLUMNS_MAX];  /* CSV: cell lengths, bytes */
    uint8_t payload[KY_ENTRY_PAYLOAD_BYTES_MAX]; /* payload of the last event, bytes */
} ky_import;

/* Prepares im for a new file. file_base becomes bytes 0..7 of every derived idem key
 * (see above). Never fails; allocates nothing. */
void ky_import_init(ky_import *im, uint64_t file_base);

/* Releases im (nothing is held between lines today; call it anyway). */
void ky_import_release(ky_import *im);

/* Parses one line (len bytes, not necessarily NUL-terminated; a trailing "\n" or "\r\n" is
 * ignored). line_number is the 1-based physical line in the file, used for derived keys.
 * On KY_OK, *has_event tells whether ev was filled: it is false for blank lines and for the
 * CSV header. ev->payload then points into im and stays valid until the next call with im
 * (or ky_import_release). On error, ev is unspecified, msg (capacity msg_cap, may be 0)
 * holds one line naming the field and the problem, without the line number, and the reader
 * stays usable for the next line; a bad CSV header, however, leaves the format undecided so
 * the next non-empty line is read as the header again. Returns:
 *   KY_OK
 *   KY_E_PARSE              syntax, wrong type, float, unknown or duplicate field, missing
 *                           kind/contract, bad hex key, misplaced alias, line too long
 *   KY_E_RANGE              an integer outside its field's range
 *   KY_E_ENTRY_KIND         unknown kind name
 *   KY_E_KIND_SYSTEM_ONLY   a kind only the node writes (epoch_started, ...)
 *   KY_E_ENTRY_SCHEME       unknown scheme name
 *   KY_E_IDEM_KEY_MISSING   idem_key given as all zero
 *   KY_E_PAYLOAD_TOO_LARGE  payload longer than KY_ENTRY_PAYLOAD_BYTES_MAX bytes */
int ky_import_line(ky_import *im, const char *line, size_t len, uint64_t line_number, ky_event *ev,
                   bool *has_event, char *msg, size_t msg_cap);

/* Writes ev as one JSON object (no newline) in the field names above, NUL-terminated, into
 * buf (capacity cap). kind, contract and, when set, scheme come first; zero fields are left
 * out, subtype is written as member_type / reason where that alias applies, and idem_key
 * always (32 lowercase hex digits). ky_import_line reads the output back to an equal event.
 * Allocates nothing. Returns KY_OK, KY_E_BUFFER_TOO_SMALL, or KY_E_INVALID_ARG when the
 * payload is not valid UTF-8 or holds a NUL byte (JSON text cannot carry it). */
int ky_import_event_to_json(const ky_event *ev, char *buf, size_t cap);

/* Fills out with a fresh UUIDv7 (RFC 9562): a 48-bit Unix-ms timestamp in the top bits,
 * version 7, variant 10, and 74 random bits from libsodium. Keys made later sort after
 * keys made in an earlier millisecond, so they reach the ledger's index in order (DESIGN
 * §3.5); within one millisecond they are unordered. Any thread. Returns KY_OK or KY_E_IO
 * when libsodium cannot initialise (no entropy source). */
int ky_idem_key_generate(uint8_t out[KY_IDEM_KEY_BYTES]);

#endif
