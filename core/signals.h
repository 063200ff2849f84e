/* SIGINT/SIGTERM (stop after the batch in flight; a second one exits at
 * once) and SIGHUP (reload), delivered to hooks on an ordinary thread. */
#ifndef ES_SIGNALS_H
#define ES_SIGNALS_H

typedef void (*es_signal_hook)(void *arg);

/** Block the signals in every thread and start the thread that takes them.
 *  Call before creating any other thread. */
int es_signals_start(void);

/** What to do on a stop and on a reload (NULL: reload is ignored).  When
 *  it returns, no call of the hooks it replaced is in flight. */
void es_signals_set_hooks(es_signal_hook on_stop, es_signal_hook on_reload,
                          void *arg);

#endif
