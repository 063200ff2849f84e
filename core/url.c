#include <config.h>

#include "url.h"

#include <string.h>

size_t es_url_join(const char *base, const char *path, char *out,
                   size_t out_len)
{
    size_t blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    while (*path == '/')
        path++;
    size_t plen = strlen(path);
    size_t total = blen + (plen > 0 ? 1 + plen : 0);
    if (out_len == 0)
        return 0;
    if (total >= out_len) {
        out[0] = '\0';
        return 0;
    }
    memmove(out, base, blen); /* out may be base itself */
    if (plen > 0) {
        out[blen] = '/';
        memcpy(out + blen + 1, path, plen);
    }
    out[total] = '\0';
    return total;
}

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

size_t es_url_escape(const char *value, char *out, size_t out_len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (out_len == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        size_t need = unreserved(*p) ? 1 : 3;
        if (o + need >= out_len) {
            out[0] = '\0';
            return 0;
        }
        if (need == 1) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
    return o;
}
