/* What `embsync search` prints: the hits as text (the human reference and
 * the score first), as JSON, or as one self-contained HTML page with the
 * query and a thumbnail of every hit inline. */
#ifndef ES_SEARCH_OUTPUT_H
#define ES_SEARCH_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "app.h"

typedef enum es_search_format {
    ES_SEARCH_TEXT,
    ES_SEARCH_JSON,
    ES_SEARCH_HTML,
} es_search_format;

/** "text", "json" or "html" to the format; -1 for anything else. */
int es_search_format_parse(const char *name);

typedef struct es_search_hit {
    uint64_t id;
    float score;
    char *payload;      /* JSON object text (owned), or NULL */
} es_search_hit;

/** The query and the hits a store returned, in rank order. */
typedef struct es_search_results {
    const char *collection;
    const char *query_image;   /* a file, or NULL */
    const char *query_text;    /* or a text */
    es_search_hit *hits;
    size_t n, cap;
    int out_of_memory;
} es_search_results;

/** A store's search callback (arg: es_search_results *): keeps a copy. */
int es_search_collect(void *arg, const embsync_hit *hit);

/** Write the results to out.  HTML thumbnails are the items' content as
 *  the source fetches it (source may be NULL: no thumbnails), scaled
 *  down; an item whose content cannot be had says why in its place.
 *  Returns 0, or -1 on a write error. */
int es_search_write(const es_search_results *r, es_search_format format,
                    es_instance *source, FILE *out);

/** es_search_write() to the file at path (stdout when NULL), opening the
 *  app's source for an HTML page's thumbnails.  Logs what failed; 0 or -1. */
int es_search_output(es_app *app, const es_search_results *r, int format,
                     const char *path);

void es_search_results_free(es_search_results *r);

#endif
