/* The qdrant store's list_ids() paging through a million points, as
 * reconciliation will: time, requests, and whether memory stays flat.
 * The plugin is loaded like the daemon loads it, with the real host (curl,
 * retries), against an in-process stand-in for Qdrant's scroll route that
 * computes its answers (ids k * STEP, spread over the whole u64 range), so
 * the figures are the plugin's and the host's, not a server's.
 *
 *   bench_qdrant_ids [POINTS] [PAGE]     (defaults 1000000, 10000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "host.h"
#include "log.h"
#include "module.h"

static uint64_t n_points, step;
static unsigned long requests;

typedef struct upload {
    char body[512];
    size_t len;
} upload;

/* POST .../points/scroll {"offset":O,"limit":L,...}: the ids k * step
 * from the first >= O. */
static char *scroll_answer(const char *body, size_t *len)
{
    const char *o = strstr(body, "\"offset\":"), *l = strstr(body, "\"limit\":");
    uint64_t offset = o ? strtoull(o + 9, NULL, 10) : 0;
    uint64_t limit = l ? strtoull(l + 8, NULL, 10) : 10;
    uint64_t k = offset / step + (offset % step != 0);
    char *text = NULL;
    FILE *fp = open_memstream(&text, len);
    fputs("{\"result\":{\"points\":[", fp);
    uint64_t i = 0;
    for (; i < limit && k + i < n_points; i++)
        fprintf(fp, "%s{\"id\":%" PRIu64 "}", i ? "," : "", (k + i) * step);
    if (k + i < n_points)
        fprintf(fp, "],\"next_page_offset\":%" PRIu64 "}", (k + i) * step);
    else
        fputs("],\"next_page_offset\":null}", fp);
    fputs(",\"status\":\"ok\",\"time\":0.0}", fp);
    fclose(fp);
    return text;
}

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version,
                              const char *data, size_t *data_len, void **state)
{
    (void)cls, (void)version;
    upload *u = *state;
    if (u == NULL) {
        *state = calloc(1, sizeof *u);
        return *state ? MHD_YES : MHD_NO;
    }
    if (*data_len > 0) {
        size_t take = *data_len < sizeof u->body - 1 - u->len ? *data_len
                                                                : sizeof u->body - 1 - u->len;
        memcpy(u->body + u->len, data, take);
        u->len += take;
        *data_len = 0;
        return MHD_YES;
    }
    char *text;
    size_t len;
    unsigned status = 200;
    if (strcmp(method, "POST") == 0 && strstr(url, "/points/scroll") != NULL) {
        requests++;
        text = scroll_answer(u->body, &len);
    } else if (strcmp(url, "/") == 0) {
        text = strdup("{\"title\":\"qdrant - vector search engine\",\"version\":\"1.19.0\"}");
        len = strlen(text);
    } else {
        text = strdup("");
        len = 0;
        status = 404;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static void done(void *cls, struct MHD_Connection *conn, void **state,
                 enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    free(*state);
    *state = NULL;
}

/* Peak resident set so far, in KiB (VmHWM). */
static long peak_kib(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (fp != NULL && fgets(line, sizeof line, fp) != NULL)
        if (sscanf(line, "VmHWM: %ld", &kib) == 1)
            break;
    if (fp != NULL)
        fclose(fp);
    return kib;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Page through everything; returns the ids seen, checking each is exact. */
static uint64_t list_everything(const embsync_store_ops *ops, void *state, size_t page_len,
                                uint64_t *page, uint64_t stop_after)
{
    uint64_t start = 0, seen = 0;
    size_t n;
    for (;;) {
        if (ops->list_ids(state, "b", start, page_len, page, &n) != EMBSYNC_OK) {
            fprintf(stderr, "bench_qdrant_ids: list_ids failed\n");
            exit(1);
        }
        for (size_t i = 0; i < n; i++, seen++)
            if (page[i] != seen * step) {
                fprintf(stderr, "bench_qdrant_ids: id %" PRIu64 " read as %" PRIu64 "\n",
                        seen * step, page[i]);
                exit(1);
            }
        if (n < page_len || seen >= stop_after)
            return seen;
        start = page[n - 1] + 1;
    }
}

int main(int argc, char **argv)
{
    n_points = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    size_t page_len = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
    step = UINT64_MAX / n_points;
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, answer, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
    if (d == NULL)
        return 1;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char url[64], err[1024], dir[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", (unsigned)info->port);
    snprintf(dir, sizeof dir, "%s/plugins", getenv("top_builddir") ? getenv("top_builddir") : ".");

    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    es_modules_init();
    es_module *mod = es_module_load(dir, "qdrant", EMBSYNC_KIND_STORE, err, sizeof err);
    if (mod == NULL) {
        fprintf(stderr, "bench_qdrant_ids: %s\n", err);
        return 1;
    }
    char state_dir[] = "/tmp/es-bench-ids-XXXXXX";
    if (mkdtemp(state_dir) == NULL)
        return 1;
    es_entry entry = {.key = "url", .value = url, .line = 1};
    es_section sec = {.name = "store", .plugin = "qdrant", .line = 1,
                      .entries = &entry, .n_entries = 1};
    es_config cfg = {.path = "bench.ini", .state_dir = state_dir};
    es_instance *inst = es_instance_open(mod, &cfg, &sec, NULL, err, sizeof err);
    if (inst == NULL) {
        fprintf(stderr, "bench_qdrant_ids: %s\n", err);
        return 1;
    }
    const embsync_store_ops *ops = &mod->ops.store;
    uint64_t *page = malloc(page_len * sizeof *page);

    /* One page first, so the figure below excludes what any first call
     * costs (connections, TLS-less curl handles, allocator arenas). */
    list_everything(ops, inst->state, page_len, page, page_len);
    long before = peak_kib();
    unsigned long requests_before = requests;
    double t0 = now();
    uint64_t seen = list_everything(ops, inst->state, page_len, page, UINT64_MAX);
    double secs = now() - t0;
    long after = peak_kib();

    printf("list_ids: %" PRIu64 " ids (all exact, up to %" PRIu64 ") in pages of %zu: "
           "%lu scroll requests, %.2f s, %.0f ids/s\n",
           seen, (n_points - 1) * step, page_len, requests - requests_before, secs,
           (double)seen / secs);
    printf("peak RSS: %ld KiB after the first page, %ld KiB after all %" PRIu64
           " (growth %ld KiB)\n", before, after, seen, after - before);
    free(page);
    es_instance_close(inst);
    es_module_unload(mod);
    es_modules_exit();
    MHD_stop_daemon(d);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", state_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench_qdrant_ids: could not remove %s\n", state_dir);
    return seen == n_points ? 0 : 1;
}
