// Shortest round-trip float text with {fmt} (Dragonbox).  glibc's
// printf("%.9g") takes a multi-precision path for every value and was half
// of the framework's CPU per image when vectors go to a store as JSON; {fmt}
// is about twenty times cheaper per value and its text is shorter.  Built
// without exceptions or RTTI: a compiled format string cannot fail.
#include "json_floats.h"

#include <math.h>

#include <fmt/compile.h>
#include <fmt/format.h>

#include "embsync/plugin.h"

extern "C" size_t es_json_float_array(const float *v, size_t n, char *out,
                                      size_t out_len)
{
    if (out == nullptr || (n > 0 && v == nullptr) ||
        n > (SIZE_MAX - 3) / EMBSYNC_JSON_FLOAT_MAX ||
        out_len < EMBSYNC_JSON_FLOAT_ARRAY_MAX(n))
        return 0;
    char *at = out;
    *at++ = '[';
    for (size_t i = 0; i < n; i++) {
        // JSON has no NaN or Infinity.
        if (!isfinite(v[i])) {
            out[0] = '\0';
            return 0;
        }
        if (i > 0)
            *at++ = ',';
        // At most 15 characters ("-1.1754944e-38"): the bound above holds.
        at = fmt::format_to(at, FMT_COMPILE("{}"), v[i]);
    }
    *at++ = ']';
    *at = '\0';
    return (size_t)(at - out);
}
