#include <config.h>

#include "change_spool.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "statefile.h"

int es_spool_open(es_change_spool *s)
{
    s->n = 0;
    s->fp = tmpfile();
    return s->fp != NULL ? 0 : -1;
}

int es_spool_create(es_change_spool *s, const char *path)
{
    s->n = 0;
    s->fp = fopen(path, "w+be");
    return s->fp != NULL ? 0 : -1;
}

int es_spool_sync(es_change_spool *s, const char *path)
{
    return fflush(s->fp) == 0 && fdatasync(fileno(s->fp)) == 0 &&
                   es_sync_dir_of(path) == 0
               ? 0
               : -1;
}

int es_spool_open_read(es_change_spool *s, const char *path)
{
    s->n = 0;
    s->fp = fopen(path, "rbe");
    return s->fp != NULL ? 0 : -1;
}

static int put_string(FILE *fp, const char *str)
{
    uint32_t len = str != NULL ? (uint32_t)strlen(str) : UINT32_MAX;
    return fwrite(&len, sizeof len, 1, fp) == 1 &&
                   (str == NULL || fwrite(str, 1, len, fp) == len)
               ? 0
               : -1;
}

static int get_string(FILE *fp, char **out)
{
    uint32_t len;
    *out = NULL;
    if (fread(&len, sizeof len, 1, fp) != 1)
        return -1;
    if (len == UINT32_MAX)
        return 0;
    if ((*out = malloc((size_t)len + 1)) == NULL ||
        fread(*out, 1, len, fp) != len)
        return -1;
    (*out)[len] = '\0';
    return 0;
}

int es_spool_put(es_change_spool *s, const embsync_change *c)
{
    int32_t op = c->op;
    if (fwrite(&c->id, sizeof c->id, 1, s->fp) != 1 ||
        fwrite(&op, sizeof op, 1, s->fp) != 1 ||
        put_string(s->fp, c->ref) != 0 || put_string(s->fp, c->version) != 0 ||
        put_string(s->fp, c->payload) != 0)
        return -1;
    s->n++;
    return 0;
}

int es_spool_rewind(es_change_spool *s)
{
    return fflush(s->fp) == 0 && fseek(s->fp, 0, SEEK_SET) == 0 ? 0 : -1;
}

long es_spool_read(es_change_spool *s, embsync_change *page, size_t max)
{
    size_t n = 0;
    while (n < max) {
        uint64_t id;
        int32_t op;
        if (fread(&id, sizeof id, 1, s->fp) != 1)
            break;  /* the end: a change always starts with its id */
        char *str[3] = {NULL, NULL, NULL};
        if (fread(&op, sizeof op, 1, s->fp) != 1 ||
            get_string(s->fp, &str[0]) != 0 ||
            get_string(s->fp, &str[1]) != 0 ||
            get_string(s->fp, &str[2]) != 0) {
            for (int k = 0; k < 3; k++)
                free(str[k]);
            es_spool_page_free(page, n);
            return -1;
        }
        page[n++] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                     .id = id, .op = op, .ref = str[0],
                                     .version = str[1], .payload = str[2]};
    }
    return (long)n;
}

void es_spool_page_free(embsync_change *page, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free((char *)page[i].ref);
        free((char *)page[i].version);
        free((char *)page[i].payload);
        page[i].ref = page[i].version = page[i].payload = NULL;
    }
}

void es_spool_close(es_change_spool *s)
{
    if (s->fp != NULL)
        fclose(s->fp);
    s->fp = NULL;
}
