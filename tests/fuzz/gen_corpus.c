/*
 * gen_corpus.c — writes the seed corpora of fuzz_frame, fuzz_msg, fuzz_entry and
 * fuzz_import (`make fuzz-corpus`; the output is committed under tests/fuzz/corpus/).
 *
 * Why generate: a fuzzer mutating random bytes almost never produces a length prefix that
 * matches its body or an XXH3 that matches a frame, so it needs valid inputs to start
 * from. Producing them with the project's own encoders keeps them valid when a layout
 * changes (re-run the target) and keeps this file free of hand-copied byte offsets. Seeds
 * are few and small on purpose: libFuzzer grows its scratch copy, not this set.
 *
 * Usage: gen_corpus DIR   (writes DIR/frame, DIR/msg, DIR/entry, DIR/import)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../common/ky_bytes.h"
#include "../../common/ky_err.h"
#include "../../ledger/entry.h"
#include "../../proto/frame.h"
#include "../../proto/msg.h"
#include "../../proto/status.h"
#include "msg_check.h"

#define BODY_BYTES           8192u
#define FRAME_FLAGS_FIX_SUMS 0x01u
#define FRAME_LIMIT_64       (1u << 1)
#define FRAME_LIMIT_64K      (3u << 1)

static const char *root;
static uint8_t bodies[FUZZ_MSG_DECODER_COUNT][BODY_BYTES]; /* one valid body per decoder */
static size_t body_len[FUZZ_MSG_DECODER_COUNT];
static uint8_t heartbeat[KY_MSG_REPL_ENTRIES_FIXED_BYTES]; /* an empty REPL_ENTRIES */
static size_t heartbeat_len;

static void die(const char *what, int rc) {
    fprintf(stderr, "gen_corpus: %s: %s\n", what, rc < 0 ? ky_strerror(rc) : strerror(errno));
    exit(1);
}

static void check(int rc, const char *what) {
    if (rc != KY_OK) die(what, rc);
}

static void write_seed(const char *dir, const char *name, const void *p, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) die(path, 1);
    snprintf(path, sizeof path, "%s/%s/%s", root, dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0) die(path, 1);
}

static void fill(uint8_t *p, size_t n, uint8_t seed) {
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(seed + i * 13u);
}

static void gen_requests(void) {
    ky_msg_hello h = {
        .version_min = 1, .version_max = 1, .client_name_bytes = 6, .client_name = "pytest"};
    check(ky_msg_hello_encode(&h, bodies[FUZZ_HELLO], BODY_BYTES, &body_len[FUZZ_HELLO]), "hello");
    ky_msg_append_writer w;
    check(ky_msg_append_begin(&w, bodies[FUZZ_APPEND], BODY_BYTES, 16), "append");
    ky_wire_event e = {.kind = 1,
                       .scheme = 1,
                       .subtype = 2,
                       .contract_id = 1001,
                       .amount_jpy = 30000,
                       .payload_bytes = 5,
                       .payload = (const uint8_t *)"hello"};
    fill(e.idem_key, sizeof e.idem_key, 1);
    check(ky_msg_append_add(&w, &e), "append 1");
    e = (ky_wire_event){.kind = 3,
                        .scheme = 1,
                        .flags = 1,
                        .period_yyyymm = 202401,
                        .contract_id = 1001,
                        .amount_jpy = 30000};
    fill(e.idem_key, sizeof e.idem_key, 2);
    check(ky_msg_append_add(&w, &e), "append 2");
    e = (ky_wire_event){.kind = 4, .scheme = 2, .contract_id = 7, .ref_seq = 3, .amount_jpy = -5};
    fill(e.idem_key, sizeof e.idem_key, 3);
    check(ky_msg_append_add(&w, &e), "append 3");
    check(ky_msg_append_finish(&w, &body_len[FUZZ_APPEND]), "append finish");
    check(ky_msg_get_encode(42, bodies[FUZZ_GET], BODY_BYTES, &body_len[FUZZ_GET]), "get");
    check(ky_msg_contract_encode(1001, bodies[FUZZ_CONTRACT], BODY_BYTES, &body_len[FUZZ_CONTRACT]),
          "contract");
    ky_msg_range r = {.from_seq = 1, .to_seq = 100, .count_max = 50};
    check(ky_msg_range_encode(&r, bodies[FUZZ_RANGE], BODY_BYTES, &body_len[FUZZ_RANGE]), "range");
    ky_msg_history hi = {.contract_id = 1001, .after_contract_seq = 2, .count_max = 10};
    check(ky_msg_history_encode(&hi, bodies[FUZZ_HISTORY], BODY_BYTES, &body_len[FUZZ_HISTORY]),
          "history");
    body_len[FUZZ_STATUS] = 0;
}

/* Two small but valid ledger entries, used as opaque blobs in responses and as entry seeds. */
static uint8_t entry_a[KY_ENTRY_HEADER_BYTES + 16], entry_b[KY_ENTRY_HEADER_BYTES];
static size_t entry_a_len, entry_b_len;

static void gen_entries(void) {
    ky_entry e = {.version = 1,
                  .kind = KY_KIND_CONTRACT_OPENED,
                  .scheme = 1,
                  .subtype = 2,
                  .seq = 2,
                  .epoch = 1,
                  .timestamp_us = 1700000000000000ull,
                  .contract_id = 1001,
                  .contract_seq = 1,
                  .amount_jpy = 30000,
                  .payload_bytes = 16,
                  .payload = (const uint8_t *)"opened by seed #1"};
    fill(e.idem_key, sizeof e.idem_key, 7);
    fill(e.prev_hash, sizeof e.prev_hash, 9);
    check(ky_entry_encode(&e, entry_a, sizeof entry_a, &entry_a_len), "entry a");
    e = (ky_entry){.version = 1,
                   .kind = KY_KIND_EPOCH_STARTED,
                   .scheme = 0,
                   .seq = 1,
                   .epoch = 1,
                   .timestamp_us = 1699999999000000ull};
    fill(e.idem_key, sizeof e.idem_key, 5);
    check(ky_entry_encode(&e, entry_b, sizeof entry_b, &entry_b_len), "entry b");
    write_seed("entry", "contract_opened", entry_a, entry_a_len);
    write_seed("entry", "epoch_started", entry_b, entry_b_len);
    e = (ky_entry){.version = 1,
                   .kind = KY_KIND_PREMIUM_PAID,
                   .scheme = 2,
                   .seq = 3,
                   .epoch = 1,
                   .period_yyyymm = 202401,
                   .contract_id = 1001,
                   .contract_seq = 2,
                   .amount_jpy = 30000};
    fill(e.idem_key, sizeof e.idem_key, 11);
    uint8_t c[KY_ENTRY_HEADER_BYTES];
    size_t c_len = 0;
    check(ky_entry_encode(&e, c, sizeof c, &c_len), "entry c");
    write_seed("entry", "premium_paid", c, c_len);
}

static void gen_responses(void) {
    ky_msg_hello_resp hr = {.version = 1,
                            .role = KY_WIRE_ROLE_PRIMARY,
                            .epoch = 1,
                            .head_seq = 3,
                            .frame_body_bytes_max = 1u << 20,
                            .batch_count_max = 1000};
    fill(hr.node_id, sizeof hr.node_id, 21);
    check(ky_msg_hello_resp_encode(&hr, bodies[FUZZ_HELLO_RESP], BODY_BYTES,
                                   &body_len[FUZZ_HELLO_RESP]),
          "hello resp");
    ky_wire_append_result res[3] = {{.status = 0, .seq = 2},
                                    {.status = 0, .flags = KY_WIRE_RESULT_DUPLICATE, .seq = 3},
                                    {.status = ky_wire_status_from_err(KY_E_BATCH_EMPTY)}};
    check(ky_msg_append_resp_encode(res, 3, bodies[FUZZ_APPEND_RESP], BODY_BYTES,
                                    &body_len[FUZZ_APPEND_RESP]),
          "append resp");
    check(ky_msg_get_resp_encode(entry_a, (uint32_t)entry_a_len, bodies[FUZZ_GET_RESP], BODY_BYTES,
                                 &body_len[FUZZ_GET_RESP]),
          "get resp");
    check(ky_msg_contract_resp_encode((const uint8_t *)"state", 5, bodies[FUZZ_CONTRACT_RESP],
                                      BODY_BYTES, &body_len[FUZZ_CONTRACT_RESP]),
          "contract resp");
    for (unsigned t = 0; t < 2; t++) {
        unsigned which = t == 0 ? FUZZ_RANGE_RESP : FUZZ_HISTORY_RESP;
        ky_msg_entries_writer w;
        check(ky_msg_entries_begin(&w, t == 0 ? KY_MSG_RANGE : KY_MSG_HISTORY, 10, bodies[which],
                                   BODY_BYTES),
              "entries");
        check(ky_msg_entries_add(&w, entry_b, (uint32_t)entry_b_len), "entries b");
        check(ky_msg_entries_add(&w, entry_a, (uint32_t)entry_a_len), "entries a");
        check(ky_msg_entries_finish(&w, t == 0 ? 0 : 5, &body_len[which]), "entries finish");
    }
    ky_msg_status_resp sr = {.role = KY_WIRE_ROLE_STANDALONE,
                             .epoch = 1,
                             .head_seq = 3,
                             .uptime_ms = 12345,
                             .connections = 2,
                             .appends_total = 4,
                             .events_total = 5,
                             .refused_total = 1,
                             .batches_total = 3};
    fill(sr.head_hash, sizeof sr.head_hash, 31);
    fill(sr.merkle_root, sizeof sr.merkle_root, 41);
    check(ky_msg_status_resp_encode(&sr, bodies[FUZZ_STATUS_RESP], BODY_BYTES,
                                    &body_len[FUZZ_STATUS_RESP]),
          "status resp");
    ky_msg_error er = {.status = ky_wire_status_from_err(KY_E_PAYLOAD_TOO_LARGE),
                       .what_bytes = 17,
                       .what = "payload_bytes_max",
                       .message_bytes = 22,
                       .message = "payload over the limit"};
    check(ky_msg_error_encode(&er, bodies[FUZZ_ERROR], BODY_BYTES, &body_len[FUZZ_ERROR]), "error");
}

/* Replication and PROMOTE: what a replica, a primary and kyosaictl promote send. */
static void gen_repl(void) {
    ky_msg_repl_subscribe sub = {.epoch = 1, .head_seq = 1, .acked_seq = 1};
    fill(sub.head_hash, sizeof sub.head_hash, 51);
    fill(sub.node_id, sizeof sub.node_id, 61);
    check(ky_msg_repl_subscribe_encode(&sub, bodies[FUZZ_REPL_SUBSCRIBE], BODY_BYTES,
                                       &body_len[FUZZ_REPL_SUBSCRIBE]),
          "repl subscribe");
    ky_msg_repl_ack ack = {.epoch = 1, .durable_seq = 3};
    fill(ack.head_hash, sizeof ack.head_hash, 71);
    check(ky_msg_repl_ack_encode(&ack, bodies[FUZZ_REPL_ACK], BODY_BYTES, &body_len[FUZZ_REPL_ACK]),
          "repl ack");
    ky_msg_repl_entries re = {.epoch = 1, .acked_seq = 1, .first_seq = 2};
    uint8_t *b = bodies[FUZZ_REPL_ENTRIES];
    size_t *n = &body_len[FUZZ_REPL_ENTRIES];
    check(ky_msg_repl_entries_begin(&re, b, BODY_BYTES, n), "repl entries");
    check(ky_msg_repl_entry_add(b, BODY_BYTES, n, entry_a, (uint32_t)entry_a_len), "repl a");
    check(ky_msg_repl_entry_add(b, BODY_BYTES, n, entry_b, (uint32_t)entry_b_len), "repl b");
    re = (ky_msg_repl_entries){.epoch = 1, .acked_seq = 3, .first_seq = 4};
    check(ky_msg_repl_entries_begin(&re, heartbeat, sizeof heartbeat, &heartbeat_len), "heartbeat");
    check(ky_msg_promote_encode(KY_PROMOTE_FORCE, bodies[FUZZ_PROMOTE], BODY_BYTES,
                                &body_len[FUZZ_PROMOTE]),
          "promote");
    check(ky_msg_promote_resp_encode(2, 4, bodies[FUZZ_PROMOTE_RESP], BODY_BYTES,
                                     &body_len[FUZZ_PROMOTE_RESP]),
          "promote resp");
}

static const char *const msg_names[FUZZ_MSG_DECODER_COUNT] = {
    "hello",          "hello_resp",   "append",       "append_resp", "get",
    "get_resp",       "range",        "range_resp",   "contract",    "contract_resp",
    "history",        "history_resp", "status",       "status_resp", "error",
    "repl_subscribe", "repl_ack",     "repl_entries", "promote",     "promote_resp"};

static void gen_msg(void) {
    static uint8_t seed[1 + BODY_BYTES];
    for (unsigned i = 0; i < FUZZ_MSG_DECODER_COUNT; i++) {
        seed[0] = (uint8_t)i;
        memcpy(seed + 1, bodies[i], body_len[i]);
        write_seed("msg", msg_names[i], seed, 1 + body_len[i]);
    }
    seed[0] = FUZZ_REPL_ENTRIES;
    memcpy(seed + 1, heartbeat, heartbeat_len);
    write_seed("msg", "repl_entries_heartbeat", seed, 1 + heartbeat_len);
}

/* Frame seeds: flags byte, u32 chunk seed, then a stream of frames. */
typedef struct stream {
    uint8_t buf[1 + 4 + 4 * (KY_WIRE_HEADER_BYTES + BODY_BYTES)];
    size_t len;
} stream;

static void stream_start(stream *s, uint8_t flags, uint32_t chunk_seed) {
    s->buf[0] = flags;
    ky_put_u32le(s->buf + 1, chunk_seed);
    s->len = 5;
}

static void stream_body(stream *s, uint8_t type, bool resp, uint64_t id, const uint8_t *body,
                        size_t body_bytes) {
    size_t n = 0;
    check(ky_frame_encode(type, resp ? KY_FRAME_FLAG_RESPONSE : 0, id, body, body_bytes,
                          s->buf + s->len, sizeof s->buf - s->len, &n),
          "frame");
    s->len += n;
}

static void stream_frame(stream *s, uint8_t type, bool resp, uint64_t id, unsigned which) {
    stream_body(s, type, resp, id, bodies[which], body_len[which]);
}

static void gen_frame(void) {
    stream s;
    stream_start(&s, 0, 0);
    stream_frame(&s, KY_MSG_STATUS, false, 1, FUZZ_STATUS);
    write_seed("frame", "status_request", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64K, 0x9E3779B9u);
    stream_frame(&s, KY_MSG_HELLO, false, 1, FUZZ_HELLO);
    stream_frame(&s, KY_MSG_APPEND, false, 2, FUZZ_APPEND);
    stream_frame(&s, KY_MSG_GET, false, 3, FUZZ_GET);
    stream_frame(&s, KY_MSG_HISTORY, false, 4, FUZZ_HISTORY);
    write_seed("frame", "pipelined_requests", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64K | FRAME_FLAGS_FIX_SUMS, 12345u);
    stream_frame(&s, KY_MSG_HELLO, true, 1, FUZZ_HELLO_RESP);
    stream_frame(&s, KY_MSG_RANGE, true, 2, FUZZ_RANGE_RESP);
    stream_frame(&s, KY_MSG_STATUS, true, 3, FUZZ_STATUS_RESP);
    stream_frame(&s, KY_MSG_ERROR, true, 4, FUZZ_ERROR);
    write_seed("frame", "pipelined_responses", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64, 7u); /* the APPEND body exceeds the 64-byte limit */
    stream_frame(&s, KY_MSG_APPEND, false, 9, FUZZ_APPEND);
    write_seed("frame", "too_large", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64K, 99u);
    stream_frame(&s, KY_MSG_CONTRACT, false, 5, FUZZ_CONTRACT);
    s.buf[s.len - 1] ^= 0xFF; /* checksum mismatch */
    write_seed("frame", "bad_checksum", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64K, 3u);
    stream_frame(&s, KY_MSG_RANGE, false, 6, FUZZ_RANGE);
    write_seed("frame", "truncated", s.buf, s.len - 7);
    /* one replication session as both ends see it: SUBSCRIBE, entries, ACK, heartbeat */
    stream_start(&s, FRAME_LIMIT_64K | FRAME_FLAGS_FIX_SUMS, 4242u);
    stream_frame(&s, KY_MSG_REPL_SUBSCRIBE, false, 7, FUZZ_REPL_SUBSCRIBE);
    stream_frame(&s, KY_MSG_REPL_ENTRIES, true, 7, FUZZ_REPL_ENTRIES);
    stream_frame(&s, KY_MSG_REPL_ACK, false, 8, FUZZ_REPL_ACK);
    stream_body(&s, KY_MSG_REPL_ENTRIES, true, 7, heartbeat, heartbeat_len);
    write_seed("frame", "replication", s.buf, s.len);
    stream_start(&s, FRAME_LIMIT_64K, 0u);
    stream_frame(&s, KY_MSG_PROMOTE, false, 1, FUZZ_PROMOTE);
    stream_frame(&s, KY_MSG_PROMOTE, true, 1, FUZZ_PROMOTE_RESP);
    write_seed("frame", "promote", s.buf, s.len);
}

static void gen_import(void) {
    static const char jsonl[] =
        "{\"kind\":\"contract_opened\",\"scheme\":\"shokibo\",\"contract\":1001,"
        "\"amount\":30000,\"member_type\":2,\"payload\":\"opened \\u00e9\\n\"}\n"
        "\n"
        "{\"kind\":\"premium_paid\",\"scheme\":\"shokibo\",\"contract\":1001,\"amount\":30000,"
        "\"period\":202401,\"linked\":true,\"idem_key\":\"0123456789abcdef0123456789ABCDEF\"}\n"
        "{\"kind\":\"benefit_paid\",\"scheme\":\"safety\",\"contract\":7,\"amount\":-5,"
        "\"reason\":\"quasi\",\"ref_seq\":3,\"months\":null}\r\n";
    static const char csv[] =
        "\xEF\xBB\xBFkind,scheme,contract,amount,period,months,subtype,ref_seq,linked,payload\r\n"
        "premium_prepaid,shokibo,1001,360000,202402,12,,,false,\"a \"\"quoted\"\", note\"\r\n"
        "loan_disbursed,safety,7,500000,,,3,,1,\n"
        "premium_reversed,safety,7,30000,,,,3,0,\xE6\x97\xA5\xE6\x9C\xAC\n";
    static const char bad[] = "{\"kind\":\"premium_paid\",\"contract\":1.5}\n"
                              "{\"kind\":\"epoch_started\",\"contract\":1}\n"
                              "{\"kind\":\"premium_paid\",\"contract\":18446744073709551616}\n";
    write_seed("import", "events.jsonl", jsonl, sizeof jsonl - 1);
    write_seed("import", "events.csv", csv, sizeof csv - 1);
    write_seed("import", "refused.jsonl", bad, sizeof bad - 1);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_corpus DIR\n");
        return 2;
    }
    root = argv[1];
    if (mkdir(root, 0755) != 0 && errno != EEXIST) die(root, 1);
    gen_requests();
    gen_entries();
    gen_responses();
    gen_repl();
    if (fuzz_msg_check(FUZZ_REPL_ENTRIES, heartbeat, heartbeat_len) != KY_OK)
        die("repl_entries_heartbeat", KY_E_INTERNAL);
    for (unsigned i = 0; i < FUZZ_MSG_DECODER_COUNT; i++) {
        if (fuzz_msg_check(i, body_len[i] ? bodies[i] : NULL, body_len[i]) != KY_OK)
            die(msg_names[i], KY_E_INTERNAL); /* a seed its own decoder refuses */
    }
    gen_msg();
    gen_frame();
    gen_import();
    return 0;
}
