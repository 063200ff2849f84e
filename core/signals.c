#include <config.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"

/* Signals are taken synchronously by one thread (sigwait), so the stop
 * request can use ordinary locks and condition variables. */
static void *signal_thread(void *arg)
{
    es_app *app = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int stops = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (++stops == 1) {
            es_info("%s: stopping after the batch in flight (again to exit now)",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            es_stop_request(&app->stop);
        } else {
            /* Nothing unstored gets acknowledged: we simply stop. */
            static const char msg[] = "embsync: second signal, exiting now\n";
            ssize_t ignored = write(STDERR_FILENO, msg, sizeof msg - 1);
            (void)ignored;
            _exit(130);
        }
    }
    return NULL;
}

int es_signals_start(es_app *app)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Every thread created from here on inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, app) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}
