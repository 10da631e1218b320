/*
 * test_import.c — the line importer (JSON lines, CSV) and the JSON line writer.
 *
 * Goal: every well-formed line becomes exactly the event it describes, in both formats;
 * every malformed line is refused with its specific code and a message naming the field;
 * keys derived for lines without idem_key are deterministic; writer output reads back equal.
 * Method: table-free direct cases — one happy line per format with every field, then one
 * mutation per error class (unknown field, wrong type, float, range at max and max + 1,
 * hex key, payload at max and max + 1, CSV quoting and column count, kind and scheme
 * names), format auto-detection over blank lines and a BOM, and writer round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "../../common/ky_bytes.h"
#include "../../common/ky_err.h"
#include "../../ops/import.h"

#define FILE_BASE 0x0006123456789abcull

static ky_import im; /* ~37 KiB: static, not on the stack */
static char msg[KY_IMPORT_MSG_BYTES];
static char big[KY_IMPORT_LINE_BYTES_MAX + 64];

/* Parses one JSON line (or CSV header + record when header != NULL) with a fresh reader. */
static int parse_at(const char *header, const char *line, uint64_t line_number, ky_event *ev) {
    bool has = false;
    ky_import_init(&im, FILE_BASE);
    memset(ev, 0, sizeof *ev);
    if (header != NULL) {
        assert_int_equal(ky_import_line(&im, header, strlen(header), 1, ev, &has, msg, sizeof msg),
                         KY_OK);
        assert_false(has);
        assert_int_equal(im.format, KY_IMPORT_FORMAT_CSV);
    }
    int rc = ky_import_line(&im, line, strlen(line), line_number, ev, &has, msg, sizeof msg);
    assert_true(rc == KY_OK ? has : !has);
    if (rc != KY_OK) assert_true(strlen(msg) > 0);
    return rc;
}

static int parse(const char *line, ky_event *ev) {
    return parse_at(NULL, line, 2, ev);
}

static int parse_csv(const char *header, const char *line, ky_event *ev) {
    return parse_at(header, line, 2, ev);
}

/* Asserts the last message mentions `what`. */
static void msg_has(const char *what) {
    if (strstr(msg, what) == NULL) fail_msg("message \"%s\" lacks \"%s\"", msg, what);
}

static void expect_json(const char *line, int code, const char *what) {
    ky_event ev;
    int rc = parse(line, &ev);
    if (rc != code) fail_msg("%s: got %s (%s)", line, ky_errname(rc), msg);
    msg_has(what);
}

static void expect_csv(const char *header, const char *line, int code, const char *what) {
    ky_event ev;
    int rc = parse_csv(header, line, &ev);
    if (rc != code) fail_msg("%s: got %s (%s)", line, ky_errname(rc), msg);
    msg_has(what);
}

/* A bad CSV header: the first line of a fresh reader. */
static void expect_header(const char *header, int code, const char *what) {
    ky_event ev;
    int rc = parse_at(NULL, header, 1, &ev);
    if (rc != code) fail_msg("%s: got %s (%s)", header, ky_errname(rc), msg);
    msg_has(what);
}

static void test_json_every_field(void **state) {
    (void)state;
    ky_event ev;
    const char *line = "{\"kind\":\"premium_reversed\",\"scheme\":\"safety\",\"contract\":"
                       "200000000001,\"amount\":-42000,\"period\":202604,\"months\":3,"
                       "\"subtype\":7,\"ref_seq\":18446744073709551615,\"linked\":true,"
                       "\"idem_key\":\"0123456789ABCDEFfedcba9876543210\","
                       "\"payload\":\"{\\\"doc\\\":\\\"\\u65e5\\\"}\\n\"}\n";
    assert_int_equal(parse(line, &ev), KY_OK);
    assert_int_equal(ev.kind, KY_KIND_PREMIUM_REVERSED);
    assert_int_equal(ev.scheme, KY_SCHEME_SAFETY);
    assert_true(ev.contract_id == 200000000001ull);
    assert_true(ev.amount_jpy == -42000);
    assert_int_equal(ev.period_yyyymm, 202604);
    assert_int_equal(ev.months, 3);
    assert_int_equal(ev.subtype, 7);
    assert_true(ev.ref_seq == UINT64_MAX);
    assert_int_equal(ev.flags, KY_EVENT_LINKED);
    assert_true(ky_get_u64be(ev.idem_key) == 0x0123456789abcdefull);
    assert_true(ky_get_u64be(ev.idem_key + 8) == 0xfedcba9876543210ull);
    const char want[] = "{\"doc\":\"\xe6\x97\xa5\"}\n"; /* U+65E5 as UTF-8 */
    assert_int_equal(ev.payload_bytes, sizeof want - 1);
    assert_memory_equal(ev.payload, want, sizeof want - 1);
    assert_ptr_equal(ev.payload, im.payload); /* owned by the reader */
}

static void test_json_minimal_and_null(void **state) {
    (void)state;
    ky_event ev;
    assert_int_equal(parse("  {\"contract\":5, \"kind\":\"contract_amended\"}  \r\n", &ev), KY_OK);
    assert_int_equal(ev.kind, KY_KIND_CONTRACT_AMENDED);
    assert_true(ev.contract_id == 5 && ev.scheme == 0 && ev.amount_jpy == 0);
    assert_null(ev.payload);
    assert_int_equal(ev.payload_bytes, 0);
    /* null counts as absent, and absent kind/contract are errors */
    assert_int_equal(parse("{\"kind\":\"premium_paid\",\"contract\":5,\"amount\":null}", &ev),
                     KY_OK);
    assert_true(ev.amount_jpy == 0);
    expect_json("{\"contract\":5}", KY_E_PARSE, "\"kind\": missing");
    expect_json("{\"kind\":\"premium_paid\"}", KY_E_PARSE, "\"contract\": missing");
    expect_json("{\"kind\":null,\"contract\":5}", KY_E_PARSE, "\"kind\": missing");
}

static void test_aliases(void **state) {
    (void)state;
    ky_event ev;
    assert_int_equal(parse("{\"kind\":\"contract_opened\",\"contract\":1,\"member_type\":2}", &ev),
                     KY_OK);
    assert_int_equal(ev.subtype, 2);
    const char *reasons[] = {"A", "B", "quasi", "cancellation"};
    for (unsigned i = 0; i < 4; i++) {
        char line[128];
        snprintf(line, sizeof line, "{\"reason\":\"%s\",\"kind\":\"benefit_paid\",\"contract\":1}",
                 reasons[i]);
        assert_int_equal(parse(line, &ev), KY_OK);
        assert_int_equal(ev.subtype, i + 1);
    }
    expect_json("{\"kind\":\"benefit_paid\",\"contract\":1,\"reason\":\"C\"}", KY_E_PARSE,
                "\"reason\": unknown reason");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"reason\":\"A\"}", KY_E_PARSE,
                "only for benefit_paid");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"member_type\":1}", KY_E_PARSE,
                "only for contract_opened");
    expect_json("{\"kind\":\"contract_opened\",\"contract\":1,\"member_type\":1,\"subtype\":1}",
                KY_E_PARSE, "conflicts with subtype");
}

static void test_linked_values(void **state) {
    (void)state;
    ky_event ev;
    const char *ok[] = {"true", "1"}, *off[] = {"false", "0"};
    for (unsigned i = 0; i < 2; i++) {
        char line[96];
        snprintf(line, sizeof line, "{\"kind\":\"loan_repaid\",\"contract\":1,\"linked\":%s}",
                 ok[i]);
        assert_int_equal(parse(line, &ev), KY_OK);
        assert_int_equal(ev.flags, KY_EVENT_LINKED);
        snprintf(line, sizeof line, "{\"kind\":\"loan_repaid\",\"contract\":1,\"linked\":%s}",
                 off[i]);
        assert_int_equal(parse(line, &ev), KY_OK);
        assert_int_equal(ev.flags, 0);
    }
    expect_json("{\"kind\":\"loan_repaid\",\"contract\":1,\"linked\":2}", KY_E_PARSE, "linked");
    expect_json("{\"kind\":\"loan_repaid\",\"contract\":1,\"linked\":\"true\"}", KY_E_PARSE,
                "true/false/1/0");
    expect_csv("kind,contract,linked", "loan_repaid,1,yes", KY_E_PARSE, "\"linked\"");
    assert_int_equal(parse_csv("kind,contract,linked", "loan_repaid,1,true", &ev), KY_OK);
    assert_int_equal(ev.flags, KY_EVENT_LINKED);
}

static void test_unknown_and_duplicate_fields(void **state) {
    (void)state;
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"amonut\":5}", KY_E_PARSE,
                "field \"amonut\": unknown field");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"contract\":2}", KY_E_PARSE,
                "\"contract\": duplicate");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"ki\\u0000nd\":2}", KY_E_PARSE, "NUL");
    expect_header("kind,contract,colour", KY_E_PARSE, "column 3: unknown field \"colour\"");
    expect_header("kind,contract,kind", KY_E_PARSE, "column 3: duplicate \"kind\"");
    expect_header("kind,amount", KY_E_PARSE, "needs columns");
    expect_header("kind,\"contract", KY_E_PARSE, "unterminated quote");
}

/* Integers: types, floats, shapes, and every range at max and max + 1. */
static void test_numbers(void **state) {
    (void)state;
    const char *head = "{\"kind\":\"premium_paid\",\"contract\":1,";
    static const struct {
        const char *member;
        int code;
        const char *what;
    } cases[] = {
        {"\"amount\":\"42000\"", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":4.2e4", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":42000.5", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":42000.0", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":042000", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":[1]", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":true", KY_E_PARSE, "field \"amount\": not an integer"},
        {"\"amount\":10000000001", KY_E_RANGE, "field \"amount\": out of range"},
        {"\"amount\":-10000000001", KY_E_RANGE, "field \"amount\": out of range"},
        {"\"months\":65536", KY_E_RANGE, "field \"months\""},
        {"\"months\":-1", KY_E_RANGE, "field \"months\": negative"},
        {"\"subtype\":65536", KY_E_RANGE, "field \"subtype\""},
        {"\"member_type\":65536", KY_E_RANGE, "field \"member_type\""},
        {"\"period\":1000000", KY_E_RANGE, "field \"period\""},
        {"\"ref_seq\":18446744073709551616", KY_E_RANGE, "field \"ref_seq\": out of range"},
        {"\"ref_seq\":99999999999999999999999", KY_E_RANGE, "field \"ref_seq\""},
        {"\"scheme\":1", KY_E_PARSE, "field \"scheme\": not a string"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char line[256];
        snprintf(line, sizeof line, "%s%s}", head, cases[i].member);
        expect_json(line, cases[i].code, cases[i].what);
    }
    ky_event ev;
    assert_int_equal(parse("{\"kind\":\"premium_paid\",\"contract\":999999999999999,"
                           "\"amount\":-10000000000,\"months\":65535,\"period\":999999}",
                           &ev),
                     KY_OK);
    assert_true(ev.contract_id == 999999999999999ull && ev.amount_jpy == -10000000000ll);
    assert_true(ev.months == 65535 && ev.period_yyyymm == 999999);
    assert_int_equal(
        parse("{\"kind\":\"premium_paid\",\"contract\":1,\"amount\":10000000000}", &ev), KY_OK);
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1000000000000000}", KY_E_RANGE,
                "\"contract\"");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":0}", KY_E_RANGE, "\"contract\"");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":-3}", KY_E_RANGE, "\"contract\"");
    /* CSV cells follow the same integer grammar */
    expect_csv("kind,contract,amount", "premium_paid,1,12a", KY_E_PARSE, "\"amount\": not an");
    expect_csv("kind,contract,amount", "premium_paid,1, 12", KY_E_PARSE, "\"amount\": not an");
    expect_csv("kind,contract,amount", "premium_paid,1,+12", KY_E_PARSE, "\"amount\": not an");
    expect_csv("kind,contract,amount", "premium_paid,1,1.5", KY_E_PARSE, "\"amount\": not an");
    expect_csv("kind,contract", "premium_paid,1000000000000000", KY_E_RANGE, "\"contract\"");
}

static void test_kind_and_scheme_names(void **state) {
    (void)state;
    expect_json("{\"kind\":\"premium_payed\",\"contract\":1}", KY_E_ENTRY_KIND,
                "unknown kind \"premium_payed\"");
    expect_json("{\"kind\":\"epoch_started\",\"contract\":1}", KY_E_KIND_SYSTEM_ONLY, "\"kind\"");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"scheme\":\"Shokibo\"}",
                KY_E_ENTRY_SCHEME, "unknown scheme \"Shokibo\"");
    expect_csv("kind,contract", "PREMIUM_PAID,1", KY_E_ENTRY_KIND, "unknown kind");
    expect_csv("kind,contract,scheme", "premium_paid,1,none", KY_E_ENTRY_SCHEME, "\"scheme\"");
}

static void test_idem_key(void **state) {
    (void)state;
    const char *head = "{\"kind\":\"premium_paid\",\"contract\":1,\"idem_key\":";
    char line[160];
    snprintf(line, sizeof line, "%s\"0123456789abcdef0123456789abcde\"}", head);
    expect_json(line, KY_E_PARSE, "not 32 hex digits (31");
    snprintf(line, sizeof line, "%s\"0123456789abcdef0123456789abcdef0\"}", head);
    expect_json(line, KY_E_PARSE, "not 32 hex digits (33");
    snprintf(line, sizeof line, "%s\"0123456789abcdeg0123456789abcdef\"}", head);
    expect_json(line, KY_E_PARSE, "not a hex digit at 16");
    snprintf(line, sizeof line, "%s\"00000000000000000000000000000000\"}", head);
    expect_json(line, KY_E_IDEM_KEY_MISSING, "all zero");
    snprintf(line, sizeof line, "%s12}", head);
    expect_json(line, KY_E_PARSE, "\"idem_key\": not a string");
}

/* Lines without idem_key get file_base || line number, both big-endian. */
static void test_derived_keys(void **state) {
    (void)state;
    ky_event a, b, c;
    const char *line = "{\"kind\":\"premium_paid\",\"contract\":1}";
    assert_int_equal(parse_at(NULL, line, 7, &a), KY_OK);
    assert_true(ky_get_u64be(a.idem_key) == FILE_BASE);
    assert_true(ky_get_u64be(a.idem_key + 8) == 7);
    assert_int_equal(parse_at(NULL, line, 7, &b), KY_OK);
    assert_memory_equal(a.idem_key, b.idem_key, KY_IDEM_KEY_BYTES); /* re-post: same key */
    assert_int_equal(parse_at(NULL, line, 8, &c), KY_OK);
    assert_true(memcmp(a.idem_key, c.idem_key, KY_IDEM_KEY_BYTES) < 0); /* in line order */
    assert_int_equal(parse_at("contract,kind", "1,premium_paid", 2, &a), KY_OK);
    assert_true(ky_get_u64be(a.idem_key) == FILE_BASE);
    assert_true(ky_get_u64be(a.idem_key + 8) == 2);
    /* a different file base (a newer file) sorts after */
    bool has = false;
    ky_import_init(&im, FILE_BASE + 1);
    assert_int_equal(ky_import_line(&im, line, strlen(line), 1, &b, &has, msg, sizeof msg), KY_OK);
    assert_true(memcmp(c.idem_key, b.idem_key, KY_IDEM_KEY_BYTES) < 0);
}

/* A payload of n bytes ('x'), as a JSON line or a CSV record. */
static int payload_line(size_t n, bool csv, ky_event *ev) {
    size_t w = (size_t)snprintf(big, sizeof big,
                                csv ? "premium_paid,1,\""
                                    : "{\"kind\":\"premium_paid\",\"contract\":1,\"payload\":\"");
    memset(big + w, 'x', n);
    snprintf(big + w + n, sizeof big - w - n, csv ? "\"" : "\"}");
    return csv ? parse_csv("kind,contract,payload", big, ev) : parse(big, ev);
}

static void test_payload(void **state) {
    (void)state;
    ky_event ev;
    for (int csv = 0; csv <= 1; csv++) {
        assert_int_equal(payload_line(KY_ENTRY_PAYLOAD_BYTES_MAX, csv, &ev), KY_OK);
        assert_int_equal(ev.payload_bytes, KY_ENTRY_PAYLOAD_BYTES_MAX);
        assert_int_equal(payload_line(KY_ENTRY_PAYLOAD_BYTES_MAX + 1, csv, &ev),
                         KY_E_PAYLOAD_TOO_LARGE);
        msg_has("\"payload\": 4097 bytes");
    }
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"payload\":\"a\\u0000b\"}", KY_E_PARSE,
                "NUL");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"payload\":\"\xff\"}", KY_E_PARSE,
                "UTF-8");
    expect_csv("kind,contract,payload", "premium_paid,1,\xc0\x80", KY_E_PARSE, "UTF-8");
    expect_csv("kind,contract,payload", "premium_paid,1,\xed\xa0\x80", KY_E_PARSE, "UTF-8");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1,\"payload\":{\"a\":1}}", KY_E_PARSE,
                "\"payload\": not a string");
}

static void test_csv_happy(void **state) {
    (void)state;
    ky_event ev;
    const char *header = "\xEF\xBB\xBFkind,scheme,contract,amount,period,idem_key,payload\r\n";
    const char *row = "premium_paid,shokibo,100000000001,42000,202604,,"
                      "\"{\"\"doc\"\":\"\"A,B\"\"}\"\r\n";
    assert_int_equal(parse_csv(header, row, &ev), KY_OK);
    assert_int_equal(ev.kind, KY_KIND_PREMIUM_PAID);
    assert_int_equal(ev.scheme, KY_SCHEME_SHOKIBO);
    assert_true(ev.contract_id == 100000000001ull && ev.amount_jpy == 42000);
    assert_int_equal(ev.period_yyyymm, 202604);
    const char want[] = "{\"doc\":\"A,B\"}";
    assert_int_equal(ev.payload_bytes, sizeof want - 1);
    assert_memory_equal(ev.payload, want, sizeof want - 1);
    assert_true(ky_get_u64be(ev.idem_key + 8) == 2); /* empty cell: derived key */
    /* quoted header names and quoted empty cells */
    assert_int_equal(
        parse_csv("\"kind\",\"contract\",\"amount\"", "\"loan_repaid\",\"7\",\"\"", &ev), KY_OK);
    assert_true(ev.contract_id == 7 && ev.amount_jpy == 0);
}

static void test_csv_errors(void **state) {
    (void)state;
    const char *h = "kind,contract,payload";
    expect_csv(h, "premium_paid,1,\"abc", KY_E_PARSE, "column 3: unterminated quote");
    expect_csv(h, "premium_paid,1,\"abc\"d", KY_E_PARSE, "column 3: text after closing quote");
    expect_csv(h, "premium_paid,1,ab\"c", KY_E_PARSE, "column 3: quote in unquoted field");
    expect_csv(h, "premium_paid,1", KY_E_PARSE, "has 2 columns, the header has 3");
    expect_csv(h, "premium_paid,1,x,", KY_E_PARSE, "has 4 columns, the header has 3");
    expect_csv(h, "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r", KY_E_PARSE, "has 18 columns");
    ky_event ev;
    expect_header("kind,contract,scheme,amount,period,months,subtype,member_type,reason,"
                  "ref_seq,linked,idem_key,payload,kind",
                  KY_E_PARSE, "column 14");
    /* a bad header leaves the format open: the next line is read as the header */
    bool has = true;
    ky_import_init(&im, 0);
    assert_int_equal(ky_import_line(&im, "kind,bogus", 10, 1, &ev, &has, msg, sizeof msg),
                     KY_E_PARSE);
    assert_int_equal(im.format, KY_IMPORT_FORMAT_UNKNOWN);
    assert_int_equal(ky_import_line(&im, "kind,contract", 13, 2, &ev, &has, msg, sizeof msg),
                     KY_OK);
    assert_false(has);
    assert_int_equal(ky_import_line(&im, "loan_repaid,3", 13, 3, &ev, &has, msg, sizeof msg),
                     KY_OK);
    assert_true(has && ev.contract_id == 3);
}

static void test_json_syntax(void **state) {
    (void)state;
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1", KY_E_PARSE, "JSON syntax error");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1} x", KY_E_PARSE, "JSON syntax error");
    expect_json("{\"kind\":\"premium_paid\",\"contract\":1}{}", KY_E_PARSE, "JSON syntax error");
    /* the first line decided JSON lines; later non-objects are errors, not CSV */
    bool has = false;
    ky_event ev;
    ky_import_init(&im, 0);
    const char *obj = "{\"kind\":\"premium_paid\",\"contract\":1}";
    assert_int_equal(ky_import_line(&im, obj, strlen(obj), 1, &ev, &has, msg, sizeof msg), KY_OK);
    assert_int_equal(ky_import_line(&im, "[1,2]", 5, 2, &ev, &has, msg, sizeof msg), KY_E_PARSE);
    msg_has("not a JSON object");
    assert_int_equal(ky_import_line(&im, "kind,contract", 13, 3, &ev, &has, msg, sizeof msg),
                     KY_E_PARSE);
    assert_int_equal(ky_import_line(&im, "{\"k\0", 4, 4, &ev, &has, msg, sizeof msg), KY_E_PARSE);
    msg_has("NUL byte");
    /* the line limit: at max accepted (padded with blanks), max + 1 refused before parsing */
    memset(big, ' ', sizeof big);
    memcpy(big, obj, strlen(obj));
    assert_int_equal(
        ky_import_line(&im, big, KY_IMPORT_LINE_BYTES_MAX, 5, &ev, &has, msg, sizeof msg), KY_OK);
    assert_true(has);
    assert_int_equal(
        ky_import_line(&im, big, KY_IMPORT_LINE_BYTES_MAX + 1, 6, &ev, &has, msg, sizeof msg),
        KY_E_PARSE);
    msg_has("longer than 32768");
    /* a message buffer of 0 bytes is allowed */
    assert_int_equal(ky_import_line(&im, "[]", 2, 7, &ev, &has, NULL, 0), KY_E_PARSE);
}

static void test_autodetect(void **state) {
    (void)state;
    bool has = true;
    ky_event ev;
    ky_import_init(&im, 0);
    assert_int_equal(im.format, KY_IMPORT_FORMAT_UNKNOWN);
    assert_int_equal(ky_import_line(&im, "\n", 1, 1, &ev, &has, msg, sizeof msg), KY_OK);
    assert_false(has);
    assert_int_equal(ky_import_line(&im, " \t\r\n", 4, 2, &ev, &has, msg, sizeof msg), KY_OK);
    assert_false(has);
    assert_int_equal(im.format, KY_IMPORT_FORMAT_UNKNOWN);
    const char *obj = "\xEF\xBB\xBF  {\"kind\":\"premium_paid\",\"contract\":9}\n";
    assert_int_equal(ky_import_line(&im, obj, strlen(obj), 3, &ev, &has, msg, sizeof msg), KY_OK);
    assert_true(has && ev.contract_id == 9);
    assert_int_equal(im.format, KY_IMPORT_FORMAT_JSONL);
    assert_int_equal(ky_import_line(&im, "", 0, 4, &ev, &has, msg, sizeof msg), KY_OK);
    assert_false(has);
    ky_import_release(&im);

    ky_import_init(&im, 0);
    assert_int_equal(ky_import_line(&im, "", 0, 1, &ev, &has, msg, sizeof msg), KY_OK);
    assert_int_equal(ky_import_line(&im, "contract,kind\n", 14, 2, &ev, &has, msg, sizeof msg),
                     KY_OK);
    assert_false(has);
    assert_int_equal(im.format, KY_IMPORT_FORMAT_CSV);
    assert_int_equal(ky_import_line(&im, "\r\n", 2, 3, &ev, &has, msg, sizeof msg), KY_OK);
    assert_false(has);
    assert_int_equal(ky_import_line(&im, "4,loan_repaid\n", 14, 4, &ev, &has, msg, sizeof msg),
                     KY_OK);
    assert_true(has && ev.contract_id == 4 && ev.kind == KY_KIND_LOAN_REPAID);
    ky_import_release(&im);
}

/* Writes ev, reads it back, and compares every field. */
static void round_trip(const ky_event *ev) {
    char out[KY_IMPORT_LINE_BYTES_MAX];
    assert_int_equal(ky_import_event_to_json(ev, out, sizeof out), KY_OK);
    ky_event back;
    if (parse(out, &back) != KY_OK) fail_msg("%s: %s", out, msg);
    assert_int_equal(back.kind, ev->kind);
    assert_int_equal(back.scheme, ev->scheme);
    assert_int_equal(back.flags, ev->flags);
    assert_int_equal(back.subtype, ev->subtype);
    assert_int_equal(back.months, ev->months);
    assert_int_equal(back.period_yyyymm, ev->period_yyyymm);
    assert_true(back.contract_id == ev->contract_id && back.ref_seq == ev->ref_seq);
    assert_true(back.amount_jpy == ev->amount_jpy);
    assert_memory_equal(back.idem_key, ev->idem_key, KY_IDEM_KEY_BYTES);
    assert_int_equal(back.payload_bytes, ev->payload_bytes);
    if (ev->payload_bytes > 0) assert_memory_equal(back.payload, ev->payload, ev->payload_bytes);
}

static void test_writer_round_trip(void **state) {
    (void)state;
    static uint8_t payload[KY_ENTRY_PAYLOAD_BYTES_MAX];
    const char text[] = "{\"doc\":\"AMD-1\"}\n\t\\ \x01 \xe6\x97\xa5 \xf0\x9f\x98\x80";
    memcpy(payload, text, sizeof text - 1);
    ky_event ev = {.kind = KY_KIND_PREMIUM_REVERSED,
                   .scheme = KY_SCHEME_SAFETY,
                   .flags = KY_EVENT_LINKED,
                   .subtype = 9,
                   .months = 2,
                   .period_yyyymm = 202612,
                   .payload_bytes = sizeof text - 1,
                   .contract_id = 200000000001ull,
                   .ref_seq = UINT64_MAX,
                   .amount_jpy = -10000000000ll,
                   .payload = payload};
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) ev.idem_key[i] = (uint8_t)(0xf0 + i);
    round_trip(&ev);
    ev.kind = KY_KIND_CONTRACT_OPENED, ev.subtype = 3; /* written as member_type */
    round_trip(&ev);
    ev.kind = KY_KIND_BENEFIT_PAID, ev.subtype = 4; /* written as reason */
    round_trip(&ev);
    char out[512];
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_OK);
    assert_non_null(strstr(out, "\"reason\":\"cancellation\""));
    const char *start = "{\"kind\":\"benefit_paid\",\"scheme\":\"safety\",\"contract\":";
    assert_memory_equal(out, start, strlen(start));
    memset(payload, 'p', sizeof payload); /* a full payload fits a line */
    ev.payload_bytes = KY_ENTRY_PAYLOAD_BYTES_MAX;
    round_trip(&ev);
    ev.payload_bytes = 0, ev.payload = NULL, ev.scheme = 0, ev.amount_jpy = 0, ev.flags = 0;
    round_trip(&ev);
}

static void test_writer_errors(void **state) {
    (void)state;
    ky_event ev = {.kind = KY_KIND_PREMIUM_PAID,
                   .scheme = KY_SCHEME_SHOKIBO,
                   .contract_id = 1,
                   .amount_jpy = 42000,
                   .period_yyyymm = 202601};
    ev.idem_key[15] = 1;
    char out[256];
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_OK);
    size_t need = strlen(out) + 1;
    assert_int_equal(ky_import_event_to_json(&ev, out, need), KY_OK);
    assert_int_equal(ky_import_event_to_json(&ev, out, need - 1), KY_E_BUFFER_TOO_SMALL);
    assert_int_equal(ky_import_event_to_json(&ev, out, 0), KY_E_BUFFER_TOO_SMALL);
    uint8_t bad[] = {'a', 0xff};
    ev.payload = bad, ev.payload_bytes = 2;
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_E_INVALID_ARG);
    bad[1] = 0;
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_E_INVALID_ARG);
    ev.payload = NULL, ev.payload_bytes = 0, ev.flags = 0x8000;
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_E_INVALID_ARG);
    ev.flags = 0, ev.scheme = 9;
    assert_int_equal(ky_import_event_to_json(&ev, out, sizeof out), KY_E_INVALID_ARG);
}

static void test_idem_key_generate(void **state) {
    (void)state;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t before_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t a[KY_IDEM_KEY_BYTES], b[KY_IDEM_KEY_BYTES];
    assert_int_equal(ky_idem_key_generate(a), KY_OK);
    struct timespec pause = {0, 3 * 1000 * 1000};
    nanosleep(&pause, NULL);
    assert_int_equal(ky_idem_key_generate(b), KY_OK);
    uint64_t a_ms = ky_get_u64be(a) >> 16;
    assert_true(a_ms >= before_ms && a_ms <= before_ms + 1000);
    assert_int_equal(a[6] >> 4, 7);                   /* version 7 */
    assert_int_equal(a[8] >> 6, 2);                   /* variant 10 */
    assert_true(memcmp(a, b, KY_IDEM_KEY_BYTES) < 0); /* a later millisecond sorts after */
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_every_field),
        cmocka_unit_test(test_json_minimal_and_null),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_linked_values),
        cmocka_unit_test(test_unknown_and_duplicate_fields),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_kind_and_scheme_names),
        cmocka_unit_test(test_idem_key),
        cmocka_unit_test(test_derived_keys),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_csv_happy),
        cmocka_unit_test(test_csv_errors),
        cmocka_unit_test(test_json_syntax),
        cmocka_unit_test(test_autodetect),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_errors),
        cmocka_unit_test(test_idem_key_generate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
