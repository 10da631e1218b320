/*
 * msg_check.h — decode one message body with a chosen proto/msg.h decoder and, when it is
 * accepted, re-encode it and demand the identical bytes (shared by fuzz_msg and fuzz_frame).
 *
 * Why shared: fuzz_msg reaches the decoders directly, fuzz_frame reaches them through the
 * frame reader the way a node or client does; both must apply the same oracle, so it is
 * written once. The oracle is msg.h rule 5 read backwards: encoders check what decoders
 * check, so every accepted body has an encoding, and proto's codecs are canonical, so that
 * encoding is the body itself. Any difference is a bug and calls abort().
 *
 * Not thread-safe (static scratch arrays); libFuzzer runs one input at a time.
 */
#ifndef KY_FUZZ_MSG_CHECK_H
#define KY_FUZZ_MSG_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "../../proto/frame.h"

/* Decoders, in the order fuzz_msg's first input byte selects them (modulo the count). */
enum fuzz_msg_decoder {
    FUZZ_HELLO,
    FUZZ_HELLO_RESP,
    FUZZ_APPEND,
    FUZZ_APPEND_RESP,
    FUZZ_GET,
    FUZZ_GET_RESP,
    FUZZ_RANGE,
    FUZZ_RANGE_RESP,
    FUZZ_CONTRACT,
    FUZZ_CONTRACT_RESP,
    FUZZ_HISTORY,
    FUZZ_HISTORY_RESP,
    FUZZ_STATUS,
    FUZZ_STATUS_RESP,
    FUZZ_ERROR,
    FUZZ_REPL_SUBSCRIBE,
    FUZZ_REPL_ACK,
    FUZZ_REPL_ENTRIES,
    FUZZ_PROMOTE,
    FUZZ_PROMOTE_RESP,
    FUZZ_MSG_DECODER_COUNT
};

/* Runs decoder `which` (< FUZZ_MSG_DECODER_COUNT) on body[0..len) and checks the round
 * trip. Returns the decoder's ky_err; aborts on a round-trip mismatch. */
int fuzz_msg_check(unsigned which, const uint8_t *body, size_t len);

/* The decoder a receiver would run for a frame with this header (request decoders for
 * frames without KY_FRAME_FLAG_RESPONSE, response decoders for frames with it), or
 * FUZZ_MSG_DECODER_COUNT when ky_msg_header_check refuses the header or no body of that type
 * travels in that direction: REPL_SUBSCRIBE and REPL_ACK are only requests (the answers to a
 * SUBSCRIBE are REPL_ENTRIES responses; an ACK has none), REPL_ENTRIES only a response. */
unsigned fuzz_msg_decoder_for(const ky_frame_header *h);

#endif
