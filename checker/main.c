/* embsync-plugin-check: load one plugin module exactly as the daemon does
 * and run the conformance checks for its kind.  Meant for plugin authors
 * before they ship, and for CI: every in-tree plugin goes through it. */
/* nftw() is X/Open. */
#define _XOPEN_SOURCE 700
#include <config.h>

#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"
#include "log.h"

static void usage(FILE *to)
{
    fprintf(to,
            "Usage: embsync-plugin-check [OPTIONS] MODULE\n"
            "Load MODULE (a file such as ./myplugin.so, or a plugin name\n"
            "searched in the plugin path) as embsync does, and run the\n"
            "conformance checks for its kind (source, embedder or store).\n"
            "\n"
            "  -c, --config FILE      embsync INI file: the section named after\n"
            "                         the module's kind ([source], [embedder] or\n"
            "                         [store]) supplies its keys; [core] gives\n"
            "                         plugin_path and log_level\n"
            "  -C, --collection NAME  source: the collection to exercise\n"
            "                         (default: the first one listed)\n"
            "  -n, --max-items N      source: take at most N changes in the\n"
            "                         first pass (default 2000)\n"
            "      --state-dir DIR    the plugin's state directory (default: a\n"
            "                         fresh temporary one, removed at exit)\n"
            "      --tap              print TAP instead of a table\n"
            "  -h, --help             this text\n"
            "  -V, --version          print the version\n"
            "\n"
            "A source is exercised for real: changes are fetched and\n"
            "acknowledged.  Point it at test data.  Stores get collections\n"
            "named plugin-check-a and plugin-check-b, dropped at the end.\n"
            "\n"
            "Exit status: 0 when every check passed, 1 when one failed, 2 when\n"
            "the module could not be checked at all.\n");
}

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void check_descriptor(const es_module *m, pc_report *r)
{
    const embsync_plugin *d = &m->desc;
    if (d->name == NULL || d->name[0] == '\0' || strchr(d->name, '/') ||
        strchr(d->name, ' '))
        pc_fail(r, "module/descriptor", "name must be one short word");
    else if (d->version == NULL || d->version[0] == '\0')
        pc_fail(r, "module/descriptor", "version is empty");
    else if (d->description == NULL || d->description[0] == '\0')
        pc_fail(r, "module/descriptor", "description is empty");
    else
        pc_pass(r, "module/descriptor", "name, version and description set");

    if (d->config_keys == NULL) {
        pc_pass(r, "module/config-keys", "no configuration keys");
        return;
    }
    size_t stride = d->config_key_size;
    const char *base = (const char *)d->config_keys;
    size_t n = 0;
    for (;; n++) {
        const embsync_config_key *k =
            (const embsync_config_key *)(const void *)(base + n * stride);
        if (k->name == NULL)
            break;
        const char *why = NULL;
        long long i;
        int b;
        double x;
        if (k->type < EMBSYNC_KEY_STRING || k->type > EMBSYNC_KEY_DOUBLE)
            why = "has no valid type";
        else if (strcmp(k->name, "plugin") == 0)
            why = "is reserved (plugin = NAME picks the module)";
        else if (k->help == NULL || k->help[0] == '\0')
            why = "has no help text";
        else if (k->default_value != NULL &&
                 ((k->type == EMBSYNC_KEY_INT &&
                   es_parse_int(k->default_value, &i) != 0) ||
                  (k->type == EMBSYNC_KEY_BOOL &&
                   es_parse_bool(k->default_value, &b) != 0) ||
                  (k->type == EMBSYNC_KEY_DOUBLE &&
                   es_parse_double(k->default_value, &x) != 0)))
            why = "has a default that does not parse as its type";
        else if ((k->flags & EMBSYNC_KEY_REQUIRED) && k->default_value != NULL)
            why = "is required and has a default";
        for (size_t j = 0; j < n && why == NULL; j++) {
            const embsync_config_key *o =
                (const embsync_config_key *)(const void *)(base + j * stride);
            if (strcmp(o->name, k->name) == 0)
                why = "is declared twice";
        }
        if (why != NULL) {
            pc_fail(r, "module/config-keys", "key \"%s\" %s", k->name, why);
            return;
        }
    }
    pc_pass(r, "module/config-keys",
            "%zu keys, each typed, documented, defaults valid", n);
}

static void check_backend(pc_target *t, pc_report *r)
{
    int (*check)(void *) = NULL;
    switch (t->module->desc.kind) {
    case EMBSYNC_KIND_SOURCE: check = t->module->ops.source.check; break;
    case EMBSYNC_KIND_EMBEDDER: check = t->module->ops.embedder.check; break;
    case EMBSYNC_KIND_STORE: check = t->module->ops.store.check; break;
    }
    if (check == NULL) {
        pc_skip(r, "module/check", "the plugin has no check()");
        return;
    }
    es_call_begin();
    int rc = check(t->inst->state);
    if (rc != EMBSYNC_OK)
        pc_fail(r, "module/check", "check() returned %s", pc_outcome(rc));
    else
        pc_pass(r, "module/check", "the backend answers check()");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"collection", required_argument, NULL, 'C'},
        {"max-items", required_argument, NULL, 'n'},
        {"state-dir", required_argument, NULL, 's'},
        {"tap", no_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *state_dir = NULL;
    pc_target t = {.max_items = 2000};
    pc_report r = {0};
    int opt;
    while ((opt = getopt_long(argc, argv, "c:C:n:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'C': t.collection = optarg; break;
        case 'n': {
            long long n;
            if (es_parse_int(optarg, &n) != 0 || n < 1) {
                fprintf(stderr, "embsync-plugin-check: --max-items: not a "
                                "positive number: %s\n", optarg);
                return 2;
            }
            t.max_items = (size_t)n;
            break;
        }
        case 's': state_dir = optarg; break;
        case 't': r.tap = 1; break;
        case 'h': usage(stdout); return 0;
        case 'V':
            printf("embsync-plugin-check %s (plugin ABI %d.%d)\n",
                   PACKAGE_VERSION, EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR);
            return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    const char *module_name = argv[optind];

    char err[2048];
    if (es_config_parse(config, &t.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "embsync-plugin-check: %s\n", err);
        return 2;
    }
    es_log_configure(config ? t.cfg.log_level : EMBSYNC_LOG_WARNING,
                     (es_log_format)t.cfg.log_format);
    char tmp_state[] = "/tmp/embsync-plugin-check.XXXXXX";
    if (state_dir == NULL && mkdtemp(tmp_state) == NULL) {
        perror("embsync-plugin-check: mkdtemp");
        es_config_free(&t.cfg);
        return 2;
    }
    free(t.cfg.state_dir);
    t.cfg.state_dir = strdup(state_dir ? state_dir : tmp_state);
    es_stop_init(&t.stop);

    int status = 2;
    if (es_http_global_init() != 0 || es_modules_init() != 0) {
        fprintf(stderr, "embsync-plugin-check: cannot initialise libltdl\n");
        goto out;
    }
    t.module = es_module_load(t.cfg.plugin_path, module_name, 0, err,
                              sizeof err);
    if (t.module == NULL) {
        pc_fail(&r, "module/load", "%s", err);
        status = 1;
        goto out_ltdl;
    }
    pc_pass(&r, "module/load", "%s plugin %s %s, ABI %u.%u",
            es_kind_name(t.module->desc.kind), t.module->desc.name,
            t.module->desc.version, t.module->desc.abi.major,
            t.module->desc.abi.minor);
    check_descriptor(t.module, &r);

    t.section = es_config_section(&t.cfg, t.module->desc.kind);
    t.inst = es_instance_open(t.module, &t.cfg, t.section, &t.stop, err,
                              sizeof err);
    if (t.inst == NULL) {
        pc_fail(&r, "module/open", "%s", err);
    } else {
        pc_pass(&r, "module/open", config ? "opened with the config's section"
                                          : "opened with default settings");
        check_backend(&t, &r);
        switch (t.module->desc.kind) {
        case EMBSYNC_KIND_SOURCE: pc_check_source(&t, &r); break;
        case EMBSYNC_KIND_EMBEDDER: pc_check_embedder(&t, &r); break;
        case EMBSYNC_KIND_STORE: pc_check_store(&t, &r); break;
        }
        es_instance_close(t.inst);
    }
    es_module_unload(t.module);
    status = r.failed ? 1 : 0;
out_ltdl:
    es_modules_exit();
out:
    if (r.tap)
        printf("1..%u\n", r.passed + r.failed + r.skipped);
    else
        printf("%u passed, %u failed, %u skipped\n", r.passed, r.failed,
               r.skipped);
    if (state_dir == NULL)
        nftw(tmp_state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    es_stop_destroy(&t.stop);
    es_config_free(&t.cfg);
    es_http_global_cleanup();
    return status;
}
