/* Plugin instances and the host table they are given. */
#ifndef ES_HOST_H
#define ES_HOST_H

#include <pthread.h>
#include <stddef.h>

#include <embsync/plugin.h>

#include "configfile.h"
#include "module.h"
#include "stop.h"

/** The host's side of one plugin instance; plugins see it as embsync_ctx. */
struct embsync_ctx {
    const es_module *module;
    es_plugin_config config;
    char *state_root;     /* the core's state_dir */
    char *state_dir;      /* state_root/<kind>-<name>, made on demand */
    es_stop *stop;
    pthread_mutex_t state_dir_lock;
};

/** An open plugin: module + context + the plugin's opaque state. */
typedef struct es_instance {
    const es_module *module;
    embsync_ctx ctx;
    void *state;
    /* Serialises the calls the threading contract says the host
     * serialises; taken by core/calls.c, which says which and why.
     * Exclusive for those calls; shared by an embedder's embed_images()
     * calls when it accepts several at once. */
    pthread_rwlock_t call_lock;
    /* An embedder's model_info.concurrent_calls (ABI 1.4), as its last
     * info() said; 0 for a plugin built against an older minor.  Atomic:
     * embed_images() reads it to choose its side of call_lock. */
    unsigned concurrent_calls;
} es_instance;

/** The host table handed to every plugin. */
extern const embsync_host es_host_table;

/** Validate `sec` against the module's keys and open an instance.  On
 *  failure returns NULL with a one-line reason in err. */
es_instance *es_instance_open(const es_module *m, const es_config *cfg,
                              const es_section *sec, es_stop *stop, char *err,
                              size_t errlen);

void es_instance_close(es_instance *inst);

/** Run a plugin call's bookkeeping: before the call, clear the calling
 *  thread's error slot; after, fetch what the plugin reported. */
void es_call_begin(void);

/** The text given by the plugin's last set_error on this thread ("" if
 *  none), and its retry-after. */
const char *es_call_error(void);
double es_call_retry_after(void);

/** Report a reason of the host's own for the call in flight on this thread
 *  (an operation the plugin lacks), as if the plugin had given it. */
void es_call_fail(const char *fmt, ...) EMBSYNC_PRINTF(1, 2);

/** Per-item reasons: the caller provides `n` slots of `len` bytes each
 *  for the duration of one batch call on this thread (NULL to detach). */
void es_call_item_errors(char *slots, size_t n, size_t len);

#endif
