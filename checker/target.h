/* embsync-plugin-check: the plugin under test.  Its own file so that the
 * checks (which reopen it) and main.c (which opens it and runs the checks)
 * share it without depending on each other. */
#ifndef PC_TARGET_H
#define PC_TARGET_H

#include <stddef.h>

#include "configfile.h"
#include "host.h"
#include "module.h"
#include "stop.h"

/** The module under test and its open instance, opened as the daemon
 *  opens it: same loader, same config validation, same host table. */
typedef struct pc_target {
    es_module *module;
    es_config cfg;
    es_section *section;   /* the section named after the module's kind */
    es_stop stop;
    es_instance *inst;     /* NULL while closed */
    const char *collection; /* source: the collection to exercise, or NULL */
    size_t max_items;       /* source: most changes to take in one pass */
} pc_target;

/** Close and open the instance again (persistence, restart checks).
 *  Returns 0, or -1 with the reason in err. */
int pc_reopen(pc_target *t, char *err, size_t errlen);

#endif
