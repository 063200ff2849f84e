#include <config.h>

#include "configfile.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "log.h"

#define SECRET_FILE_MAX (64 * 1024)

/* State of one parse; inih calls the handler once per key. */
typedef struct parser {
    es_config *cfg;
    FILE *fp;
    int line;           /* line the reader returned last */
    int section_line;   /* line of the last [section] header */
    char *err;
    size_t errlen;
    int failed;
    int seen_core_keys; /* bit per core key, for duplicate detection */
} parser;

static void fail(parser *p, const char *section, const char *key,
                 const char *fmt, ...) EMBSYNC_PRINTF(4, 5);

static void fail(parser *p, const char *section, const char *key,
                 const char *fmt, ...)
{
    if (p->failed)
        return; /* the first error is the one to fix */
    p->failed = 1;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (key != NULL)
        snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->cfg->path,
                 p->line, section, key, msg);
    else
        snprintf(p->err, p->errlen, "%s:%d: %s", p->cfg->path, p->line, msg);
}

/* inih notes a malformed line and goes on, so the error it reports comes
 * after whatever the following lines caused (a header without ']' made the
 * next `plugin =` a duplicate in the previous section).  Catch the two
 * shapes it refuses on the line itself. */
static void check_line_shape(parser *p, const char *buf, const char *first)
{
    if (*first == '[') {
        if (strchr(first, ']') == NULL)
            fail(p, "", NULL, "section header without closing ']'");
        return;
    }
    /* Comments, blank lines and indented continuation lines are inih's. */
    if (first != buf || *first == ';' || *first == '#' || *first == '\n' ||
        *first == '\r' || *first == '\0')
        return;
    if (strpbrk(first, "=:") == NULL)
        fail(p, "", NULL, "syntax error (expected [section] or key = value)");
}

/* inih reader that counts lines, so every error can name its line, and that
 * refuses lines longer than inih's buffer instead of letting it split them. */
static char *read_line(char *buf, int size, void *stream)
{
    parser *p = stream;
    if (fgets(buf, size, p->fp) == NULL)
        return NULL;
    p->line++;
    size_t len = strlen(buf);
    if (len == (size_t)size - 1 && buf[len - 1] != '\n' && !feof(p->fp)) {
        int c;
        while ((c = fgetc(p->fp)) != EOF && c != '\n')
            ;
        fail(p, "", NULL, "line longer than %d characters", size - 2);
        buf[0] = '\0';
    }
    const char *first = buf + strspn(buf, " \t");
    if (*first == '[')
        p->section_line = p->line;
    check_line_shape(p, buf, first);
    return buf;
}

/* The "}" closing the reference that opens at s ("${"), nested references
 * in a default counted; NULL when there is none. */
static const char *reference_end(const char *s)
{
    int depth = 0;
    for (const char *c = s; *c != '\0'; c++) {
        if (c[0] == '$' && c[1] == '{') {
            depth++;
            c++;
        } else if (*c == '}' && --depth == 0) {
            return c;
        }
    }
    return NULL;
}

/* Expand ${NAME} and ${NAME:-DEFAULT} from the environment.  ${NAME} needs
 * NAME set (empty is allowed); ${NAME:-DEFAULT} takes DEFAULT, itself
 * expanded, when NAME is unset or empty, as a shell does.  *unset is set
 * when the value is nothing but such references and came out empty: the
 * key is then left out, so an empty variable reads as an absent setting
 * (the original Auto-Updater's rule for its environment).  NULL (with the
 * error set) when a variable is unset or the syntax is broken. */
static char *expand_env(parser *p, const char *section, const char *key,
                        const char *value, int *unset)
{
    size_t cap = strlen(value) + 1, len = 0;
    int refs = 0, plain_refs = 0;
    char *out = malloc(cap);
    if (out == NULL)
        return NULL;
    for (const char *s = value; *s != '\0';) {
        const char *piece = s;
        size_t piece_len = 1;
        char *expanded = NULL;
        if (s[0] == '$' && s[1] == '{') {
            const char *close = reference_end(s);
            if (close == NULL) {
                fail(p, section, key, "unterminated ${ in value");
                free(out);
                return NULL;
            }
            const char *body = s + 2;
            const char *dflt = strstr(body, ":-");
            if (dflt != NULL && dflt > close)
                dflt = NULL;
            char name[256];
            size_t nlen = (size_t)((dflt ? dflt : close) - body);
            if (nlen == 0 || nlen >= sizeof name ||
                memchr(body, '{', nlen) != NULL) {
                fail(p, section, key, "bad variable name in ${...}");
                free(out);
                return NULL;
            }
            memcpy(name, body, nlen);
            name[nlen] = '\0';
            refs++;
            piece = getenv(name);
            if (dflt != NULL && (piece == NULL || *piece == '\0')) {
                size_t dlen = (size_t)(close - (dflt + 2));
                char *text = malloc(dlen + 1);
                int ignored;
                if (text == NULL) {
                    free(out);
                    return NULL;
                }
                memcpy(text, dflt + 2, dlen);
                text[dlen] = '\0';
                expanded = expand_env(p, section, key, text, &ignored);
                free(text);
                if (expanded == NULL) {
                    free(out);
                    return NULL;
                }
                piece = expanded;
            } else if (piece == NULL) {
                fail(p, section, key, "environment variable %s is not set",
                     name);
                free(out);
                return NULL;
            }
            if (dflt == NULL)
                plain_refs++;
            piece_len = strlen(piece);
            s = close + 1;
        } else {
            s++;
        }
        if (len + piece_len + 1 > cap) {
            cap = (len + piece_len + 1) * 2;
            char *bigger = realloc(out, cap);
            if (bigger == NULL) {
                free(expanded);
                free(out);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + len, piece, piece_len);
        len += piece_len;
        free(expanded);
    }
    out[len] = '\0';
    *unset = len == 0 && refs > 0 && plain_refs == 0;
    return out;
}

/* Read a secret from a file: the whole content, trailing newlines removed. */
static char *read_value_file(const char *path, char *why, size_t whylen)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        snprintf(why, whylen, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(SECRET_FILE_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, SECRET_FILE_MAX + 1, fp) : 0;
    int too_big = n > SECRET_FILE_MAX;
    fclose(fp);
    if (buf == NULL || too_big) {
        snprintf(why, whylen, "%s: %s", path,
                 buf == NULL ? "out of memory" : "file too large");
        free(buf);
        return NULL;
    }
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    buf[n] = '\0';
    return buf;
}

/* Read a systemd credential: $CREDENTIALS_DIRECTORY/NAME, as LoadCredential=
 * or LoadCredentialEncrypted= put it there (readable by the service's
 * dynamic user, unlike a file the administrator owns). */
static char *read_credential(const char *name, char *why, size_t whylen)
{
    const char *dir = getenv("CREDENTIALS_DIRECTORY");
    if (*name == '\0' || strchr(name, '/') != NULL || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0) {
        snprintf(why, whylen, "'%s' is not a credential name", name);
        return NULL;
    }
    if (dir == NULL || *dir == '\0') {
        snprintf(why, whylen,
                 "credential %s: $CREDENTIALS_DIRECTORY is not set (start "
                 "embsync from a unit with LoadCredential=%s:PATH, or use "
                 "KEY_file = PATH)", name, name);
        return NULL;
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
        snprintf(why, whylen, "credential %s: path too long", name);
        return NULL;
    }
    char inner[512];
    char *value = read_value_file(path, inner, sizeof inner);
    if (value == NULL)
        snprintf(why, whylen, "credential %s: %s (is LoadCredential=%s:... "
                 "in the unit?)", name, inner, name);
    return value;
}

int es_parse_int(const char *s, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

int es_parse_bool(const char *s, int *out)
{
    static const char *yes[] = {"true", "yes", "on", "1"};
    static const char *no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int es_parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

es_section *es_config_section(es_config *cfg, int kind)
{
    switch (kind) {
    case EMBSYNC_KIND_SOURCE: return &cfg->source;
    case EMBSYNC_KIND_EMBEDDER: return &cfg->embedder;
    case EMBSYNC_KIND_STORE: return &cfg->store;
    default: return NULL;
    }
}

/* [core] keys: name, and how to store the value. */
enum core_key {
    CK_INTERVAL, CK_RECONCILE_INTERVAL, CK_STATE_DIR, CK_PLUGIN_PATH,
    CK_BATCH_SIZE, CK_LOG_LEVEL,
    CK_LOG_FORMAT, CK_LISTEN, CK_CONTROL_TOKEN, CK_CONTROL_TOKEN_FILE,
    CK_STALE_AFTER, CK_AU_LISTEN, CK_AU_WITHOUT_TOKEN,
    CK_CONTROL_TOKEN_CREDENTIAL, CK_REBUILD_BESIDE, CK_SHARD, CK_COUNT
};
static const char *const core_keys[CK_COUNT] = {
    "interval", "reconcile_interval", "state_dir", "plugin_path",
    "batch_size", "log_level",
    "log_format", "listen", "control_token", "control_token_file",
    "stale_after", "autoupdater_listen", "autoupdater_without_token",
    "control_token_credential", "rebuild_beside", "shard",
};

static int int_in_range(parser *p, const char *key, const char *value,
                        long long lo, long long hi, int *out)
{
    long long v;
    if (es_parse_int(value, &v) != 0 || v < lo || v > hi) {
        fail(p, "core", key, "expected an integer from %lld to %lld, got '%s'",
             lo, hi, value);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void replace(char **slot, char *value)
{
    free(*slot);
    *slot = value;
}

static void core_key(parser *p, const char *key, char *value)
{
    es_config *c = p->cfg;
    int k;
    for (k = 0; k < CK_COUNT; k++)
        if (strcmp(key, core_keys[k]) == 0)
            break;
    if (k == CK_COUNT) {
        fail(p, "core", key, "unknown key");
        goto out;
    }
    if (p->seen_core_keys & (1 << k)) {
        fail(p, "core", key, "set twice");
        goto out;
    }
    p->seen_core_keys |= 1 << k;
    if (value == NULL)
        return;
    switch (k) {
    case CK_INTERVAL:
        int_in_range(p, key, value, 1, 1440, &c->interval_min);
        break;
    case CK_RECONCILE_INTERVAL:
        int_in_range(p, key, value, 0, 525600, &c->reconcile_interval_min);
        break;
    case CK_BATCH_SIZE:
        int_in_range(p, key, value, 1, 4096, &c->batch_size);
        break;
    case CK_STALE_AFTER:
        int_in_range(p, key, value, 0, 525600, &c->stale_after_min);
        break;
    case CK_LOG_LEVEL:
        if ((c->log_level = es_log_level_parse(value)) < 0)
            fail(p, "core", key,
                 "expected error, warning, info or debug, got '%s'", value);
        break;
    case CK_LOG_FORMAT:
        if ((c->log_format = es_log_format_parse(value)) < 0)
            fail(p, "core", key, "expected text or json, got '%s'", value);
        break;
    case CK_STATE_DIR:
        if (*value == '\0')
            fail(p, "core", key, "must not be empty");
        replace(&c->state_dir, value);
        return;
    case CK_PLUGIN_PATH:
        replace(&c->plugin_path, value);
        return;
    case CK_LISTEN:
        replace(&c->listen, value);
        return;
    case CK_AU_LISTEN:
        replace(&c->autoupdater_listen, value);
        return;
    case CK_REBUILD_BESIDE:
        if (es_parse_bool(value, &c->rebuild_beside) != 0)
            fail(p, "core", key, "expected true or false, got '%s'", value);
        break;
    case CK_SHARD: {
        char why[128];
        if (es_shard_parse(value, &c->shard, why, sizeof why) != 0)
            fail(p, "core", key, "%s", why);
        break;
    }
    case CK_AU_WITHOUT_TOKEN:
        if (es_parse_bool(value, &c->autoupdater_without_token) != 0)
            fail(p, "core", key, "expected true or false, got '%s'", value);
        break;
    case CK_CONTROL_TOKEN:
        es_secret_add(value);
        replace(&c->control_token, value);
        return;
    case CK_CONTROL_TOKEN_FILE:
    case CK_CONTROL_TOKEN_CREDENTIAL: {
        char why[512];
        char *secret = k == CK_CONTROL_TOKEN_FILE
                           ? read_value_file(value, why, sizeof why)
                           : read_credential(value, why, sizeof why);
        if (secret == NULL)
            fail(p, "core", key, "%s", why);
        else {
            es_secret_add(secret);
            replace(&c->control_token, secret);
        }
        break;
    }
    }
out:
    free(value);
}

static void section_key(parser *p, es_section *sec, const char *key,
                        char *value)
{
    if (strcmp(key, "plugin") == 0) {
        if (sec->plugin != NULL) {
            fail(p, sec->name, key, "set twice");
            free(value);
            return;
        }
        sec->plugin = value; /* NULL when left unset: reported as missing */
        sec->plugin_line = p->line;
        return;
    }
    for (size_t i = 0; i < sec->n_entries; i++) {
        if (strcmp(sec->entries[i].key, key) == 0) {
            fail(p, sec->name, key, "set twice (first on line %d)",
                 sec->entries[i].line);
            free(value);
            return;
        }
    }
    es_entry *grown = realloc(sec->entries,
                              (sec->n_entries + 1) * sizeof *grown);
    char *kcopy = strdup(key);
    if (grown == NULL || kcopy == NULL) {
        if (grown != NULL)
            sec->entries = grown;
        free(kcopy);
        free(value);
        fail(p, sec->name, key, "out of memory");
        return;
    }
    sec->entries = grown;
    sec->entries[sec->n_entries++] =
        (es_entry){.key = kcopy, .value = value, .line = p->line};
}

static int on_key(void *user, const char *section, const char *key,
                  const char *raw)
{
    parser *p = user;
    if (p->failed)
        return 1;
    if (*section == '\0') {
        fail(p, "", NULL, "key '%s' outside of any [section]", key);
        return 1;
    }
    int unset = 0;
    char *value = expand_env(p, section, key, raw, &unset);
    if (value == NULL) {
        if (!p->failed)
            fail(p, section, key, "out of memory");
        return 1;
    }
    if (unset) {
        /* Checked like any key, then left at its default. */
        free(value);
        value = NULL;
    }
    if (strcmp(section, "core") == 0) {
        core_key(p, key, value);
        return 1;
    }
    es_section *sec = NULL;
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++)
        if (strcmp(section, es_config_section(p->cfg, kind)->name) == 0)
            sec = es_config_section(p->cfg, kind);
    if (sec == NULL) {
        fail(p, section, key,
             "unknown section [%s] (expected core, source, embedder, store)",
             section);
        free(value);
        return 1;
    }
    if (sec->line == 0)
        sec->line = p->section_line;
    section_key(p, sec, key, value);
    return 1;
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int es_config_parse(const char *path, es_config *cfg, char *err, size_t errlen)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = strdup(path != NULL ? path : "(defaults)");
    cfg->interval_min = 10;
    cfg->rebuild_beside = 1;
    cfg->batch_size = 32;
    cfg->log_level = EMBSYNC_LOG_INFO;
    cfg->log_format = ES_LOG_TEXT;
    cfg->state_dir = dup_or_null("/var/lib/embsync");
    cfg->plugin_path = dup_or_null(ES_PLUGINDIR);
    cfg->listen = dup_or_null("");
    cfg->autoupdater_listen = dup_or_null("");
    cfg->source.name = dup_or_null("source");
    cfg->embedder.name = dup_or_null("embedder");
    cfg->store.name = dup_or_null("store");

    if (path == NULL)
        return 0;
    parser p = {.cfg = cfg, .err = err, .errlen = errlen};
    p.fp = fopen(path, "r");
    if (p.fp == NULL) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, &p, on_key, &p);
    fclose(p.fp);
    if (!p.failed && rc > 0) {
        p.line = rc;
        fail(&p, "", NULL, "syntax error (expected [section] or key = value)");
    }
    if (p.failed)
        return -1;
    return 0;
}

int es_config_load(const char *path, es_config *cfg, char *err, size_t errlen)
{
    if (es_config_parse(path, cfg, err, errlen) != 0)
        return -1;
    for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
        es_section *sec = es_config_section(cfg, kind);
        if (sec->plugin == NULL || *sec->plugin == '\0') {
            if (sec->line == 0)
                snprintf(err, errlen, "%s: missing section [%s] with plugin = NAME",
                         path, sec->name);
            else if (sec->plugin != NULL)
                snprintf(err, errlen, "%s:%d: [%s] plugin: empty (plugin = NAME)",
                         path, sec->plugin_line, sec->name);
            else
                snprintf(err, errlen, "%s:%d: [%s] plugin: missing key (plugin = NAME)",
                         path, sec->line, sec->name);
            return -1;
        }
    }
    return 0;
}

static void section_free(es_section *sec)
{
    for (size_t i = 0; i < sec->n_entries; i++) {
        free(sec->entries[i].key);
        free(sec->entries[i].value);
    }
    free(sec->entries);
    free(sec->name);
    free(sec->plugin);
}

void es_config_free(es_config *cfg)
{
    free(cfg->path);
    free(cfg->state_dir);
    free(cfg->plugin_path);
    free(cfg->listen);
    free(cfg->autoupdater_listen);
    free(cfg->control_token);
    section_free(&cfg->source);
    section_free(&cfg->embedder);
    section_free(&cfg->store);
    memset(cfg, 0, sizeof *cfg);
}

static const embsync_config_key *key_at(const embsync_config_key *keys,
                                        size_t stride, size_t i)
{
    return (const embsync_config_key *)((const char *)keys + i * stride);
}

static const char *type_name(int type)
{
    switch (type) {
    case EMBSYNC_KEY_INT: return "an integer";
    case EMBSYNC_KEY_BOOL: return "a boolean (true/false)";
    case EMBSYNC_KEY_DOUBLE: return "a number";
    default: return "a string";
    }
}

static int value_has_type(const char *value, int type)
{
    long long i;
    int b;
    double d;
    switch (type) {
    case EMBSYNC_KEY_INT: return es_parse_int(value, &i) == 0;
    case EMBSYNC_KEY_BOOL: return es_parse_bool(value, &b) == 0;
    case EMBSYNC_KEY_DOUBLE: return es_parse_double(value, &d) == 0;
    default: return 1;
    }
}

int es_plugin_config_build(const es_config *cfg, const es_section *sec,
                           const embsync_config_key *keys, size_t stride,
                           es_plugin_config *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    while (keys != NULL && key_at(keys, stride, n)->name != NULL)
        n++;
    out->keys = keys;
    out->n_keys = n;
    /* The module's array is strided by its own struct size; keep a packed
     * copy of the v1 fields so lookups do not care. */
    embsync_config_key *packed = calloc(n + 1, sizeof *packed);
    out->values = calloc(n + 1, sizeof *out->values);
    if (packed == NULL || out->values == NULL) {
        free(packed);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        memcpy(&packed[i], key_at(keys, stride, i),
               stride < sizeof *packed ? stride : sizeof *packed);
    out->keys = packed;

    for (size_t e = 0; e < sec->n_entries; e++) {
        const es_entry *en = &sec->entries[e];
        size_t klen = strlen(en->key);
        /* KEY_file = PATH and KEY_credential = NAME give a string KEY. */
        static const char *const indirect[] = {"", "_file", "_credential"};
        int from = 0;
        size_t idx = n;
        for (size_t i = 0; i < n; i++)
            if (strcmp(packed[i].name, en->key) == 0)
                idx = i;
        for (int v = 1; v < 3 && idx == n; v++) {
            size_t slen = strlen(indirect[v]);
            if (klen <= slen || strcmp(en->key + klen - slen, indirect[v]) != 0)
                continue;
            for (size_t i = 0; i < n; i++)
                if (strlen(packed[i].name) == klen - slen &&
                    strncmp(packed[i].name, en->key, klen - slen) == 0 &&
                    packed[i].type == EMBSYNC_KEY_STRING)
                    idx = i, from = v;
        }
        if (idx == n) {
            char known[512] = "";
            size_t at = 0;
            for (size_t i = 0; i < n && at < sizeof known; i++) {
                int w = snprintf(known + at, sizeof known - at, "%s%s",
                                 i ? ", " : "", packed[i].name);
                at += w > 0 ? (size_t)w : 0;
            }
            snprintf(err, errlen, "%s:%d: [%s] %s: unknown key for plugin %s "
                     "(its keys: %s)", cfg->path, en->line, sec->name, en->key,
                     sec->plugin, n ? known : "none");
            goto fail;
        }
        if (out->values[idx] != NULL) {
            snprintf(err, errlen, "%s:%d: [%s] %s: %s is already set",
                     cfg->path, en->line, sec->name, en->key, packed[idx].name);
            goto fail;
        }
        if (en->value == NULL)
            continue; /* left unset by an empty ${NAME:-} */
        char *value;
        if (from != 0) {
            char why[768];
            value = from == 1 ? read_value_file(en->value, why, sizeof why)
                              : read_credential(en->value, why, sizeof why);
            if (value == NULL) {
                snprintf(err, errlen, "%s:%d: [%s] %s: %s", cfg->path,
                         en->line, sec->name, en->key, why);
                goto fail;
            }
        } else {
            value = strdup(en->value);
        }
        if (!value_has_type(value, packed[idx].type)) {
            int secret = packed[idx].flags & EMBSYNC_KEY_SECRET;
            snprintf(err, errlen, "%s:%d: [%s] %s: expected %s, got '%s'",
                     cfg->path, en->line, sec->name, en->key,
                     type_name(packed[idx].type), secret ? "***" : value);
            free(value);
            goto fail;
        }
        if ((packed[idx].flags & EMBSYNC_KEY_REQUIRED) && *value == '\0') {
            snprintf(err, errlen, "%s:%d: [%s] %s: required by plugin %s, but empty",
                     cfg->path, en->line, sec->name, en->key, sec->plugin);
            free(value);
            goto fail;
        }
        if (packed[idx].flags & EMBSYNC_KEY_SECRET)
            es_secret_add(value);
        out->values[idx] = value;
    }
    for (size_t i = 0; i < n; i++) {
        if ((packed[i].flags & EMBSYNC_KEY_REQUIRED) && out->values[i] == NULL) {
            snprintf(err, errlen, "%s:%d: [%s] %s: required by plugin %s but not set",
                     cfg->path, sec->line, sec->name, packed[i].name,
                     sec->plugin);
            goto fail;
        }
    }
    return 0;
fail:
    es_plugin_config_free(out);
    return -1;
}

void es_plugin_config_free(es_plugin_config *pc)
{
    if (pc->values != NULL)
        for (size_t i = 0; i < pc->n_keys; i++)
            free(pc->values[i]);
    free(pc->values);
    free((void *)pc->keys);
    memset(pc, 0, sizeof *pc);
}

const char *es_plugin_config_get(const es_plugin_config *pc, const char *key,
                                 const embsync_config_key **decl)
{
    for (size_t i = 0; i < pc->n_keys; i++) {
        if (strcmp(pc->keys[i].name, key) == 0) {
            if (decl != NULL)
                *decl = &pc->keys[i];
            return pc->values[i] != NULL ? pc->values[i]
                                         : pc->keys[i].default_value;
        }
    }
    if (decl != NULL)
        *decl = NULL;
    return NULL;
}

const char *es_config_core_key(size_t i)
{
    return i < CK_COUNT ? core_keys[i] : NULL;
}
