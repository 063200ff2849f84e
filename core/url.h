/* URL building for plugins (host->url_join, host->url_escape). */
#ifndef ES_URL_H
#define ES_URL_H

#include <stddef.h>

/** base + "/" + path with exactly one slash; see embsync_host.url_join. */
size_t es_url_join(const char *base, const char *path, char *out,
                   size_t out_len);

/** Percent-escape all but RFC 3986 unreserved; see embsync_host.url_escape. */
size_t es_url_escape(const char *value, char *out, size_t out_len);

#endif
