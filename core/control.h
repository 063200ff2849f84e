/* The control port: a small HTTP server (libmicrohttpd) for health,
 * Prometheus metrics, progress, and stop/run requests. */
#ifndef ES_CONTROL_H
#define ES_CONTROL_H

#include <stddef.h>

typedef struct es_control es_control;
struct es_daemon;

/** Listen on `listen` ("HOST:PORT", IPv4 or [IPv6]).  POST routes need
 *  `Authorization: Bearer TOKEN` when a token is set; every route does
 *  when the address is not loopback, and then a token is required. */
es_control *es_control_start(struct es_daemon *d, const char *listen,
                             const char *token, char *err, size_t errlen);

void es_control_stop(es_control *c);

#endif
