/* The subcommands of the embsync binary; each returns an exit code
 * (ES_EXIT_*, app.h). */
#ifndef ES_COMMANDS_H
#define ES_COMMANDS_H

#include "app.h"

/** Options shared by the subcommands. */
typedef struct es_options {
    const char *config;
    const char *collection;
    int dry_run;            /* reconcile: report only */
    const char *image;
    const char *text;
    int k;
    int format;             /* es_search_format */
    const char *output;     /* search: write here instead of stdout */
    int man;              /* plugins --man */
} es_options;

int es_cmd_run(es_app *app, const es_options *opt);
int es_cmd_once(es_app *app, const es_options *opt);
int es_cmd_search(es_app *app, const es_options *opt);
int es_cmd_plugins(es_app *app, const es_options *opt);
int es_cmd_check(es_app *app, const es_options *opt);
int es_cmd_status(es_app *app, const es_options *opt);
int es_cmd_reconcile(es_app *app, const es_options *opt);
int es_cmd_rebuild(es_app *app, const es_options *opt);

#endif
