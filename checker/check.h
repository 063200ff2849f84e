/* embsync-plugin-check: the conformance runner's shared pieces — the
 * result report, test data, and one entry per kind (the plugin under test
 * is target.h's). */
#ifndef PC_CHECK_H
#define PC_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "target.h"

/** The checks' results, printed as they come. */
typedef struct pc_report {
    int tap;
    unsigned passed, failed, skipped;
} pc_report;

/** One passed check: name and what it established, printf-style. */
void pc_pass(pc_report *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** One failed check: name and why, printf-style.  Returns 0 so that a
 *  check can `return pc_fail(...)`. */
int pc_fail(pc_report *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** A check that does not apply to this plugin, and why (printf-style). */
void pc_skip(pc_report *r, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** "RETRY (backend says …)": a status and the plugin's last set_error
 *  text on this thread, for failure reasons.  Points to a thread-local
 *  buffer valid until the next call. */
const char *pc_outcome(int status);

/** Run every check for the target's kind. */
void pc_check_store(pc_target *t, pc_report *r);
void pc_check_embedder(pc_target *t, pc_report *r);
void pc_check_source(pc_target *t, pc_report *r);

/** Deterministic test data. */
uint64_t pc_rand(uint64_t *seed);
/** A random unit vector of dim floats. */
void pc_unit_vector(uint64_t *seed, float *v, uint32_t dim);

/** A generated test picture (size × size, pattern `n`), encoded as PNG
 *  (even n) or JPEG (odd n).  Returns a malloc'd buffer and its length. */
unsigned char *pc_test_image(unsigned n, int size, size_t *len);

/** An RGBA PNG icon as desktops ship them: black pixels, the shape (n even:
 *  a disc, odd: a bar) only in alpha.  malloc'd; NULL on failure. */
unsigned char *pc_test_icon(unsigned n, int size, size_t *len);

#endif
