#include "applied.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stb_ds.h>

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Paths are stored escaped so a tab or newline in a file name cannot break
 * a line: %, TAB, LF and CR become %XX. */
static void write_escaped(FILE *fp, const char *s)
{
    for (; *s; s++) {
        if (*s == '%' || *s == '\t' || *s == '\n' || *s == '\r')
            fprintf(fp, "%%%02X", (unsigned char)*s);
        else
            fputc(*s, fp);
    }
}

static void unescape(char *s)
{
    char *out = s;
    for (; *s; s++) {
        unsigned v;
        if (*s == '%' && sscanf(s + 1, "%2X", &v) == 1) {
            *out++ = (char)v;
            s += 2;
        } else {
            *out++ = *s;
        }
    }
    *out = '\0';
}

static void apply(dir_applied_state *l, const char *path, uint64_t size, int64_t mtime)
{
    if (size == DIR_DELETED) {
        (void)shdel(l->map, path);
        return;
    }
    dir_applied a = {.size = size, .mtime_ns = mtime, .seen = 1};
    shput(l->map, path, a);
}

/* Lines: "+\tSIZE\tMTIME_NS\tPATH" or "-\tPATH".  A torn last line (no
 * newline) was never acknowledged and is ignored. */
static void read_lines(dir_applied_state *l, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, fp)) > 0) {
        if (line[len - 1] != '\n')
            break;
        line[len - 1] = '\0';
        uint64_t size;
        int64_t mtime;
        int at = 0;
        if (sscanf(line, "+\t%" SCNu64 "\t%" SCNd64 "\t%n", &size, &mtime, &at) == 2 && at > 0) {
            unescape(line + at);
            apply(l, line + at, size, mtime);
        } else if (strncmp(line, "-\t", 2) == 0) {
            unescape(line + 2);
            apply(l, line + 2, DIR_DELETED, 0);
        }
    }
    free(line);
    fclose(fp);
}

int dir_applied_load(dir_applied_state *l, const embsync_host *host,
                     embsync_ctx *ctx, const char *file, char *err,
                     size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->journal_fd = -1;
    l->host = host;
    l->ctx = ctx;
    const char *dir = host->state_dir(ctx);
    if (dir == NULL)
        return fail(err, errlen, "no state directory");
    sh_new_strdup(l->map);
    size_t n = strlen(dir) + strlen(file) + 16;
    l->state_path = malloc(n);
    l->journal_path = malloc(n);
    if (l->state_path == NULL || l->journal_path == NULL)
        return fail(err, errlen, "out of memory");
    /* ".ledger" is the file's name from before the rename to "applied
     * state"; renaming it would need a migration of existing state
     * directories, so it stays. */
    snprintf(l->state_path, n, "%s/%s.ledger", dir, file);
    l->state_name = strrchr(l->state_path, '/') + 1;
    snprintf(l->journal_path, n, "%s/%s.journal", dir, file);
    read_lines(l, l->state_path);
    read_lines(l, l->journal_path);
    l->journal_fd = open(l->journal_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (l->journal_fd < 0)
        return fail(err, errlen, "%s: %s", l->journal_path, strerror(errno));
    /* Cut a torn tail so the next append starts on a line of its own. */
    off_t end = lseek(l->journal_fd, 0, SEEK_END);
    if (end > 0) {
        char last;
        if (pread(l->journal_fd, &last, 1, end - 1) == 1 && last != '\n') {
            FILE *fp = fopen(l->journal_path, "r");
            off_t good = 0, pos = 0;
            int c;
            while (fp != NULL && (c = fgetc(fp)) != EOF) {
                pos++;
                if (c == '\n')
                    good = pos;
            }
            if (fp != NULL)
                fclose(fp);
            if (ftruncate(l->journal_fd, good) != 0)
                return fail(err, errlen, "%s: %s", l->journal_path, strerror(errno));
        }
    }
    return 0;
}

int dir_applied_record(dir_applied_state *l, size_t n, const char *const *paths,
                      const uint64_t *sizes, const int64_t *mtimes, char *err,
                      size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL)
        return fail(err, errlen, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (sizes[i] == DIR_DELETED)
            fputs("-\t", fp);
        else
            fprintf(fp, "+\t%" PRIu64 "\t%" PRId64 "\t", sizes[i], mtimes[i]);
        write_escaped(fp, paths[i]);
        fputc('\n', fp);
    }
    fclose(fp);
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(l->journal_fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            free(text);
            return fail(err, errlen, "%s: %s", l->journal_path, strerror(errno));
        }
        off += (size_t)w;
    }
    free(text);
    if (fdatasync(l->journal_fd) != 0)
        return fail(err, errlen, "%s: %s", l->journal_path, strerror(errno));
    for (size_t i = 0; i < n; i++)
        apply(l, paths[i], sizes[i], mtimes ? mtimes[i] : 0);
    return 0;
}

int dir_applied_fold(dir_applied_state *l, char *err, size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (fp == NULL)
        return fail(err, errlen, "out of memory");
    for (ptrdiff_t i = 0; i < shlen(l->map); i++) {
        fprintf(fp, "+\t%" PRIu64 "\t%" PRId64 "\t", l->map[i].value.size,
                l->map[i].value.mtime_ns);
        write_escaped(fp, l->map[i].key);
        fputc('\n', fp);
    }
    int bad = fclose(fp) != 0;
    /* The folded state first, then an empty journal: a crash in between
     * replays acknowledgements the folded state already holds, which is
     * harmless. */
    if (bad || l->host->state_write(l->ctx, l->state_name, text, len) != 0) {
        free(text);
        return fail(err, errlen, "%s: %s", l->state_path, strerror(errno));
    }
    free(text);
    if (ftruncate(l->journal_fd, 0) != 0 || fsync(l->journal_fd) != 0)
        return fail(err, errlen, "%s: %s", l->journal_path, strerror(errno));
    return 0;
}

int dir_applied_reset(dir_applied_state *l)
{
    shfree(l->map);
    sh_new_strdup(l->map);
    /* Durably: the core drops the store's vectors on the strength of it. */
    if (ftruncate(l->journal_fd, 0) != 0 || fsync(l->journal_fd) != 0 ||
        (unlink(l->state_path) != 0 && errno != ENOENT))
        return -1;
    char *dir = strdup(l->state_path);
    char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
    if (slash == NULL) {
        free(dir);
        return -1;
    }
    *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
    int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -1;
    if (fd >= 0)
        close(fd);
    return rc;
}

void dir_applied_free(dir_applied_state *l)
{
    if (l->journal_fd >= 0)
        close(l->journal_fd);
    shfree(l->map);
    free(l->state_path);
    free(l->journal_path);
    memset(l, 0, sizeof *l);
    l->journal_fd = -1;
}
