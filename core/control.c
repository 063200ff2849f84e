#include <config.h>

#include "control.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "daemon.h"
#include "log.h"
#include "metrics.h"

#define STOP_WAIT_S 120.0
#define MAX_CONNECTIONS 16

struct es_control {
    struct MHD_Daemon *mhd;
    es_daemon *daemon;
    char *token;
    int loopback;
};

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

int es_control_bearer_ok(struct MHD_Connection *conn, const char *token)
{
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                   MHD_HTTP_HEADER_AUTHORIZATION);
    return auth != NULL && strncmp(auth, "Bearer ", 7) == 0 &&
           token_matches(auth + 7, token);
}

static int authorised(es_control *c, struct MHD_Connection *conn)
{
    return c->token == NULL || es_control_bearer_ok(conn, c->token);
}

enum MHD_Result es_control_answer(struct MHD_Connection *conn, unsigned status,
                                  const char *type, char *body)
{
    if (body == NULL) {
        body = strdup("{\"error\":\"out of memory\"}");
        status = 500;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        strlen(body), body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result error(struct MHD_Connection *conn, unsigned status,
                             const char *message)
{
    char *body = malloc(strlen(message) + 32);
    if (body != NULL)
        sprintf(body, "{\"error\":\"%s\"}", message);
    return es_control_answer(conn, status, "application/json", body);
}

static char *metrics_text(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL)
        return NULL;
    es_metrics_write(fp);
    fclose(fp);
    return text;
}

/* "/collections/<id>/stop" → id (percent-decoded by MHD already). */
static int stop_route(const char *url, char *id, size_t idlen)
{
    static const char prefix[] = "/collections/", suffix[] = "/stop";
    size_t len = strlen(url), pl = sizeof prefix - 1, sl = sizeof suffix - 1;
    if (len <= pl + sl || strncmp(url, prefix, pl) != 0 ||
        strcmp(url + len - sl, suffix) != 0 || len - pl - sl >= idlen)
        return 0;
    memcpy(id, url + pl, len - pl - sl);
    id[len - pl - sl] = '\0';
    return strchr(id, '/') == NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls)
{
    (void)version;
    (void)upload;
    es_control *c = cls;
    /* First call: headers only.  Bodies are not used; swallow them. */
    if (*con_cls == NULL) {
        *con_cls = c;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    int post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    int get = strcmp(method, MHD_HTTP_METHOD_GET) == 0;
    if ((post || !c->loopback) && !authorised(c, conn))
        return error(conn, MHD_HTTP_UNAUTHORIZED,
                     "missing or wrong Authorization: Bearer token");

    char id[512];
    if (strcmp(url, "/health") == 0 && get) {
        int healthy;
        char *body = es_daemon_health(c->daemon, &healthy);
        return es_control_answer(conn, healthy ? 200 : 503,
                                 "application/json", body);
    }
    if (strcmp(url, "/metrics") == 0 && get)
        return es_control_answer(conn, 200,
                                 "text/plain; version=0.0.4; charset=utf-8",
                                 metrics_text());
    if (strcmp(url, "/progress") == 0 && get) {
        const char *only = MHD_lookup_connection_value(conn,
                                                       MHD_GET_ARGUMENT_KIND,
                                                       "collection");
        return es_control_answer(conn, 200, "application/json",
                                 es_daemon_progress(c->daemon, only));
    }
    if (strcmp(url, "/run") == 0 && post)
        return es_control_answer(conn, 202, "application/json",
                                 es_daemon_request_run(c->daemon));
    if (stop_route(url, id, sizeof id) && post) {
        int status;
        char *body = es_daemon_stop_collection(c->daemon, id, STOP_WAIT_S,
                                               &status);
        return es_control_answer(conn, (unsigned)status, "application/json",
                                 body);
    }
    if (strcmp(url, "/health") == 0 || strcmp(url, "/metrics") == 0 ||
        strcmp(url, "/progress") == 0 || strcmp(url, "/run") == 0 ||
        stop_route(url, id, sizeof id))
        return error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    return error(conn, MHD_HTTP_NOT_FOUND, "no such route");
}

es_control *es_control_start(es_daemon *d, const char *listen,
                             const char *token, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int loopback = 0;
    if (es_control_parse_listen(listen, &ss, &loopback) != 0) {
        snprintf(err, errlen, "listen = %s: expected HOST:PORT", listen);
        return NULL;
    }
    if (!loopback && (token == NULL || *token == '\0')) {
        snprintf(err, errlen,
                 "listen = %s is not a loopback address: set control_token "
                 "(or control_token_file) first",
                 listen);
        return NULL;
    }
    es_control *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->daemon = d;
    c->loopback = loopback;
    c->token = token != NULL && *token != '\0' ? strdup(token) : NULL;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_THREAD_PER_CONNECTION;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    c->mhd = MHD_start_daemon(flags, 0, NULL, NULL, handle, c,
                              MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                              MHD_OPTION_CONNECTION_LIMIT, MAX_CONNECTIONS,
                              MHD_OPTION_CONNECTION_TIMEOUT, 30U,
                              MHD_OPTION_END);
    if (c->mhd == NULL) {
        snprintf(err, errlen, "cannot listen on %s (in use, or not allowed)",
                 listen);
        free(c->token);
        free(c);
        return NULL;
    }
    return c;
}

void es_control_stop(es_control *c)
{
    if (c == NULL)
        return;
    MHD_stop_daemon(c->mhd);
    free(c->token);
    free(c);
}
