#include "fuzz_plugin.h"

const fuzz_setting fuzz_settings[] = {
    {NULL, NULL},
};
const char fuzz_collection[] = "c";
