/*
 * fuzz_entry.c — libFuzzer harness for the ledger entry decoder (ledger/entry.h).
 *
 * Why: entries come back from LMDB, from a replica's stream and from auditors' exported
 * files, any of which may be corrupt or crafted, and the format must stay canonical for
 * 40 years: entry.h promises that decode accepts exactly what encode produces and that
 * encode(decode(b)) == b. This harness holds the decoder to both promises on arbitrary
 * bytes: every accepted input must re-encode to itself (abort() otherwise), and the kind
 * and scheme names of an accepted entry must map back to their values.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/ky_err.h"
#include "../../ledger/entry.h"

#define SLACK_BYTES 16u /* room past the input, so a longer re-encoding is seen as such */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, size_t in, size_t out, int rc) {
    fprintf(stderr, "fuzz_entry: %s (%zu bytes in, %zu out, %s)\n", what, in, out, ky_strerror(rc));
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    ky_entry e;
    int rc = ky_entry_decode(size ? data : NULL, size, &e);
    if (rc != KY_OK) return 0;
    if (ky_entry_check_fields(&e) != KY_OK)
        fail("accepted entry fails its field check", size, 0, rc);
    if (ky_entry_encoded_bytes(&e) != size) fail("encoded size differs", size, 0, rc);
    if (e.payload_bytes > 0 && e.payload != data + KY_ENTRY_HEADER_BYTES)
        fail("payload does not borrow the input", size, 0, rc);

    uint8_t *out = malloc(size + SLACK_BYTES); /* exact size, for ASan */
    if (out == NULL) abort();
    size_t out_len = 0;
    rc = ky_entry_encode(&e, out, size + SLACK_BYTES, &out_len);
    if (rc != KY_OK) fail("re-encode refused an accepted entry", size, out_len, rc);
    if (out_len != size || memcmp(out, data, size) != 0)
        fail("re-encoding differs", size, out_len, rc);
    free(out);

    uint8_t leaf[KY_HASH_BYTES];
    ky_entry_leaf_hash(data, size, leaf);
    if (strcmp(ky_kind_name(e.kind), "unknown") == 0) fail("known kind has no name", size, 0, rc);
    if (ky_kind_from_name(ky_kind_name(e.kind)) != e.kind)
        fail("kind name round trip", size, 0, rc);
    if (!ky_kind_is_system(e.kind) && ky_scheme_from_name(ky_scheme_name(e.scheme)) != e.scheme)
        fail("scheme name round trip", size, 0, rc);
    return 0;
}
