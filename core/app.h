/* What every command needs: the configuration, the three plugin modules
 * and, on demand, their open instances. */
#ifndef ES_APP_H
#define ES_APP_H

#include <stddef.h>

#include "configfile.h"
#include "engine.h"
#include "host.h"
#include "module.h"
#include "stop.h"

/** The embsync binary's exit codes. */
enum {
    ES_EXIT_OK = 0,
    ES_EXIT_FAILED = 1,    /* a run, a backend or the system failed */
    ES_EXIT_USAGE = 2      /* the command line or the configuration is wrong */
};

typedef struct es_app {
    es_config cfg;
    es_module *modules[3];      /* indexed by kind - 1 */
    es_instance *instances[3];
    es_stop stop;
    int modules_ready;          /* es_modules_init() succeeded */
} es_app;

/** Prepare an empty app (before signals start watching its stop). */
void es_app_init(es_app *app);

/** Load the config and the three modules; logs configured.  Returns 0, or
 *  -1 with the reason in err. */
int es_app_load(es_app *app, const char *config_path, char *err,
                size_t errlen);

/** Open the instance of `kind` (validating its section); 0 or -1. */
int es_app_open(es_app *app, int kind, char *err, size_t errlen);

/** Open all three. */
int es_app_open_all(es_app *app, char *err, size_t errlen);

void es_app_close(es_app *app);

/** Set up *e over the app's three open instances, its batch size, stop and
 *  state directory; EMBSYNC_PIPELINE=sequential runs one stage at a time
 *  (bench/run compares the two).  The caller hooks up a progress display.
 *  0, or -1 with the reason logged (*e then needs no destroy). */
int es_app_engine_init(es_app *app, es_engine *e);

#define es_app_instance(app, kind) ((app)->instances[(kind) - 1])
#define es_app_module(app, kind) ((app)->modules[(kind) - 1])

#endif
