/* An HTTP listener (libmicrohttpd) that checks the bearer token and
 * dispatches each request through a route table.  The control port
 * (control_routes.c) and the original Auto-Updater's routes
 * (autoupdater_routes.c) are two tables on listeners of their own. */
#ifndef ES_CONTROL_H
#define ES_CONTROL_H

#include <stddef.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "daemon_api.h"

/** One request as a route sees it. */
typedef struct es_route_request {
    const es_daemon_api *daemon;
    const char *arg;       /* the path segment a route's "*" matched, or "" */
    const char *body;      /* NULL when the listener takes no bodies */
    size_t body_len;
    /* A query argument's value, or NULL. */
    const char *(*query)(const struct es_route_request *rq, const char *key);
    void *conn;            /* the listener's, for query() */
} es_route_request;

/** A route's answer: a JSON object, or a text of Content-Type `type`.
 *  Neither (out of memory) answers 500. */
typedef struct es_route_answer {
    cJSON *json;           /* taken: printed and deleted */
    char *text;            /* malloc'd, taken */
    const char *type;
} es_route_answer;

/** A route fills *ans and returns the HTTP status. */
typedef unsigned (*es_route_fn)(const es_route_request *rq, es_route_answer *ans);

/** `path` may hold one "*" segment: any non-empty segment, the request's
 *  arg. */
typedef struct es_route {
    const char *method;
    const char *path;
    es_route_fn fn;
} es_route;

/** Run the route of `routes` for `method` and `url`: 0 with its status in
 *  *status, or 404 when no route has the path, 405 when none has it for
 *  that method. */
unsigned es_route_dispatch(const es_route *routes, size_t n_routes,
                           const char *method, const char *url,
                           es_route_request *rq, es_route_answer *ans,
                           unsigned *status);

/** How a listener serves its table. */
typedef struct es_listener_spec {
    const char *setting;        /* the key that set listen, for errors */
    const char *listen;         /* "HOST:PORT" */
    const char *token;          /* NULL or "": none */
    int token_for_reads;        /* GET routes need the token too */
    size_t max_body;            /* 0: bodies are swallowed */
    const es_route *routes;
    size_t n_routes;
    const es_daemon_api *daemon;
    /* The error answers' key ({"<key>": "..."}) and texts of 404 and 405;
     * a 401 says "missing or wrong Authorization: Bearer token". */
    const char *error_key;
    const char *not_found, *not_allowed;
} es_listener_spec;

typedef struct es_listener es_listener;

/** Listen as `spec` says (copied).  NULL with the reason in err. */
es_listener *es_listener_start(const es_listener_spec *spec, char *err,
                               size_t errlen);

void es_listener_stop(es_listener *l);

/** "HOST:PORT" (IPv4, "localhost" or [IPv6]) → address; *loopback says
 *  whether it is one.  0, or -1 when malformed. */
int es_control_parse_listen(const char *listen, struct sockaddr_storage *ss,
                            int *loopback);

#endif
