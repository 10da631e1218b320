/*
 * ky_err.c — messages and names for the ky_err codes.
 *
 * Why a table: one designated-initializer array indexed by -code keeps every
 * message next to its symbol (generated from KY_ERR_LIST), and a static assert
 * proves the table covers every code. Pure functions; any thread.
 */
#include "ky_err.h"

#include <stddef.h>

static const char *const ky_err_messages[KY_E__COUNT + 1] = {[0] = "KY_OK: success",
#define KY_ERR_MSG_(sym, msg) [sym##__IDX] = #sym ": " msg,
                                                             KY_ERR_LIST(KY_ERR_MSG_)
#undef KY_ERR_MSG_
};

static const char *const ky_err_names[KY_E__COUNT + 1] = {[0] = "KY_OK",
#define KY_ERR_NAME_(sym, msg) [sym##__IDX] = #sym,
                                                          KY_ERR_LIST(KY_ERR_NAME_)
#undef KY_ERR_NAME_
};

_Static_assert(sizeof(ky_err_messages) / sizeof(ky_err_messages[0]) == (size_t)KY_E__COUNT + 1,
               "every ky_err code needs a message");

const char *ky_strerror(int code) {
    if (code > 0 || code < -KY_E__COUNT) return "KY_E_UNKNOWN: unknown error code";
    return ky_err_messages[-code];
}

const char *ky_errname(int code) {
    if (code > 0 || code < -KY_E__COUNT) return "KY_E_UNKNOWN";
    return ky_err_names[-code];
}
