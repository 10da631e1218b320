/*
 * import.c — line parser (JSON lines, CSV) to ky_event, and ky_event to a JSON line.
 *
 * Why this shape: both formats reduce each field to one `value` (a JSON token or a CSV
 * cell) and share one table-driven field checker, so the rules on names, types and ranges
 * cannot drift apart between the formats. See import.h for the field list and contracts.
 *
 * How JSON numbers are checked: cJSON keeps numbers only as doubles, which would accept
 * 1.0, 1e3 and 01 as integers and round values above 2^53. So after cJSON has validated the
 * syntax, a small scanner walks the same text and yields the raw token of every top-level
 * member, in the order cJSON lists the members; integers are parsed from that token.
 *
 * Invariants:
 *   1. A field is checked and stored completely or the line fails; no partial event is
 *      reported as success.
 *   2. Every byte copied into im->payload was first counted against the payload limit.
 *   3. Messages never echo more than a short, printable excerpt of the input.
 */
#include "import.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "../common/ky_assert.h"
#include "../common/ky_bytes.h"
#include "../common/ky_err.h"

/* Field ids; the order is the order ky_import_event_to_json writes them. */
enum {
    FLD_KIND,
    FLD_SCHEME,
    FLD_CONTRACT,
    FLD_AMOUNT,
    FLD_PERIOD,
    FLD_MONTHS,
    FLD_SUBTYPE,
    FLD_MEMBER_TYPE,
    FLD_REASON,
    FLD_REF_SEQ,
    FLD_LINKED,
    FLD_IDEM_KEY,
    FLD_PAYLOAD,
    FLD__COUNT
};
_Static_assert(FLD__COUNT == KY_IMPORT_COLUMNS_MAX, "one CSV column per field at most");

typedef enum { T_INT, T_STR, T_BOOL } field_type;

typedef struct field_def {
    const char *name; /* JSON member / CSV column name */
    field_type type;  /* value type expected */
    bool negative_ok; /* T_INT: may be below zero (down to -max) */
    uint64_t max;     /* T_INT: largest magnitude allowed */
} field_def;

static const field_def field_defs[FLD__COUNT] = {
    [FLD_KIND] = {"kind", T_STR, false, 0},
    [FLD_SCHEME] = {"scheme", T_STR, false, 0},
    [FLD_CONTRACT] = {"contract", T_INT, false, KY_CONTRACT_ID_MAX},
    [FLD_AMOUNT] = {"amount", T_INT, true, (uint64_t)KY_AMOUNT_JPY_MAX},
    [FLD_PERIOD] = {"period", T_INT, false, 999999u},
    [FLD_MONTHS] = {"months", T_INT, false, UINT16_MAX},
    [FLD_SUBTYPE] = {"subtype", T_INT, false, UINT16_MAX},
    [FLD_MEMBER_TYPE] = {"member_type", T_INT, false, UINT16_MAX},
    [FLD_REASON] = {"reason", T_STR, false, 0},
    [FLD_REF_SEQ] = {"ref_seq", T_INT, false, UINT64_MAX},
    [FLD_LINKED] = {"linked", T_BOOL, false, 0},
    [FLD_IDEM_KEY] = {"idem_key", T_STR, false, 0},
    [FLD_PAYLOAD] = {"payload", T_STR, false, 0},
};

/* Benefit reasons by subtype (rules.h KY_BENEFIT_*; values are part of the format). */
static const char *const reason_names[] = {NULL, "A", "B", "quasi", "cancellation"};
#define REASON_COUNT 5u

/* One field's value as the input gave it. */
typedef enum {
    V_NULL,    /* JSON null or empty CSV cell: absent */
    V_TEXT,    /* CSV cell: text to be read as the field's type */
    V_INT,     /* JSON number whose raw token is an integer */
    V_NOT_INT, /* JSON number with a fraction or exponent */
    V_STRING,  /* JSON string */
    V_BOOL,    /* JSON true/false */
    V_OTHER,   /* JSON object or array */
} value_type;

typedef struct value {
    value_type type; /* see value_type */
    const char *s;   /* V_TEXT, V_INT, V_STRING: bytes (NUL-terminated for V_TEXT/V_STRING) */
    size_t n;        /* length of s, bytes */
    bool b;          /* V_BOOL */
    bool has_nul;    /* V_STRING: the JSON text escaped a NUL character (\u0000) */
} value;

/* A line's fields as collected so far. */
typedef struct build {
    uint32_t seen;    /* bit per field id: named on this line (duplicates are errors) */
    uint32_t present; /* bit per field id: named with a non-null value */
    ky_event ev;      /* the event being filled */
    uint16_t alias;   /* member_type or reason value, applied to subtype at the end */
} build;

__attribute__((format(printf, 4, 5))) static int fail(char *msg, size_t cap, int code,
                                                      const char *fmt, ...) {
    if (msg != NULL && cap > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, cap, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* A printable excerpt of untrusted text for messages: at most 32 bytes, others as '?'. */
static void excerpt(const char *s, size_t n, char out[40]) {
    size_t w = 0;
    for (size_t i = 0; i < n && w < 32; i++) {
        unsigned char c = (unsigned char)s[i];
        out[w++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    if (n > 32) out[w++] = '.', out[w++] = '.', out[w++] = '.';
    out[w] = '\0';
}

/* ---- value checks ------------------------------------------------------------------------ */

enum { INT_OK, INT_BAD, INT_OVERFLOW };

/* Strict decimal integer: optional '-', then "0" or a non-zero digit and digits (the JSON
 * grammar, which CSV cells follow too). Returns INT_OK, INT_BAD or INT_OVERFLOW (the
 * magnitude does not fit a u64). */
static int integer_parse(const char *s, size_t n, bool *negative, uint64_t *magnitude) {
    size_t i = 0;
    *negative = n > 0 && s[0] == '-';
    if (*negative) i++;
    if (i == n || (s[i] == '0' && n - i > 1)) return INT_BAD;
    uint64_t m = 0;
    bool overflow = false;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return INT_BAD;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (m > (UINT64_MAX - d) / 10) overflow = true;
        m = m * 10 + d;
    }
    *magnitude = m;
    return overflow ? INT_OVERFLOW : INT_OK;
}

/* Reads an integer field. On KY_OK *out holds the value, as int64 bits for amount and as
 * u64 for the unsigned fields. */
static int value_int(int f, const value *v, uint64_t *out, char *msg, size_t cap) {
    const field_def *d = &field_defs[f];
    KY_ASSERT(d->type == T_INT);
    bool negative = false;
    uint64_t m = 0;
    int shape = INT_BAD;
    if (v->type == V_INT || v->type == V_TEXT) shape = integer_parse(v->s, v->n, &negative, &m);
    if (shape == INT_BAD)
        return fail(msg, cap, KY_E_PARSE, "field \"%s\": not an integer", d->name);
    if (negative && !d->negative_ok && m != 0)
        return fail(msg, cap, KY_E_RANGE, "field \"%s\": negative not allowed", d->name);
    if (shape == INT_OVERFLOW || m > d->max)
        return fail(msg, cap, KY_E_RANGE, "field \"%s\": out of range (magnitude above %llu)",
                    d->name, (unsigned long long)d->max);
    KY_ASSERT(!negative || m <= (uint64_t)INT64_MAX);
    *out = negative ? (uint64_t)(-(int64_t)m) : m;
    return KY_OK;
}

static int value_str(int f, const value *v, char *msg, size_t cap) {
    const char *name = field_defs[f].name;
    if (v->type != V_STRING && v->type != V_TEXT)
        return fail(msg, cap, KY_E_PARSE, "field \"%s\": not a string", name);
    if (v->has_nul)
        return fail(msg, cap, KY_E_PARSE, "field \"%s\": contains a NUL character", name);
    return KY_OK;
}

static int value_bool(int f, const value *v, bool *out, char *msg, size_t cap) {
    if (v->type == V_BOOL) {
        *out = v->b;
        return KY_OK;
    }
    if (v->type == V_INT || v->type == V_TEXT) {
        static const char *const words[] = {"0", "1", "false", "true"};
        for (unsigned i = 0; i < 4; i++) {
            if (v->n == strlen(words[i]) && memcmp(v->s, words[i], v->n) == 0) {
                *out = (i % 2) == 1;
                return KY_OK;
            }
        }
    }
    return fail(msg, cap, KY_E_PARSE, "field \"%s\": not true/false/1/0", field_defs[f].name);
}

/* True when s[0..n) is well-formed UTF-8 (no overlongs, surrogates or values > U+10FFFF). */
static bool utf8_valid(const uint8_t *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t extra = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : 3;
        if (c >= 0x80 && (c < 0xC2 || c > 0xF4)) return false;
        if (extra > n - i - 1) return false; /* truncated sequence */
        static const uint8_t lead_mask[4] = {0x7F, 0x1F, 0x0F, 0x07};
        uint32_t cp = c & lead_mask[extra];
        for (size_t k = 1; k <= extra; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + k] & 0x3Fu);
        }
        if ((extra == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (extra == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        i += extra + 1;
    }
    return true;
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- fields --------------------------------------------------------------------------- */

static int store_kind(build *b, const value *v, char *msg, size_t cap) {
    char ex[40];
    uint8_t kind = v->n < 32 ? ky_kind_from_name(v->s) : 0;
    excerpt(v->s, v->n, ex);
    if (kind == 0)
        return fail(msg, cap, KY_E_ENTRY_KIND, "field \"kind\": unknown kind \"%s\"", ex);
    if (ky_kind_is_system(kind))
        return fail(msg, cap, KY_E_KIND_SYSTEM_ONLY,
                    "field \"kind\": \"%s\" is written by the node, not by clients", ex);
    b->ev.kind = kind;
    return KY_OK;
}

static int store_scheme(build *b, const value *v, char *msg, size_t cap) {
    char ex[40];
    uint8_t scheme = v->n < 32 ? ky_scheme_from_name(v->s) : 0;
    excerpt(v->s, v->n, ex);
    if (scheme == 0)
        return fail(msg, cap, KY_E_ENTRY_SCHEME,
                    "field \"scheme\": unknown scheme \"%s\" (shokibo or safety)", ex);
    b->ev.scheme = scheme;
    return KY_OK;
}

static int store_reason(build *b, const value *v, char *msg, size_t cap) {
    for (unsigned r = 1; r < REASON_COUNT; r++) {
        if (strcmp(v->s, reason_names[r]) == 0 && v->n == strlen(reason_names[r])) {
            b->alias = (uint16_t)r;
            return KY_OK;
        }
    }
    char ex[40];
    excerpt(v->s, v->n, ex);
    return fail(msg, cap, KY_E_PARSE,
                "field \"reason\": unknown reason \"%s\" (A, B, quasi, cancellation)", ex);
}

static int store_idem_key(build *b, const value *v, char *msg, size_t cap) {
    if (v->n != 2 * KY_IDEM_KEY_BYTES)
        return fail(msg, cap, KY_E_PARSE, "field \"idem_key\": not 32 hex digits (%zu chars)",
                    v->n);
    uint8_t acc = 0;
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) {
        int hi = hex_digit(v->s[2 * i]), lo = hex_digit(v->s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return fail(msg, cap, KY_E_PARSE, "field \"idem_key\": not a hex digit at %u",
                        hi < 0 ? 2 * i + 1 : 2 * i + 2);
        b->ev.idem_key[i] = (uint8_t)(hi << 4 | lo);
        acc |= b->ev.idem_key[i];
    }
    if (acc == 0) return fail(msg, cap, KY_E_IDEM_KEY_MISSING, "field \"idem_key\": all zero");
    return KY_OK;
}

static int store_payload(ky_import *im, build *b, const value *v, char *msg, size_t cap) {
    if (v->n > KY_ENTRY_PAYLOAD_BYTES_MAX)
        return fail(msg, cap, KY_E_PAYLOAD_TOO_LARGE,
                    "field \"payload\": %zu bytes, more than payload_bytes_max %u", v->n,
                    KY_ENTRY_PAYLOAD_BYTES_MAX);
    if (!utf8_valid((const uint8_t *)v->s, v->n))
        return fail(msg, cap, KY_E_PARSE, "field \"payload\": not valid UTF-8");
    memcpy(im->payload, v->s, v->n);
    b->ev.payload_bytes = (uint32_t)v->n;
    b->ev.payload = v->n > 0 ? im->payload : NULL;
    return KY_OK;
}

static int store_string(ky_import *im, build *b, int f, const value *v, char *msg, size_t cap) {
    int rc = value_str(f, v, msg, cap);
    if (rc != KY_OK) return rc;
    switch (f) {
    case FLD_KIND: return store_kind(b, v, msg, cap);
    case FLD_SCHEME: return store_scheme(b, v, msg, cap);
    case FLD_REASON: return store_reason(b, v, msg, cap);
    case FLD_IDEM_KEY: return store_idem_key(b, v, msg, cap);
    case FLD_PAYLOAD: return store_payload(im, b, v, msg, cap);
    default: KY_BUG("string field without a store");
    }
}

static int store_int(build *b, int f, const value *v, char *msg, size_t cap) {
    uint64_t x = 0;
    int rc = value_int(f, v, &x, msg, cap);
    if (rc != KY_OK) return rc;
    switch (f) {
    case FLD_CONTRACT:
        if (x == 0) return fail(msg, cap, KY_E_RANGE, "field \"contract\": must be at least 1");
        b->ev.contract_id = x;
        break;
    case FLD_AMOUNT: b->ev.amount_jpy = (int64_t)x; break;
    case FLD_PERIOD: b->ev.period_yyyymm = (uint32_t)x; break;
    case FLD_MONTHS: b->ev.months = (uint16_t)x; break;
    case FLD_SUBTYPE: b->ev.subtype = (uint16_t)x; break;
    case FLD_MEMBER_TYPE: b->alias = (uint16_t)x; break;
    case FLD_REF_SEQ: b->ev.ref_seq = x; break;
    default: KY_BUG("integer field without a store");
    }
    return KY_OK;
}

/* Checks and stores one named field of the line. */
static int apply_field(ky_import *im, build *b, const char *name, size_t name_bytes, const value *v,
                       char *msg, size_t cap) {
    int f = 0;
    while (f < FLD__COUNT && (strlen(field_defs[f].name) != name_bytes ||
                              memcmp(field_defs[f].name, name, name_bytes) != 0))
        f++;
    char ex[40];
    excerpt(name, name_bytes, ex);
    if (f == FLD__COUNT) return fail(msg, cap, KY_E_PARSE, "field \"%s\": unknown field", ex);
    if (b->seen & (1u << f)) return fail(msg, cap, KY_E_PARSE, "field \"%s\": duplicate", ex);
    b->seen |= 1u << f;
    if (v->type == V_NULL) return KY_OK;
    b->present |= 1u << f;
    if (field_defs[f].type == T_STR) return store_string(im, b, f, v, msg, cap);
    if (field_defs[f].type == T_INT) return store_int(b, f, v, msg, cap);
    bool linked = false;
    int rc = value_bool(f, v, &linked, msg, cap);
    if (rc == KY_OK && linked) b->ev.flags |= KY_EVENT_LINKED;
    return rc;
}

/* Whole-line checks once every field is in: required fields, aliases, derived key. */
static int finish(const ky_import *im, build *b, uint64_t line_number, char *msg, size_t cap) {
    if (!(b->present & (1u << FLD_KIND)))
        return fail(msg, cap, KY_E_PARSE, "field \"kind\": missing");
    if (!(b->present & (1u << FLD_CONTRACT)))
        return fail(msg, cap, KY_E_PARSE, "field \"contract\": missing");
    static const struct {
        int field;
        uint8_t kind;
    } aliases[] = {{FLD_MEMBER_TYPE, KY_KIND_CONTRACT_OPENED}, {FLD_REASON, KY_KIND_BENEFIT_PAID}};
    for (unsigned i = 0; i < 2; i++) {
        const char *name = field_defs[aliases[i].field].name;
        if (!(b->present & (1u << aliases[i].field))) continue;
        if (b->ev.kind != aliases[i].kind)
            return fail(msg, cap, KY_E_PARSE, "field \"%s\": only for %s (use subtype)", name,
                        ky_kind_name(aliases[i].kind));
        if (b->present & (1u << FLD_SUBTYPE))
            return fail(msg, cap, KY_E_PARSE, "field \"%s\": conflicts with subtype", name);
        b->ev.subtype = b->alias;
    }
    if (!(b->present & (1u << FLD_IDEM_KEY))) {
        ky_put_u64be(b->ev.idem_key, im->file_base);
        ky_put_u64be(b->ev.idem_key + 8, line_number);
    }
    return KY_OK;
}

/* ---- JSON lines ------------------------------------------------------------------------ */

/* The scanner below runs only on text cJSON has accepted, and mirrors its whitespace rule
 * (every byte 1..32 is blank), so it cannot run off the string. */
static const char *skip_blank(const char *p) {
    while (*p != '\0' && (unsigned char)*p <= 32) p++;
    return p;
}

static const char *skip_string(const char *p) {
    KY_ASSERT(*p == '"');
    for (p++; *p != '"'; p++) {
        KY_ASSERT(*p != '\0');
        if (*p == '\\') p++;
    }
    return p + 1;
}

static const char *skip_value(const char *p) {
    if (*p == '"') return skip_string(p);
    if (*p != '{' && *p != '[') {
        while (*p != '\0' && *p != ',' && *p != '}' && *p != ']' && (unsigned char)*p > 32) p++;
        return p;
    }
    int depth = 0;
    do {
        if (*p == '"') {
            p = skip_string(p);
            continue;
        }
        KY_ASSERT(*p != '\0');
        if (*p == '{' || *p == '[') depth++;
        if (*p == '}' || *p == ']') depth--;
        p++;
    } while (depth > 0);
    return p;
}

/* Advances *cursor past the next member; returns its raw value token, *key its raw key. */
static const char *next_member_value(const char **cursor, const char **key) {
    const char *p = skip_blank(*cursor);
    if (*p == ',') p = skip_blank(p + 1);
    *key = p;
    p = skip_blank(skip_string(p));
    KY_ASSERT(*p == ':');
    p = skip_blank(p + 1);
    *cursor = skip_value(p);
    return p;
}

/* True when the raw JSON string token holds the escape \u0000 (cJSON would cut there). */
static bool json_string_has_nul(const char *tok) {
    for (const char *p = tok + 1; *p != '"'; p++) {
        if (*p != '\\') continue;
        p++;
        if (*p == 'u' && strncmp(p + 1, "0000", 4) == 0) return true;
    }
    return false;
}

static value json_value(const cJSON *item, const char *tok) {
    value v = {.type = V_OTHER};
    if (cJSON_IsNull(item)) v.type = V_NULL;
    if (cJSON_IsBool(item)) v.type = V_BOOL, v.b = cJSON_IsTrue(item);
    if (cJSON_IsString(item)) {
        v.type = V_STRING;
        v.s = item->valuestring;
        v.n = strlen(item->valuestring);
        v.has_nul = json_string_has_nul(tok);
    }
    if (cJSON_IsNumber(item)) {
        size_t n = 0;
        while (tok[n] != '\0' && strchr("+-0123456789.eE", tok[n]) != NULL) n++;
        bool negative = false;
        uint64_t m = 0;
        v.type = integer_parse(tok, n, &negative, &m) != INT_BAD ? V_INT : V_NOT_INT;
        v.s = tok;
        v.n = n;
    }
    return v;
}

static int parse_json(ky_import *im, size_t len, build *b, char *msg, size_t cap) {
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(im->line, &end, 1);
    if (root == NULL) {
        size_t col = end != NULL && end >= im->line ? (size_t)(end - im->line) + 1 : 0;
        return fail(msg, cap, KY_E_PARSE, "JSON syntax error near column %zu", col);
    }
    int rc = KY_OK;
    if (!cJSON_IsObject(root) || *skip_blank(im->line) != '{') {
        rc = fail(msg, cap, KY_E_PARSE, "line is not a JSON object");
        goto done;
    }
    const char *cursor = skip_blank(im->line) + 1;
    for (const cJSON *item = root->child; item != NULL && rc == KY_OK; item = item->next) {
        const char *key = NULL;
        const char *tok = next_member_value(&cursor, &key);
        KY_ASSERT(tok >= im->line && tok < im->line + len);
        if (json_string_has_nul(key)) {
            rc = fail(msg, cap, KY_E_PARSE, "member name contains a NUL character");
            break;
        }
        value v = json_value(item, tok);
        rc = apply_field(im, b, item->string, strlen(item->string), &v, msg, cap);
    }
done:
    cJSON_Delete(root);
    return rc;
}

/* ---- CSV ------------------------------------------------------------------------------- */

/* Splits im->line (len bytes) into cells in place: quotes are removed, "" becomes ", and
 * each cell is NUL-terminated (unquoting only shrinks, so writes never pass reads). Offsets
 * of the first KY_IMPORT_COLUMNS_MAX cells go to im->cell_*; *count is the total. */
static int csv_split(ky_import *im, size_t len, uint32_t *count, char *msg, size_t cap) {
    char *s = im->line;
    size_t r = 0, w = 0;
    uint32_t n = 0;
    for (;;) {
        size_t start = w;
        if (r < len && s[r] == '"') {
            for (r++;; r++) {
                if (r >= len)
                    return fail(msg, cap, KY_E_PARSE, "CSV column %u: unterminated quote", n + 1);
                if (s[r] == '"' && (r + 1 >= len || s[r + 1] != '"')) break;
                if (s[r] == '"') r++;
                s[w++] = s[r];
            }
            r++;
            if (r < len && s[r] != ',')
                return fail(msg, cap, KY_E_PARSE, "CSV column %u: text after closing quote", n + 1);
        } else {
            for (; r < len && s[r] != ','; r++) {
                if (s[r] == '"')
                    return fail(msg, cap, KY_E_PARSE, "CSV column %u: quote in unquoted field",
                                n + 1);
                s[w++] = s[r];
            }
        }
        KY_ASSERT(w <= r);
        s[w++] = '\0';
        if (n < KY_IMPORT_COLUMNS_MAX) im->cell_start[n] = (uint32_t)start;
        if (n < KY_IMPORT_COLUMNS_MAX) im->cell_bytes[n] = (uint32_t)(w - 1 - start);
        n++;
        if (r >= len) break;
        r++; /* the comma */
    }
    *count = n;
    return KY_OK;
}

static int csv_header(ky_import *im, size_t len, char *msg, size_t cap) {
    uint32_t n = 0;
    int rc = csv_split(im, len, &n, msg, cap);
    if (rc != KY_OK) return rc;
    uint32_t seen = 0;
    for (uint32_t c = 0; c < n; c++) {
        const char *name = c < KY_IMPORT_COLUMNS_MAX ? im->line + im->cell_start[c] : "";
        int f = 0;
        while (f < FLD__COUNT && strcmp(field_defs[f].name, name) != 0) f++;
        char ex[40];
        excerpt(name, strlen(name), ex);
        if (f == FLD__COUNT || c >= KY_IMPORT_COLUMNS_MAX)
            return fail(msg, cap, KY_E_PARSE, "CSV header column %u: unknown field \"%s\"", c + 1,
                        ex);
        if (seen & (1u << f))
            return fail(msg, cap, KY_E_PARSE, "CSV header column %u: duplicate \"%s\"", c + 1, ex);
        seen |= 1u << f;
        im->column_field[c] = (uint8_t)f;
    }
    if (!(seen & (1u << FLD_KIND)) || !(seen & (1u << FLD_CONTRACT)))
        return fail(msg, cap, KY_E_PARSE, "CSV header: needs columns \"kind\" and \"contract\"");
    im->column_count = n;
    im->format = KY_IMPORT_FORMAT_CSV;
    return KY_OK;
}

static int parse_csv(ky_import *im, size_t len, build *b, char *msg, size_t cap) {
    uint32_t n = 0;
    int rc = csv_split(im, len, &n, msg, cap);
    if (rc != KY_OK) return rc;
    if (n != im->column_count)
        return fail(msg, cap, KY_E_PARSE, "CSV record has %u columns, the header has %u", n,
                    im->column_count);
    for (uint32_t c = 0; c < n && rc == KY_OK; c++) {
        value v = {.type = im->cell_bytes[c] == 0 ? V_NULL : V_TEXT,
                   .s = im->line + im->cell_start[c],
                   .n = im->cell_bytes[c]};
        const char *name = field_defs[im->column_field[c]].name;
        rc = apply_field(im, b, name, strlen(name), &v, msg, cap);
    }
    return rc;
}

/* ---- lines ----------------------------------------------------------------------------- */

void ky_import_init(ky_import *im, uint64_t file_base) {
    KY_ASSERT(im != NULL);
    memset(im, 0, offsetof(ky_import, line));
    im->format = KY_IMPORT_FORMAT_UNKNOWN;
    im->file_base = file_base;
    im->line[0] = '\0';
}

void ky_import_release(ky_import *im) {
    KY_ASSERT(im != NULL);
    im->format = KY_IMPORT_FORMAT_UNKNOWN;
    im->column_count = 0;
}

static bool line_blank(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r') return false;
    }
    return true;
}

int ky_import_line(ky_import *im, const char *line, size_t len, uint64_t line_number, ky_event *ev,
                   bool *has_event, char *msg, size_t msg_cap) {
    KY_ASSERT(im != NULL && ev != NULL && has_event != NULL);
    KY_ASSERT(line != NULL || len == 0);
    *has_event = false;
    if (msg != NULL && msg_cap > 0) msg[0] = '\0';
    if (len > 0 && line[len - 1] == '\n') len--;
    if (len > 0 && line[len - 1] == '\r') len--;
    if (im->format == KY_IMPORT_FORMAT_UNKNOWN && len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0)
        line += 3, len -= 3; /* UTF-8 byte-order mark written by spreadsheet programs */
    if (line_blank(line, len)) return KY_OK;
    if (len > KY_IMPORT_LINE_BYTES_MAX)
        return fail(msg, msg_cap, KY_E_PARSE, "line longer than %u bytes",
                    KY_IMPORT_LINE_BYTES_MAX);
    if (memchr(line, '\0', len) != NULL)
        return fail(msg, msg_cap, KY_E_PARSE, "line contains a NUL byte");
    memcpy(im->line, line, len);
    im->line[len] = '\0';
    if (im->format == KY_IMPORT_FORMAT_UNKNOWN) {
        if (*skip_blank(im->line) != '{') return csv_header(im, len, msg, msg_cap);
        im->format = KY_IMPORT_FORMAT_JSONL;
    }
    build b;
    memset(&b, 0, sizeof b);
    int rc = im->format == KY_IMPORT_FORMAT_JSONL ? parse_json(im, len, &b, msg, msg_cap)
                                                  : parse_csv(im, len, &b, msg, msg_cap);
    if (rc == KY_OK) rc = finish(im, &b, line_number, msg, msg_cap);
    if (rc != KY_OK) return rc;
    KY_ASSERT(b.ev.payload_bytes <= KY_ENTRY_PAYLOAD_BYTES_MAX);
    *ev = b.ev;
    *has_event = true;
    return KY_OK;
}

/* ---- JSON output ----------------------------------------------------------------------- */

typedef struct out_buf {
    char *buf;     /* destination */
    size_t cap;    /* capacity, bytes */
    size_t len;    /* bytes written, NUL excluded */
    bool overflow; /* something did not fit */
} out_buf;

__attribute__((format(printf, 2, 3))) static void out_printf(out_buf *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->cap - o->len;
    int n = vsnprintf(o->buf + o->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        o->overflow = true;
        o->len = o->cap - 1;
        return;
    }
    o->len += (size_t)n;
}

static void out_json_string(out_buf *o, const uint8_t *s, size_t n) {
    out_printf(o, "\"");
    for (size_t i = 0; i < n && !o->overflow; i++) {
        uint8_t c = s[i];
        if (c == '"' || c == '\\')
            out_printf(o, "\\%c", c);
        else if (c == '\n')
            out_printf(o, "\\n");
        else if (c == '\r')
            out_printf(o, "\\r");
        else if (c == '\t')
            out_printf(o, "\\t");
        else if (c < 0x20)
            out_printf(o, "\\u%04x", c);
        else
            out_printf(o, "%c", c);
    }
    out_printf(o, "\"");
}

static void out_subtype(out_buf *o, const ky_event *ev) {
    if (ev->subtype == 0) return;
    if (ev->kind == KY_KIND_CONTRACT_OPENED)
        out_printf(o, ",\"member_type\":%u", ev->subtype);
    else if (ev->kind == KY_KIND_BENEFIT_PAID && ev->subtype < REASON_COUNT)
        out_printf(o, ",\"reason\":\"%s\"", reason_names[ev->subtype]);
    else
        out_printf(o, ",\"subtype\":%u", ev->subtype);
}

int ky_import_event_to_json(const ky_event *ev, char *buf, size_t cap) {
    KY_ASSERT(ev != NULL && buf != NULL);
    KY_ASSERT(ev->payload_bytes == 0 || ev->payload != NULL);
    if (!ky_kind_is_known(ev->kind) || (ev->flags & ~KY_EVENT_FLAGS_KNOWN) != 0 ||
        (ev->scheme != 0 && ky_scheme_from_name(ky_scheme_name(ev->scheme)) != ev->scheme))
        return KY_E_INVALID_ARG;
    if (ev->payload_bytes > 0 && (memchr(ev->payload, 0, ev->payload_bytes) != NULL ||
                                  !utf8_valid(ev->payload, ev->payload_bytes)))
        return KY_E_INVALID_ARG;
    if (cap == 0) return KY_E_BUFFER_TOO_SMALL;
    out_buf o = {.buf = buf, .cap = cap};
    out_printf(&o, "{\"kind\":\"%s\"", ky_kind_name(ev->kind));
    if (ev->scheme != 0) out_printf(&o, ",\"scheme\":\"%s\"", ky_scheme_name(ev->scheme));
    out_printf(&o, ",\"contract\":%llu", (unsigned long long)ev->contract_id);
    if (ev->amount_jpy != 0) out_printf(&o, ",\"amount\":%lld", (long long)ev->amount_jpy);
    if (ev->period_yyyymm != 0) out_printf(&o, ",\"period\":%u", ev->period_yyyymm);
    if (ev->months != 0) out_printf(&o, ",\"months\":%u", ev->months);
    out_subtype(&o, ev);
    if (ev->ref_seq != 0) out_printf(&o, ",\"ref_seq\":%llu", (unsigned long long)ev->ref_seq);
    if (ev->flags & KY_EVENT_LINKED) out_printf(&o, ",\"linked\":true");
    uint8_t acc = 0;
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES; i++) acc |= ev->idem_key[i];
    if (acc != 0) out_printf(&o, ",\"idem_key\":\"");
    for (unsigned i = 0; i < KY_IDEM_KEY_BYTES && acc != 0; i++)
        out_printf(&o, "%02x", ev->idem_key[i]);
    if (acc != 0) out_printf(&o, "\"");
    if (ev->payload_bytes > 0) {
        out_printf(&o, ",\"payload\":");
        out_json_string(&o, ev->payload, ev->payload_bytes);
    }
    out_printf(&o, "}");
    return o.overflow ? KY_E_BUFFER_TOO_SMALL : KY_OK;
}

/* ---- key generation -------------------------------------------------------------------- */

int ky_idem_key_generate(uint8_t out[KY_IDEM_KEY_BYTES]) {
    KY_ASSERT(out != NULL);
    if (sodium_init() < 0) return KY_E_IO;
    struct timespec ts;
    int rc = clock_gettime(CLOCK_REALTIME, &ts);
    KY_ASSERT(rc == 0); /* cannot fail for CLOCK_REALTIME */
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    uint8_t stamp[8];
    ky_put_u64be(stamp, ms);
    memcpy(out, stamp + 2, 6); /* the low 48 bits: Unix ms until the year 10889 */
    randombytes_buf(out + 6, KY_IDEM_KEY_BYTES - 6);
    out[6] = (uint8_t)(0x70 | (out[6] & 0x0F)); /* version 7 */
    out[8] = (uint8_t)(0x80 | (out[8] & 0x3F)); /* variant 10 */
    return KY_OK;
}
