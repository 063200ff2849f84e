/* Generate the sample images shipped in samples/ (license-clean: drawn here).
 *
 *   make tools/gen-samples && tools/gen-samples samples
 *
 * Two collections: `shapes` (with datasets circles/ and squares/) and
 * `textures` (with dataset stripes/).  Every picture comes with a near
 * duplicate (shifted by a few pixels, a little brighter, saved in the other
 * format), so a search for one finds itself first and its twin next. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <stb_image_write.h>

#define W 160
#define H 120

typedef struct { uint8_t r, g, b; } rgb;

typedef struct picture {
    const char *path;       /* collection/dataset/name, no extension */
    int kind;               /* what to draw */
    rgb fg, bg;
    int param;
} picture;

enum { CIRCLE, SQUARE, STRIPES, CHECKER, GRADIENT, RINGS };

static uint8_t clamp(int v)
{
    return v < 0 ? 0 : v > 255 ? 255 : (uint8_t)v;
}

/* Deterministic grain so JPEG and PNG twins are not trivially equal. */
static int grain(int x, int y, int seed)
{
    uint32_t h = (uint32_t)x * 73856093u ^ (uint32_t)y * 19349663u ^ (uint32_t)seed * 83492791u;
    return (int)(h % 9) - 4;
}

static void draw(const picture *p, uint8_t *img, int dx, int dy, int bright,
                 int seed)
{
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int X = x - dx, Y = y - dy, on = 0;
            double t = 0;
            switch (p->kind) {
            case CIRCLE:
                on = (X - W / 2) * (X - W / 2) + (Y - H / 2) * (Y - H / 2) < p->param * p->param;
                break;
            case SQUARE:
                on = abs(X - W / 2) < p->param && abs(Y - H / 2) < p->param;
                break;
            case STRIPES:
                on = ((X + Y * (p->param % 3)) / p->param) % 2;
                break;
            case CHECKER:
                on = ((X / p->param) + (Y / p->param)) % 2;
                break;
            case GRADIENT:
                t = (double)X / W;
                break;
            case RINGS:
                on = (int)(sqrt((double)((X - W / 2) * (X - W / 2) + (Y - H / 2) * (Y - H / 2))) / p->param) % 2;
                break;
            }
            rgb c = on ? p->fg : p->bg;
            if (p->kind == GRADIENT)
                c = (rgb){clamp((int)(p->bg.r + (p->fg.r - p->bg.r) * t)),
                          clamp((int)(p->bg.g + (p->fg.g - p->bg.g) * t)),
                          clamp((int)(p->bg.b + (p->fg.b - p->bg.b) * t))};
            int n = grain(x, y, seed);
            uint8_t *o = img + 3 * (y * W + x);
            o[0] = clamp(c.r + bright + n);
            o[1] = clamp(c.g + bright + n);
            o[2] = clamp(c.b + bright + n);
        }
    }
}

static void mkdirs(const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf + 1; *s; s++) {
        if (*s == '/') {
            *s = '\0';
            mkdir(buf, 0755);
            *s = '/';
        }
    }
}

int main(int argc, char **argv)
{
    const char *out = argc > 1 ? argv[1] : "samples";
    static const picture pictures[] = {
        {"shapes/circles/red-circle", CIRCLE, {220, 40, 40}, {245, 245, 240}, 40},
        {"shapes/circles/blue-circle", CIRCLE, {40, 70, 210}, {250, 250, 250}, 30},
        {"shapes/circles/green-dot", CIRCLE, {40, 170, 60}, {20, 20, 30}, 15},
        {"shapes/squares/orange-square", SQUARE, {240, 140, 20}, {240, 240, 255}, 35},
        {"shapes/squares/purple-square", SQUARE, {120, 40, 160}, {200, 230, 200}, 50},
        {"shapes/target", RINGS, {200, 30, 30}, {250, 250, 250}, 12},
        {"textures/stripes/diagonal", STRIPES, {30, 30, 30}, {230, 220, 90}, 10},
        {"textures/stripes/wide", STRIPES, {20, 90, 160}, {240, 240, 240}, 24},
        {"textures/checker", CHECKER, {10, 10, 10}, {250, 250, 250}, 20},
        {"textures/sunset", GRADIENT, {250, 120, 30}, {60, 20, 120}, 0},
        {"textures/sea", GRADIENT, {20, 180, 200}, {10, 30, 90}, 0},
    };
    uint8_t *img = malloc(W * H * 3);
    for (size_t i = 0; i < sizeof pictures / sizeof pictures[0]; i++) {
        const picture *p = &pictures[i];
        char path[512];
        /* The original, as PNG. */
        draw(p, img, 0, 0, 0, (int)i);
        snprintf(path, sizeof path, "%s/%s.png", out, p->path);
        mkdirs(path);
        if (!stbi_write_png(path, W, H, 3, img, W * 3))
            return fprintf(stderr, "cannot write %s\n", path), 1;
        /* Its near duplicate: moved, brighter, other grain, as JPEG. */
        draw(p, img, 3, 2, 12, (int)i + 100);
        snprintf(path, sizeof path, "%s/%s-copy.jpg", out, p->path);
        if (!stbi_write_jpg(path, W, H, 3, img, 85))
            return fprintf(stderr, "cannot write %s\n", path), 1;
    }
    free(img);
    return 0;
}
