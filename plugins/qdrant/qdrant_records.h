/* The point records of a Qdrant answer, read from the answer's text.
 *
 * Point ids run over the whole u64 range (the dir source hashes paths into
 * it), but cJSON keeps every number as a double, exact only up to 2^53.
 * Nothing can be added to a point's payload to carry the id instead: the
 * Embeddings Generator rebuilds every point it reads from exactly its four
 * payload keys and fails on any other.  So the ids are read from the digits
 * Qdrant wrote: a lexer walks the text (after cJSON has accepted it as
 * JSON), following strings, nesting and object keys and nothing more, and
 * reports each record's exact id and where its payload object lies in the
 * text, so that a payload also reaches the host as Qdrant sent it. */
#ifndef QDRANT_RECORDS_H
#define QDRANT_RECORDS_H

#include <stddef.h>
#include <stdint.h>

/** Where an answer keeps its records. */
typedef enum qdrant_layout {
    QDRANT_RECORDS_IN_POINTS = 1, /**< result.points[] (query, scroll) */
    QDRANT_RECORDS_IN_RESULT = 2  /**< result[] (retrieve by ids) */
} qdrant_layout;

typedef struct qdrant_record {
    uint64_t id;          /**< exact, when has_int_id */
    int has_int_id;       /**< 0: a UUID string (a point embsync never writes) */
    size_t payload_at;    /**< offset of the payload object in the text */
    size_t payload_len;   /**< its length; 0 when absent or null */
} qdrant_record;

/** Scan text (NUL-terminated JSON, already accepted by cJSON) for the
 *  records at `layout`, filling out[] with the first `max` of them.
 *  Returns the number of records the answer holds (it may exceed max), or
 *  -1 when the text ends inside a string or its brackets do not balance. */
long qdrant_records(const char *text, qdrant_layout layout, qdrant_record *out,
                    size_t max);

#endif
