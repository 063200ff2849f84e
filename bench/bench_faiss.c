/* Benchmark 7: faiss-local's on-disk collection at 100,000 × 512 —
 * durable upsert rate, top-10 query latency on one core, and the bytes
 * written to persist a 100-point change.  Prints key=value figures. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collection.h"

enum { DIM = 512, N = 100000, BATCH = 1000, QUERIES = 200, CHANGE = 100 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t rng = 88172645463325252ull;
static float next_float(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 9007199254740992.0 - 0.5);
}

static void unit(float *v)
{
    double n = 0;
    for (int i = 0; i < DIM; i++) {
        v[i] = next_float();
        n += (double)v[i] * v[i];
    }
    n = sqrt(n);
    for (int i = 0; i < DIM; i++)
        v[i] = (float)(v[i] / n);
}

/* Bytes this process has passed to write(2) so far. */
static unsigned long long written(void)
{
    FILE *f = fopen("/proc/self/io", "r");
    char line[128];
    unsigned long long v = 0;
    while (f != NULL && fgets(line, sizeof line, f))
        if (sscanf(line, "wchar: %llu", &v) == 1)
            break;
    if (f != NULL)
        fclose(f);
    return v;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/embsync-bench-faiss.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[512];
    snprintf(path, sizeof path, "%s/c", argc > 1 ? argv[1] : dir);
    char err[512];
    fl_index_single_threaded();
    fl_collection *c = fl_collection_create(path, DIM, 1, "bench:512", err,
                                            sizeof err);
    if (c == NULL) {
        fprintf(stderr, "bench_faiss: %s\n", err);
        return 1;
    }
    float *vecs = malloc(sizeof(float) * DIM * BATCH);
    uint64_t ids[BATCH];
    char payload_text[BATCH][64];
    const char *payloads[BATCH];
    double t0 = now();
    for (int done = 0; done < N; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            ids[i] = (uint64_t)(done + i) * 2654435761u + 1;
            unit(vecs + (size_t)i * DIM);
            snprintf(payload_text[i], sizeof payload_text[i],
                     "{\"path\":\"set/%d.jpg\",\"dataset\":\"set\"}", done + i);
            payloads[i] = payload_text[i];
        }
        if (fl_collection_upsert(c, BATCH, ids, vecs, payloads, err, sizeof err)) {
            fprintf(stderr, "bench_faiss: %s\n", err);
            return 1;
        }
    }
    double upsert_s = now() - t0;

    double lat[QUERIES];
    uint64_t hit[10];
    float score[10];
    for (int q = 0; q < QUERIES; q++) {
        unit(vecs);
        double t = now();
        if (fl_index_search(c->index, vecs, 10, hit, score) != 10)
            return 1;
        lat[q] = (now() - t) * 1000;
    }
    qsort(lat, QUERIES, sizeof lat[0], cmp_double);
    double mean = 0;
    for (int q = 0; q < QUERIES; q++)
        mean += lat[q] / QUERIES;

    /* A 100-point change: 50 replaced, 50 new. */
    for (int i = 0; i < CHANGE; i++) {
        ids[i] = i < CHANGE / 2 ? (uint64_t)i * 2654435761u + 1
                                : (uint64_t)(N + i) * 2654435761u + 1;
        unit(vecs + (size_t)i * DIM);
        payloads[i] = payload_text[i];
    }
    unsigned long long before = written();
    if (fl_collection_upsert(c, CHANGE, ids, vecs, payloads, err, sizeof err))
        return 1;
    unsigned long long change_bytes = written() - before;

    printf("faiss_upsert_points_per_s=%.0f faiss_points=%d dim=%d batch=%d "
           "faiss_query_ms_mean=%.2f faiss_query_ms_p99=%.2f "
           "faiss_change_bytes=%llu change_points=%d\n",
           N / upsert_s, N, DIM, BATCH, mean, lat[QUERIES * 99 / 100],
           change_bytes, CHANGE);
    fl_collection_close(c);
    fl_collection_destroy(path);
    rmdir(dir);
    free(vecs);
    return 0;
}
