/* The crash tests' es_crashpoint(): EMBSYNC_CRASH_AT=NAME[:N][,NAME[:N]...]
 * stops the process the Nth time (default 1st) point NAME is passed, for
 * each point listed, with EMBSYNC_CRASH_SIGNAL: KILL by default, TERM (a
 * requested stop), STOP (frozen there until a SIGCONT, for a test to look
 * at the store while the process is in the middle of something), or PAUSE
 * (only the thread passing the point waits, until the file
 * EMBSYNC_CRASH_RESUME_FILE exists: the rest of the process, its control
 * port say, goes on answering). */
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
        const char *resume = getenv("EMBSYNC_CRASH_RESUME_FILE");
        if (sig != NULL && strcmp(sig, "PAUSE") == 0 && resume != NULL) {
            fprintf(stderr, "crash point %s (pass %d): paused until %s\n",
                    name, nth, resume);
            for (int i = 0; i < 1200 && access(resume, F_OK) != 0; i++)
                usleep(50000);
            continue;
        }
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
