/* Test pictures for embedders: distinct patterns so that a model which
 * ignores its input (a constant stub) is caught, in both formats an
 * image source delivers. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include <stb_image_write.h>

#include "check.h"

typedef struct growing {
    unsigned char *data;
    size_t len, cap;
    int failed;
} growing;

static void append(void *arg, void *bytes, int n)
{
    growing *g = arg;
    if (g->failed || n <= 0)
        return;
    if (g->len + (size_t)n > g->cap) {
        size_t cap = (g->cap + (size_t)n) * 2;
        unsigned char *p = realloc(g->data, cap);
        if (p == NULL) {
            g->failed = 1;
            return;
        }
        g->data = p;
        g->cap = cap;
    }
    memcpy(g->data + g->len, bytes, (size_t)n);
    g->len += (size_t)n;
}

unsigned char *pc_test_image(unsigned n, int size, size_t *len)
{
    unsigned char *rgb = malloc((size_t)size * (size_t)size * 3);
    if (rgb == NULL)
        return NULL;
    /* Pattern n: a colour pair and a stripe/checker geometry that differ
     * in hue, layout and edges from every other n. */
    static const unsigned char colours[][3] = {
        {220, 30, 30}, {30, 200, 40}, {30, 60, 220}, {240, 220, 30},
        {200, 40, 200}, {20, 200, 210}, {250, 140, 20}, {120, 120, 120},
    };
    const unsigned char *fg = colours[n % 8], *bg = colours[(n / 8 + n + 3) % 8];
    int period = 4 + (int)(n % 5) * 6;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int on;
            switch (n % 3) {
            case 0: on = (x / period) % 2; break;
            case 1: on = ((x / period) + (y / period)) % 2; break;
            default: on = (x - size / 2) * (x - size / 2) +
                              (y - size / 2) * (y - size / 2) <
                          (size * size) / (5 + (int)n % 4);
            }
            memcpy(rgb + ((size_t)y * (size_t)size + (size_t)x) * 3,
                   on ? fg : bg, 3);
        }
    growing g = {0};
    int ok = (n % 2 == 0)
                 ? stbi_write_png_to_func(append, &g, size, size, 3, rgb,
                                          size * 3)
                 : stbi_write_jpg_to_func(append, &g, size, size, 3, rgb, 90);
    free(rgb);
    if (!ok || g.failed) {
        free(g.data);
        return NULL;
    }
    *len = g.len;
    return g.data;
}

unsigned char *pc_test_icon(unsigned n, int size, size_t *len)
{
    unsigned char *rgba = calloc((size_t)size * (size_t)size, 4);
    if (rgba == NULL)
        return NULL;
    /* Black everywhere; the shape (a disc, or a bar) only in alpha. */
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            int on = n % 2 ? (x > size / 8 && x < size / 3)
                           : (x - size / 2) * (x - size / 2) +
                                     (y - size / 2) * (y - size / 2) <
                                 size * size / 9;
            rgba[((size_t)y * (size_t)size + (size_t)x) * 4 + 3] =
                on ? 255 : 0;
        }
    growing g = {0};
    int ok = stbi_write_png_to_func(append, &g, size, size, 4, rgba, size * 4);
    free(rgba);
    if (!ok || g.failed) {
        free(g.data);
        return NULL;
    }
    *len = g.len;
    return g.data;
}
