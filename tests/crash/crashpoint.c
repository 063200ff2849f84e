/* The crash tests' es_crashpoint(): EMBSYNC_CRASH_AT=NAME[:N] stops the
 * process the Nth time (default 1st) point NAME is passed, with
 * EMBSYNC_CRASH_SIGNAL (KILL by default, or TERM: a requested stop). */
#include <config.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

static atomic_int passes;

void es_crashpoint(const char *name)
{
    const char *at = getenv("EMBSYNC_CRASH_AT");
    if (at == NULL)
        return;
    size_t len = strcspn(at, ":");
    if (strlen(name) != len || strncmp(at, name, len) != 0)
        return;
    int nth = at[len] == ':' ? atoi(at + len + 1) : 1;
    if (atomic_fetch_add(&passes, 1) + 1 != nth)
        return;
    const char *sig = getenv("EMBSYNC_CRASH_SIGNAL");
    int term = sig != NULL && strcmp(sig, "TERM") == 0;
    fprintf(stderr, "crash point %s (pass %d): SIG%s\n", name, nth,
            term ? "TERM" : "KILL");
    kill(getpid(), term ? SIGTERM : SIGKILL);
}
