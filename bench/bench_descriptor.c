/* Benchmark 6: the descriptor embedder's own cost — JPEG decode of a
 * 224×224 picture plus the descriptor — on one core (CPU time).  Prints
 * images/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <stb_image_write.h>

#include "desc_features.h"

enum { SIDE = 224, N_PICTURES = 64, ROUNDS = 60 };

typedef struct buffer {
    unsigned char *data;
    size_t len, cap;
} buffer;

static void append(void *arg, void *bytes, int n)
{
    buffer *b = arg;
    if (b->len + (size_t)n > b->cap) {
        b->cap = (b->len + (size_t)n) * 2;
        b->data = realloc(b->data, b->cap);
        if (b->data == NULL)
            abort();
    }
    memcpy(b->data + b->len, bytes, (size_t)n);
    b->len += (size_t)n;
}

static double now(void)
{
    struct timespec ts;
    /* This thread's CPU time: the cost on one core, whatever else the
     * machine is running. */
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    /* Photographs are what CLIP would see; smooth gradients with shapes
     * and noise decode like them (unlike flat colour, which is cheap). */
    static buffer jpeg[N_PICTURES];
    unsigned char *rgb = malloc(SIDE * SIDE * 3);
    unsigned seed = 12345;
    for (int p = 0; p < N_PICTURES; p++) {
        for (int y = 0; y < SIDE; y++)
            for (int x = 0; x < SIDE; x++) {
                seed = seed * 1103515245u + 12345u;
                unsigned char *px = rgb + (y * SIDE + x) * 3;
                int inside = (x - 40 - p) * (x - 40 - p) + (y - 100) * (y - 100) < 2500;
                px[0] = (unsigned char)((x * 255 / SIDE + p * 9) ^ (inside ? 0x80 : 0));
                px[1] = (unsigned char)(y * 255 / SIDE + ((seed >> 24) & 31));
                px[2] = (unsigned char)((x + y + p * 13) & 255);
            }
        stbi_write_jpg_to_func(append, &jpeg[p], SIDE, SIDE, 3, rgb, 85);
    }
    free(rgb);

    float v[DESC_DIM];
    double sink = 0;
    const char *why = NULL;
    double t0 = 0;
    /* Round -1 is not timed: it warms the caches and the CPU's clock. */
    for (int r = -1; r < ROUNDS; r++)
        for (int p = 0; p < N_PICTURES; p++) {
            if (r == 0 && p == 0)
                t0 = now();
            if (desc_from_image(jpeg[p].data, (int)jpeg[p].len,
                                DESC_DEFAULT_MAX_PIXELS, v, &why) != 0) {
                fprintf(stderr, "bench_descriptor: %s\n", why);
                return 1;
            }
            sink += v[p % DESC_DIM];
        }
    double elapsed = now() - t0;
    int n = ROUNDS * N_PICTURES;
    printf("descriptor_images_per_s=%.0f images=%d jpeg_bytes_avg=%zu dim=%d checksum=%.3f\n",
           n / elapsed, n, jpeg[0].len, DESC_DIM, sink);
    for (int p = 0; p < N_PICTURES; p++)
        free(jpeg[p].data);
    return 0;
}
