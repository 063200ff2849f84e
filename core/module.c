#include <config.h>

#include "module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ltdl.h>

const char *es_kind_name(int kind)
{
    switch (kind) {
    case EMBSYNC_KIND_SOURCE: return "source";
    case EMBSYNC_KIND_EMBEDDER: return "embedder";
    case EMBSYNC_KIND_STORE: return "store";
    default: return "unknown";
    }
}

static const char *with_article(int kind)
{
    switch (kind) {
    case EMBSYNC_KIND_SOURCE: return "a source";
    case EMBSYNC_KIND_EMBEDDER: return "an embedder";
    default: return "a store";
    }
}

int es_modules_init(void)
{
    return lt_dlinit() == 0 ? 0 : -1;
}

void es_modules_exit(void)
{
    lt_dlexit();
}

/* Check an ABI prefix; fills err and returns -1 when it cannot be used.
 * `min_size` is the smallest size holding everything v1.0 requires. */
static int check_prefix(const embsync_abi *abi, const char *what,
                        size_t min_size, const char *origin, char *err,
                        size_t errlen)
{
    if (abi->major != EMBSYNC_ABI_MAJOR) {
        snprintf(err, errlen,
                 "%s: refused: %s built for ABI %u.%u, this embsync speaks ABI %d.%d (major differs)",
                 origin, what, abi->major, abi->minor, EMBSYNC_ABI_MAJOR,
                 EMBSYNC_ABI_MINOR);
        return -1;
    }
    if (abi->minor > EMBSYNC_ABI_MINOR) {
        snprintf(err, errlen,
                 "%s: refused: %s built for ABI %u.%u, newer than this embsync's ABI %d.%d; upgrade embsync",
                 origin, what, abi->major, abi->minor, EMBSYNC_ABI_MAJOR,
                 EMBSYNC_ABI_MINOR);
        return -1;
    }
    if (abi->size < min_size) {
        snprintf(err, errlen,
                 "%s: refused: %s declares size %u, smaller than the %zu bytes ABI %u.0 requires",
                 origin, what, abi->size, min_size, abi->major);
        return -1;
    }
    return 0;
}

/* Copy a struct the plugin compiled with its own size into the host's
 * zeroed copy, so members it does not know about read as absent. */
static void copy_sized(void *dst, size_t dst_size, const void *src,
                       uint32_t src_size)
{
    memset(dst, 0, dst_size);
    memcpy(dst, src, src_size < dst_size ? src_size : dst_size);
}

#define END_OF(T, m) (offsetof(T, m) + sizeof(((T *)0)->m))

static int check_ops(es_module *m, char *err, size_t errlen)
{
    const embsync_abi *abi = m->desc.ops;
    const char *missing = NULL;
    switch (m->desc.kind) {
    case EMBSYNC_KIND_SOURCE: {
        if (check_prefix(abi, "source ops table", END_OF(embsync_source_ops, end),
                         m->origin, err, errlen) != 0)
            return -1;
        copy_sized(&m->ops.source, sizeof m->ops.source, abi, abi->size);
        const embsync_source_ops *o = &m->ops.source;
        if (!o->open) missing = "open";
        else if (!o->close) missing = "close";
        else if (!o->list_collections) missing = "list_collections";
        else if (!o->begin) missing = "begin";
        else if (!o->changes) missing = "changes";
        else if (!o->fetch) missing = "fetch";
        else if (!o->ack) missing = "ack";
        else if (!o->end) missing = "end";
        break;
    }
    case EMBSYNC_KIND_EMBEDDER: {
        if (check_prefix(abi, "embedder ops table",
                         END_OF(embsync_embedder_ops, embed_text), m->origin,
                         err, errlen) != 0)
            return -1;
        copy_sized(&m->ops.embedder, sizeof m->ops.embedder, abi, abi->size);
        const embsync_embedder_ops *o = &m->ops.embedder;
        if (!o->open) missing = "open";
        else if (!o->close) missing = "close";
        else if (!o->info) missing = "info";
        else if (!o->embed_images) missing = "embed_images";
        break;
    }
    case EMBSYNC_KIND_STORE: {
        if (check_prefix(abi, "store ops table", END_OF(embsync_store_ops, drop),
                         m->origin, err, errlen) != 0)
            return -1;
        copy_sized(&m->ops.store, sizeof m->ops.store, abi, abi->size);
        const embsync_store_ops *o = &m->ops.store;
        if (!o->open) missing = "open";
        else if (!o->close) missing = "close";
        else if (!o->ensure) missing = "ensure";
        else if (!o->upsert) missing = "upsert";
        else if (!o->remove) missing = "remove";
        else if (!o->count) missing = "count";
        else if (!o->search) missing = "search";
        else if (!o->drop) missing = "drop";
        break;
    }
    }
    if (missing != NULL) {
        snprintf(err, errlen, "%s: refused: %s plugin '%s' has no %s operation",
                 m->origin, es_kind_name(m->desc.kind), m->desc.name, missing);
        return -1;
    }
    return 0;
}

static es_module *check_descriptor(es_module *m, const embsync_plugin *desc,
                                   int expected_kind, char *err, size_t errlen)
{
    if (desc == NULL) {
        snprintf(err, errlen, "%s: refused: %s() returned NULL", m->origin,
                 EMBSYNC_ENTRY_SYMBOL);
        return NULL;
    }
    if (check_prefix(&desc->abi, "plugin", END_OF(embsync_plugin, ops),
                     m->origin, err, errlen) != 0)
        return NULL;
    copy_sized(&m->desc, sizeof m->desc, desc, desc->abi.size);
    if (m->desc.name == NULL || *m->desc.name == '\0') {
        snprintf(err, errlen, "%s: refused: plugin has no name", m->origin);
        return NULL;
    }
    if (m->desc.kind < EMBSYNC_KIND_SOURCE || m->desc.kind > EMBSYNC_KIND_STORE) {
        snprintf(err, errlen, "%s: refused: plugin '%s' has unknown kind %d",
                 m->origin, m->desc.name, m->desc.kind);
        return NULL;
    }
    if (expected_kind != 0 && m->desc.kind != expected_kind) {
        snprintf(err, errlen,
                 "%s: refused: plugin '%s' is %s plugin, but the [%s] section takes %s plugin",
                 m->origin, m->desc.name, with_article(m->desc.kind),
                 es_kind_name(expected_kind), with_article(expected_kind));
        return NULL;
    }
    if (m->desc.ops == NULL) {
        snprintf(err, errlen, "%s: refused: plugin '%s' has no operation table",
                 m->origin, m->desc.name);
        return NULL;
    }
    if (m->desc.config_keys != NULL &&
        m->desc.config_key_size < END_OF(embsync_config_key, help)) {
        snprintf(err, errlen,
                 "%s: refused: plugin '%s' declares config_key_size %u, smaller than %zu",
                 m->origin, m->desc.name, m->desc.config_key_size,
                 END_OF(embsync_config_key, help));
        return NULL;
    }
    if (check_ops(m, err, errlen) != 0)
        return NULL;
    return m;
}

es_module *es_module_from_descriptor(const embsync_plugin *desc,
                                     const char *origin, int expected_kind,
                                     char *err, size_t errlen)
{
    es_module *m = calloc(1, sizeof *m);
    if (m == NULL || (m->origin = strdup(origin)) == NULL) {
        free(m);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (check_descriptor(m, desc, expected_kind, err, errlen) == NULL) {
        es_module_unload(m);
        return NULL;
    }
    return m;
}

es_module *es_module_load(const char *search_path, const char *name,
                          int expected_kind, char *err, size_t errlen)
{
    lt_dladvise advise;
    if (lt_dladvise_init(&advise) != 0 || lt_dladvise_ext(&advise) != 0 ||
        lt_dladvise_local(&advise) != 0) {
        snprintf(err, errlen, "%s: cannot set up libltdl: %s", name,
                 lt_dlerror());
        return NULL;
    }
    if (strchr(name, '/') == NULL)
        lt_dlsetsearchpath(search_path);
    lt_dlhandle h = lt_dlopenadvise(name, advise);
    lt_dladvise_destroy(&advise);
    if (h == NULL) {
        snprintf(err, errlen, "%s: cannot load plugin (searched %s): %s", name,
                 strchr(name, '/') ? "the given path" : search_path,
                 lt_dlerror());
        return NULL;
    }
    const lt_dlinfo *info = lt_dlgetinfo(h);
    const char *origin = info != NULL && info->filename ? info->filename : name;

    es_module *m = calloc(1, sizeof *m);
    if (m == NULL || (m->origin = strdup(origin)) == NULL) {
        free(m);
        lt_dlclose(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->handle = h;
    embsync_plugin_entry_fn entry;
    void *sym = lt_dlsym(h, EMBSYNC_ENTRY_SYMBOL);
    if (sym == NULL) {
        snprintf(err, errlen, "%s: refused: no entry symbol %s (not an embsync plugin)",
                 m->origin, EMBSYNC_ENTRY_SYMBOL);
        es_module_unload(m);
        return NULL;
    }
    memcpy(&entry, &sym, sizeof entry);
    if (check_descriptor(m, entry(), expected_kind, err, errlen) == NULL) {
        es_module_unload(m);
        return NULL;
    }
    return m;
}

void es_module_unload(es_module *m)
{
    if (m == NULL)
        return;
    if (m->handle != NULL)
        lt_dlclose(m->handle);
    free(m->origin);
    free(m);
}
