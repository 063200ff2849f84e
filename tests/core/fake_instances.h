/* Plugins loaded from their descriptors and opened as instances, the way
 * the app does from an INI file, for the core's unit tests. */
#ifndef FAKE_INSTANCES_H
#define FAKE_INSTANCES_H

#include <embsync/plugin.h>

#include "configfile.h"
#include "host.h"
#include "module.h"
#include "stop.h"

/** Initialise *stop, then load descs[i] as a module of kinds[i] (NULL:
 *  source, embedder, store) and open it with cfg, for i < 3; fails the
 *  test when one cannot be. */
void fake_instances_open(const embsync_plugin *const descs[3],
                         const int kinds[3], es_config *cfg, es_stop *stop,
                         es_module *modules[3], es_instance *instances[3]);

/** Close and unload what fake_instances_open() made, and destroy *stop. */
void fake_instances_close(es_module *modules[3], es_instance *instances[3],
                          es_stop *stop);

#endif
