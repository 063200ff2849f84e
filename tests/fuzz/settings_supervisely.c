#include "fuzz_plugin.h"

const fuzz_setting fuzz_settings[] = {
    {"server", "http://sly.fuzz"},
    {"token", "fuzz-token-0123456789"},
    {"page_size", "3"},
    {"generator_url", "http://generator.fuzz"},
    {NULL, NULL},
};
const char fuzz_collection[] = "7";
