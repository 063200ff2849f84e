#include <config.h>

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "log.h"
#include "signals.h"

static pthread_mutex_t hooks_lock = PTHREAD_MUTEX_INITIALIZER;
static es_signal_hook stop_hook, reload_hook;
static void *hook_arg;

void es_signals_set_hooks(es_signal_hook on_stop, es_signal_hook on_reload,
                          void *arg)
{
    pthread_mutex_lock(&hooks_lock);
    stop_hook = on_stop;
    reload_hook = on_reload;
    hook_arg = arg;
    pthread_mutex_unlock(&hooks_lock);
}

/* The hook runs with the lock held, so that once es_signals_set_hooks()
 * has returned no call of an earlier hook is still in flight: the caller
 * may then free what the hook's argument points to.  Hooks are short and
 * never set hooks themselves. */
static void call(es_signal_hook *hook)
{
    pthread_mutex_lock(&hooks_lock);
    if (*hook != NULL)
        (*hook)(hook_arg);
    pthread_mutex_unlock(&hooks_lock);
}

/* Signals are taken synchronously by one thread (sigwait), so the hooks can
 * use ordinary locks and condition variables. */
static void *signal_thread(void *unused)
{
    (void)unused;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    int stops = 0;
    for (;;) {
        int sig;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            pthread_mutex_lock(&hooks_lock);
            int can_reload = reload_hook != NULL;
            pthread_mutex_unlock(&hooks_lock);
            if (can_reload) {
                es_info("SIGHUP: reloading the configuration after the pass in flight");
                call(&reload_hook);
            } else {
                es_info("SIGHUP ignored: only `embsync run` reloads");
            }
        } else if (++stops == 1) {
            es_info("%s: stopping after the batch in flight (again to exit now)",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
            call(&stop_hook);
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

int es_signals_start(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Every thread created from here on inherits the mask. */
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
        return -1;
    signal(SIGPIPE, SIG_IGN);
    pthread_t t;
    if (pthread_create(&t, NULL, signal_thread, NULL) != 0)
        return -1;
    pthread_detach(t);
    return 0;
}
