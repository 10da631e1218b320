/*
 * test_crash.c — no acknowledged entry is lost when the writer process is killed.
 *
 * Goal: a crash at any instant loses no entry whose append returned (DESIGN §3, STYLE 13).
 * Method: real files, real fsync, real SIGKILL. For each of 60 rounds a child process
 * opens the ledger and appends batches (contract openings linked with a first premium, of
 * random sizes) in a loop, writing each committed (seq, idempotency key) to a pipe only
 * after ky_ledger_append returned. The parent kills it with SIGKILL after a random delay
 * (0–40 ms, so some kills land mid-commit), then reopens the ledger and checks that every
 * reported seq is present with the reported key, that the whole ledger verifies (chain,
 * contract chains, Merkle root), and that reindex --check finds the derived state equal to
 * a replay of the entries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../common/ky_err.h"
#include "../../ledger/ledger.h"
#include "../../ledger/verify.h"

#define ROUNDS      60
#define REPORTS_MAX 2000000

typedef struct report {
    uint64_t seq;
    uint8_t key[KY_IDEM_KEY_BYTES];
} report;

static report *reports;
static size_t report_count;

static ky_ledger *open_dir(const char *dir, bool create) {
    ky_ledger_options o;
    ky_ledger_options_default(&o);
    o.dir_path = dir;
    o.create = create;
    o.map_bytes = 1ull << 30;
    ky_ledger *l = NULL;
    if (ky_ledger_open(&l, &o) != KY_OK) return NULL;
    return l;
}

/* The child: appends until killed. Contract ids continue from the ledger's head, so
 * every round writes new contracts. */
static void child_run(const char *dir, int fd, unsigned seed) {
    ky_ledger *l = open_dir(dir, false);
    if (l == NULL) _exit(3);
    ky_ledger_head h;
    if (ky_ledger_head_get(l, &h) != KY_OK) _exit(4);
    srand(seed);
    static ky_event ev[400];
    static ky_event_result res[400];
    uint64_t next_contract = 100000000000ull + h.seq * 2, key = h.seq * 4 + 1;
    for (;;) {
        uint32_t pairs = 1 + (uint32_t)(rand() % 200);
        for (uint32_t i = 0; i < pairs; i++) {
            ky_event *o = &ev[2 * i], *p = &ev[2 * i + 1];
            memset(o, 0, sizeof *o);
            o->kind = KY_KIND_CONTRACT_OPENED;
            o->scheme = KY_SCHEME_SHOKIBO;
            o->flags = KY_EVENT_LINKED;
            o->subtype = 1;
            o->contract_id = next_contract++;
            o->amount_jpy = 42000;
            ky_put_u64be(o->idem_key, 0x0192000000000000ull + key++);
            *p = *o;
            p->kind = KY_KIND_PREMIUM_PAID;
            p->flags = 0;
            p->subtype = 0;
            p->period_yyyymm = 202604;
            ky_put_u64be(p->idem_key, 0x0192000000000000ull + key++);
        }
        if (ky_ledger_append(l, ev, 2 * pairs, res) != KY_OK) _exit(5);
        for (uint32_t i = 0; i < 2 * pairs; i++) {
            if (res[i].code != KY_OK) _exit(6);
            report r = {res[i].seq, {0}};
            memcpy(r.key, ev[i].idem_key, KY_IDEM_KEY_BYTES);
            if (write(fd, &r, sizeof r) != (ssize_t)sizeof r) _exit(7);
        }
    }
}

static void drain(int fd) {
    report r;
    ssize_t n;
    while ((n = read(fd, &r, sizeof r)) == (ssize_t)sizeof r) {
        if (report_count < REPORTS_MAX) reports[report_count++] = r;
    }
    assert_true(n == 0); /* records are smaller than PIPE_BUF: never torn */
}

static void check_reports(ky_ledger *l) {
    for (size_t i = 0; i < report_count; i++) {
        uint8_t buf[KY_ENTRY_BYTES_MAX];
        size_t n;
        ky_entry e;
        assert_int_equal(ky_ledger_get(l, reports[i].seq, buf, sizeof buf, &n), KY_OK);
        assert_int_equal(ky_entry_decode(buf, n, &e), KY_OK);
        assert_memory_equal(e.idem_key, reports[i].key, KY_IDEM_KEY_BYTES);
    }
}

static void test_sigkill_rounds(void **state) {
    (void)state;
    char dir[] = "/tmp/ky-test-crash-XXXXXX";
    assert_non_null(mkdtemp(dir));
    reports = calloc(REPORTS_MAX, sizeof *reports);
    assert_non_null(reports);
    ky_ledger *l = open_dir(dir, true);
    assert_non_null(l);
    assert_int_equal(ky_ledger_epoch_begin(l, 1, NULL), KY_OK);
    ky_ledger_close(l);
    srand((unsigned)time(NULL));
    uint64_t killed_with_reports = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_run(dir, p[1], (unsigned)rand());
        }
        close(p[1]);
        struct timespec d = {0, (long)(rand() % 40) * 1000000L + rand() % 1000000};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        size_t before = report_count;
        drain(p[0]);
        close(p[0]);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL); /* not a child error */
        if (report_count > before) killed_with_reports++;
        l = open_dir(dir, false);
        assert_non_null(l);
        check_reports(l);
        ky_verify_report rep;
        assert_int_equal(ky_verify_range(l, 1, 0, NULL, NULL, &rep), KY_OK);
        if (rep.first_bad_seq != 0) fail_msg("round %d: verify: %s", round, rep.reason);
        bool equal = false;
        assert_int_equal(ky_ledger_reindex(l, true, &equal, NULL, NULL), KY_OK);
        assert_true(equal);
        ky_ledger_close(l);
    }
    printf("crash rounds: %d, rounds with acknowledged entries: %" PRIu64 ", entries: %zu\n",
           ROUNDS, killed_with_reports, report_count);
    assert_true(killed_with_reports > ROUNDS / 4); /* the test actually exercised appends */
    free(reports);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_sigkill_rounds)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
