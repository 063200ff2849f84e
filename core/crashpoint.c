#include <config.h>

#include "crashpoint.h"

/* Weak: the crash tests' binary links a definition that acts; everything
 * else gets this one, which does nothing. */
__attribute__((weak)) void es_crashpoint(const char *name)
{
    (void)name;
}
