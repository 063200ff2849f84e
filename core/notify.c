#include <config.h>

#include "notify.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "log.h"
#include "status.h"

static void notify(const char *state)
{
    /* sd_notify returns 0 when NOTIFY_SOCKET is unset (not a notify
     * service): nothing to report then. */
    int rc = sd_notify(0, state);
    if (rc < 0)
        es_debug("sd_notify(%s): error %d", state, rc);
}

void es_notify_ready(void)
{
    notify("READY=1");
}

void es_notify_reloading(void)
{
    /* systemd 253+ matches RELOADING=1 to the reload request by the
     * monotonic time; older managers ignore the field. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    char state[96];
    snprintf(state, sizeof state, "RELOADING=1\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL +
                 (unsigned long long)ts.tv_nsec / 1000ULL);
    notify(state);
}

void es_notify_stopping(void)
{
    notify("STOPPING=1");
}

void es_notify_status(const char *fmt, ...)
{
    char line[512], clean[512], state[520];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    snprintf(state, sizeof state, "STATUS=%s",
             es_redact(line, clean, sizeof clean));
    notify(state);
}

typedef struct pass_totals {
    int64_t since;
    unsigned collections;
    uint64_t embedded, deleted, failed;
} pass_totals;

static void add_run(const es_collection_status *s, void *arg)
{
    pass_totals *t = arg;
    if (s->last_run_start < t->since)
        return; /* not run by this pass */
    t->collections++;
    t->embedded += s->embedded;
    t->deleted += s->deleted;
    t->failed += s->failed;
}

void es_notify_pass(const char *state_dir, int64_t since, int failed)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
    if (failed < 0) {
        es_notify_status("last pass %s: cannot list the collections", when);
        return;
    }
    pass_totals t = {.since = since};
    es_status_each(state_dir, add_run, &t);
    es_notify_status("last pass %s: %u collection(s), %d failed; %llu "
                     "embedded, %llu deleted, %llu item(s) failed",
                     when, t.collections, failed,
                     (unsigned long long)t.embedded,
                     (unsigned long long)t.deleted,
                     (unsigned long long)t.failed);
}
