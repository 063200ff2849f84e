/* Vectors as JSON text: the shortest decimal that reads back to the same
 * float, as the host's json_float_array() offers it to plugins. */
#ifndef ES_JSON_FLOATS_H
#define ES_JSON_FLOATS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** See json_float_array() in include/embsync/plugin.h. */
size_t es_json_float_array(const float *v, size_t n, char *out, size_t out_len);

#ifdef __cplusplus
}
#endif

#endif
