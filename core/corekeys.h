/* The [core] keys as the documentation describes them: the same shape as a
 * plugin's key table, so embsync.ini(5) is generated from one kind of
 * source.  tests/core/test_config.c checks that it names exactly the keys
 * the parser accepts. */
#ifndef ES_COREKEYS_H
#define ES_COREKEYS_H

#include <embsync/plugin.h>

/** NULL-name-terminated. */
extern const embsync_config_key es_core_keys[];

#endif
