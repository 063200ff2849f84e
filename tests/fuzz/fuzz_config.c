/* The INI loader: the whole text of a configuration file, then each
 * plugin section checked against a declared key table. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "configfile.h"

static const embsync_config_key keys[] = {
    {"root", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_REQUIRED, "folder"},
    {"size", EMBSYNC_KEY_INT, "224", 0, "pixels"},
    {"verify", EMBSYNC_KEY_BOOL, "true", 0, "TLS"},
    {"ratio", EMBSYNC_KEY_DOUBLE, "0.5", 0, "a number"},
    {"token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET, "secret"},
    {NULL, 0, NULL, 0, NULL},
};

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = memfd_create("embsync-fuzz.ini", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    es_config cfg;
    char err[2048];
    if (es_config_load(path, &cfg, err, sizeof err) == 0) {
        for (int kind = EMBSYNC_KIND_SOURCE; kind <= EMBSYNC_KIND_STORE; kind++) {
            es_plugin_config pc;
            if (es_plugin_config_build(&cfg, es_config_section(&cfg, kind), keys,
                                       sizeof keys[0], &pc, err, sizeof err) == 0) {
                const embsync_config_key *decl;
                es_plugin_config_get(&pc, "size", &decl);
                es_plugin_config_free(&pc);
            }
        }
    }
    /* The message must be one terminated line naming the file. */
    else if (strnlen(err, sizeof err) == sizeof err || strstr(err, path) == NULL)
        abort();
    es_config_free(&cfg);
    return 0;
}
