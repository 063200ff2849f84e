/* `embsync status`: what the state directory says about each collection. */
#include <config.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "ledger.h"
#include "rebuild.h"
#include "reconcile.h"
#include "status.h"

#define TOP_REASONS 3
#define OLDEST_ENTRIES 5

static void format_age(int64_t when, char *out, size_t len)
{
    if (when <= 0) {
        snprintf(out, len, "never");
        return;
    }
    int64_t age = (int64_t)time(NULL) - when;
    if (age < 120)
        snprintf(out, len, "%" PRId64 " s ago", age);
    else if (age < 7200)
        snprintf(out, len, "%" PRId64 " min ago", age / 60);
    else if (age < 172800)
        snprintf(out, len, "%" PRId64 " h ago", age / 3600);
    else
        snprintf(out, len, "%" PRId64 " days ago", age / 86400);
}

static const char *status_word(int status)
{
    static const char *const words[] = {"ok", "retry", "item failed",
                                        "failed", "fatal", "skipped"};
    return status >= 0 && status <= 5 ? words[status] : "?";
}

typedef struct reason_count {
    const char *reason;
    size_t n;
} reason_count;

static int by_count(const void *a, const void *b)
{
    const reason_count *x = a, *y = b;
    return x->n < y->n ? 1 : x->n > y->n ? -1 : strcmp(x->reason, y->reason);
}

static int by_first_failed(const void *a, const void *b)
{
    const es_ledger_entry *x = a, *y = b;
    return x->first_failed < y->first_failed ? -1
           : x->first_failed > y->first_failed;
}

static void print_ledger(const char *state_dir, const char *collection)
{
    es_ledger l;
    if (es_ledger_open(&l, state_dir, collection) != 0 || l.n == 0) {
        es_ledger_close(&l);
        return;
    }
    reason_count *counts = calloc(l.n, sizeof *counts);
    es_ledger_entry *sorted = malloc(l.n * sizeof *sorted);
    size_t distinct = 0;
    for (size_t i = 0; counts && sorted && i < l.n; i++) {
        sorted[i] = l.entries[i];
        size_t k = 0;
        while (k < distinct && strcmp(counts[k].reason, l.entries[i].reason))
            k++;
        if (k == distinct)
            counts[distinct++].reason = l.entries[i].reason;
        counts[k].n++;
    }
    if (counts != NULL && sorted != NULL) {
        qsort(counts, distinct, sizeof *counts, by_count);
        printf("  top reasons:\n");
        for (size_t k = 0; k < distinct && k < TOP_REASONS; k++)
            printf("    %5zu  %s\n", counts[k].n, counts[k].reason);
        qsort(sorted, l.n, sizeof *sorted, by_first_failed);
        printf("  oldest failed items:\n");
        for (size_t i = 0; i < l.n && i < OLDEST_ENTRIES; i++) {
            char first[32], next[32];
            format_age(sorted[i].first_failed, first, sizeof first);
            time_t t = (time_t)sorted[i].next_attempt;
            struct tm tm;
            gmtime_r(&t, &tm);
            strftime(next, sizeof next, "%Y-%m-%dT%H:%M:%SZ", &tm);
            printf("    %" PRIu64 "%s%s%s  %s, %u attempt(s), first %s, next %s: %s\n",
                   sorted[i].id, *sorted[i].ref ? " (" : "", sorted[i].ref,
                   *sorted[i].ref ? ")" : "", sorted[i].step,
                   sorted[i].attempts, first, next, sorted[i].reason);
        }
    }
    free(counts);
    free(sorted);
    es_ledger_close(&l);
}

/* A rebuild beside the live collection in flight, as its record says. */
static void print_rebuild(const char *state_dir, const char *collection)
{
    es_rebuild_record rec;
    if (es_rebuild_record_load(state_dir, collection, &rec) != 1)
        return;
    char started[32];
    format_age(rec.started, started, sizeof started);
    printf("  rebuild:        into %s for %s, %s, started %s: %" PRIu64
           " of about %" PRIu64 " items stored (as last recorded); searches answer from %s "
           "until the switch\n",
           rec.shadow, rec.identity,
           rec.phase == ES_REBUILD_SWITCHED ? "switched, old collection "
                                              "still to drop"
                                            : "filling",
           started, rec.done, rec.total,
           rec.phase == ES_REBUILD_SWITCHED ? rec.shadow : rec.old);
}

static void print_collection(const es_collection_status *s, void *arg)
{
    const char *state_dir = arg;
    char success[32], run[32];
    format_age(s->last_success, success, sizeof success);
    format_age(s->last_run_end, run, sizeof run);
    printf("%s\n", s->name);
    printf("  last run:       %s, %s (%.2f s): %" PRIu64 " embedded, %" PRIu64
           " deleted\n",
           run, status_word(s->last_status), s->seconds, s->embedded,
           s->deleted);
    if (s->last_status != 0 && s->last_error[0] != '\0')
        printf("  last error:     %s\n", s->last_error);
    printf("  last success:   %s\n", success);
    printf("  pending:        %" PRIu64 " (deferred %" PRIu64
           ", waiting for retry %" PRIu64 ")\n",
           s->deferred + s->waiting, s->deferred, s->waiting);
    printf("  failed:         %" PRIu64 " in the ledger\n", s->ledger_size);
    print_rebuild(state_dir, s->name);
    es_reconcile_print_status(state_dir, s->name);
    print_ledger(state_dir, s->name);
}

int es_cmd_status(es_app *app, const es_options *opt)
{
    (void)opt;
    int n = es_status_each(app->cfg.state_dir, print_collection,
                           app->cfg.state_dir);
    if (n < 0) {
        fprintf(stderr, "embsync status: cannot read %s\n", app->cfg.state_dir);
        return ES_EXIT_FAILED;
    }
    if (n == 0)
        printf("no collection has been synced yet (state in %s)\n",
               app->cfg.state_dir);
    return ES_EXIT_OK;
}
