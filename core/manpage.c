#include <config.h>

#include "manpage.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "configfile.h"
#include "corekeys.h"
#include "module.h"

/* Text as roff reads it literally: backslashes escaped, and no line that
 * could start with a control character. */
static void roff_text(FILE *out, const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (*s == '\n') {
            fputc(' ', out);
        } else
            fputc(*s, out);
    }
}

static const char *type_word(int type)
{
    switch (type) {
    case EMBSYNC_KEY_INT: return "integer";
    case EMBSYNC_KEY_BOOL: return "boolean";
    case EMBSYNC_KEY_DOUBLE: return "number";
    default: return "string";
    }
}

static void key_entry(FILE *out, const embsync_config_key *k)
{
    fputs(".TP\n.B ", out);
    roff_text(out, k->name);
    fprintf(out, "\n.RI \"(%s", type_word(k->type));
    if (k->flags & EMBSYNC_KEY_REQUIRED)
        fputs("; required", out);
    if (k->flags & EMBSYNC_KEY_SECRET)
        fputs("; secret", out);
    if (k->default_value != NULL) {
        fputs("; default ", out);
        if (*k->default_value == '\0')
            fputs("empty", out);
        else {
            fputs("\\(lq", out);
            /* Inside a quoted macro argument a quote would end it. */
            for (const char *c = k->default_value; *c != '\0'; c++)
                if (*c == '"')
                    fputs("\\(dq", out);
                else if (*c == '\\')
                    fputs("\\e", out);
                else if (*c == '-')
                    fputs("\\-", out);
                else
                    fputc(*c, out);
            fputs("\\(rq", out);
        }
    }
    fputs(")\"\n", out);
    if (k->help != NULL && *k->help != '\0') {
        roff_text(out, k->help);
        fputc('\n', out);
    }
    if ((k->flags & EMBSYNC_KEY_SECRET) && k->type == EMBSYNC_KEY_STRING) {
        fputs(".br\nNever logged; better given as\n.BI ", out);
        roff_text(out, k->name);
        fputs(" _credential \" = \" NAME\nor\n.BI ", out);
        roff_text(out, k->name);
        fputs(" _file \" = \" PATH .\n", out);
    }
}

static void key_table(FILE *out, const embsync_config_key *keys, size_t stride)
{
    const char *base = (const char *)keys;
    for (size_t i = 0; base != NULL; i++) {
        const embsync_config_key *k =
            (const embsync_config_key *)(base + i * stride);
        if (k->name == NULL)
            break;
        key_entry(out, k);
    }
}

/* Module names in the plugin path: each file NAME.so or NAME.la, once. */
typedef struct names {
    char **v;
    size_t n, cap;
} names;

static int add_name(names *l, const char *name, size_t len)
{
    for (size_t i = 0; i < l->n; i++)
        if (strlen(l->v[i]) == len && strncmp(l->v[i], name, len) == 0)
            return 0;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **grown = realloc(l->v, cap * sizeof *grown);
        if (grown == NULL)
            return -1;
        l->v = grown;
        l->cap = cap;
    }
    if ((l->v[l->n] = strndup(name, len)) == NULL)
        return -1;
    l->n++;
    return 0;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_modules(const char *search_path, names *l)
{
    char *copy = strdup(search_path);
    if (copy == NULL)
        return -1;
    char *save = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir != NULL;
         dir = strtok_r(NULL, ":", &save)) {
        DIR *d = opendir(dir);
        if (d == NULL)
            continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len > 3 && (strcmp(e->d_name + len - 3, ".so") == 0 ||
                            strcmp(e->d_name + len - 3, ".la") == 0) &&
                add_name(l, e->d_name, len - 3) != 0) {
                closedir(d);
                free(copy);
                return -1;
            }
        }
        closedir(d);
    }
    free(copy);
    qsort(l->v, l->n, sizeof *l->v, by_name);
    return 0;
}

static const char *const kind_titles[] = {NULL, "SOURCE PLUGINS",
                                          "EMBEDDER PLUGINS", "STORE PLUGINS"};

int es_manpage_keys(FILE *out, const char *config_path,
                    const char *const *only, size_t n_only, char *err,
                    size_t errlen)
{
    es_config cfg;
    if (es_config_parse(config_path, &cfg, err, errlen) != 0) {
        es_config_free(&cfg);
        return -1;
    }
    names l = {0};
    es_module **mods = NULL;
    int rc = -1;
    if (es_modules_init() != 0) {
        snprintf(err, errlen, "cannot initialise libltdl");
        goto out;
    }
    int listed = 0;
    if (n_only > 0) {
        for (size_t i = 0; i < n_only && listed == 0; i++)
            listed = add_name(&l, only[i], strlen(only[i]));
        qsort(l.v, l.n, sizeof *l.v, by_name);
    } else {
        listed = list_modules(cfg.plugin_path, &l);
    }
    if (listed != 0 ||
        (mods = calloc(l.n + 1, sizeof *mods)) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out_ltdl;
    }
    for (size_t i = 0; i < l.n; i++) {
        char why[1024];
        mods[i] = es_module_load(cfg.plugin_path, l.v[i], 0, why, sizeof why);
        if (mods[i] == NULL) {
            snprintf(err, errlen, "%s", why);
            goto out_ltdl;
        }
    }
    if (l.n == 0) {
        snprintf(err, errlen, "no plugin module in %s", cfg.plugin_path);
        goto out_ltdl;
    }

    fputs(".SH [core]\nThe daemon itself.\n", out);
    key_table(out, es_core_keys, sizeof es_core_keys[0]);
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        fprintf(out, ".SH %s\nIn the\n.B [%s]\nsection, after\n.BR \"plugin = \" NAME .\n",
                kind_titles[kind], es_kind_name(kind));
        for (size_t i = 0; i < l.n; i++) {
            const es_module *m = mods[i];
            if ((int)m->desc.kind != kind)
                continue;
            fputs(".SS \"plugin = ", out);
            roff_text(out, m->desc.name);
            fprintf(out, "\"\n");
            if (m->desc.description != NULL) {
                roff_text(out, m->desc.description);
                fputs("\n", out);
            }
            if (m->desc.version != NULL) {
                fputs("(version ", out);
                roff_text(out, m->desc.version);
                fputs(")\n", out);
            }
            if (m->desc.config_keys == NULL ||
                m->desc.config_keys[0].name == NULL)
                fputs(".PP\nNo keys of its own.\n", out);
            else
                key_table(out, m->desc.config_keys, m->desc.config_key_size);
        }
    }
    rc = 0;
out_ltdl:
    for (size_t i = 0; mods != NULL && i < l.n; i++)
        es_module_unload(mods[i]);
    free(mods);
    es_modules_exit();
out:
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i]);
    free(l.v);
    es_config_free(&cfg);
    return rc;
}
