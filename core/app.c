#include <config.h>

#include "app.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugin_list.h"

void es_app_init(es_app *app)
{
    memset(app, 0, sizeof *app);
    es_stop_init(&app->stop);
}

/* A section's keys are checked against what its plugin declares here, at
 * load, so an unknown or empty key is a configuration error like any other
 * (exit 2, and a reload refuses it) rather than a failure to open later. */
static int validate_sections(es_app *app, char *err, size_t errlen)
{
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        const es_module *m = es_app_module(app, kind);
        es_plugin_config pc;
        if (es_plugin_config_build(&app->cfg, es_config_section(&app->cfg, kind),
                                   m->desc.config_keys, m->desc.config_key_size,
                                   &pc, err, errlen) != 0)
            return -1;
        es_plugin_config_free(&pc);
    }
    return 0;
}

int es_app_load(es_app *app, const char *config_path, char *err, size_t errlen)
{
    if (es_config_load(config_path, &app->cfg, err, errlen) != 0)
        return -1;
    es_log_configure(app->cfg.log_level, (es_log_format)app->cfg.log_format);
    if (es_modules_init() != 0) {
        snprintf(err, errlen, "cannot initialise libltdl");
        return -1;
    }
    app->modules_ready = 1;
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        const es_section *sec = es_config_section(&app->cfg, kind);
        char why[1024];
        es_module *m = es_module_load(app->cfg.plugin_path, sec->plugin, kind,
                                      why, sizeof why);
        if (m == NULL) {
            char exist[512] = "", guess[128] = "";
            if (strchr(sec->plugin, '/') == NULL && strstr(why, "cannot load") != NULL)
                es_plugins_available(app->cfg.plugin_path, kind, sec->plugin,
                                     exist, sizeof exist, guess, sizeof guess);
            snprintf(err, errlen, "%s:%d: [%s] plugin = %s: %s%s%s%s%s%s%s%s",
                     app->cfg.path, sec->plugin_line ? sec->plugin_line : sec->line,
                     sec->name, sec->plugin, why,
                     *guess ? "; did you mean " : "", guess, *guess ? "?" : "",
                     *exist ? "; " : "", *exist ? es_kind_name(kind) : "",
                     *exist ? " plugins there: " : "", exist);
            return -1;
        }
        app->modules[kind - 1] = m;
    }
    return validate_sections(app, err, errlen);
}

int es_app_open(es_app *app, int kind, char *err, size_t errlen)
{
    if (es_app_instance(app, kind) != NULL)
        return 0;
    es_instance *inst = es_instance_open(es_app_module(app, kind), &app->cfg,
                                         es_config_section(&app->cfg, kind),
                                         &app->stop, err, errlen);
    if (inst == NULL)
        return -1;
    app->instances[kind - 1] = inst;
    return 0;
}

int es_app_open_all(es_app *app, char *err, size_t errlen)
{
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++)
        if (es_app_open(app, kind, err, errlen) != 0)
            return -1;
    return 0;
}

void es_app_close(es_app *app)
{
    for (int i = 2; i >= 0; i--) {
        es_instance_close(app->instances[i]);
        app->instances[i] = NULL;
    }
    for (int i = 0; i < 3; i++) {
        es_module_unload(app->modules[i]);
        app->modules[i] = NULL;
    }
    /* libltdl counts init/exit pairs; an unmatched exit would unload the
     * modules another app (a reload's predecessor) still runs. */
    if (app->modules_ready)
        es_modules_exit();
    app->modules_ready = 0;
    es_config_free(&app->cfg);
    es_stop_destroy(&app->stop);
}

int es_app_engine_init(es_app *app, es_engine *e)
{
    char err[1024];
    if (es_engine_init(e, es_app_instance(app, EMBSYNC_KIND_SOURCE),
                       es_app_instance(app, EMBSYNC_KIND_EMBEDDER),
                       es_app_instance(app, EMBSYNC_KIND_STORE),
                       (size_t)app->cfg.batch_size, &app->stop, err,
                       sizeof err) != EMBSYNC_OK) {
        es_error("%s", err);
        es_engine_destroy(e);
        return -1;
    }
    e->state_dir = app->cfg.state_dir;
    e->rebuild_in_place = !app->cfg.rebuild_beside;
    e->shard = app->cfg.shard;
    const char *pipeline = getenv("EMBSYNC_PIPELINE");
    e->sequential = pipeline != NULL && strcmp(pipeline, "sequential") == 0;
    if (e->sequential)
        es_warn("EMBSYNC_PIPELINE=sequential: one stage at a time, for "
                "comparison only (slower)");
    return 0;
}
