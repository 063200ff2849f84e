/* The key reference of embsync.ini(5), written from the key tables
 * themselves: [core]'s (corekeys.c) and every plugin module's. */
#ifndef ES_MANPAGE_H
#define ES_MANPAGE_H

#include <stddef.h>
#include <stdio.h>

/**
 * Write, in roff, a section for [core] and one per kind with a subsection
 * for every plugin module in the plugin path: each key with its type,
 * default, whether it is required or secret, and its help.  The plugin
 * path is the one of config_path ([core] plugin_path; plugin sections may
 * be absent), or the installed one when config_path is NULL.  With
 * n_only > 0, only the modules named in `only` are documented (the build
 * names those it installs, not its test modules).  Returns 0, or -1 with
 * the reason in err.
 */
int es_manpage_keys(FILE *out, const char *config_path,
                    const char *const *only, size_t n_only, char *err,
                    size_t errlen);

#endif
