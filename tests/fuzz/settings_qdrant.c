#include "fuzz_plugin.h"

const fuzz_setting fuzz_settings[] = {
    {"url", "http://qdrant.fuzz:6333"},
    {"api_key", "fuzz-key-0123456789"},
    {"batch_size", "1"},
    /* Writes over gRPC: upsert() and remove() decode a fuzzed
     * PointsOperationResponse; everything else reads REST answers. */
    {"grpc_url", "http://qdrant.fuzz:6334"},
    {NULL, NULL},
};
const char fuzz_collection[] = "42";
