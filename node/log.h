/*
 * log.h — single-line key=value logs on stderr (journald-friendly, DESIGN §4).
 *
 * Why: operators grep and ship logs; one event per line with fixed keys (ts, level, msg)
 * first. Callers pass the rest as a printf-style "key=value key=value" tail. Secrets never
 * go into a log line. Thread-safe: each line is one fprintf call on an unbuffered stderr.
 */
#ifndef KY_LOG_H
#define KY_LOG_H

#include <stdio.h>

/* ky_log("info", "node started", "port=%d", 7400) prints
 * ts=2026-11-25T10:00:00.123Z level=info msg="node started" port=7400 */
void ky_log(const char *level, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
