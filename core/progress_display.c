#include <config.h>

#include "progress_display.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"

/* The live line is redrawn at most this often (a batch can take 1 ms). */
#define REDRAW_INTERVAL 0.1

static struct {
    pthread_mutex_t lock;
    int active, tty, drawn;
    int finished;   /* the line shows a collection at 100 % */
    double interval, last_draw, last_log;
    char line[512];
} display = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void duration(double s, char *buf, size_t len)
{
    if (s < 60)
        snprintf(buf, len, "%.0f s", s < 1 ? 1 : s);
    else if (s < 3600)
        snprintf(buf, len, "%d min %02d s", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, len, "%d h %02d min", (int)(s / 3600), (int)(s / 60) % 60);
}

void es_progress_describe(const es_progress_view *p, double now, char *buf,
                          size_t len)
{
    double elapsed = now - p->started;
    uint64_t handled = p->done + p->failed;
    double rate = elapsed > 0 ? (double)handled / elapsed : 0;
    char failed[48] = "";
    if (p->failed > 0)
        snprintf(failed, sizeof failed, ", %" PRIu64 " failed", p->failed);
    if (p->total == 0) {
        snprintf(buf, len, "%s: %" PRIu64 " done%s, %.0f/s", p->collection,
                 p->done, failed, rate);
        return;
    }
    uint64_t left = p->total > handled ? p->total - handled : 0;
    char eta[32] = "";
    if (left == 0)
        snprintf(eta, sizeof eta, "done");
    else if (rate > 0) {
        char d[24];
        duration((double)left / rate, d, sizeof d);
        snprintf(eta, sizeof eta, "%s left", d);
    } else
        snprintf(eta, sizeof eta, "time left unknown");
    snprintf(buf, len, "%s: %" PRIu64 "/%" PRIu64 " (%.0f%%)%s, %.0f/s, %s",
             p->collection, handled, p->total,
             100.0 * (double)handled / (double)p->total, failed, rate, eta);
}

/* Log hook: under the log's lock, so nothing here logs. */
static void clear_line(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&display.lock);
    if (display.drawn)
        fputs("\r\033[K", stderr);
    pthread_mutex_unlock(&display.lock);
}

/* A finished collection's line gives way to the log line that sums it up;
 * the next collection draws its own. */
static void redraw_line(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&display.lock);
    if (display.finished)
        display.drawn = 0;
    if (display.drawn) {
        fputs(display.line, stderr);
        fflush(stderr);
    }
    pthread_mutex_unlock(&display.lock);
}

void es_progress_display_start(int tty)
{
    const char *every = getenv("EMBSYNC_PROGRESS_INTERVAL");
    pthread_mutex_lock(&display.lock);
    display.active = 1;
    display.tty = tty;
    display.drawn = display.finished = 0;
    display.line[0] = '\0';
    display.interval = every != NULL && atof(every) > 0 ? atof(every)
                                                        : ES_PROGRESS_LOG_INTERVAL;
    display.last_draw = 0;
    display.last_log = es_mono_now();
    pthread_mutex_unlock(&display.lock);
    if (tty)
        es_log_set_line_hook(clear_line, redraw_line, NULL);
}

void es_progress_display_update(const es_progress_view *p, void *arg)
{
    (void)arg;
    double now = es_mono_now();
    char text[sizeof display.line];
    es_progress_describe(p, now, text, sizeof text);
    int finished = p->total > 0 && p->done + p->failed >= p->total;
    int log_it = 0;
    pthread_mutex_lock(&display.lock);
    if (display.active && display.tty &&
        (finished || now - display.last_draw >= REDRAW_INTERVAL)) {
        snprintf(display.line, sizeof display.line, "%s", text);
        fprintf(stderr, "\r\033[K%s", display.line);
        fflush(stderr);
        display.drawn = 1;
        display.finished = finished;
        display.last_draw = now;
    } else if (display.active && !display.tty &&
               now - display.last_log >= display.interval) {
        display.last_log = now;
        log_it = 1;
    }
    pthread_mutex_unlock(&display.lock);
    if (log_it)
        es_info("progress: %s", text);
}

void es_progress_display_stop(void)
{
    es_log_set_line_hook(NULL, NULL, NULL);
    pthread_mutex_lock(&display.lock);
    if (display.drawn)
        fputs("\r\033[K", stderr);
    display.active = display.drawn = 0;
    pthread_mutex_unlock(&display.lock);
}
