/* For the large benchmarks: an image CDN stand-in that answers every GET
 * with the same JPEG, fast enough that a million downloads measure embsync
 * rather than the emulator.  The supervisely plugin reaches it through its
 * `imgproxy` key, as it would reach a real resize service.
 *
 *   image_server FILE [DELAY_MS] PORT_FILE
 *
 * GET /__count gives the requests served.  With DELAY_MS (0 or more) each
 * connection gets a thread of its own, which holds every image answer that
 * long, like a distant storage: any number wait at once, and hundreds of
 * connections at once are served (the benchmark of several embedders).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

static unsigned char *image;
static size_t image_len;
static atomic_ulong served;
static long delay_ms;

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_len, void **state)
{
    (void)cls, (void)version, (void)upload, (void)upload_len;
    static int headers_seen;
    if (strcmp(method, "GET") != 0)
        return MHD_NO;
    /* Answer on the second call, once MHD knows the request is complete:
     * a response queued with the headers alone makes it close the
     * connection, and every download would pay a TCP connect. */
    if (*state == NULL) {
        *state = &headers_seen;
        return MHD_YES;
    }
    struct MHD_Response *r;
    if (strcmp(url, "/__count") == 0) {
        char text[32];
        int n = snprintf(text, sizeof text, "%lu\n", atomic_load(&served));
        r = MHD_create_response_from_buffer((size_t)n, text,
                                            MHD_RESPMEM_MUST_COPY);
    } else {
        if (delay_ms > 0) {
            struct timespec ts = {delay_ms / 1000, (delay_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
        atomic_fetch_add(&served, 1);
        r = MHD_create_response_from_buffer(image_len, image,
                                            MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(r, "Content-Type", "image/jpeg");
    }
    enum MHD_Result rc = MHD_queue_response(conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: image_server FILE [DELAY_MS] PORT_FILE\n");
        return 2;
    }
    int threaded = argc == 4;
    delay_ms = threaded ? atol(argv[2]) : 0;
    const char *port_file = argv[argc - 1];
    FILE *f = fopen(argv[1], "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        perror(argv[1]);
        return 1;
    }
    image_len = (size_t)ftell(f);
    rewind(f);
    image = malloc(image_len);
    if (image == NULL || fread(image, 1, image_len, f) != image_len)
        return 1;
    fclose(f);
    struct MHD_Daemon *d =
        threaded
            ? MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD |
                                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL,
                               0, NULL, NULL, answer, NULL,
                               MHD_OPTION_CONNECTION_LIMIT, 1000,
                               MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
                               MHD_OPTION_END)
            : MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
                               0, NULL, NULL, answer, NULL,
                               MHD_OPTION_CONNECTION_LIMIT, 1000,
                               MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
                               MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "image_server: cannot listen\n");
        return 1;
    }
    const union MHD_DaemonInfo *info =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *pf = fopen(tmp, "w");
    if (pf == NULL)
        return 1;
    fprintf(pf, "%u", (unsigned)info->port);
    fclose(pf);
    rename(tmp, port_file);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    free(image);
    return 0;
}
