/* The original Embeddings Auto-Updater's HTTP routes, with its paths,
 * status codes and JSON shapes (docs/MIGRATING.md, section 4), rendered
 * from the daemon's snapshot through a route table, on a listener of their
 * own beside the control port: both have a GET /health, in different
 * shapes. */
#ifndef ES_AUTOUPDATER_ROUTES_H
#define ES_AUTOUPDATER_ROUTES_H

#include <stddef.h>

#include "control.h"

/** The table: GET /health, POST /stop-embeddings-update/<project_id>,
 *  POST /processing_progress, and the probes every Supervisely app serves
 *  (/livez, /is_alive, /readyz, /is_ready, /is_running). */
extern const es_route es_autoupdater_routes[];
extern const size_t es_autoupdater_n_routes;

/** Serve the table on `listen` ("HOST:PORT").  Every route needs
 *  `Authorization: Bearer TOKEN` (the control token; refused to start
 *  without one) unless `without_token` is set, which serves them to anyone
 *  who can connect, as the original did, and says so in the log.  NULL with
 *  the reason in err. */
es_listener *es_autoupdater_start(const es_daemon_api *d, const char *listen,
                                  const char *token, int without_token,
                                  char *err, size_t errlen);

#endif
