/*
 * log.c — the key=value log line writer (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void ky_log(const char *level, const char *msg, const char *fmt, ...) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[32], tail[1024] = "";
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    if (fmt != NULL && fmt[0] != '\0') {
        va_list ap;
        va_start(ap, fmt);
        tail[0] = ' ';
        vsnprintf(tail + 1, sizeof tail - 1, fmt, ap);
        va_end(ap);
    }
    fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"%s\n", when, ts.tv_nsec / 1000000L, level, msg,
            tail);
}
