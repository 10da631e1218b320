/*
 * cli_util.c — kyosaictl's output formats, number parsing and progress bar.
 *
 * Why by hand with printf: the output is small and fixed; JSON strings we print are hex,
 * names from fixed tables and numbers, so no escaping library is needed. Payloads are
 * printed as hex (they are opaque bytes), plus as text when they are printable ASCII.
 */
#include "cli_util.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../common/ky_err.h"

void ky_cli_hex(const uint8_t *b, size_t n, char *out) {
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

int ky_cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) {
    if (s == NULL || *s < '0' || *s > '9') return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static bool printable(const uint8_t *p, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (p[i] < 0x20 || p[i] > 0x7e || p[i] == '"' || p[i] == '\\') return false;
    return true;
}

static void print_entry_json(FILE *out, const ky_entry *e, const char *leaf, const char *prev,
                             const char *cprev, const char *key) {
    fprintf(out,
            "{\"seq\":%" PRIu64 ",\"epoch\":%" PRIu64 ",\"timestamp_us\":%" PRIu64
            ",\"kind\":\"%s\",\"scheme\":\"%s\",\"contract\":%" PRIu64 ",\"contract_seq\":%" PRIu64
            ",\"amount\":%" PRId64 ",\"period\":%u,\"months\":%u"
            ",\"subtype\":%u,\"ref_seq\":%" PRIu64 ",\"idem_key\":\"%s\",\"prev_hash\":\"%s\""
            ",\"contract_prev_hash\":\"%s\",\"leaf_hash\":\"%s\",\"payload_bytes\":%u",
            e->seq, e->epoch, e->timestamp_us, ky_kind_name(e->kind), ky_scheme_name(e->scheme),
            e->contract_id, e->contract_seq, e->amount_jpy, e->period_yyyymm, e->months, e->subtype,
            e->ref_seq, key, prev, cprev, leaf, e->payload_bytes);
    if (e->payload_bytes > 0 && printable(e->payload, e->payload_bytes))
        fprintf(out, ",\"payload\":\"%.*s\"", (int)e->payload_bytes, (const char *)e->payload);
    fprintf(out, "}\n");
}

void ky_cli_print_entry(FILE *out, const ky_entry *e, const uint8_t leaf[KY_HASH_BYTES],
                        bool json) {
    char lh[65], ph[65], ch[65], kh[33];
    ky_cli_hex(leaf, KY_HASH_BYTES, lh);
    ky_cli_hex(e->prev_hash, KY_HASH_BYTES, ph);
    ky_cli_hex(e->contract_prev_hash, KY_HASH_BYTES, ch);
    ky_cli_hex(e->idem_key, KY_IDEM_KEY_BYTES, kh);
    if (json) {
        print_entry_json(out, e, lh, ph, ch, kh);
        return;
    }
    time_t secs = (time_t)(e->timestamp_us / 1000000u);
    struct tm tm;
    gmtime_r(&secs, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(out, "seq %-8" PRIu64 " %s.%06uZ epoch %" PRIu64 "  %-19s", e->seq, when,
            (unsigned)(e->timestamp_us % 1000000u), e->epoch, ky_kind_name(e->kind));
    if (!ky_kind_is_system(e->kind))
        fprintf(out, " %-7s contract %" PRIu64 " #%" PRIu64, ky_scheme_name(e->scheme),
                e->contract_id, e->contract_seq);
    if (e->amount_jpy != 0) fprintf(out, " amount %" PRId64 " JPY", e->amount_jpy);
    if (e->period_yyyymm != 0) fprintf(out, " period %u", e->period_yyyymm);
    if (e->months != 0) fprintf(out, " months %u", e->months);
    if (e->subtype != 0) fprintf(out, " subtype %u", e->subtype);
    if (e->ref_seq != 0) fprintf(out, " ref %" PRIu64, e->ref_seq);
    if (e->payload_bytes > 0) {
        if (printable(e->payload, e->payload_bytes))
            fprintf(out, " payload \"%.*s\"", (int)e->payload_bytes, (const char *)e->payload);
        else
            fprintf(out, " payload %u bytes", e->payload_bytes);
    }
    fprintf(out, "\n    leaf %s\n", lh);
}

static const char *status_name(uint8_t s) {
    return s == KY_CONTRACT_OPEN ? "open" : s == KY_CONTRACT_CLOSED ? "closed" : "unknown";
}

void ky_cli_print_contract(FILE *out, const ky_contract_state *cs, bool json) {
    char lh[65];
    ky_cli_hex(cs->last_leaf_hash, KY_HASH_BYTES, lh);
    if (json) {
        fprintf(out,
                "{\"contract\":%" PRIu64 ",\"scheme\":\"%s\",\"status\":\"%s\""
                ",\"member_type\":%u,\"monthly_premium\":%" PRId64 ",\"months_paid\":%u"
                ",\"total_paid\":%" PRId64 ",\"loan_balance\":%" PRId64 ",\"opened_seq\":%" PRIu64
                ",\"closed_seq\":%" PRIu64 ",\"last_seq\":%" PRIu64 ",\"entry_count\":%" PRIu64
                ",\"last_leaf_hash\":\"%s\"}\n",
                cs->contract_id, ky_scheme_name(cs->scheme), status_name(cs->status),
                cs->member_type, cs->monthly_premium_jpy, cs->months_paid, cs->total_paid_jpy,
                cs->loan_balance_jpy, cs->opened_seq, cs->closed_seq, cs->last_seq, cs->entry_count,
                lh);
        return;
    }
    fprintf(out,
            "contract %" PRIu64 " (%s, member type %u) %s\n"
            "  monthly premium  %" PRId64 " JPY\n"
            "  months paid      %u\n"
            "  total paid       %" PRId64 " JPY\n"
            "  loan balance     %" PRId64 " JPY\n"
            "  entries          %" PRIu64 " (opened at seq %" PRIu64 ", last seq %" PRIu64 ")\n",
            cs->contract_id, ky_scheme_name(cs->scheme), cs->member_type, status_name(cs->status),
            cs->monthly_premium_jpy, cs->months_paid, cs->total_paid_jpy, cs->loan_balance_jpy,
            cs->entry_count, cs->opened_seq, cs->last_seq);
    if (cs->closed_seq != 0) fprintf(out, "  closed at seq    %" PRIu64 "\n", cs->closed_seq);
}

void ky_cli_print_head(FILE *out, const char *dir, const ky_ledger_head *h, const uint64_t *epoch,
                       const uint64_t *first_seq, uint32_t n, uint32_t epoch_count, bool json) {
    char hh[65], mr[65], id[33];
    ky_cli_hex(h->hash, KY_HASH_BYTES, hh);
    ky_cli_hex(h->merkle_root, KY_HASH_BYTES, mr);
    ky_cli_hex(h->node_id, KY_NODE_ID_BYTES, id);
    if (json) {
        fprintf(out,
                "{\"data\":\"%s\",\"head_seq\":%" PRIu64 ",\"head_hash\":\"%s\",\"epoch\":%" PRIu64
                ",\"timestamp_us\":%" PRIu64 ",\"merkle_root\":\"%s\",\"node_id\":\"%s\""
                ",\"acked_seq\":%" PRIu64 ",\"quarantine_count\":%" PRIu64
                ",\"epoch_count\":%" PRIu32 ",\"epochs\":[",
                dir, h->seq, hh, h->epoch, h->timestamp_us, mr, id, h->acked_seq,
                h->quarantine_count, epoch_count);
        for (uint32_t i = 0; i < n; i++)
            fprintf(out, "%s{\"epoch\":%" PRIu64 ",\"first_seq\":%" PRIu64 "}", i ? "," : "",
                    epoch[i], first_seq[i]);
        fprintf(out, "]}\n");
        return;
    }
    fprintf(out,
            "ledger       %s\nnode id      %s\nepoch        %" PRIu64 "\nhead seq     %" PRIu64
            "\nhead hash    %s\nmerkle root  %s\nacked seq    %" PRIu64 "\nquarantine   %" PRIu64
            " entries\nepochs       %" PRIu32 ":",
            dir, id, h->epoch, h->seq, hh, mr, h->acked_seq, h->quarantine_count, epoch_count);
    for (uint32_t i = 0; i < n; i++)
        fprintf(out, "%s epoch %" PRIu64 " from seq %" PRIu64, i ? "," : "", epoch[i],
                first_seq[i]);
    fprintf(out, "%s\n", n < epoch_count ? ", ..." : "");
}

void ky_cli_print_verify(FILE *out, const ky_verify_report *r, double secs, bool json) {
    char lh[65], mr[65];
    ky_cli_hex(r->last_leaf_hash, KY_HASH_BYTES, lh);
    ky_cli_hex(r->merkle_root, KY_HASH_BYTES, mr);
    double rate = secs > 0 ? (double)r->checked_count / secs : 0;
    if (json) {
        fprintf(out,
                "{\"ok\":%s,\"from\":%" PRIu64 ",\"to\":%" PRIu64 ",\"checked\":%" PRIu64
                ",\"contracts\":%" PRIu64 ",\"first_bad_seq\":%" PRIu64
                ",\"error\":\"%s\",\"reason\":\"%s\",\"last_leaf_hash\":\"%s\""
                ",\"merkle_root\":\"%s\",\"head_checked\":%s,\"seconds\":%.3f,\"entries_per_s\":%."
                "0f}\n",
                r->first_bad_seq == 0 ? "true" : "false", r->from_seq, r->to_seq, r->checked_count,
                r->contract_count, r->first_bad_seq, ky_errname(r->bad_code), r->reason, lh, mr,
                r->head_checked ? "true" : "false", secs, rate);
        return;
    }
    if (r->first_bad_seq != 0) {
        fprintf(out, "verify FAILED at seq %" PRIu64 ": %s (%s)\n", r->first_bad_seq, r->reason,
                ky_errname(r->bad_code));
        fprintf(out, "  %" PRIu64 " entries before it verified\n", r->checked_count);
        return;
    }
    fprintf(out, "verify OK: seq %" PRIu64 "..%" PRIu64 ", %" PRIu64 " entries", r->from_seq,
            r->to_seq, r->checked_count);
    if (r->from_seq == 1) fprintf(out, ", %" PRIu64 " contract chains", r->contract_count);
    fprintf(out, " in %.2f s (%.0f entries/s)\n  last leaf   %s\n", secs, rate, lh);
    if (r->head_checked)
        fprintf(out, "  merkle root %s (matches the head record)\n", mr);
    else
        fprintf(out, "  partial range: the head record and Merkle root were not checked\n");
}

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void ky_cli_progress_init(ky_cli_progress *p, const char *label, bool quiet) {
    p->label = label;
    p->enabled = !quiet && isatty(STDERR_FILENO);
    p->last_ms = 0;
    p->drawn = false;
}

void ky_cli_progress_cb(void *ctx, uint64_t done, uint64_t total) {
    ky_cli_progress *p = ctx;
    if (!p->enabled || total == 0) return;
    uint64_t t = now_ms();
    if (done < total && t - p->last_ms < 100) return;
    p->last_ms = t;
    unsigned pct = (unsigned)(done * 100 / total), filled = pct * 30 / 100;
    char bar[31];
    for (unsigned i = 0; i < 30; i++) bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    fprintf(stderr, "\r%s [%s] %3u%% %" PRIu64 "/%" PRIu64, p->label, bar, pct, done, total);
    p->drawn = true;
}

void ky_cli_progress_done(ky_cli_progress *p) {
    if (p->drawn) fprintf(stderr, "\n");
    p->drawn = false;
}
