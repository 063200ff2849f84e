#include "fuzz_plugin.h"

const fuzz_setting fuzz_settings[] = {
    {"url", "http://clip.fuzz:51000"},
    {"ready_timeout", "0"},
    {"batch_size", "1"},
    {NULL, NULL},
};
const char fuzz_collection[] = "c";
