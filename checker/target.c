#include <config.h>

#include "target.h"

int pc_reopen(pc_target *t, char *err, size_t errlen)
{
    es_instance_close(t->inst);
    t->inst = es_instance_open(t->module, &t->cfg, t->section, &t->stop, err,
                               errlen);
    return t->inst != NULL ? 0 : -1;
}
