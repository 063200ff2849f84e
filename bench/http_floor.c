/* The floor under benchmark 2: the CPU one libcurl GET costs on its own.
 * Fetches URL0, URL1, ... URL<n-1> (a URL per image, as a source has),
 * `parallel` at a time, over kept connections and reused handles (as
 * core/http.c does), discarding the bodies, and prints CPU microseconds per
 * request: what any client making one request per image pays before doing
 * anything with the image.
 *
 *   http_floor URL N PARALLEL */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <curl/curl.h>

static size_t discard(char *data, size_t size, size_t nmemb, void *bytes)
{
    (void)data;
    *(size_t *)bytes += size * nmemb;
    return size * nmemb;
}

static void set_url(CURL *e, const char *base, long i)
{
    char url[2048];
    snprintf(url, sizeof url, "%s%ld", base, i);
    curl_easy_setopt(e, CURLOPT_URL, url); /* libcurl copies it */
}

/* CPU seconds so far, and in *kernel those spent in the kernel. */
static double cpu_seconds(double *kernel)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *kernel = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + *kernel;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: http_floor URL N PARALLEL\n");
        return 2;
    }
    long n = atol(argv[2]), parallel = atol(argv[3]);
    if (n < 1 || parallel < 1 || parallel > 256) {
        fprintf(stderr, "http_floor: N >= 1, 1 <= PARALLEL <= 256\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    CURLM *multi = curl_multi_init();
    size_t bytes = 0;
    long started = 0, finished = 0, failed = 0;
    double sys0, sys1;
    double cpu0 = cpu_seconds(&sys0);
    for (long i = 0; i < parallel && started < n; i++, started++) {
        CURL *e = curl_easy_init();
        set_url(e, argv[1], started);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, &bytes);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_multi_add_handle(multi, e);
    }
    while (finished < n) {
        int running;
        curl_multi_perform(multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            CURL *e = msg->easy_handle;
            failed += msg->data.result != CURLE_OK;
            finished++;
            curl_multi_remove_handle(multi, e);
            if (started < n) {
                set_url(e, argv[1], started++);
                curl_multi_add_handle(multi, e);
            } else {
                curl_easy_cleanup(e);
            }
        }
        if (finished < n)
            curl_multi_poll(multi, NULL, 0, 1000, NULL);
    }
    double cpu = cpu_seconds(&sys1) - cpu0;
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    printf("http_get_cpu_us=%.1f http_get_sys_us=%.1f requests=%ld parallel=%ld failed=%ld "
           "bytes_avg=%zu\n", cpu / (double)n * 1e6, (sys1 - sys0) / (double)n * 1e6, n,
           parallel, failed, bytes / (size_t)n);
    return failed ? 1 : 0;
}
