/*
 * status.c — the ky_err <-> wire status mapping, generated from KY_WIRE_STATUS_LIST.
 *
 * Why switch statements: a value or a ky_err that appears twice in the list becomes a
 * duplicate case label, which the compiler rejects, so the mapping cannot silently lose
 * its bijection when someone appends a code (status.h rule 3). Pure; any thread.
 */
#include "status.h"

#include "../common/ky_assert.h"
#include "../common/ky_err.h"

static const uint16_t status_values[] = {
#define KY_WIRE_STATUS_VALUE_(name, value, err) value,
    KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_VALUE_)
#undef KY_WIRE_STATUS_VALUE_
};

#define STATUS_COUNT (sizeof status_values / sizeof status_values[0])

/* Every value fits the u16 field. */
#define KY_WIRE_STATUS_FITS_(name, value, err)                                                     \
    _Static_assert((value) >= 0 && (value) <= 0xFFFF, #name " fits a u16");
KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_FITS_)
#undef KY_WIRE_STATUS_FITS_

uint16_t ky_wire_status_from_err(int code) {
    switch (code) {
#define KY_WIRE_STATUS_FROM_(name, value, err)                                                     \
    case err: return (uint16_t)(value);
        KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_FROM_)
#undef KY_WIRE_STATUS_FROM_
    default: return KY_WIRE_STATUS_INTERNAL;
    }
}

int ky_wire_status_to_err(uint16_t status) {
    switch (status) {
#define KY_WIRE_STATUS_TO_(name, value, err)                                                       \
    case (value): return (err);
        KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_TO_)
#undef KY_WIRE_STATUS_TO_
    default: return KY_E_PROTOCOL;
    }
}

const char *ky_wire_status_name(uint16_t status) {
    switch (status) {
#define KY_WIRE_STATUS_NAME_(name, value, err)                                                     \
    case (value): return #name;
        KY_WIRE_STATUS_LIST(KY_WIRE_STATUS_NAME_)
#undef KY_WIRE_STATUS_NAME_
    default: return "UNKNOWN";
    }
}

size_t ky_wire_status_count(void) {
    return STATUS_COUNT;
}

uint16_t ky_wire_status_at(size_t index) {
    KY_ASSERT(index < STATUS_COUNT);
    return status_values[index];
}
