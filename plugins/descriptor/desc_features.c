#include "desc_features.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "jpeg_scaled.h"

/* Relative weight of each block in the final vector. */
#define W_COLOUR 1.0f
#define W_LAYOUT 1.0f
#define W_EDGES 1.0f
#define W_THUMB 0.8f

static void normalise(float *v, int n, float weight)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)v[i] * v[i];
    float scale = sum > 0 ? (float)(weight / sqrt(sum)) : 0.0f;
    for (int i = 0; i < n; i++)
        v[i] *= scale;
}

/* HSV histogram; square roots (Hellinger) so a few big bins do not drown
 * the rest. */
static void colour(const uint8_t *rgb, float *out)
{
    memset(out, 0, DESC_COLOUR_DIM * sizeof *out);
    for (int p = 0; p < DESC_SIDE * DESC_SIDE; p++) {
        float r = rgb[3 * p] / 255.0f, g = rgb[3 * p + 1] / 255.0f,
              b = rgb[3 * p + 2] / 255.0f;
        float max = fmaxf(r, fmaxf(g, b)), min = fminf(r, fminf(g, b));
        float delta = max - min, h = 0;
        if (delta > 0) {
            if (max == r)
                h = fmodf((g - b) / delta + 6.0f, 6.0f);
            else if (max == g)
                h = (b - r) / delta + 2.0f;
            else
                h = (r - g) / delta + 4.0f;
        }
        float s = max > 0 ? delta / max : 0;
        int hb = (int)(h / 6.0f * DESC_HUE_BINS) % DESC_HUE_BINS;
        int sb = (int)(s * DESC_SAT_BINS);
        int vb = (int)(max * DESC_VAL_BINS);
        sb = sb >= DESC_SAT_BINS ? DESC_SAT_BINS - 1 : sb;
        vb = vb >= DESC_VAL_BINS ? DESC_VAL_BINS - 1 : vb;
        out[(hb * DESC_SAT_BINS + sb) * DESC_VAL_BINS + vb] += 1.0f;
    }
    for (int i = 0; i < DESC_COLOUR_DIM; i++)
        out[i] = sqrtf(out[i]);
}

/* Mean intensity and two opponent colours per grid cell. */
static void layout(const uint8_t *rgb, float *out)
{
    const int cell = DESC_SIDE / DESC_GRID;
    memset(out, 0, DESC_LAYOUT_DIM * sizeof *out);
    for (int y = 0; y < DESC_SIDE; y++) {
        for (int x = 0; x < DESC_SIDE; x++) {
            const uint8_t *p = rgb + 3 * (y * DESC_SIDE + x);
            float *o = out + 3 * ((y / cell) * DESC_GRID + x / cell);
            o[0] += (p[0] + p[1] + p[2]) / 3.0f;
            o[1] += (p[0] - p[1]) / 2.0f;
            o[2] += (p[0] + p[1] - 2.0f * p[2]) / 4.0f;
        }
    }
    /* Offset intensity so a dark image is not the zero vector. */
    for (int c = 0; c < DESC_GRID * DESC_GRID; c++) {
        out[3 * c] = out[3 * c] / (float)(cell * cell) + 32.0f;
        out[3 * c + 1] /= (float)(cell * cell);
        out[3 * c + 2] /= (float)(cell * cell);
    }
}

/* The bin of a gradient's unsigned orientation (0 to pi in eight equal
 * bins), found by comparing against the tangents of the bin edges rather
 * than with atan2f, which was a tenth of the descriptor's time. */
static int orientation_bin(float gx, float gy)
{
    _Static_assert(DESC_ORIENT_BINS == 8, "edges below are for eight bins");
    const float tan_22_5 = 0.41421356f, tan_67_5 = 2.41421356f;
    if (gy < 0) /* the same orientation, pointing the other way */
        gx = -gx, gy = -gy;
    if (gx > 0)
        return gy < gx * tan_22_5 ? 0 : gy < gx ? 1 : gy < gx * tan_67_5 ? 2 : 3;
    float a = -gx;
    return gy > a * tan_67_5 ? 4 : gy > a ? 5 : gy > a * tan_22_5 ? 6 : 7;
}

/* Histograms of gradient orientation (unsigned, magnitude-weighted) per
 * cell: the shapes and textures. */
static void edges(const float *grey, float *out)
{
    const int cell = DESC_SIDE / DESC_GRID;
    memset(out, 0, DESC_EDGE_DIM * sizeof *out);
    for (int y = 1; y < DESC_SIDE - 1; y++) {
        for (int x = 1; x < DESC_SIDE - 1; x++) {
#define G(dx, dy) grey[(y + (dy)) * DESC_SIDE + x + (dx)]
            float gx = G(1, -1) + 2 * G(1, 0) + G(1, 1) - G(-1, -1) -
                       2 * G(-1, 0) - G(-1, 1);
            float gy = G(-1, 1) + 2 * G(0, 1) + G(1, 1) - G(-1, -1) -
                       2 * G(0, -1) - G(1, -1);
#undef G
            float mag = sqrtf(gx * gx + gy * gy);
            if (mag <= 0)
                continue;
            out[((y / cell) * DESC_GRID + x / cell) * DESC_ORIENT_BINS +
                orientation_bin(gx, gy)] += mag;
        }
    }
    for (int i = 0; i < DESC_EDGE_DIM; i++)
        out[i] = sqrtf(out[i]);
}

/* A small grey thumbnail, mean removed: overall composition. */
static void thumbnail(const float *grey, float *out)
{
    const int cell = DESC_SIDE / DESC_THUMB;
    double mean = 0;
    for (int ty = 0; ty < DESC_THUMB; ty++) {
        for (int tx = 0; tx < DESC_THUMB; tx++) {
            float sum = 0;
            for (int y = 0; y < cell; y++)
                for (int x = 0; x < cell; x++)
                    sum += grey[(ty * cell + y) * DESC_SIDE + tx * cell + x];
            out[ty * DESC_THUMB + tx] = sum / (float)(cell * cell);
            mean += out[ty * DESC_THUMB + tx];
        }
    }
    mean /= DESC_THUMB_DIM;
    for (int i = 0; i < DESC_THUMB_DIM; i++)
        out[i] -= (float)mean;
}

void desc_compute(const uint8_t *rgb, float *out)
{
    float grey[DESC_SIDE * DESC_SIDE];
    for (int p = 0; p < DESC_SIDE * DESC_SIDE; p++)
        grey[p] = 0.299f * rgb[3 * p] + 0.587f * rgb[3 * p + 1] +
                  0.114f * rgb[3 * p + 2];
    float *c = out, *l = c + DESC_COLOUR_DIM, *e = l + DESC_LAYOUT_DIM,
          *t = e + DESC_EDGE_DIM;
    colour(rgb, c);
    layout(rgb, l);
    edges(grey, e);
    thumbnail(grey, t);
    normalise(c, DESC_COLOUR_DIM, W_COLOUR);
    normalise(l, DESC_LAYOUT_DIM, W_LAYOUT);
    normalise(e, DESC_EDGE_DIM, W_EDGES);
    normalise(t, DESC_THUMB_DIM, W_THUMB);
    normalise(out, DESC_DIM, 1.0f);
}

int desc_from_image(const unsigned char *data, int len, float *out,
                    const char **why)
{
    int w, h, channels;
    unsigned char *pixels;
    int from_stb = 0;
    if (len > 0 && jpeg_is_jpeg(data, (size_t)len)) {
        /* Most inputs are JPEG: decode them at a reduced scale, which is
         * most of the cost saved (stb_image always decodes in full). */
        pixels = jpeg_decode_scaled(data, (size_t)len, DESC_SIDE, &w, &h,
                                    why);
        if (pixels == NULL)
            return -1;
    } else {
        pixels = stbi_load_from_memory(data, len, &w, &h, &channels, 3);
        if (pixels == NULL) {
            *why = stbi_failure_reason();
            return -1;
        }
        from_stb = 1;
    }
    if (w < 1 || h < 1) {
        /* stb_image hands back a GIF whose frame is 0 pixels high; the
         * resizer asserts (the process dies) on an empty side. */
        if (from_stb)
            stbi_image_free(pixels);
        else
            free(pixels);
        *why = "image has no pixels";
        return -1;
    }
    uint8_t small[DESC_SIDE * DESC_SIDE * 3];
    int ok = stbir_resize_uint8(pixels, w, h, 0, small, DESC_SIDE, DESC_SIDE,
                                0, 3);
    if (from_stb)
        stbi_image_free(pixels);
    else
        free(pixels);
    if (!ok) {
        *why = "cannot resize";
        return -1;
    }
    desc_compute(small, out);
    return 0;
}
