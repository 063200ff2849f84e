#include "qdrant_records.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The keys that matter on the way to a record, and inside one. */
enum { KEY_OTHER, KEY_RESULT, KEY_POINTS, KEY_ID, KEY_PAYLOAD };

/* Records sit at most four containers deep; deeper levels (inside
 * payloads) are only counted. */
#define TRACKED 6

typedef struct lexer {
    int depth;                  /* containers open */
    char is_array[TRACKED + 1]; /* per depth, 1-based */
    int key[TRACKED + 1];       /* last key read in the object at that depth */
    int record_depth;           /* depth of a record object's members */
    qdrant_layout layout;
    long count;
    int payload_open;           /* the current record's payload is being read */
} lexer;

static int classify(const char *s, size_t len)
{
    static const struct {
        const char *name;
        int key;
    } known[] = {{"result", KEY_RESULT}, {"points", KEY_POINTS},
                 {"id", KEY_ID}, {"payload", KEY_PAYLOAD}};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strlen(known[i].name) == len && memcmp(known[i].name, s, len) == 0)
            return known[i].key;
    return KEY_OTHER;
}

/* True when the container at `depth` is the answer's list of records. */
static int is_record_list(const lexer *lx, int depth)
{
    if (lx->layout == QDRANT_RECORDS_IN_POINTS)
        return depth == 3 && !lx->is_array[1] && lx->key[1] == KEY_RESULT &&
               !lx->is_array[2] && lx->key[2] == KEY_POINTS && lx->is_array[3];
    return depth == 2 && !lx->is_array[1] && lx->key[1] == KEY_RESULT &&
           lx->is_array[2];
}

/* True when a value read now is a member of a record object. */
static int in_record(const lexer *lx)
{
    return lx->depth == lx->record_depth && !lx->is_array[lx->depth] &&
           is_record_list(lx, lx->depth - 1);
}

static void read_id(const char *token, size_t len, qdrant_record *r)
{
    char digits[24];
    if (len == 0 || len >= sizeof digits || token[0] == '-')
        return;
    for (size_t i = 0; i < len; i++)
        if (token[i] < '0' || token[i] > '9')
            return;
    memcpy(digits, token, len);
    digits[len] = '\0';
    errno = 0;
    unsigned long long v = strtoull(digits, NULL, 10);
    if (errno == 0) {
        r->id = (uint64_t)v;
        r->has_int_id = 1;
    }
}

long qdrant_records(const char *text, qdrant_layout layout, qdrant_record *out,
                    size_t max)
{
    lexer lx = {.layout = layout,
                .record_depth = layout == QDRANT_RECORDS_IN_POINTS ? 4 : 3};
    qdrant_record *current = NULL;
    const char *p = text;
    while (*p != '\0') {
        char c = *p;
        if (c == '"') {
            const char *start = ++p;
            while (*p != '"') {
                if (*p == '\0')
                    return -1;
                if (*p == '\\' && p[1] != '\0')
                    p++;
                p++;
            }
            size_t len = (size_t)(p - start);
            p++;
            const char *after = p + strspn(p, " \t\r\n");
            if (*after == ':') {
                if (lx.depth >= 1 && lx.depth <= TRACKED)
                    lx.key[lx.depth] = classify(start, len);
                p = after + 1;
            }
            /* A string id is a UUID: has_int_id stays 0. */
            continue;
        }
        if (c == '{' || c == '[') {
            if (in_record(&lx) && lx.key[lx.depth] == KEY_PAYLOAD && c == '{' &&
                current != NULL) {
                current->payload_at = (size_t)(p - text);
                lx.payload_open = 1;
            }
            if (c == '{' && is_record_list(&lx, lx.depth)) {
                current = (size_t)lx.count < max ? &out[lx.count] : NULL;
                if (current != NULL)
                    memset(current, 0, sizeof *current);
                lx.count++;
            }
            lx.depth++;
            if (lx.depth <= TRACKED) {
                lx.is_array[lx.depth] = c == '[';
                lx.key[lx.depth] = KEY_OTHER;
            }
            p++;
            continue;
        }
        if (c == '}' || c == ']') {
            if (--lx.depth < 0)
                return -1;
            p++;
            if (lx.payload_open && in_record(&lx)) {
                current->payload_len = (size_t)(p - text) - current->payload_at;
                lx.payload_open = 0;
            }
            continue;
        }
        if (c == ',' || c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            p++;
            continue;
        }
        /* A number or a literal (true, false, null). */
        size_t len = strcspn(p, ",}] \t\r\n");
        if (current != NULL && in_record(&lx) && lx.key[lx.depth] == KEY_ID)
            read_id(p, len, current);
        p += len;
    }
    return lx.depth == 0 ? lx.count : -1;
}
