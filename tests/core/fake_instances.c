#include "fake_instances.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

void fake_instances_open(const embsync_plugin *const descs[3],
                         const int kinds[3], es_config *cfg, es_stop *stop,
                         es_module *modules[3], es_instance *instances[3])
{
    char err[1024];
    es_section sec = {.name = "x", .plugin = "fake"};
    es_stop_init(stop);
    for (int i = 0; i < 3; i++) {
        modules[i] = es_module_from_descriptor(descs[i], "fake",
                                               kinds ? kinds[i] : i + 1, err,
                                               sizeof err);
        if (modules[i] == NULL)
            fail_msg("%s", err);
        instances[i] = es_instance_open(modules[i], cfg, &sec, stop, err,
                                        sizeof err);
        if (instances[i] == NULL)
            fail_msg("%s", err);
    }
}

void fake_instances_close(es_module *modules[3], es_instance *instances[3],
                          es_stop *stop)
{
    for (int i = 0; i < 3; i++) {
        es_instance_close(instances[i]);
        es_module_unload(modules[i]);
    }
    es_stop_destroy(stop);
}
