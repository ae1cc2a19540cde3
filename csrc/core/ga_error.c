/* ga_error.c - formatting of ga_error messages. */
#include <stdarg.h>
#include <stdio.h>

#include "ga_common.h"

ga_status ga_fail(ga_error *err, ga_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return status;
}
