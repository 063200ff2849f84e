/* embsync — keeps vector embeddings in sync with the items they describe. */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "http.h"
#include "log.h"
#include "manpage.h"
#include "retry.h"
#include "search_output.h"
#include "signals.h"

typedef struct command {
    const char *name;
    int (*run)(es_app *, const es_options *);
    const char *usage;
    const char *summary;
} command;

static const command commands[] = {
    {"run", es_cmd_run, "run [-c FILE]",
     "run the daemon: a pass at start, then one every interval"},
    {"once", es_cmd_once, "once [-c FILE]",
     "one pass over every collection; exit 1 if any failed"},
    {"reconcile", es_cmd_reconcile,
     "reconcile -c FILE [--collection NAME] [--dry-run]",
     "make the store equal the source: remove orphans, embed what is missing"},
    {"rebuild", es_cmd_rebuild, "rebuild -c FILE --collection NAME",
     "rebuild a collection beside the live one, then switch to it"},
    {"search", es_cmd_search,
     "search [-c FILE] --collection NAME (--image PATH | --text TEXT) [-k N] "
     "[--format text|json|html] [-o FILE]",
     "print the k items nearest to an image or a text"},
    {"plugins", es_cmd_plugins, "plugins [-c FILE] [--man [NAME...]]",
     "list the plugins the configuration loads, with their keys"},
    {"check", es_cmd_check, "check [-c FILE]",
     "validate the configuration and open every plugin, without syncing"},
    {"status", es_cmd_status, "status [-c FILE]",
     "per collection: last success, pending, failed items and why"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

/* Without -c: $EMBSYNC_CONFIG when set, else the installed default. */
static const char *default_config(void)
{
    const char *env = getenv("EMBSYNC_CONFIG");
    return env != NULL && *env != '\0' ? env : ES_DEFAULT_CONFIG;
}

static void print_default_config(FILE *out)
{
    const char *env = getenv("EMBSYNC_CONFIG");
    fprintf(out,
            "                         without -c: $EMBSYNC_CONFIG, else %s\n"
            "                         (now: %s%s)\n",
            ES_DEFAULT_CONFIG, default_config(),
            env != NULL && *env != '\0' ? ", from $EMBSYNC_CONFIG" : "");
}

static void usage(FILE *out, const command *only)
{
    if (only != NULL) {
        fprintf(out, "usage: embsync %s\n  %s\n\n", only->usage, only->summary);
        fprintf(out,
                "options:\n"
                "  -c, --config FILE      the INI configuration\n");
        print_default_config(out);
        if (only->run == es_cmd_search)
            fprintf(out,
                    "      --collection NAME  the collection to search\n"
                    "      --image PATH       query with an image file\n"
                    "      --text TEXT        query with a text (embedders that support it)\n"
                    "  -k N                   number of hits (default 10)\n"
                    "      --format FORMAT    text (default: reference, score, id, payload),\n"
                    "                         json, or html (one page with thumbnails)\n"
                    "  -o, --output FILE      write the results to FILE\n");
        if (only->run == es_cmd_reconcile)
            fprintf(out,
                    "      --collection NAME  only this collection\n"
                    "      --dry-run          report what differs, change nothing\n");
        if (only->run == es_cmd_rebuild)
            fprintf(out,
                    "      --collection NAME  the collection to rebuild\n");
        if (only->run == es_cmd_plugins)
            fprintf(out,
                    "      --man [NAME...]    the keys of [core] and of the modules named\n"
                    "                         (default: all in the plugin path) for\n"
                    "                         embsync.ini(5), in roff\n");
        fprintf(out,
                "  -h, --help             this help\n"
                "  -V, --version          print the version\n");
        return;
    }
    fprintf(out, "usage: embsync COMMAND [-c FILE] [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n");
    print_default_config(out);
    fprintf(out, "\n`embsync COMMAND --help` describes a command's options.\n");
}

static void version(void)
{
    printf("embsync %s (plugin ABI %d.%d)\n", PACKAGE_VERSION,
           EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR);
}

static void stop_app(void *arg)
{
    es_stop_request(&((es_app *)arg)->stop);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr, NULL);
        return ES_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout, NULL);
        return ES_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0) {
        version();
        return ES_EXIT_OK;
    }
    const command *cmd = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            cmd = &commands[i];
    if (cmd == NULL) {
        fprintf(stderr, "embsync: unknown command '%s'\n", argv[1]);
        usage(stderr, NULL);
        return ES_EXIT_USAGE;
    }

    enum { OPT_COLLECTION = 256, OPT_IMAGE, OPT_TEXT, OPT_FORMAT, OPT_DRY_RUN,
           OPT_MAN };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"collection", required_argument, NULL, OPT_COLLECTION},
        {"dry-run", no_argument, NULL, OPT_DRY_RUN},
        {"image", required_argument, NULL, OPT_IMAGE},
        {"text", required_argument, NULL, OPT_TEXT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"output", required_argument, NULL, 'o'},
        {"man", no_argument, NULL, OPT_MAN},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    es_options opt = {.k = 10};
    int search = cmd->run == es_cmd_search;
    int reconcile = cmd->run == es_cmd_reconcile;
    int rebuild = cmd->run == es_cmd_rebuild;
    int c;
    optind = 2;
    while ((c = getopt_long(argc, argv, "c:k:o:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt.config = optarg; break;
        case 'h': usage(stdout, cmd); return ES_EXIT_OK;
        case 'V': version(); return ES_EXIT_OK;
        case 'k':
            if (!search || (opt.k = atoi(optarg)) <= 0) {
                fprintf(stderr, "embsync %s: -k wants a positive number\n",
                        cmd->name);
                return ES_EXIT_USAGE;
            }
            break;
        case OPT_COLLECTION: opt.collection = optarg; break;
        case OPT_DRY_RUN: opt.dry_run = 1; break;
        case OPT_IMAGE: opt.image = optarg; break;
        case OPT_TEXT: opt.text = optarg; break;
        case 'o': opt.output = optarg; break;
        case OPT_FORMAT:
            if ((opt.format = es_search_format_parse(optarg)) < 0) {
                fprintf(stderr, "embsync search: --format is text, json or html, not '%s'\n",
                        optarg);
                return ES_EXIT_USAGE;
            }
            break;
        case OPT_MAN:
            if (cmd->run != es_cmd_plugins) {
                fprintf(stderr, "embsync %s: --man is an option of plugins\n",
                        cmd->name);
                return ES_EXIT_USAGE;
            }
            opt.man = 1;
            break;
        default: usage(stderr, cmd); return ES_EXIT_USAGE;
        }
        if (!search && (c == OPT_IMAGE || c == OPT_TEXT || c == OPT_FORMAT ||
                        c == 'o' ||
                        (c == OPT_COLLECTION && !reconcile && !rebuild))) {
            fprintf(stderr, "embsync %s: option only for search\n", cmd->name);
            return ES_EXIT_USAGE;
        }
        if (!reconcile && c == OPT_DRY_RUN) {
            fprintf(stderr, "embsync %s: option only for reconcile\n",
                    cmd->name);
            return ES_EXIT_USAGE;
        }
    }
    if (optind < argc && !opt.man) {
        fprintf(stderr, "embsync %s: unexpected argument '%s'\n", cmd->name,
                argv[optind]);
        return ES_EXIT_USAGE;
    }
    if (opt.man) {
        /* The installed plugin directory unless -c names another. */
        char err[2048];
        if (es_manpage_keys(stdout, opt.config,
                            (const char *const *)argv + optind,
                            (size_t)(argc - optind), err, sizeof err) != 0) {
            fprintf(stderr, "embsync plugins --man: %s\n", err);
            return ES_EXIT_FAILED;
        }
        return ES_EXIT_OK;
    }
    if (opt.config == NULL)
        opt.config = default_config();
    if (search && (opt.collection == NULL || (opt.image == NULL) == (opt.text == NULL))) {
        fprintf(stderr, "embsync search: needs --collection and one of --image or --text\n");
        return ES_EXIT_USAGE;
    }
    if (rebuild && opt.collection == NULL) {
        fprintf(stderr, "embsync rebuild: needs --collection\n");
        return ES_EXIT_USAGE;
    }

    const char *scale = getenv("EMBSYNC_RETRY_SCALE");
    if (scale != NULL)
        es_retry_set_scale(atof(scale));

    es_app app;
    char err[2048];
    es_app_init(&app);
    if (es_signals_start() != 0 || es_http_global_init() != 0) {
        fprintf(stderr, "embsync: cannot initialise\n");
        return ES_EXIT_FAILED;
    }
    if (es_app_load(&app, opt.config, err, sizeof err) != 0) {
        char clean[2048];
        fprintf(stderr, "%sembsync: %s\n",
                es_log_priority_prefix(EMBSYNC_LOG_ERROR),
                es_redact(err, clean, sizeof clean));
        es_app_close(&app);
        return ES_EXIT_USAGE;
    }
    es_signals_set_hooks(stop_app, NULL, &app);
    int rc = cmd->run(&app, &opt);
    es_signals_set_hooks(NULL, NULL, NULL);
    es_app_close(&app);
    es_http_global_cleanup();
    return rc;
}
