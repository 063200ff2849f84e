#include <config.h>

#include "search_output.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include "blob.h"
#include "calls.h"
#include "log.h"
#include "statefile.h"

enum {
    THUMB_SIDE = 240,                       /* longest side on the page */
    PREVIEW_MAX_PIXELS = 100 * 1000 * 1000, /* decoded for a thumbnail */
};

int es_search_format_parse(const char *name)
{
    if (strcmp(name, "text") == 0)
        return ES_SEARCH_TEXT;
    if (strcmp(name, "json") == 0)
        return ES_SEARCH_JSON;
    if (strcmp(name, "html") == 0)
        return ES_SEARCH_HTML;
    return -1;
}

int es_search_collect(void *arg, const embsync_hit *hit)
{
    es_search_results *r = arg;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        es_search_hit *grown = realloc(r->hits, cap * sizeof *grown);
        if (grown == NULL) {
            r->out_of_memory = 1;
            return 0;
        }
        r->hits = grown;
        r->cap = cap;
    }
    es_search_hit *h = &r->hits[r->n++];
    h->id = hit->id;
    h->score = hit->score;
    h->payload = hit->payload != NULL ? strdup(hit->payload) : NULL;
    return 0;
}

void es_search_results_free(es_search_results *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->hits[i].payload);
    free(r->hits);
    r->hits = NULL;
    r->n = r->cap = 0;
}

/* ---- what a hit is, for a person ---------------------------------------- */

static const char *payload_string(const cJSON *p, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, key));
    return s != NULL && *s ? s : NULL;
}

/* The item as its source names it: a path (dir), or the image id and its
 * URL (Supervisely), or the bare id.  Written into buf. */
static const char *reference(const es_search_hit *h, const cJSON *payload,
                             char *buf, size_t len)
{
    const char *path = payload_string(payload, "path");
    const char *url = payload_string(payload, "full_url");
    if (url == NULL)
        url = payload_string(payload, "url");
    if (path != NULL)
        snprintf(buf, len, "%s", path);
    else if (url != NULL)
        snprintf(buf, len, "image %" PRIu64 " %s", h->id, url);
    else
        snprintf(buf, len, "id %" PRIu64, h->id);
    return buf;
}

/* The locator the source's fetch() takes for this item: the dir source's
 * relative path, Supervisely's resized-image URL. */
static const char *fetch_ref(const cJSON *payload)
{
    const char *ref = payload_string(payload, "path");
    if (ref == NULL)
        ref = payload_string(payload, "cas_url");
    if (ref == NULL)
        ref = payload_string(payload, "full_url");
    return ref;
}

/* ---- text and JSON ------------------------------------------------------ */

/* REFERENCE, SCORE, ID, PAYLOAD: tab-separated, one hit a line. */
static int write_text(const es_search_results *r, FILE *out)
{
    for (size_t i = 0; i < r->n; i++) {
        const es_search_hit *h = &r->hits[i];
        cJSON *payload = h->payload ? cJSON_Parse(h->payload) : NULL;
        char ref[1024];
        fprintf(out, "%s\t%.6f\t%" PRIu64 "\t%s\n",
                reference(h, payload, ref, sizeof ref), (double)h->score, h->id,
                h->payload != NULL ? h->payload : "{}");
        cJSON_Delete(payload);
    }
    return ferror(out) ? -1 : 0;
}

static int write_json(const es_search_results *r, FILE *out)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "collection", r->collection);
    cJSON *query = cJSON_AddObjectToObject(o, "query");
    if (r->query_image != NULL)
        cJSON_AddStringToObject(query, "image", r->query_image);
    else
        cJSON_AddStringToObject(query, "text", r->query_text);
    cJSON *hits = cJSON_AddArrayToObject(o, "hits");
    for (size_t i = 0; i < r->n; i++) {
        const es_search_hit *h = &r->hits[i];
        cJSON *payload = h->payload ? cJSON_Parse(h->payload) : NULL;
        cJSON *hit = cJSON_CreateObject();
        char ref[1024], id[24];
        /* As a string: a JSON number is a double, exact only to 2^53. */
        snprintf(id, sizeof id, "%" PRIu64, h->id);
        cJSON_AddNumberToObject(hit, "rank", (double)(i + 1));
        cJSON_AddStringToObject(hit, "id", id);
        cJSON_AddNumberToObject(hit, "score", (double)h->score);
        cJSON_AddStringToObject(hit, "reference",
                                reference(h, payload, ref, sizeof ref));
        cJSON_AddItemToObject(hit, "payload",
                              payload != NULL ? payload : cJSON_CreateObject());
        cJSON_AddItemToArray(hits, hit);
    }
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    if (text == NULL)
        return -1;
    fprintf(out, "%s\n", text);
    free(text);
    return ferror(out) ? -1 : 0;
}

/* ---- HTML --------------------------------------------------------------- */

static void html_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

/* stb_image_write's sink: the bytes go to a memory stream. */
static void to_stream(void *arg, void *bytes, int n)
{
    if (n > 0)
        fwrite(bytes, 1, (size_t)n, arg);
}

/* An image's bytes to a small JPEG as a data: URI (malloc'd), transparency
 * shown over white as a browser would; NULL with *why. */
static char *thumbnail_uri(const unsigned char *data, size_t len,
                           const char **why)
{
    int w, h, channels;
    if (len > INT32_MAX || !stbi_info_from_memory(data, (int)len, &w, &h, &channels)) {
        *why = "not an image this build can read";
        return NULL;
    }
    if ((uint64_t)w * (uint64_t)h > PREVIEW_MAX_PIXELS) {
        *why = "too large to preview";
        return NULL;
    }
    unsigned char *rgba = stbi_load_from_memory(data, (int)len, &w, &h, &channels, 4);
    if (rgba == NULL) {
        *why = stbi_failure_reason();
        return NULL;
    }
    double scale = (double)THUMB_SIDE / (w > h ? w : h);
    int tw = w, th = h;
    if (scale < 1) {
        tw = (int)(w * scale + 0.5);
        th = (int)(h * scale + 0.5);
        tw = tw < 1 ? 1 : tw;
        th = th < 1 ? 1 : th;
    }
    unsigned char *small = malloc((size_t)tw * (size_t)th * 4);
    char *jpeg = NULL;
    size_t jpeg_len = 0;
    FILE *stream = open_memstream(&jpeg, &jpeg_len);
    char *uri = NULL;
    *why = "out of memory";
    if (small != NULL && stream != NULL &&
        stbir_resize_uint8(rgba, w, h, 0, small, tw, th, 0, 4)) {
        size_t n = (size_t)tw * (size_t)th;
        for (size_t p = 0; p < n; p++) {
            unsigned a = small[4 * p + 3];
            for (int c = 0; c < 3; c++)
                small[3 * p + c] =
                    (unsigned char)((small[4 * p + c] * a + 255 * (255 - a) + 127) / 255);
        }
        int encoded = stbi_write_jpg_to_func(to_stream, stream, tw, th, 3,
                                             small, 85);
        int flushed = fclose(stream) == 0;
        stream = NULL;
        if (encoded && flushed) {
            static const char prefix[] = "data:image/jpeg;base64,";
            uri = malloc(sizeof prefix + 4 * ((jpeg_len + 2) / 3) + 1);
            if (uri != NULL) {
                memcpy(uri, prefix, sizeof prefix - 1);
                EVP_EncodeBlock((unsigned char *)uri + sizeof prefix - 1,
                                (const unsigned char *)jpeg, (int)jpeg_len);
            }
        } else {
            *why = "cannot encode the thumbnail";
        }
    }
    if (stream != NULL)
        fclose(stream);
    free(jpeg);
    free(small);
    stbi_image_free(rgba);
    return uri;
}

static char *file_thumbnail(const char *path, const char **why)
{
    size_t len;
    char *data = es_read_all(path, &len);
    if (data == NULL) {
        *why = strerror(errno);
        return NULL;
    }
    char *uri = thumbnail_uri((const unsigned char *)data, len, why);
    free(data);
    return uri;
}

/* The item's content through the source, as a thumbnail. */
static char *item_thumbnail(es_instance *source, const char *collection,
                            const es_search_hit *h, const char *ref,
                            const char **why)
{
    static char reason[256];
    if (source == NULL || source->module->ops.source.fetch == NULL) {
        *why = "the source is not open";
        return NULL;
    }
    if (ref == NULL) {
        *why = "the payload has no path or URL";
        return NULL;
    }
    embsync_change item = {
        .abi = EMBSYNC_ABI_INIT(embsync_change),
        .id = h->id,
        .op = EMBSYNC_OP_UPSERT,
        .ref = ref,
        .payload = h->payload,
    };
    embsync_blob blob;
    es_blob_init(&blob);
    int status = EMBSYNC_ITEM_FAILED;
    reason[0] = '\0';
    int rc = es_source_fetch(source, collection, 1, &item, &blob, &status,
                             reason, sizeof reason);
    char *uri = NULL;
    if (rc != EMBSYNC_OK || status != EMBSYNC_OK) {
        *why = reason[0] ? reason
               : rc != EMBSYNC_OK ? es_call_error() : "the source cannot fetch it";
    } else {
        uri = thumbnail_uri(blob.data, blob.len, why);
    }
    es_blob_release(&blob);
    return uri;
}

static const char page_head[] =
    "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<style>\n"
    "body{font-family:system-ui,sans-serif;margin:1.5em;background:#f6f6f4;color:#222}\n"
    "h1{font-size:1.3em;margin:0 0 .8em}\n"
    ".query{display:flex;gap:1em;align-items:center;margin-bottom:1.2em}\n"
    "ol.hits{list-style:none;padding:0;display:grid;"
    "grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:1em}\n"
    "figure{margin:0;background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5em}\n"
    "figure img{display:block;width:100%;height:160px;object-fit:contain;background:#eee}\n"
    ".query figure{width:220px}\n"
    "figcaption{font-size:.85em;margin-top:.4em;overflow-wrap:anywhere}\n"
    ".score{font-weight:bold;font-variant-numeric:tabular-nums}\n"
    ".rank{color:#888}\n"
    ".missing{height:160px;display:flex;align-items:center;justify-content:center;"
    "background:#fbe9e9;color:#a00;font-size:.85em;text-align:center}\n"
    "</style>\n";

/* A picture that records, once the browser has it, its natural width in
 * data-loaded (or "error"), so a test can read from the DOM that every
 * thumbnail really rendered. */
static void html_img(FILE *out, const char *cls, const char *uri,
                     const char *alt)
{
    fprintf(out, "<img class=\"%s\" src=\"%s\" alt=\"", cls, uri);
    html_text(out, alt);
    fputs("\" data-loaded=\"pending\" "
          "onload=\"this.dataset.loaded=this.naturalWidth\" "
          "onerror=\"this.dataset.loaded='error'\">", out);
}

static int write_html(const es_search_results *r, es_instance *source,
                      FILE *out)
{
    fputs(page_head, out);
    fputs("<title>embsync search: ", out);
    html_text(out, r->collection);
    fputs("</title>\n</head>\n<body>\n<h1>", out);
    fprintf(out, "%zu nearest in <q>", r->n);
    html_text(out, r->collection);
    fputs("</q></h1>\n<section class=\"query\">\n<figure>", out);
    if (r->query_image != NULL) {
        const char *why = NULL;
        char *uri = file_thumbnail(r->query_image, &why);
        if (uri != NULL)
            html_img(out, "query", uri, r->query_image);
        else {
            fputs("<div class=\"missing\">", out);
            html_text(out, why ? why : "no preview");
            fputs("</div>", out);
        }
        free(uri);
        fputs("<figcaption>query: ", out);
        html_text(out, r->query_image);
    } else {
        fputs("<figcaption>query text: <q>", out);
        html_text(out, r->query_text);
        fputs("</q>", out);
    }
    fputs("</figcaption></figure>\n</section>\n<ol class=\"hits\">\n", out);
    for (size_t i = 0; i < r->n; i++) {
        const es_search_hit *h = &r->hits[i];
        cJSON *payload = h->payload ? cJSON_Parse(h->payload) : NULL;
        char ref[1024];
        reference(h, payload, ref, sizeof ref);
        const char *why = NULL;
        char *uri = item_thumbnail(source, r->collection, h, fetch_ref(payload), &why);
        fprintf(out, "<li class=\"hit\" data-id=\"%" PRIu64 "\"><figure>", h->id);
        if (uri != NULL) {
            html_img(out, "thumb", uri, ref);
        } else {
            es_warn("search page: no thumbnail for %s: %s", ref,
                    why ? why : "unknown reason");
            fputs("<div class=\"missing thumb\">no preview: ", out);
            html_text(out, why ? why : "unknown reason");
            fputs("</div>", out);
        }
        free(uri);
        fprintf(out, "<figcaption><span class=\"rank\">#%zu</span> "
                     "<span class=\"score\">%.4f</span><br>", i + 1,
                (double)h->score);
        const char *url = payload_string(payload, "full_url");
        if (url != NULL && (strncmp(url, "http://", 7) == 0 ||
                            strncmp(url, "https://", 8) == 0)) {
            fputs("<a class=\"ref\" href=\"", out);
            html_text(out, url);
            fputs("\">", out);
            html_text(out, ref);
            fputs("</a>", out);
        } else {
            fputs("<span class=\"ref\">", out);
            html_text(out, ref);
            fputs("</span>", out);
        }
        fputs("</figcaption></figure></li>\n", out);
        cJSON_Delete(payload);
    }
    fputs("</ol>\n</body>\n</html>\n", out);
    return ferror(out) ? -1 : 0;
}

int es_search_write(const es_search_results *r, es_search_format format,
                    es_instance *source, FILE *out)
{
    switch (format) {
    case ES_SEARCH_JSON: return write_json(r, out);
    case ES_SEARCH_HTML: return write_html(r, source, out);
    default: return write_text(r, out);
    }
}

/* The page shows the items' content, which only the source can fetch. */
int es_search_output(es_app *app, const es_search_results *r, int format,
                     const char *path)
{
    char err[2048];
    es_instance *source = NULL;
    if (format == ES_SEARCH_HTML) {
        if (es_app_open(app, EMBSYNC_KIND_SOURCE, err, sizeof err) == 0)
            source = es_app_instance(app, EMBSYNC_KIND_SOURCE);
        else
            es_warn("search page without thumbnails: %s", err);
    }
    FILE *out = path != NULL ? fopen(path, "w") : stdout;
    if (out == NULL) {
        es_error("%s: %s", path, strerror(errno));
        return -1;
    }
    int bad = es_search_write(r, (es_search_format)format, source, out);
    bad |= path != NULL ? fclose(out) != 0 : fflush(out) != 0;
    if (bad) {
        es_error("%s: cannot write the results", path != NULL ? path : "stdout");
        return -1;
    }
    if (path != NULL)
        es_info("%zu hits written to %s", r->n, path);
    return 0;
}
