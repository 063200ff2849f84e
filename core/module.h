/* Loading plugin modules and checking them against the v1 ABI. */
#ifndef ES_MODULE_H
#define ES_MODULE_H

#include <stddef.h>

#include <embsync/plugin.h>

/** A loaded, checked module.  The descriptor and its ops table are the
 *  host's own zero-padded copies: members a plugin built against an older
 *  minor does not know read as zero/NULL. */
typedef struct es_module {
    void *handle;         /* lt_dlhandle, NULL for an in-process descriptor */
    char *origin;         /* the file it came from */
    embsync_plugin desc;
    union {
        embsync_source_ops source;
        embsync_embedder_ops embedder;
        embsync_store_ops store;
    } ops;
} es_module;

/** Name of a kind ("source", …), or "unknown". */
const char *es_kind_name(int kind);

/** Load the module `name` (a short name searched in the colon-separated
 *  `search_path`, or a path containing '/') and check that it is a valid
 *  plugin of `expected_kind` (0 = any).  On refusal returns NULL with one
 *  line in err naming the file and the reason. */
es_module *es_module_load(const char *search_path, const char *name,
                          int expected_kind, char *err, size_t errlen);

/** The same checks for a descriptor already in the process (tests, static
 *  plugins); origin names it in messages. */
es_module *es_module_from_descriptor(const embsync_plugin *desc,
                                     const char *origin, int expected_kind,
                                     char *err, size_t errlen);

void es_module_unload(es_module *m);

/** Start and stop libltdl; es_module_load needs it. */
int es_modules_init(void);
void es_modules_exit(void);

#endif
