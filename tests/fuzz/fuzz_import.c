/*
 * fuzz_import.c — libFuzzer harness for the CSV / JSON-lines event importer (ops/import.h).
 *
 * Why: operators feed kyosaictl files exported from spreadsheets and other systems, and the
 * importer is the only thing between those bytes and an append-only money ledger. It mixes
 * cJSON with a hand-written token scanner and an in-place CSV unquoter, exactly the kind of
 * code where an off-by-one hides. The input is one whole file, split into lines as
 * `kyosaictl post` does. Oracles, each an abort():
 *   1. every error message is non-empty, NUL-terminated and printable (import.c invariant 3);
 *   2. every accepted event converts to JSON (ky_import_event_to_json), and that line, read
 *      by a fresh importer, gives back an equal event (import.h promises it);
 *   3. the JSON writer refuses a buffer one byte short, without writing past it.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/ky_err.h"
#include "../../ops/import.h"

#define FILE_BASE  0x0102030405060708ull /* bytes 0..7 of derived keys; never zero */
#define JSON_BYTES 65536u                /* > 6 x KY_ENTRY_PAYLOAD_BYTES_MAX + fields */

static ky_import im, im_again; /* about 37 KiB each: static, not on the stack */
static char json[JSON_BYTES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, uint64_t line_number, const char *detail) {
    fprintf(stderr, "fuzz_import: line %llu: %s: %s\n", (unsigned long long)line_number, what,
            detail);
    abort();
}

static void check_msg(const char *msg, uint64_t line_number) {
    size_t n = strnlen(msg, KY_IMPORT_MSG_BYTES);
    if (n == 0 || n == KY_IMPORT_MSG_BYTES)
        fail("error message empty or unterminated", line_number, "");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c < 0x20 || c > 0x7E) fail("error message not printable", line_number, msg);
    }
}

static bool event_equal(const ky_event *a, const ky_event *b) {
    return a->kind == b->kind && a->scheme == b->scheme && a->flags == b->flags &&
           a->subtype == b->subtype && a->months == b->months &&
           a->period_yyyymm == b->period_yyyymm && a->payload_bytes == b->payload_bytes &&
           a->contract_id == b->contract_id && a->ref_seq == b->ref_seq &&
           a->amount_jpy == b->amount_jpy &&
           memcmp(a->idem_key, b->idem_key, KY_IDEM_KEY_BYTES) == 0 &&
           (a->payload_bytes == 0 || memcmp(a->payload, b->payload, a->payload_bytes) == 0);
}

/* Oracle 3: with exactly strlen(json) bytes (no room for the NUL) the writer must refuse. */
static void check_short_buffer(const ky_event *ev, size_t json_len, uint64_t line_number) {
    char *tight = malloc(json_len + 1); /* exact size: ASan guards the end */
    if (tight == NULL) abort();
    if (ky_import_event_to_json(ev, tight, json_len) != KY_E_BUFFER_TOO_SMALL)
        fail("JSON writer did not refuse a short buffer", line_number, json);
    if (ky_import_event_to_json(ev, tight, json_len + 1) != KY_OK || strcmp(tight, json) != 0)
        fail("JSON writer differs with an exact buffer", line_number, json);
    free(tight);
}

/* Oracle 2: event -> JSON -> event through a fresh importer. */
static void check_round_trip(const ky_event *ev, uint64_t line_number) {
    int rc = ky_import_event_to_json(ev, json, sizeof json);
    if (rc != KY_OK) fail("accepted event does not convert to JSON", line_number, ky_strerror(rc));
    size_t json_len = strlen(json);
    check_short_buffer(ev, json_len, line_number);
    ky_import_init(&im_again, FILE_BASE);
    ky_event again;
    bool has_event = false;
    char msg[KY_IMPORT_MSG_BYTES];
    rc =
        ky_import_line(&im_again, json, json_len, line_number, &again, &has_event, msg, sizeof msg);
    if (rc != KY_OK) fail("own JSON refused", line_number, msg);
    if (!has_event) fail("own JSON gave no event", line_number, json);
    if (!event_equal(ev, &again)) fail("JSON round trip changed the event", line_number, json);
    ky_import_release(&im_again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *text = (const char *)data;
    ky_import_init(&im, FILE_BASE);
    uint64_t line_number = 0;
    size_t off = 0;
    while (off < size) {
        const char *nl = memchr(text + off, '\n', size - off);
        size_t len = nl != NULL ? (size_t)(nl - (text + off)) + 1 : size - off;
        line_number++;
        ky_event ev;
        bool has_event = false;
        char msg[KY_IMPORT_MSG_BYTES];
        int rc =
            ky_import_line(&im, text + off, len, line_number, &ev, &has_event, msg, sizeof msg);
        if (rc != KY_OK) check_msg(msg, line_number);
        if (rc == KY_OK && has_event) check_round_trip(&ev, line_number);
        off += len;
    }
    ky_import_release(&im);
    return 0;
}
