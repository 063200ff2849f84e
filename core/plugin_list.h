/* The plugins a plugin path holds, for error messages that say what exists. */
#ifndef ES_PLUGIN_LIST_H
#define ES_PLUGIN_LIST_H

#include <stddef.h>

/** Write into out (len bytes) the names of the valid plugins of `kind`
 *  found in the colon-separated search_path, sorted and comma-separated
 *  ("clip, descriptor"); "" when there are none.  When one name is within
 *  two edits of `wanted`, it is copied into suggestion (suggestion_len
 *  bytes; "" otherwise).  Each candidate is loaded to learn its kind, so
 *  call it on the error path only (libltdl must be initialised).
 *  Returns the number of plugins listed. */
size_t es_plugins_available(const char *search_path, int kind,
                            const char *wanted, char *out, size_t len,
                            char *suggestion, size_t suggestion_len);

#endif
