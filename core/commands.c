#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob.h"
#include "calls.h"
#include "clock.h"
#include "commands.h"
#include "daemon.h"
#include "engine.h"
#include "log.h"
#include "probe.h"
#include "progress_display.h"
#include "rebuild.h"
#include "reconcile.h"
#include "search_output.h"
#include "statefile.h"

static int open_all_or_report(es_app *app)
{
    char err[2048];
    if (es_app_open_all(app, err, sizeof err) != 0) {
        es_error("%s", err);
        return -1;
    }
    return 0;
}

int es_cmd_once(es_app *app, const es_options *opt)
{
    (void)opt;
    if (open_all_or_report(app) != 0)
        return ES_EXIT_FAILED;
    es_engine e;
    if (es_app_engine_init(app, &e) != 0)
        return ES_EXIT_FAILED;
    es_progress_display_start(isatty(STDERR_FILENO));
    e.on_progress = es_progress_display_update;
    double start = es_mono_now();
    int failed = es_engine_pass(&e);
    es_progress_display_stop();
    es_engine_destroy(&e);
    if (failed < 0)
        return ES_EXIT_FAILED;
    es_info("pass %s in %.2f s: %d collection(s) failed",
            es_stop_requested(&app->stop) ? "stopped on request" : "finished",
            es_mono_now() - start, failed);
    /* A requested stop is a success: everything stored was acknowledged. */
    return failed == 0 ? ES_EXIT_OK : ES_EXIT_FAILED;
}

int es_cmd_rebuild(es_app *app, const es_options *opt)
{
    if (open_all_or_report(app) != 0)
        return ES_EXIT_FAILED;
    es_engine e;
    if (es_app_engine_init(app, &e) != 0)
        return ES_EXIT_FAILED;
    char why[256];
    if (es_rebuild_unsupported(&e, why, sizeof why) != NULL) {
        es_error("cannot rebuild %s beside the live collection: %s",
                 opt->collection, why);
        es_engine_destroy(&e);
        return ES_EXIT_FAILED;
    }
    es_progress_display_start(isatty(STDERR_FILENO));
    e.on_progress = es_progress_display_update;
    e.force_rebuild = opt->collection;
    es_run_result res;
    int rc = es_engine_sync(&e, opt->collection, &res);
    es_progress_display_stop();
    es_engine_destroy(&e);
    /* A requested stop leaves the rebuild for the next run: not a failure. */
    return rc == EMBSYNC_OK || res.stopped ? ES_EXIT_OK : ES_EXIT_FAILED;
}

int es_cmd_reconcile(es_app *app, const es_options *opt)
{
    if (open_all_or_report(app) != 0)
        return ES_EXIT_FAILED;
    es_engine e;
    if (es_app_engine_init(app, &e) != 0)
        return ES_EXIT_FAILED;
    int failed = es_reconcile_pass(&e, opt->collection, opt->dry_run);
    es_engine_destroy(&e);
    return failed == 0 && !es_stop_requested(&app->stop) ? ES_EXIT_OK
                                                         : ES_EXIT_FAILED;
}

int es_cmd_run(es_app *app, const es_options *opt)
{
    return es_daemon_run(app, opt->config);
}

/* ---- search ------------------------------------------------------------- */

static int read_file(const char *path, embsync_blob *blob)
{
    size_t len;
    char *data = es_read_all(path, &len);
    if (data == NULL)
        return -1;
    es_host_table.blob_set(blob, data, len);
    free(data);
    return 0;
}

int es_cmd_search(es_app *app, const es_options *opt)
{
    char err[2048];
    if (es_app_open(app, EMBSYNC_KIND_EMBEDDER, err, sizeof err) != 0 ||
        es_app_open(app, EMBSYNC_KIND_STORE, err, sizeof err) != 0) {
        es_error("%s", err);
        return ES_EXIT_FAILED;
    }
    es_instance *emb = es_app_instance(app, EMBSYNC_KIND_EMBEDDER);
    es_instance *store = es_app_instance(app, EMBSYNC_KIND_STORE);
    embsync_model_info info = {.abi = EMBSYNC_ABI_INIT(embsync_model_info)};
    if (es_embedder_info(emb, &info) != EMBSYNC_OK || info.dim == 0) {
        es_error("embedder %s: cannot describe its model: %s",
                 emb->module->desc.name, es_call_error());
        return ES_EXIT_FAILED;
    }
    float *vector = calloc(info.dim, sizeof *vector);
    if (vector == NULL)
        return ES_EXIT_FAILED;
    int rc;
    if (opt->text != NULL) {
        if (!(info.flags & EMBSYNC_MODEL_TEXT) ||
            emb->module->ops.embedder.embed_text == NULL) {
            es_error("embedder %s cannot embed text; use --image",
                     emb->module->desc.name);
            free(vector);
            return ES_EXIT_USAGE;
        }
        rc = es_embedder_embed_text(emb, opt->text, vector);
    } else {
        embsync_blob blob;
        es_blob_init(&blob);
        if (read_file(opt->image, &blob) != 0) {
            es_error("%s: %s", opt->image, strerror(errno));
            free(vector);
            return ES_EXIT_FAILED;
        }
        int item = EMBSYNC_OK;
        char reason[256];
        rc = es_embedder_embed_images(emb, 1, &blob, vector, &item, reason,
                                      sizeof reason);
        es_blob_release(&blob);
        if (rc == EMBSYNC_OK && item != EMBSYNC_OK) {
            es_error("%s: %s", opt->image, *reason ? reason : "cannot embed");
            free(vector);
            return ES_EXIT_FAILED;
        }
    }
    if (rc != EMBSYNC_OK) {
        es_error("embedding the query failed: %s", es_call_error());
        free(vector);
        return ES_EXIT_FAILED;
    }
    es_search_results hits = {.collection = opt->collection,
                              .query_image = opt->image,
                              .query_text = opt->text};
    rc = es_store_search(store, opt->collection, vector, (size_t)opt->k,
                         es_search_collect, &hits);
    free(vector);
    if (rc != EMBSYNC_OK || hits.out_of_memory) {
        es_error("search in %s failed: %s", opt->collection,
                 hits.out_of_memory ? "out of memory" : es_call_error());
        es_search_results_free(&hits);
        return ES_EXIT_FAILED;
    }
    rc = es_search_output(app, &hits, opt->format, opt->output);
    es_search_results_free(&hits);
    return rc == 0 ? ES_EXIT_OK : ES_EXIT_FAILED;
}

/* ---- plugins and check -------------------------------------------------- */

static const char *key_type_name(int type)
{
    switch (type) {
    case EMBSYNC_KEY_INT: return "int";
    case EMBSYNC_KEY_BOOL: return "bool";
    case EMBSYNC_KEY_DOUBLE: return "double";
    default: return "string";
    }
}

int es_cmd_plugins(es_app *app, const es_options *opt)
{
    (void)opt;
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        const es_module *m = es_app_module(app, kind);
        printf("%-8s %-14s version %-8s ABI %u.%u  %s\n", es_kind_name(kind),
               m->desc.name, m->desc.version ? m->desc.version : "?",
               m->desc.abi.major, m->desc.abi.minor, m->origin);
        if (m->desc.description != NULL)
            printf("         %s\n", m->desc.description);
        const char *base = (const char *)m->desc.config_keys;
        for (size_t i = 0; base != NULL; i++) {
            const embsync_config_key *k =
                (const embsync_config_key *)(base + i * m->desc.config_key_size);
            if (k->name == NULL)
                break;
            printf("         %-22s %-6s %s%s%s%s\n", k->name,
                   key_type_name(k->type),
                   k->flags & EMBSYNC_KEY_REQUIRED ? "(required) " : "",
                   k->flags & EMBSYNC_KEY_SECRET ? "(secret) " : "",
                   k->help ? k->help : "",
                   k->default_value && !(k->flags & EMBSYNC_KEY_SECRET)
                       ? "" : "");
            if (k->default_value != NULL && !(k->flags & EMBSYNC_KEY_SECRET))
                printf("         %-22s        default: %s\n", "",
                       k->default_value);
        }
    }
    return ES_EXIT_OK;
}

/* Each backend gets one probe of this many seconds (open and check
 * together, one attempt per request), the three at once: unreachable
 * hosts are reported in seconds, not after the retry policy's minutes. */
#define CHECK_PROBE_S 5.0

int es_cmd_check(es_app *app, const es_options *opt)
{
    (void)opt;
    printf("config %s: ok\n", app->cfg.path);
    fflush(stdout);
    es_probe_result res[3];
    int bad = es_probe_backends(app, CHECK_PROBE_S, res);
    char failed[256] = "";
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        const es_probe_result *r = &res[kind - 1];
        const es_module *m = es_app_module(app, kind);
        /* An open failure's message already says what failed ("cannot
         * open: ..." or the file, line and key of a bad setting). */
        if (r->opened && r->rc == EMBSYNC_OK)
            printf("%-8s %s: ok\n", es_kind_name(kind), m->desc.name);
        else
            printf("%-8s %s: %s%s (%.1f s)\n", es_kind_name(kind),
                   m->desc.name, r->opened ? "backend not healthy: " : "",
                   r->message, r->seconds);
        if (!r->opened || r->rc != EMBSYNC_OK) {
            size_t at = strlen(failed);
            snprintf(failed + at, sizeof failed - at, "%s%s %s",
                     at ? ", " : "", es_kind_name(kind), m->desc.name);
        }
    }
    if (bad)
        printf("check: %d of 3 backends failed: %s\n", bad, failed);
    return bad ? ES_EXIT_FAILED : ES_EXIT_OK;
}
