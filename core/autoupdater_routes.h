/* The original Embeddings Auto-Updater's HTTP routes, with its paths,
 * status codes and JSON shapes (docs/MIGRATING.md,
 * section 4), on a listener of their own beside the control port: both
 * have a GET /health, in different shapes. */
#ifndef ES_AUTOUPDATER_ROUTES_H
#define ES_AUTOUPDATER_ROUTES_H

#include <stddef.h>

typedef struct es_autoupdater es_autoupdater;
struct es_daemon;

/** Listen on `listen` ("HOST:PORT").  Every route needs `Authorization:
 *  Bearer TOKEN` (the control token; refused to start without one) unless
 *  `without_token` is set, which serves them to anyone who can connect, as
 *  the original did, and says so in the log.  NULL with the reason in err. */
es_autoupdater *es_autoupdater_start(struct es_daemon *d, const char *listen,
                                     const char *token, int without_token,
                                     char *err, size_t errlen);

void es_autoupdater_stop(es_autoupdater *a);

#endif
