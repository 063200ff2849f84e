/* A fake host for the fuzz harnesses: every HTTP request a plugin makes is
 * answered with the next part of the fuzz input.
 *
 * Input layout: parts separated by NUL bytes (JSON never holds one).  The
 * first byte of a part picks the answer's status (mostly 200, sometimes an
 * error or no answer at all), the rest is the body.  Requests take the
 * parts in turn and start over at the first when they run out; after
 * FUZZ_MAX_REQUESTS requests every request fails, so a plugin that pages
 * forever on a hostile answer shows up as a timeout, not a hang. */
#ifndef FUZZ_HOST_H
#define FUZZ_HOST_H

#include <stddef.h>
#include <stdint.h>

#include <embsync/plugin.h>

#define FUZZ_MAX_REQUESTS 256

typedef struct fuzz_setting {
    const char *key;
    const char *value;
} fuzz_setting;

/** The host table the harnesses pass to open(). */
extern const embsync_host fuzz_host;

/** The context to pass to open(). */
embsync_ctx *fuzz_ctx(void);

/** Set what config_get() answers: settings first, then the defaults the
 *  plugin declares.  settings ends with a NULL key; both stay borrowed. */
void fuzz_host_configure(const embsync_plugin *plugin,
                         const fuzz_setting *settings);

/** Use data as the answers for the requests to come, with a clean state
 *  directory.  data stays borrowed until the next call. */
void fuzz_host_input(const uint8_t *data, size_t size);

#endif
