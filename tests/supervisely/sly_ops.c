/* One operation of the supervisely source, as the engine would call it,
 * for the shell tests that check what a single call does against the
 * emulator:
 *
 *   sly_ops STATE_DIR KEY=VALUE... -- list
 *   sly_ops STATE_DIR KEY=VALUE... -- exists PROJECT ID...   one 0/1 per id
 *   sly_ops STATE_DIR KEY=VALUE... -- items PROJECT          id<TAB>version<TAB>payload
 *   sly_ops STATE_DIR KEY=VALUE... -- begin-reset PROJECT    list, begin, reset, exit
 *
 * begin-reset exits without end(): the process stops as a kill between the
 * reset and the end of the run would stop it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "log.h"
#include "module.h"

static int print_name(void *arg, const char *name)
{
    (void)arg;
    printf("%s\n", name);
    return 0;
}

static int print_items(embsync_change_sink *sink, const embsync_change *c, size_t n)
{
    (void)sink;
    for (size_t i = 0; i < n; i++)
        printf("%llu\t%s\t%s\n", (unsigned long long)c[i].id,
               c[i].version ? c[i].version : "", c[i].payload ? c[i].payload : "{}");
    return EMBSYNC_OK;
}

static int fail(const char *what, int rc)
{
    fprintf(stderr, "sly_ops: %s: status %d: %s\n", what, rc, es_call_error());
    return 1;
}

int main(int argc, char **argv)
{
    int sep = 1;
    while (sep < argc && strcmp(argv[sep], "--") != 0)
        sep++;
    if (argc < 3 || sep + 1 >= argc) {
        fprintf(stderr, "usage: sly_ops STATE_DIR KEY=VALUE... -- OP [ARGS]\n");
        return 2;
    }
    es_log_configure(EMBSYNC_LOG_WARNING, ES_LOG_TEXT);
    es_entry entries[32];
    size_t n = 0;
    for (int i = 2; i < sep && n < 32; i++) {
        char *eq = strchr(argv[i], '=');
        if (eq == NULL)
            return 2;
        *eq = '\0';
        entries[n++] = (es_entry){.key = argv[i], .value = eq + 1, .line = i};
    }
    char err[1024], dir[4096];
    snprintf(dir, sizeof dir, "%s/plugins", getenv("top_builddir") ? getenv("top_builddir") : ".");
    es_modules_init();
    es_module *mod = es_module_load(dir, "supervisely", EMBSYNC_KIND_SOURCE, err, sizeof err);
    if (mod == NULL) {
        fprintf(stderr, "sly_ops: %s\n", err);
        return 1;
    }
    es_section sec = {.name = "source", .plugin = "supervisely", .line = 1,
                      .entries = entries, .n_entries = n};
    es_config cfg = {.path = "sly_ops", .state_dir = argv[1]};
    es_instance *inst = es_instance_open(mod, &cfg, &sec, NULL, err, sizeof err);
    if (inst == NULL) {
        fprintf(stderr, "sly_ops: %s\n", err);
        return 1;
    }
    const embsync_source_ops *ops = &mod->ops.source;
    const char *op = argv[sep + 1], *project = sep + 2 < argc ? argv[sep + 2] : "0";
    int rc, status = 0;
    es_call_begin();
    if (strcmp(op, "list") == 0) {
        if ((rc = ops->list_collections(inst->state, print_name, NULL)) != EMBSYNC_OK)
            status = fail("list", rc);
    } else if (strcmp(op, "exists") == 0) {
        size_t m = (size_t)(argc - sep - 3);
        embsync_change *items = calloc(m + 1, sizeof *items);
        int *present = calloc(m + 1, sizeof *present);
        for (size_t i = 0; i < m; i++)
            items[i] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                        .id = strtoull(argv[sep + 3 + (int)i], NULL, 10)};
        if ((rc = ops->exists(inst->state, project, m, items, present)) != EMBSYNC_OK)
            status = fail("exists", rc);
        for (size_t i = 0; status == 0 && i < m; i++)
            printf("%d\n", present[i]);
        free(items);
        free(present);
    } else if (strcmp(op, "items") == 0) {
        embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                    .emit = print_items};
        if ((rc = ops->items(inst->state, project, &sink)) != EMBSYNC_OK)
            status = fail("items", rc);
    } else if (strcmp(op, "begin-reset") == 0) {
        if ((rc = ops->list_collections(inst->state, print_name, NULL)) != EMBSYNC_OK)
            status = fail("list", rc);
        else if ((rc = ops->begin(inst->state, project)) != EMBSYNC_OK)
            status = fail("begin", rc);
        else if ((rc = ops->reset(inst->state, project)) != EMBSYNC_OK)
            status = fail("reset", rc);
        else
            _Exit(0); /* no end(), no close(): as a kill */
    } else {
        fprintf(stderr, "sly_ops: unknown operation %s\n", op);
        status = 2;
    }
    es_instance_close(inst);
    es_module_unload(mod);
    es_modules_exit();
    return status;
}
