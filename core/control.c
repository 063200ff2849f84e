#include <config.h>

#include "control.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#define MAX_CONNECTIONS 16

struct es_listener {
    struct MHD_Daemon *mhd;
    es_listener_spec spec;
    char *token;                /* NULL: no route needs one */
    int loopback;
};

/* One request's body, gathered across MHD's upload calls. */
typedef struct upload {
    char *body;
    size_t len;
    int too_big;
} upload;

int es_control_parse_listen(const char *listen, struct sockaddr_storage *ss,
                            int *loopback)
{
    char host[256];
    const char *colon = strrchr(listen, ':');
    if (colon == NULL || colon == listen)
        return -1;
    size_t hlen = (size_t)(colon - listen);
    if (hlen >= sizeof host)
        return -1;
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    if (host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
            return -1;
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        return 0;
    }
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
        return -1;
    *loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

/* Constant-time comparison: the token must not leak through timing. */
static int token_matches(const char *given, const char *want)
{
    size_t lg = strlen(given), lw = strlen(want);
    unsigned char diff = (unsigned char)(lg != lw);
    for (size_t i = 0; i < lw; i++)
        diff |= (unsigned char)(want[i] ^ (i < lg ? given[i] : 0));
    return diff == 0;
}

static int bearer_ok(struct MHD_Connection *conn, const char *token)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
           token_matches(auth + 7, token);
}

/* ---- routes ----------------------------------------------------------------- */

/* Where `url` matches `path`: the length of the segment "*" stands for at
 * *arg, 0 for a path without one, or -1 when it does not match. */
static long route_match(const char *path, const char *url, const char **arg)
{
    const char *star = strchr(path, '*');
    *arg = "";
    if (star == NULL)
        return strcmp(path, url) == 0 ? 0 : -1;
    size_t pre = (size_t)(star - path), post = strlen(star + 1);
    size_t len = strlen(url);
    if (len <= pre + post || strncmp(url, path, pre) != 0 ||
        strcmp(url + len - post, star + 1) != 0)
        return -1;
    size_t n = len - pre - post;
    if (memchr(url + pre, '/', n) != NULL)
        return -1;
    *arg = url + pre;
    return (long)n;
}

unsigned es_route_dispatch(const es_route *routes, size_t n_routes,
                           const char *method, const char *url,
                           es_route_request *rq, es_route_answer *ans,
                           unsigned *status)
{
    int path_known = 0;
    for (size_t i = 0; i < n_routes; i++) {
        const char *at;
        long n = route_match(routes[i].path, url, &at);
        if (n < 0)
            continue;
        path_known = 1;
        if (strcmp(method, routes[i].method) != 0)
            continue;
        char *arg = strndup(at, (size_t)n);
        *status = 500;
        if (arg == NULL)
            return 0;
        rq->arg = arg;
        *status = routes[i].fn(rq, ans);
        rq->arg = "";
        free(arg);
        return 0;
    }
    return path_known ? 405 : 404;
}

/* ---- the listener ----------------------------------------------------------- */

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status,
                              es_route_answer *ans)
{
    char *body = ans->text;
    const char *type = ans->type;
    if (ans->json != NULL) {
        body = cJSON_PrintUnformatted(ans->json);
        cJSON_Delete(ans->json);
        type = "application/json";
    }
    if (body == NULL) {
        body = strdup("{\"error\":\"out of memory\"}");
        status = 500;
        type = "application/json";
        if (body == NULL)
            return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* An error in the listener's shape: {"<error_key>": text}. */
static enum MHD_Result refuse(const es_listener *l, struct MHD_Connection *conn,
                              unsigned status, const char *text)
{
    es_route_answer ans = {.json = cJSON_CreateObject()};
    if (cJSON_AddStringToObject(ans.json, l->spec.error_key, text) == NULL) {
        cJSON_Delete(ans.json);
        ans.json = NULL;
    }
    return answer(conn, status, &ans);
}

static const char *query(const es_route_request *rq, const char *key)
{
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* Gather (or swallow) one upload call's bytes; -1 when out of memory. */
static int take_upload(const es_listener *l, upload *up, const char *data,
                       size_t n)
{
    if (l->spec.max_body == 0)
        return 0;
    if (up->too_big || up->len + n > l->spec.max_body) {
        up->too_big = 1;
        return 0;
    }
    char *grown = realloc(up->body, up->len + n + 1);
    if (grown == NULL)
        return -1;
    memcpy(grown + up->len, data, n);
    up->body = grown;
    up->len += n;
    up->body[up->len] = '\0';
    return 0;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *data,
                              size_t *data_size, void **con_cls)
{
    (void)version;
    es_listener *l = cls;
    upload *up = *con_cls;
    /* First call: headers only. */
    if (up == NULL) {
        if ((up = calloc(1, sizeof *up)) == NULL)
            return MHD_NO;
        *con_cls = up;
        return MHD_YES;
    }
    if (*data_size != 0) {
        size_t n = *data_size;
        *data_size = 0;
        return take_upload(l, up, data, n) == 0 ? MHD_YES : MHD_NO;
    }
    int read_only = strcmp(method, MHD_HTTP_METHOD_POST) != 0;
    int needs_token = !read_only || l->spec.token_for_reads || !l->loopback;
    if (l->token != NULL && needs_token && !bearer_ok(conn, l->token))
        return refuse(l, conn, MHD_HTTP_UNAUTHORIZED,
                      "missing or wrong Authorization: Bearer token");
    if (up->too_big)
        return refuse(l, conn, 413, "request body too large");

    es_route_request rq = {
        .daemon = l->spec.daemon,
        .arg = "",
        .body = up->body,
        .body_len = up->len,
        .query = query,
        .conn = conn,
    };
    es_route_answer ans = {0};
    unsigned status;
    unsigned missing = es_route_dispatch(l->spec.routes, l->spec.n_routes,
                                         method, url, &rq, &ans, &status);
    if (missing != 0)
        return refuse(l, conn, missing,
                      missing == 404 ? l->spec.not_found : l->spec.not_allowed);
    return answer(conn, status, &ans);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode why)
{
    (void)cls, (void)conn, (void)why;
    upload *up = *con_cls;
    if (up != NULL) {
        free(up->body);
        free(up);
        *con_cls = NULL;
    }
}

es_listener *es_listener_start(const es_listener_spec *spec, char *err,
                               size_t errlen)
{
    struct sockaddr_storage ss;
    int loopback = 0;
    if (es_control_parse_listen(spec->listen, &ss, &loopback) != 0) {
        snprintf(err, errlen, "%s = %s: expected HOST:PORT", spec->setting,
                 spec->listen);
        return NULL;
    }
    es_listener *l = calloc(1, sizeof *l);
    if (l == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    l->spec = *spec;
    l->loopback = loopback;
    l->token = spec->token != NULL && *spec->token != '\0' ? strdup(spec->token)
                                                           : NULL;
    l->spec.token = NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    l->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, l,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                              MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
                              MHD_OPTION_END);
    if (l->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not allowed)",
                 spec->listen);
        free(l->token);
        free(l);
        return NULL;
    }
    return l;
}

void es_listener_stop(es_listener *l)
{
    if (l == NULL)
        return;
    MHD_stop_daemon(l->mhd);
    free(l->token);
    free(l);
}
