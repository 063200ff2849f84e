/* The one HTTP client every network plugin uses (through the host table):
 * libcurl with timeouts, TLS verification, and the core's retry policy. */
#ifndef ES_HTTP_H
#define ES_HTTP_H

#include <stddef.h>

#include <embsync/plugin.h>

#include "stop.h"

int es_http_global_init(void);
void es_http_global_cleanup(void);

/** Run n requests, at most `parallel` at once, retrying each per the policy
 *  described for embsync_host.http_many.  `origin` (a plugin name) labels
 *  log lines and metrics; `stop` cuts retry waits short (may be NULL). */
int es_http_many(const char *origin, es_stop *stop, size_t n,
                 const embsync_http_request *reqs, embsync_http_response *resps,
                 int *status, unsigned parallel);

struct es_aimd;

/** es_http_many() whose parallelism is the limit's window, read again as
 *  requests end, and which reports each attempt to the limit: answers (by
 *  their latency), 429, 503 and timeouts (as congestion).  `parallel` is
 *  used when limit is NULL. */
int es_http_many_limited(const char *origin, es_stop *stop, size_t n,
                         const embsync_http_request *reqs,
                         embsync_http_response *resps, int *status,
                         unsigned parallel, struct es_aimd *limit);

/** Probe mode, for `embsync check`: until es_http_probe_end(), requests
 *  made on this thread get one attempt each, all within `seconds` from now
 *  (a request once the time is used up fails at once), and the host's
 *  retry_wait() does not wait.  One probe per backend. */
void es_http_probe_begin(double seconds);
void es_http_probe_end(void);

/** Non-zero while this thread is in probe mode. */
int es_http_probing(void);


/** One gRPC unary call with the policy of es_http_many (see
 *  embsync_host.grpc_unary for what req and resp hold); `origin` and `stop`
 *  as for es_http_many.  Release resp with es_http_release(). */
int es_grpc_unary(const char *origin, es_stop *stop,
                  const embsync_http_request *req, embsync_http_response *resp,
                  int *grpc_status);

/** Free what es_http_many attached to resp. */
void es_http_release(embsync_http_response *resp);

#endif
