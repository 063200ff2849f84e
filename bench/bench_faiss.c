/* Benchmark 7: faiss-local's on-disk collection at 100,000 × 512 —
 * durable upsert rate, top-10 query latency on one core (with the recall
 * of the collection's IVF index against an exact scan of the same points),
 * and the bytes written to persist a 100-point change.  Prints key=value
 * figures.
 *
 * The points are clustered, as embeddings are (pictures of similar things
 * lie near each other): unit vectors around 1,000 random centres, about
 * 0.6 cosine from their centre; a query's nearest neighbours lie at about
 * 0.4, the rest of the collection near 0.  Queries are new points drawn the same
 * way.  Uniformly random vectors, which have no neighbourhoods to find,
 * are the worst case for any IVF index; `bench_faiss --uniform` runs that.
 * `--nprobe N` sets the faiss-local key of that name (default 16). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collection.h"

enum { DIM = 512, N = 100000, BATCH = 1000, QUERIES = 200, CHANGE = 100,
       CENTRES = 1000, K = 10 };

/* Standard deviation of the noise per coordinate around a centre:
 * |noise| ≈ 0.06 × sqrt(512) ≈ 1.36, so cos(point, centre) ≈ 0.6. */
#define SPREAD 0.06

static int uniform;          /* --uniform: no clusters */
static float *centres;

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

static void normalise(float *v)
{
    double n = 0;
    for (int i = 0; i < DIM; i++)
        n += (double)v[i] * v[i];
    n = sqrt(n);
    for (int i = 0; i < DIM; i++)
        v[i] = (float)(v[i] / n);
}

static void random_unit(float *v)
{
    for (int i = 0; i < DIM; i++)
        v[i] = next_float();
    normalise(v);
}

/* One point of the data set: near a random centre, or uniform. */
static void point(float *v)
{
    if (uniform) {
        random_unit(v);
        return;
    }
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    const float *c = centres + (size_t)(rng % CENTRES) * DIM;
    for (int i = 0; i < DIM; i++)
        v[i] = c[i] + (float)(SPREAD * next_float() * 3.4641); /* × sqrt(12): unit variance */
    normalise(v);
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

typedef struct figures {
    double mean_ms, p99_ms, exact_ms, recall;
} figures;

/* Latency of ix, and of an exact scan, on QUERIES new points; recall@10 =
 * the share of the exact top 10 that ix found.  query is scratch space. */
static int measure(const fl_index *ix, const fl_index *exact, float *query,
                   figures *out)
{
    double lat[QUERIES];
    uint64_t hit[K], truth[K];
    float score[K];
    *out = (figures){0};
    for (int q = 0; q < QUERIES; q++) {
        point(query);
        double t = now();
        if (fl_index_search(ix, query, K, hit, score) != K)
            return -1;
        lat[q] = (now() - t) * 1000;
        t = now();
        if (fl_index_search(exact, query, K, truth, score) != K)
            return -1;
        out->exact_ms += (now() - t) * 1000 / QUERIES;
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                out->recall += hit[i] == truth[j] ? 1.0 / (K * QUERIES) : 0;
    }
    qsort(lat, QUERIES, sizeof lat[0], cmp_double);
    for (int q = 0; q < QUERIES; q++)
        out->mean_ms += lat[q] / QUERIES;
    out->p99_ms = lat[QUERIES * 99 / 100];
    return 0;
}

int main(int argc, char **argv)
{
    char dir[] = "/tmp/embsync-bench-faiss.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    size_t nprobe = FL_NPROBE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--uniform") == 0)
            uniform = 1;
        else if (strcmp(argv[i], "--nprobe") == 0 && i + 1 < argc)
            nprobe = (size_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_faiss [--uniform] [--nprobe N]\n");
            return 2;
        }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/c", dir);
    char err[512];
    fl_index_single_threaded();
    centres = malloc(sizeof(float) * DIM * CENTRES);
    for (int i = 0; i < CENTRES; i++)
        random_unit(centres + (size_t)i * DIM);
    /* The exact answers, from a flat index of the same points. */
    fl_index *exact = fl_index_new(DIM, 0);
    fl_collection *c = fl_collection_create(path, DIM, 1, "bench:512", err,
                                            sizeof err);
    if (c == NULL) {
        fprintf(stderr, "bench_faiss: %s\n", err);
        return 1;
    }
    c->nprobe = nprobe;
    fl_collection_tune(c);
    float *vecs = malloc(sizeof(float) * DIM * BATCH);
    uint64_t ids[BATCH];
    char payload_text[BATCH][64];
    const char *payloads[BATCH];
    double upsert_s = 0;
    for (int done = 0; done < N; done += BATCH) {
        for (int i = 0; i < BATCH; i++) {
            ids[i] = (uint64_t)(done + i) * 2654435761u + 1;
            point(vecs + (size_t)i * DIM);
            snprintf(payload_text[i], sizeof payload_text[i],
                     "{\"path\":\"set/%d.jpg\",\"dataset\":\"set\"}", done + i);
            payloads[i] = payload_text[i];
        }
        double t0 = now();
        if (fl_collection_upsert(c, BATCH, ids, vecs, payloads, err, sizeof err)) {
            fprintf(stderr, "bench_faiss: %s\n", err);
            return 1;
        }
        upsert_s += now() - t0;
        if (exact == NULL || fl_index_upsert(exact, BATCH, ids, vecs) != 0)
            return 1;
    }

    figures loaded;
    if (measure(c->index, exact, vecs, &loaded) != 0)
        return 1;

    size_t cells = fl_index_cells(c->index);

    /* A 100-point change: 50 replaced, 50 new. */
    for (int i = 0; i < CHANGE; i++) {
        ids[i] = i < CHANGE / 2 ? (uint64_t)i * 2654435761u + 1
                                : (uint64_t)(N + i) * 2654435761u + 1;
        point(vecs + (size_t)i * DIM);
        payloads[i] = payload_text[i];
    }
    unsigned long long written_before = written();
    if (fl_collection_upsert(c, CHANGE, ids, vecs, payloads, err, sizeof err))
        return 1;
    unsigned long long change_bytes = written() - written_before;
    if (fl_index_upsert(exact, CHANGE, ids, vecs) != 0)
        return 1;

    /* A compaction now rebuilds the IVF index for 100,000 points (its
     * cells were trained at the first compaction past the threshold):
     * the pause an operator sees once each time a collection doubles. */
    double t_compact = now();
    if (fl_collection_compact(c, err, sizeof err) != 0) {
        fprintf(stderr, "bench_faiss: %s\n", err);
        return 1;
    }
    double compact_s = now() - t_compact;
    figures after;
    if (measure(c->index, exact, vecs, &after) != 0)
        return 1;

    printf("faiss_upsert_points_per_s=%.0f faiss_points=%d dim=%d batch=%d "
           "data=%s ivf_cells=%zu nprobe=%zu "
           "faiss_query_ms_mean=%.2f faiss_query_ms_p99=%.2f "
           "faiss_exact_ms_mean=%.2f faiss_recall_at_10=%.3f "
           "faiss_change_bytes=%llu change_points=%d "
           "faiss_rebuild_s=%.1f rebuilt_cells=%zu "
           "faiss_rebuilt_query_ms_mean=%.2f faiss_rebuilt_recall_at_10=%.3f\n",
           N / upsert_s, N, DIM, BATCH, uniform ? "uniform" : "clustered",
           cells, c->nprobe, loaded.mean_ms, loaded.p99_ms, loaded.exact_ms,
           loaded.recall, change_bytes, CHANGE, compact_s,
           fl_index_cells(c->index), after.mean_ms, after.recall);
    fl_index_free(exact);
    free(centres);
    fl_collection_close(c);
    fl_collection_destroy(path);
    rmdir(dir);
    free(vecs);
    return 0;
}
