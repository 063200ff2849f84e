#include <config.h>

#include "shard.h"

#include <stdio.h>
#include <string.h>

#include <xxhash.h>

#include "configfile.h"

/* More daemons than this would each hold a sliver; a typo is likelier. */
#define SHARD_MAX 1024

int es_shard_parse(const char *text, es_shard *out, char *why, size_t whylen)
{
    const char *slash = strchr(text, '/');
    long long k, n;
    char kpart[32];
    size_t klen = slash != NULL ? (size_t)(slash - text) : 0;
    if (slash == NULL || klen == 0 || klen >= sizeof kpart) {
        snprintf(why, whylen, "expected K/N, e.g. 2/3, got '%s'", text);
        return -1;
    }
    memcpy(kpart, text, klen);
    kpart[klen] = '\0';
    if (es_parse_int(kpart, &k) != 0 || es_parse_int(slash + 1, &n) != 0) {
        snprintf(why, whylen, "expected K/N, e.g. 2/3, got '%s'", text);
        return -1;
    }
    if (n < 1 || n > SHARD_MAX || k < 1 || k > n) {
        snprintf(why, whylen,
                 "expected K/N with 1 <= K <= N <= %d, got '%s'", SHARD_MAX,
                 text);
        return -1;
    }
    out->k = (unsigned)k;
    out->n = (unsigned)n;
    return 0;
}

unsigned es_shard_of(const char *collection, unsigned n)
{
    if (n <= 1)
        return 1;
    return (unsigned)(XXH3_64bits(collection, strlen(collection)) % n) + 1;
}

int es_shard_owns(const es_shard *shard, const char *collection)
{
    if (shard == NULL || shard->n <= 1)
        return 1;
    return es_shard_of(collection, shard->n) == shard->k;
}
