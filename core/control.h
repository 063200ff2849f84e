/* The control port: a small HTTP server (libmicrohttpd) for health,
 * Prometheus metrics, progress, and stop/run requests. */
#ifndef ES_CONTROL_H
#define ES_CONTROL_H

#include <stddef.h>
#include <sys/socket.h>

#include <microhttpd.h>

typedef struct es_control es_control;
struct es_daemon;

/** Listen on `listen` ("HOST:PORT", IPv4 or [IPv6]).  POST routes need
 *  `Authorization: Bearer TOKEN` when a token is set; every route does
 *  when the address is not loopback, and then a token is required. */
es_control *es_control_start(struct es_daemon *d, const char *listen,
                             const char *token, char *err, size_t errlen);

void es_control_stop(es_control *c);

/* Shared with the other listener (autoupdater_routes.c). */

/** "HOST:PORT" (IPv4, "localhost" or [IPv6]) → address; *loopback says
 *  whether it is one.  0, or -1 when malformed. */
int es_control_parse_listen(const char *listen, struct sockaddr_storage *ss,
                            int *loopback);

/** The request carries `Authorization: Bearer <token>` (compared in
 *  constant time). */
int es_control_bearer_ok(struct MHD_Connection *conn, const char *token);

/** Queue `body` (malloc'd, taken; NULL answers 500 "out of memory") with
 *  `status` and Content-Type `type`, uncached. */
enum MHD_Result es_control_answer(struct MHD_Connection *conn, unsigned status,
                                  const char *type, char *body);

#endif
