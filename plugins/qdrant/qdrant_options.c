/* The collection and write options an operator sets in the store section
 * for a Qdrant cluster: each is sent only when set (Qdrant's own defaults
 * otherwise, as before these keys existed), spelled as qdrant-openapi.json
 * spells CreateCollection and the points routes' `ordering` parameter. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "qdrant_store.h"

/* An INT key that is set must lie in [lo, hi]; unset gives 0. */
static int ranged(qdrant *q, const char *key, long long lo, long long hi,
                  const char *why, long long *out)
{
    *out = 0;
    if (HOST(q)->config_get(CTX(q), key) == NULL)
        return 0;
    long long v = HOST(q)->config_int(CTX(q), key, 0);
    if (v < lo || v > hi) {
        HOST(q)->set_error(CTX(q), "%s must be from %lld to %lld%s, not %lld",
                           key, lo, hi, why, v);
        return -1;
    }
    *out = v;
    return 0;
}

/* A BOOL key: -1 unset, else 0/1. */
static int tristate(qdrant *q, const char *key)
{
    if (HOST(q)->config_get(CTX(q), key) == NULL)
        return -1;
    return HOST(q)->config_bool(CTX(q), key, 0) ? 1 : 0;
}

int qdrant_options_read(qdrant *q)
{
    qdrant_options *o = &q->options;
    memset(o, 0, sizeof *o);
    if (ranged(q, "shard_number", 1, 65536, "", &o->shard_number) != 0 ||
        ranged(q, "replication_factor", 1, 1024, "", &o->replication_factor) != 0 ||
        ranged(q, "write_consistency_factor", 1, 1024, "",
               &o->write_consistency_factor) != 0 ||
        ranged(q, "hnsw_m", 0, 1024, " (0 builds no graph)", &o->hnsw_m_value) != 0 ||
        ranged(q, "hnsw_ef_construct", 4, 65536, "", &o->hnsw_ef_construct) != 0)
        return -1;
    o->hnsw_m = HOST(q)->config_get(CTX(q), "hnsw_m") != NULL;
    if (o->write_consistency_factor > 0 &&
        o->write_consistency_factor > (o->replication_factor ? o->replication_factor : 1)) {
        HOST(q)->set_error(CTX(q), "write_consistency_factor (%lld) must not exceed "
                           "replication_factor (%lld): no write could succeed",
                           o->write_consistency_factor,
                           o->replication_factor ? o->replication_factor : 1);
        return -1;
    }
    o->on_disk = tristate(q, "on_disk");
    o->always_ram = tristate(q, "always_ram");
    const char *quant = HOST(q)->config_get(CTX(q), "quantization");
    if (quant != NULL && *quant != '\0' && strcmp(quant, "none") != 0) {
        if (strcmp(quant, "int8") != 0) {
            HOST(q)->set_error(CTX(q), "quantization must be none or int8, not %s",
                               quant);
            return -1;
        }
        o->int8 = 1;
    }
    if (o->always_ram >= 0 && !o->int8) {
        HOST(q)->set_error(CTX(q), "always_ram applies to quantized vectors: "
                           "set quantization = int8 or remove always_ram");
        return -1;
    }
    const char *ordering = HOST(q)->config_get(CTX(q), "write_ordering");
    if (ordering != NULL && *ordering != '\0') {
        if (strcmp(ordering, "weak") != 0 && strcmp(ordering, "medium") != 0 &&
            strcmp(ordering, "strong") != 0) {
            HOST(q)->set_error(CTX(q), "write_ordering must be weak, medium or "
                               "strong, not %s", ordering);
            return -1;
        }
        snprintf(o->ordering_query, sizeof o->ordering_query, "&ordering=%s",
                 ordering);
    }
    return 0;
}

void qdrant_options_add(const qdrant *q, cJSON *body)
{
    const qdrant_options *o = &q->options;
    cJSON *vectors = cJSON_GetObjectItemCaseSensitive(body, "vectors");
    if (o->on_disk >= 0)
        cJSON_AddBoolToObject(vectors, "on_disk", o->on_disk);
    if (o->shard_number)
        cJSON_AddNumberToObject(body, "shard_number", (double)o->shard_number);
    if (o->replication_factor)
        cJSON_AddNumberToObject(body, "replication_factor",
                                (double)o->replication_factor);
    if (o->write_consistency_factor)
        cJSON_AddNumberToObject(body, "write_consistency_factor",
                                (double)o->write_consistency_factor);
    if (o->hnsw_m || o->hnsw_ef_construct) {
        cJSON *hnsw = cJSON_AddObjectToObject(body, "hnsw_config");
        if (o->hnsw_m)
            cJSON_AddNumberToObject(hnsw, "m", (double)o->hnsw_m_value);
        if (o->hnsw_ef_construct)
            cJSON_AddNumberToObject(hnsw, "ef_construct",
                                    (double)o->hnsw_ef_construct);
    }
    if (o->int8) {
        cJSON *scalar = cJSON_AddObjectToObject(
            cJSON_AddObjectToObject(body, "quantization_config"), "scalar");
        cJSON_AddStringToObject(scalar, "type", "int8");
        if (o->always_ram >= 0)
            cJSON_AddBoolToObject(scalar, "always_ram", o->always_ram);
    }
}
