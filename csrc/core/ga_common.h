/* ga_common.h - status codes and error messages shared by the whole C core.
 *
 * C functions never abort and never print: they return a ga_status and, on
 * failure, write a one-line message into a caller-owned ga_error.  The Python
 * binding layer (py_*.c) turns that pair into an exception.
 */
#ifndef GA_COMMON_H
#define GA_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    GA_OK = 0,
    GA_ERR_FORMAT,      /* the file's bytes are malformed or hostile  -> ModelFormatError */
    GA_ERR_UNSUPPORTED, /* well-formed but not handled (type, arch)   -> gemma_accel.Error */
    GA_ERR_ARG,         /* bad argument from the caller               -> ValueError */
    GA_ERR_NOMEM,       /* allocation failed                          -> MemoryError */
    GA_ERR_IO,          /* operating-system error                     -> OSError */
    GA_ERR_INTERRUPT,   /* stopped by a signal (Ctrl-C)               -> KeyboardInterrupt */
    GA_ERR_DEVICE,      /* the accelerator failed or was lost         -> gemma_accel.DeviceError */
    GA_ERR_DEVICE_MEMORY, /* the accelerator's memory is too small    -> gemma_accel.DeviceMemoryError */
} ga_status;

typedef struct {
    char msg[512];
} ga_error;

/* Formats the message into err (if non-NULL) and returns status. */
ga_status ga_fail(ga_error *err, ga_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Overflow-checked size arithmetic: return 0 and set *out on success, 1 on overflow. */
static inline int ga_mul_overflow(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int ga_add_overflow(uint64_t a, uint64_t b, uint64_t *out) {
    return __builtin_add_overflow(a, b, out);
}

#define GA_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uint64_t)(a) - 1))

#endif
