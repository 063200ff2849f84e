/* The control port: health, Prometheus metrics, progress, and run and stop
 * requests, rendered from the daemon's snapshot through a route table. */
#ifndef ES_CONTROL_ROUTES_H
#define ES_CONTROL_ROUTES_H

#include <stddef.h>

#include "control.h"

/** The table: GET /health, /metrics, /progress; POST /run and
 *  /collections/<name>/stop. */
extern const es_route es_control_routes[];
extern const size_t es_control_n_routes;

/** Serve the table on `listen` ("HOST:PORT", IPv4 or [IPv6]).  POST routes
 *  need `Authorization: Bearer TOKEN` when a token is set; every route does
 *  when the address is not loopback, and then a token is required.  NULL
 *  with the reason in err. */
es_listener *es_control_start(const es_daemon_api *d, const char *listen,
                              const char *token, char *err, size_t errlen);

#endif
