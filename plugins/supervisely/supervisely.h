/* The supervisely source's instance, shared by its files: supervisely.c
 * (the ABI operations, projects and their runs) and sly_images.c (the
 * image listings and the project stamp rule). */
#ifndef SUPERVISELY_H
#define SUPERVISELY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include <embsync/plugin.h>

#include "sly_api.h"
#include "sly_generator.h"

#define MAX_IDS 64

typedef struct sly_project {
    int64_t id;
    int64_t team;
    char *embedded_at;      /* project embeddingsUpdatedAt, or NULL */
    char *created_at;       /* project createdAt, or NULL */
    int in_progress;
    int64_t next_stamp;     /* what end() writes on success, us; -1: nothing */
} sly_project;

typedef struct supervisely {
    sly_api api;
    sly_generator gen;
    char *origin;           /* scheme://host[:port] of the storage URLs' server */
    char *imgproxy;
    long image_size;
    char preview_options[96]; /* the imgproxy options of image_size, once */
    unsigned concurrency;   /* most downloads in flight */
    embsync_limit *downloads; /* AIMD within it (ABI 1.3 hosts), or NULL */
    unsigned downloads_min, downloads_max; /* what it went through */
    long page_size;
    double stale_after_h;
    int64_t project_ids[MAX_IDS], team_ids[MAX_IDS];
    size_t n_project_ids, n_team_ids;
    sly_project *projects;  /* stb_ds array from the last listing */
    const char *state_dir;  /* our marks: in-flight runs, rebuilt projects */
    const char *autorestart;/* the original's record, or NULL */
    int64_t resume;         /* project the record named at start; 0: none */
    pthread_mutex_t lock;   /* projects: changes/fetch/ack run concurrently */
} supervisely;

#define HOST(s) ((s)->api.host)
#define CTX(s) ((s)->api.ctx)

/* The integer `key` of a JSON object, or -1 when the server sent something
 * else (absent, not a number, fractional, out of range): converting such a
 * double is undefined behaviour and would give a made-up id. */
static inline int64_t entity_int(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    if (!cJSON_IsNumber(v))
        return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(int64_t)d)
        return -1;
    return (int64_t)d;
}

static inline int64_t entity_id(const cJSON *e)
{
    return entity_int(e, "id");
}

static inline const char *entity_text(const cJSON *e, const char *key)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(e, key));
}

/* ---- sly_images.c ---- */

/** The images a listing wants. */
typedef enum sly_list_mode {
    SLY_NEVER_EMBEDDED, /**< enabled, embeddingsUpdatedAt null */
    SLY_MODIFIED,       /**< enabled, embedded, updatedAt after `since` */
    SLY_GONE,           /**< anything updatedAt after `since`, disabled
                             included: those no longer enabled are deleted */
    SLY_EVERYTHING      /**< every enabled image (after a rebuild; items()) */
} sly_list_mode;

/** What the listings of one changes() matched and emitted so far: the
 *  sink's total is the sum of the listings' totals while they run (GONE
 *  lists candidates, so it is an upper bound), and what was emitted once
 *  they are done. */
typedef struct sly_run_count {
    uint64_t expected, emitted;
} sly_run_count;

/** Stream one listing of the project's images into sink as changes:
 *  upserts with resize URL, version and the Generator's four-key payload,
 *  or (SLY_GONE) deletes.  `since` is a stamp text (modes MODIFIED, GONE).
 *  The listing's total and what it emitted are added to *count. */
int sly_stream_images(supervisely *s, embsync_change_sink *sink, int64_t project,
                      sly_list_mode mode, const char *since,
                      sly_run_count *count);

/** present[i] = 1 when ids[i] is still an enabled image of the project. */
int sly_still_enabled(supervisely *s, int64_t project, size_t n,
                      const int64_t *ids, int *present);

/** The project stamp a run writes on success, in microseconds (-1: keep
 *  the old one), read from the server's clock before the listing begins;
 *  waits out one tick of that clock. */
int sly_run_stamp(supervisely *s, int64_t project, const char *created,
                  int64_t *stamp);

/** A stamp as read back, as the end of the tick its digits name (caller
 *  frees; NULL for NULL). */
char *sly_tick_end(const char *text);

#endif
