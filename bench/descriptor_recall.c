/* How well the descriptor finds edited copies of real photographs.
 *
 *   descriptor_recall INDEX [THRESHOLD]
 *
 * INDEX lists GROUP<TAB>ROLE<TAB>PATH lines (bench/photo_edits.py writes
 * them): images of one group are copies of one photograph, "original" is
 * the unedited one.  Prints key=value figures:
 *
 *   recall_at_1, recall_at_5   over every image: is the nearest other image
 *                              (one of the 5 nearest) a copy of the same
 *                              photograph?
 *   original_at_1, _at_5       over the edited copies, against the
 *                              originals alone (where look-alikes compete):
 *                              is the copy's own original the nearest?
 *   true_match_rate            edited copies scoring >= THRESHOLD (default
 *                              0.90) with their original
 *   false_match_rate           images whose best score with another
 *                              photograph is >= THRESHOLD
 *   images_per_s               decode + descriptor, one core, from memory
 *   bytes_per_vector
 *
 * and, on stderr, original_at_1 per kind of edit (and each image whose
 * nearest other is another photograph's when RECALL_MISSES is set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "desc_features.h"

typedef struct image {
    char group[128], role[64];
    unsigned char *data;
    long len;
    int original;          /* index of its group's original, or -1 */
} image;

static double now(void)
{
    struct timespec ts;
    /* This thread's CPU time: the cost on one core, whatever else the
     * machine is running. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned char *slurp(const char *path, long *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *len = ftell(fp);
    rewind(fp);
    unsigned char *data = malloc((size_t)*len);
    if (data == NULL || fread(data, 1, (size_t)*len, fp) != (size_t)*len) {
        free(data);
        data = NULL;
    }
    fclose(fp);
    return data;
}

static float dot(const float *a, const float *b)
{
    float s = 0;
    for (int i = 0; i < DESC_DIM; i++)
        s += a[i] * b[i];
    return s;
}

/* Insert (score, j) into a descending top-5. */
static void top5_add(float *score, int *who, float s, int j)
{
    if (s <= score[4])
        return;
    int k = 4;
    while (k > 0 && score[k - 1] < s) {
        score[k] = score[k - 1];
        who[k] = who[k - 1];
        k--;
    }
    score[k] = s;
    who[k] = j;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: descriptor_recall INDEX [THRESHOLD]\n");
        return 2;
    }
    float threshold = argc > 2 ? strtof(argv[2], NULL) : 0.90f;
    FILE *index = fopen(argv[1], "r");
    if (index == NULL) {
        perror(argv[1]);
        return 1;
    }
    size_t n = 0, cap = 0;
    image *im = NULL;
    char line[4096];
    while (fgets(line, sizeof line, index)) {
        char *group = strtok(line, "\t"), *role = strtok(NULL, "\t"),
             *path = strtok(NULL, "\t\n");
        if (group == NULL || role == NULL || path == NULL)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            im = realloc(im, cap * sizeof *im);
            if (im == NULL)
                return 1;
        }
        image *m = &im[n];
        snprintf(m->group, sizeof m->group, "%s", group);
        snprintf(m->role, sizeof m->role, "%s", role);
        m->data = slurp(path, &m->len);
        if (m->data == NULL) {
            perror(path);
            return 1;
        }
        n++;
    }
    fclose(index);
    for (size_t i = 0; i < n; i++) {
        im[i].original = -1;
        for (size_t j = 0; j < n; j++)
            if (strcmp(im[j].role, "original") == 0 &&
                strcmp(im[j].group, im[i].group) == 0)
                im[i].original = (int)j;
    }

    float *v = malloc(n * DESC_DIM * sizeof *v);
    /* One untimed pass warms caches and the clock; the second is timed. */
    double t0 = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            t0 = now();
        for (size_t i = 0; i < n; i++) {
            const char *why = NULL;
            if (desc_from_image(im[i].data, (int)im[i].len,
                                DESC_DEFAULT_MAX_PIXELS, v + i * DESC_DIM,
                                &why) != 0) {
                fprintf(stderr, "%s %s: %s\n", im[i].group, im[i].role, why);
                return 1;
            }
        }
    }
    double seconds = now() - t0;

    size_t hit1 = 0, hit5 = 0, queries = 0, orig1 = 0, orig5 = 0, false_match = 0,
           true_match = 0;
    float *copy_scores = malloc(n * sizeof *copy_scores),
          *best_other = malloc(n * sizeof *best_other);
    size_t ncopy = 0;
    /* Per kind of edit (role without its strength): hits and count. */
    char kinds[32][64];
    size_t kind_hit[32] = {0}, kind_n[32] = {0}, nkinds = 0;
    for (size_t i = 0; i < n; i++) {
        const float *q = v + i * DESC_DIM;
        float score[5] = {-2, -2, -2, -2, -2}, oscore[5] = {-2, -2, -2, -2, -2};
        int who[5] = {-1, -1, -1, -1, -1}, owho[5] = {-1, -1, -1, -1, -1};
        float other = -2;
        int is_copy = strcmp(im[i].role, "original") != 0;
        for (size_t j = 0; j < n; j++) {
            if (j == i)
                continue;
            float s = dot(q, v + j * DESC_DIM);
            top5_add(score, who, s, (int)j);
            int same = strcmp(im[i].group, im[j].group) == 0;
            if (!same && s > other)
                other = s;
            if (is_copy && strcmp(im[j].role, "original") == 0)
                top5_add(oscore, owho, s, (int)j);
        }
        queries++;
        best_other[i] = other;
        if (other >= threshold)
            false_match++;
        if (who[0] >= 0 && strcmp(im[who[0]].group, im[i].group) == 0)
            hit1++;
        else if (getenv("RECALL_MISSES") != NULL)
            fprintf(stderr, "miss %s %s: nearest %s %s (%.3f)\n", im[i].group,
                    im[i].role, im[who[0]].group, im[who[0]].role,
                    (double)score[0]);
        for (int k = 0; k < 5; k++)
            if (who[k] >= 0 && strcmp(im[who[k]].group, im[i].group) == 0) {
                hit5++;
                break;
            }
        if (!is_copy || im[i].original < 0)
            continue;
        float s = dot(q, v + (size_t)im[i].original * DESC_DIM);
        copy_scores[ncopy++] = s;
        if (s >= threshold)
            true_match++;
        int ok1 = owho[0] == im[i].original;
        orig1 += (size_t)ok1;
        for (int k = 0; k < 5; k++)
            if (owho[k] == im[i].original) {
                orig5++;
                break;
            }
        char kind[64];
        snprintf(kind, sizeof kind, "%s", im[i].role);
        char *dash = strrchr(kind, '-');
        if (dash != NULL)
            *dash = '\0';
        size_t k = 0;
        while (k < nkinds && strcmp(kinds[k], kind) != 0)
            k++;
        if (k == nkinds && nkinds < 32)
            snprintf(kinds[nkinds++], sizeof kinds[0], "%s", kind);
        if (k < nkinds) {
            kind_n[k]++;
            kind_hit[k] += (size_t)ok1;
        }
    }
    /* The threshold that keeps 95 % of the copies, and what it lets in. */
    qsort(copy_scores, ncopy, sizeof *copy_scores, cmp_float);
    float t95 = ncopy ? copy_scores[ncopy / 20] : 0;
    size_t false95 = 0;
    for (size_t i = 0; i < n; i++)
        false95 += best_other[i] >= t95;
    for (size_t k = 0; k < nkinds; k++)
        fprintf(stderr, "  %-8s original_at_1 %.3f (%zu)\n", kinds[k],
                (double)kind_hit[k] / (double)kind_n[k], kind_n[k]);
    printf("descriptor_version=%d images=%zu copies=%zu "
           "recall_at_1=%.4f recall_at_5=%.4f original_at_1=%.4f "
           "original_at_5=%.4f threshold=%.2f true_match_rate=%.4f "
           "false_match_rate=%.4f threshold_at_95=%.3f "
           "false_match_rate_at_95=%.4f images_per_s=%.0f "
           "bytes_per_vector=%zu\n",
           DESC_VERSION, n, ncopy, (double)hit1 / (double)queries,
           (double)hit5 / (double)queries, (double)orig1 / (double)ncopy,
           (double)orig5 / (double)ncopy, (double)threshold,
           (double)true_match / (double)ncopy,
           (double)false_match / (double)queries, (double)t95,
           (double)false95 / (double)queries, (double)n / seconds,
           DESC_DIM * sizeof(float));
    for (size_t i = 0; i < n; i++)
        free(im[i].data);
    free(im);
    free(v);
    free(copy_scores);
    free(best_other);
    return 0;
}
