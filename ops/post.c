/*
 * post.c — `kyosaictl post`: read events from a JSON-lines or CSV file and append them.
 *
 * Why batches: one LMDB transaction (one fsync) per batch of up to 1,000 events makes a
 * month's collection run of two million premiums take minutes, not hours, and each event
 * is still judged on its own (a refused event writes nothing; the rest are posted).
 * A linked chain is never split across two batches. Lines that cannot be parsed are
 * reported with their line numbers and never reach the ledger.
 *
 * Single-threaded (the CLI's thread); the ledger handle is the writer.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../common/ky_err.h"
#include "cli_util.h"
#include "import.h"
#include "sample.h"

#define POST_BATCH_COUNT 1000u
#define POST_ARENA_BYTES (POST_BATCH_COUNT * 256u)

typedef struct post_batch {
    ky_event events[KY_LEDGER_BATCH_COUNT_MAX];
    ky_event_result results[KY_LEDGER_BATCH_COUNT_MAX];
    uint64_t line_of[KY_LEDGER_BATCH_COUNT_MAX];                  /* input line of each event */
    uint8_t arena[POST_ARENA_BYTES + KY_ENTRY_PAYLOAD_BYTES_MAX]; /* payload copies */
    uint32_t count;
    uint32_t arena_used;
} post_batch;

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int flush(ky_ledger *l, post_batch *b, ky_cli_post_summary *sum) {
    if (b->count == 0) return KY_OK;
    int rc = ky_ledger_append(l, b->events, b->count, b->results);
    if (rc != KY_OK) return rc; /* batch-wide: nothing of this batch was written */
    for (uint32_t i = 0; i < b->count; i++) {
        const ky_event_result *r = &b->results[i];
        if (r->code == KY_OK && (r->flags & KY_RESULT_DUPLICATE)) {
            sum->duplicate_count++;
        } else if (r->code == KY_OK) {
            sum->posted_count++;
            if (sum->first_seq == 0) sum->first_seq = r->seq;
            sum->last_seq = r->seq;
        } else {
            sum->refused_count++;
            if (-r->code <= KY_E__COUNT) sum->refused_by_code[-r->code]++;
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": refused: %s\n", b->line_of[i],
                    ky_strerror(r->code));
        }
    }
    b->count = 0;
    b->arena_used = 0;
    return KY_OK;
}

/* Adds a parsed event, copying its payload out of the importer's buffer. */
static void batch_add(post_batch *b, const ky_event *ev, uint64_t line) {
    ky_event *dst = &b->events[b->count];
    *dst = *ev;
    if (ev->payload_bytes > 0) {
        memcpy(b->arena + b->arena_used, ev->payload, ev->payload_bytes);
        dst->payload = b->arena + b->arena_used;
        b->arena_used += ev->payload_bytes;
    }
    b->line_of[b->count++] = line;
}

static bool batch_full(const post_batch *b) {
    bool chain_open = b->count > 0 && (b->events[b->count - 1].flags & KY_EVENT_LINKED);
    bool soft_full = b->count >= POST_BATCH_COUNT || b->arena_used >= POST_ARENA_BYTES;
    return (soft_full && !chain_open) || b->count >= KY_LEDGER_BATCH_COUNT_MAX ||
           b->arena_used >= POST_ARENA_BYTES + KY_ENTRY_PAYLOAD_BYTES_MAX - 4096u;
}

/* File base for derived idempotency keys: the file's mtime in µs (see import.h), so that
 * posting the same file again is idempotent. stdin has no mtime: the current time. */
static uint64_t file_base_of(FILE *f, uint64_t *size_out) {
    struct stat st;
    *size_out = 0;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
        *size_out = (uint64_t)st.st_size;
        return (uint64_t)st.st_mtim.tv_sec * 1000000u + (uint64_t)st.st_mtim.tv_nsec / 1000u;
    }
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

typedef struct post_run {
    ky_ledger *l;
    FILE *in;
    ky_import *im;
    post_batch *b;
    ky_cli_post_summary *sum;
    ky_cli_progress prog;
    uint64_t size, read_bytes;
} post_run;

static int post_lines(post_run *p) {
    static char line[KY_IMPORT_LINE_BYTES_MAX + 2];
    uint64_t line_no = 0;
    while (fgets(line, sizeof line, p->in) != NULL) {
        size_t len = strlen(line);
        line_no++;
        p->read_bytes += len;
        bool complete = len > 0 && line[len - 1] == '\n';
        if (!complete && !feof(p->in)) { /* longer than the limit: skip the rest of it */
            int ch;
            while ((ch = fgetc(p->in)) != EOF && ch != '\n') p->read_bytes++;
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": longer than %u bytes\n", line_no,
                    KY_IMPORT_LINE_BYTES_MAX);
            p->sum->bad_line_count++;
            continue;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        ky_event ev;
        bool has = false;
        char msg[KY_IMPORT_MSG_BYTES];
        int rc = ky_import_line(p->im, line, len, line_no, &ev, &has, msg, sizeof msg);
        if (rc != KY_OK) {
            fprintf(stderr, "kyosaictl: line %" PRIu64 ": %s\n", line_no, msg);
            p->sum->bad_line_count++;
            continue;
        }
        if (!has) continue; /* empty line or CSV header */
        p->sum->line_count++;
        batch_add(p->b, &ev, line_no);
        if (batch_full(p->b) && (rc = flush(p->l, p->b, p->sum)) != KY_OK) return rc;
        ky_cli_progress_cb(&p->prog, p->read_bytes, p->size ? p->size : p->read_bytes);
    }
    if (ferror(p->in)) return KY_E_IO;
    return flush(p->l, p->b, p->sum);
}

uint64_t ky_cli_file_base(FILE *f) {
    uint64_t size;
    return file_base_of(f, &size);
}

int ky_cli_post_file(ky_ledger *l, const char *path, bool quiet, ky_cli_post_summary *sum) {
    memset(sum, 0, sizeof *sum);
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (in == NULL) {
        fprintf(stderr, "kyosaictl: cannot open %s: %s\n", path, strerror(errno));
        return KY_E_IO;
    }
    ky_import *im = malloc(sizeof *im);
    post_batch *b = calloc(1, sizeof *b);
    int rc = (im == NULL || b == NULL) ? KY_E_NOMEM : KY_OK;
    if (rc == KY_OK) {
        post_run p = {l, in, im, b, sum, {0}, 0, 0};
        ky_import_init(im, file_base_of(in, &p.size));
        ky_cli_progress_init(&p.prog, "post", quiet);
        double t0 = now_s();
        rc = post_lines(&p);
        sum->seconds = now_s() - t0;
        ky_cli_progress_done(&p.prog);
        ky_import_release(im);
    }
    free(im);
    free(b);
    if (in != stdin) fclose(in);
    return rc;
}

void ky_cli_print_post_summary(FILE *out, const ky_cli_post_summary *s, bool json) {
    double rate = s->seconds > 0 ? (double)(s->posted_count + s->duplicate_count) / s->seconds : 0;
    if (json) {
        fprintf(out,
                "{\"lines\":%" PRIu64 ",\"posted\":%" PRIu64 ",\"duplicates\":%" PRIu64
                ",\"refused\":%" PRIu64 ",\"bad_lines\":%" PRIu64 ",\"first_seq\":%" PRIu64
                ",\"last_seq\":%" PRIu64 ",\"seconds\":%.3f,\"refused_by_reason\":{",
                s->line_count, s->posted_count, s->duplicate_count, s->refused_count,
                s->bad_line_count, s->first_seq, s->last_seq, s->seconds);
        const char *sep = "";
        for (int c = 1; c <= KY_E__COUNT; c++) {
            if (s->refused_by_code[c] == 0) continue;
            fprintf(out, "%s\"%s\":%" PRIu64, sep, ky_errname(-c), s->refused_by_code[c]);
            sep = ",";
        }
        fprintf(out, "}}\n");
        return;
    }
    fprintf(out, "posted %" PRIu64 " new entries", s->posted_count);
    if (s->posted_count > 0)
        fprintf(out, " (seq %" PRIu64 "..%" PRIu64 ")", s->first_seq, s->last_seq);
    fprintf(out,
            ", %" PRIu64 " duplicates, %" PRIu64 " refused, %" PRIu64
            " bad lines in %.2f s (%.0f events/s)\n",
            s->duplicate_count, s->refused_count, s->bad_line_count, s->seconds, rate);
    for (int c = 1; c <= KY_E__COUNT; c++)
        if (s->refused_by_code[c] != 0)
            fprintf(out, "  refused %6" PRIu64 "  %s\n", s->refused_by_code[c], ky_strerror(-c));
}

int ky_cli_sample_write(FILE *out, uint64_t contracts, uint32_t months, uint64_t seed,
                        uint32_t start_yyyymm) {
    ky_sample s;
    int rc = ky_sample_init(&s, contracts, months, seed, start_yyyymm, KY_SAMPLE_ORDER_CONTRACT);
    if (rc != KY_OK) {
        fprintf(stderr, "kyosaictl: sample: %s\n", ky_strerror(rc));
        return rc;
    }
    ky_event ev;
    static char line[KY_IMPORT_LINE_BYTES_MAX];
    while (ky_sample_next(&s, &ev)) {
        rc = ky_import_event_to_json(&ev, line, sizeof line);
        if (rc != KY_OK) return rc;
        if (fputs(line, out) == EOF || fputc('\n', out) == EOF) return KY_E_IO;
    }
    return fflush(out) == 0 ? KY_OK : KY_E_IO;
}
