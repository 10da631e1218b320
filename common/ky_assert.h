/*
 * ky_assert.h — assertions that stay on in release builds.
 *
 * Why: a ledger that keeps money records must stop rather than write past a broken
 * invariant (STYLE rule 15). KY_ASSERT reports file:line:function:expression and
 * aborts; KY_DEBUG_ASSERT is for O(n) checks and is compiled only when KY_DEBUG is
 * defined (debug and sanitizer builds). Assertions never have side effects.
 */
#ifndef KY_ASSERT_H
#define KY_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define KY_ASSERT(expr)                                                                            \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            fprintf(stderr, "level=fatal msg=\"assertion failed\" at=%s:%d func=%s expr=\"%s\"\n", \
                    __FILE__, __LINE__, __func__, #expr);                                          \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define KY_BUG(why)                                                                                \
    do {                                                                                           \
        fprintf(stderr, "level=fatal msg=\"bug\" at=%s:%d func=%s why=\"%s\"\n", __FILE__,         \
                __LINE__, __func__, why);                                                          \
        abort();                                                                                   \
    } while (0)

#ifdef KY_DEBUG
#define KY_DEBUG_ASSERT(expr) KY_ASSERT(expr)
#else
#define KY_DEBUG_ASSERT(expr) ((void)0)
#endif

#endif
