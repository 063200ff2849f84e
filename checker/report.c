#include <config.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "check.h"

static const char *status_name(int status)
{
    switch (status) {
    case EMBSYNC_OK: return "OK";
    case EMBSYNC_RETRY: return "RETRY";
    case EMBSYNC_ITEM_FAILED: return "ITEM_FAILED";
    case EMBSYNC_FAILED: return "FAILED";
    case EMBSYNC_FATAL: return "FATAL";
    case EMBSYNC_SKIP: return "SKIP";
    default: return "an unknown status";
    }
}

const char *pc_outcome(int status)
{
    static __thread char buf[1200];
    const char *why = es_call_error();
    if (*why)
        snprintf(buf, sizeof buf, "%s: %s", status_name(status), why);
    else
        snprintf(buf, sizeof buf, "%s (%d), no reason given",
                 status_name(status), status);
    return buf;
}

/* Results go to stdout, one line each, flushed so that a crash in the
 * plugin still leaves every earlier verdict on screen.  A skip is an "ok"
 * in TAP, with the reason as its directive. */
typedef enum { PASS, FAIL, SKIP } verdict;

static void report(pc_report *r, verdict v, const char *name, const char *fmt,
                   va_list ap)
{
    char text[1024];
    vsnprintf(text, sizeof text, fmt, ap);
    unsigned n = r->passed + r->failed + r->skipped + 1;
    if (v == PASS)
        r->passed++;
    else if (v == FAIL)
        r->failed++;
    else
        r->skipped++;
    static const char *const table[] = {"pass", "FAIL", "skip"};
    if (!r->tap)
        printf("%s  %-28s %s\n", table[v], name, text);
    else if (v == SKIP)
        printf("ok %u - %s # SKIP %s\n", n, name, text);
    else
        printf("%s %u - %s: %s\n", v == PASS ? "ok" : "not ok", n, name, text);
    fflush(stdout);
}

void pc_pass(pc_report *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, PASS, name, fmt, ap);
    va_end(ap);
}

int pc_fail(pc_report *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, FAIL, name, fmt, ap);
    va_end(ap);
    return 0;
}

void pc_skip(pc_report *r, const char *name, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(r, SKIP, name, fmt, ap);
    va_end(ap);
}

/* splitmix64: small, fast, and the same sequence on every machine. */
uint64_t pc_rand(uint64_t *seed)
{
    uint64_t z = (*seed += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void pc_unit_vector(uint64_t *seed, float *v, uint32_t dim)
{
    double norm = 0;
    for (uint32_t i = 0; i < dim; i++) {
        v[i] = (float)((double)(pc_rand(seed) >> 11) / 9007199254740992.0 -
                       0.5);
        norm += (double)v[i] * v[i];
    }
    norm = sqrt(norm);
    for (uint32_t i = 0; i < dim; i++)
        v[i] = (float)(v[i] / norm);
}
