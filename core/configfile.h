/* The INI configuration: [core], [source], [embedder], [store]. */
#ifndef ES_CONFIGFILE_H
#define ES_CONFIGFILE_H

#include <stddef.h>

#include "shard.h"

#include <embsync/plugin.h>

/** One `key = value` line, after ${ENV} expansion. */
typedef struct es_entry {
    char *key;
    char *value;       /* NULL: an empty ${NAME:-...} left the key unset */
    int line;
} es_entry;

/** A plugin section: its `plugin =` name and the other entries. */
typedef struct es_section {
    char *name;        /* "source", "embedder", "store" */
    char *plugin;      /* value of `plugin =`, or NULL */
    int plugin_line;   /* line of `plugin =`, 0 when absent */
    int line;          /* line of the [section] header, 0 when absent */
    es_entry *entries;
    size_t n_entries;
} es_section;

typedef struct es_config {
    char *path;
    /* [core] */
    int interval_min;        /* 1–1440 */
    int reconcile_interval_min; /* the daemon reconciles after a pass once
                                   this long since the last; 0 = never */
    char *state_dir;
    char *plugin_path;
    int batch_size;
    int log_level;           /* EMBSYNC_LOG_* */
    int log_format;          /* es_log_format */
    char *listen;            /* control port address, "" = off */
    char *control_token;     /* secret */
    int stale_after_min;     /* health: a collection older than this is
                                degraded; 0 = 3 × interval */
    char *autoupdater_listen;  /* the original Auto-Updater's routes, "" = off */
    int autoupdater_without_token; /* serve them without the control token */
    int rebuild_beside;      /* a model change rebuilds beside the live
                                collection when the plugins can */
    es_shard shard;          /* this daemon's collections; n = 0: all */
    es_section source, embedder, store;
} es_config;

/** Load and check `path`.  On error returns -1 with a message naming file,
 *  line and key in err. */
int es_config_load(const char *path, es_config *cfg, char *err, size_t errlen);

/** The same checks, except that plugin sections may be absent: for tools
 *  that load one plugin (embsync-plugin-check).  Sections not in the file
 *  read as empty; a NULL path gives the defaults alone. */
int es_config_parse(const char *path, es_config *cfg, char *err,
                    size_t errlen);

void es_config_free(es_config *cfg);

/** The section for a plugin kind. */
es_section *es_config_section(es_config *cfg, int kind);

/**
 * A plugin section checked against the plugin's declared keys: every key
 * known, every value of the right type, required keys present, NAME_file
 * read.  values[i] is the value for keys[i] (NULL when unset: the default
 * applies).  The secret values are registered for redaction.
 */
typedef struct es_plugin_config {
    const embsync_config_key *keys; /* borrowed from the module */
    size_t n_keys;
    char **values;
} es_plugin_config;

int es_plugin_config_build(const es_config *cfg, const es_section *sec,
                           const embsync_config_key *keys, size_t key_stride,
                           es_plugin_config *out, char *err, size_t errlen);
void es_plugin_config_free(es_plugin_config *pc);

/** The value for key (or its default); NULL when neither.  Sets *decl to
 *  the declaration when found. */
const char *es_plugin_config_get(const es_plugin_config *pc, const char *key,
                                 const embsync_config_key **decl);

/** The i-th key [core] accepts, NULL past the last (documentation tests). */
const char *es_config_core_key(size_t i);

/** Typed parsers shared by validation and lookup.  Return 0 on success. */
int es_parse_int(const char *s, long long *out);
int es_parse_bool(const char *s, int *out);
int es_parse_double(const char *s, double *out);

#endif
