/*
 * fuzz_msg.c — libFuzzer harness for every message body decoder in proto/msg.h.
 *
 * Why: message bodies are the first thing a node parses from an unauthenticated peer and
 * the first thing the client library parses from a node, and every decoder is hand-written
 * bounds logic (counts times element sizes, length prefixes, text checks). The unit tests
 * cover the cases someone thought of; this covers the rest. Input: byte 0 picks the
 * decoder (modulo the count, see msg_check.h), the remaining bytes are the body, in an
 * exact-size buffer so ASan sees any over-read. An accepted body must re-encode to the
 * same bytes (msg_check.c aborts otherwise).
 */
#include <stddef.h>
#include <stdint.h>

#include "msg_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    unsigned which = data[0] % FUZZ_MSG_DECODER_COUNT;
    (void)fuzz_msg_check(which, size > 1 ? data + 1 : NULL, size - 1);
    return 0;
}
