/* What each harness needs from the plugin compiled into it. */
#ifndef FUZZ_PLUGIN_H
#define FUZZ_PLUGIN_H

#include <embsync/plugin.h>

#include "fuzz_host.h"

/* The plugin's own entry point (its sources are linked in). */
const embsync_plugin *embsync_plugin_entry(void);

/* From the plugin's settings file: what its section would say, and a
 * collection name to use when the listing yields none. */
extern const fuzz_setting fuzz_settings[];
extern const char fuzz_collection[];

#endif
