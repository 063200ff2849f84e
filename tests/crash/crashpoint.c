/* The crash tests' es_crashpoint(): EMBSYNC_CRASH_AT=NAME[:N][,NAME[:N]...]
 * stops the process the Nth time (default 1st) point NAME is passed, for
 * each point listed, with EMBSYNC_CRASH_SIGNAL: KILL by default, TERM (a
 * requested stop), or STOP (frozen there until a SIGCONT, for a test to look
 * at the store while the process is in the middle of something). */
#include <config.h>

#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crashpoint.h"

#define MAX_POINTS 8

static atomic_int passes[MAX_POINTS];

void es_crashpoint(const char *name)
{
    const char *at = getenv("EMBSYNC_CRASH_AT");
    for (int k = 0; at != NULL && *at && k < MAX_POINTS; k++) {
        size_t entry = strcspn(at, ",");
        size_t len = strcspn(at, ":,");
        int nth = at[len] == ':' ? atoi(at + len + 1) : 1;
        int match = strlen(name) == len && strncmp(at, name, len) == 0;
        at += entry + (at[entry] == ',');
        if (!match || atomic_fetch_add(&passes[k], 1) + 1 != nth)
            continue;
        const char *sig = getenv("EMBSYNC_CRASH_SIGNAL");
        int signo = SIGKILL;
        const char *signame = "KILL";
        if (sig != NULL && strcmp(sig, "TERM") == 0)
            signo = SIGTERM, signame = "TERM";
        else if (sig != NULL && strcmp(sig, "STOP") == 0)
            signo = SIGSTOP, signame = "STOP";
        fprintf(stderr, "crash point %s (pass %d): SIG%s\n", name, nth, signame);
        kill(getpid(), signo);
    }
}
