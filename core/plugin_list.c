#include <config.h>

#include "plugin_list.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "module.h"

#define MAX_CANDIDATES 256

/* "name.la" or "name.so" → "name" in out; 0 when the file is neither. */
static int module_name(const char *file, char *out, size_t len)
{
    size_t n = strlen(file);
    if (n < 4 || file[0] == '.' ||
        (strcmp(file + n - 3, ".la") != 0 && strcmp(file + n - 3, ".so") != 0))
        return 0;
    if (n - 3 >= len)
        return 0;
    memcpy(out, file, n - 3);
    out[n - 3] = '\0';
    return 1;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Levenshtein distance, capped: names are short. */
static size_t edits(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* Every distinct module name in the path's folders. */
static size_t candidates(const char *search_path, char **names, size_t max)
{
    size_t n = 0;
    char *path = strdup(search_path != NULL ? search_path : "");
    char *save = NULL;
    for (char *dir = path != NULL ? strtok_r(path, ":", &save) : NULL;
         dir != NULL; dir = strtok_r(NULL, ":", &save)) {
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL && n < max) {
            char name[256];
            if (!module_name(e->d_name, name, sizeof name))
                continue;
            int seen = 0;
            for (size_t i = 0; i < n && !seen; i++)
                seen = strcmp(names[i], name) == 0;
            if (!seen && (names[n] = strdup(name)) != NULL)
                n++;
        }
        closedir(d);
    }
    free(path);
    return n;
}

size_t es_plugins_available(const char *search_path, int kind,
                            const char *wanted, char *out, size_t len,
                            char *suggestion, size_t suggestion_len)
{
    char *names[MAX_CANDIDATES];
    size_t n = candidates(search_path, names, MAX_CANDIDATES);
    qsort(names, n, sizeof names[0], by_name);
    size_t listed = 0, at = 0, best = 3;
    if (len > 0)
        out[0] = '\0';
    if (suggestion_len > 0)
        suggestion[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char why[512];
        es_module *m = es_module_load(search_path, names[i], kind, why,
                                      sizeof why);
        if (m != NULL) {
            int w = snprintf(out + at, at < len ? len - at : 0, "%s%s",
                             listed ? ", " : "", m->desc.name);
            if (w > 0 && at + (size_t)w < len)
                at += (size_t)w;
            listed++;
            size_t d = wanted != NULL ? edits(wanted, m->desc.name) : 99;
            if (d < best && suggestion_len > 0) {
                best = d;
                snprintf(suggestion, suggestion_len, "%s", m->desc.name);
            }
            es_module_unload(m);
        }
        free(names[i]);
    }
    return listed;
}
