#include "desc_features.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "desc_decode.h"

/* Relative weight of each block in the final vector (the layout a little
 * less: on the evaluation it confused look-alikes more than it told
 * copies apart). */
#define W_DCT 1.0f
#define W_LAYOUT 0.7f
#define W_EDGES 1.0f
#define W_COLOUR 1.0f

static void normalise(float *v, int n, float weight)
{
    double sum = 0;
    for (int i = 0; i < n; i++)
        sum += (double)v[i] * v[i];
    float scale = sum > 0 ? (float)(weight / sqrt(sum)) : 0.0f;
    for (int i = 0; i < n; i++)
        v[i] *= scale;
}

static void remove_mean(float *v, int n)
{
    double mean = 0;
    for (int i = 0; i < n; i++)
        mean += v[i];
    mean /= n;
    for (int i = 0; i < n; i++)
        v[i] -= (float)mean;
}

/* cos(pi (2x + 1) u / 2N) for the DCT-II of DESC_DCT_SIDE samples. */
static float dct_basis[DESC_DCT_KEEP][DESC_DCT_SIDE];

static void dct_fill(void)
{
    for (int u = 0; u < DESC_DCT_KEEP; u++)
        for (int x = 0; x < DESC_DCT_SIDE; x++)
            dct_basis[u][x] = (float)cos(M_PI * (2 * x + 1) * u / (2.0 * DESC_DCT_SIDE));
}

/* Embedding runs on several threads at once. */
static void dct_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, dct_fill);
}

/* The low frequencies of the grey picture.  Mirroring multiplies a
 * coefficient of odd horizontal frequency by -1, so those enter by their
 * magnitude. */
static void dct(const float *grey, float *out)
{
    enum { N = DESC_DCT_SIDE, K = DESC_DCT_KEEP, S = DESC_SIDE / N };
    float small[N][N];
    for (int y = 0; y < N; y++)
        for (int x = 0; x < N; x++) {
            float sum = 0;
            for (int dy = 0; dy < S; dy++)
                for (int dx = 0; dx < S; dx++)
                    sum += grey[(y * S + dy) * DESC_SIDE + x * S + dx];
            small[y][x] = sum;
        }
    float rows[N][K]; /* each row's horizontal frequencies */
    for (int y = 0; y < N; y++)
        for (int u = 0; u < K; u++) {
            float sum = 0;
            for (int x = 0; x < N; x++)
                sum += dct_basis[u][x] * small[y][x];
            rows[y][u] = sum;
        }
    int i = 0;
    for (int v = 0; v < K; v++)
        for (int u = 0; u < K; u++) {
            if (u == 0 && v == 0)
                continue;
            float sum = 0;
            for (int y = 0; y < N; y++)
                sum += dct_basis[v][y] * rows[y][u];
            out[i++] = u % 2 ? fabsf(sum) : sum;
        }
}

/* Column x of a DESC_GRID-wide grid and its mirror column, as their sum
 * and the magnitude of their difference: the same for a mirrored picture,
 * and still telling a left-right difference from none. */
static void fold_mirror(const float *cells, int per_cell, const int *mirror_of,
                        float *out)
{
    const int half = DESC_GRID / 2;
    int o = 0;
    for (int y = 0; y < DESC_GRID; y++)
        for (int x = 0; x < half; x++) {
            const float *a = cells + (y * DESC_GRID + x) * per_cell;
            const float *b = cells + (y * DESC_GRID + DESC_GRID - 1 - x) * per_cell;
            for (int k = 0; k < per_cell; k++) {
                float bk = b[mirror_of ? mirror_of[k] : k];
                out[o++] = a[k] + bk;
                out[o++] = fabsf(a[k] - bk);
            }
        }
}

/* Mean intensity (less the picture's mean) and two opponent colours per
 * grid cell. */
static void layout(const uint8_t *rgb, float *out)
{
    const int cell = DESC_SIDE / DESC_GRID;
    float cells[DESC_LAYOUT_DIM] = {0};
    double mean = 0;
    for (int y = 0; y < DESC_SIDE; y++) {
        for (int x = 0; x < DESC_SIDE; x++) {
            const uint8_t *p = rgb + 3 * (y * DESC_SIDE + x);
            float *o = cells + 3 * ((y / cell) * DESC_GRID + x / cell);
            float i = (p[0] + p[1] + p[2]) / 3.0f;
            o[0] += i;
            o[1] += (p[0] - p[1]) / 2.0f;
            o[2] += (p[0] + p[1] - 2.0f * p[2]) / 4.0f;
            mean += i;
        }
    }
    mean /= DESC_SIDE * DESC_SIDE;
    for (int c = 0; c < DESC_GRID * DESC_GRID; c++) {
        cells[3 * c] = cells[3 * c] / (float)(cell * cell) - (float)mean;
        cells[3 * c + 1] /= (float)(cell * cell);
        cells[3 * c + 2] /= (float)(cell * cell);
    }
    fold_mirror(cells, 3, NULL, out);
}

/* The bin of a gradient's unsigned orientation: four bins centred on 0,
 * 45, 90 and 135 degrees, found by comparing against the tangents of the
 * bin edges rather than with atan2f. */
static int orientation_bin(float gx, float gy)
{
    _Static_assert(DESC_ORIENT_BINS == 4, "edges below are for four bins");
    const float tan_22_5 = 0.41421356f, tan_67_5 = 2.41421356f;
    if (gy < 0) /* the same orientation, pointing the other way */
        gx = -gx, gy = -gy;
    float ax = fabsf(gx);
    if (gy < ax * tan_22_5)
        return 0;
    if (gy > ax * tan_67_5)
        return 2;
    return gx > 0 ? 1 : 3;
}

/* Histograms of gradient orientation (magnitude-weighted) per cell: the
 * shapes and textures.  A mirror swaps the two diagonal bins. */
static void edges(const float *grey, float *out)
{
    static const int mirrored_bin[DESC_ORIENT_BINS] = {0, 3, 2, 1};
    const int cell = DESC_SIDE / DESC_GRID;
    float cells[DESC_EDGE_DIM] = {0};
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
            cells[((y / cell) * DESC_GRID + x / cell) * DESC_ORIENT_BINS +
                  orientation_bin(gx, gy)] += mag;
        }
    }
    for (int i = 0; i < DESC_EDGE_DIM; i++)
        cells[i] = sqrtf(cells[i]);
    fold_mirror(cells, DESC_ORIENT_BINS, mirrored_bin, out);
    remove_mean(out, DESC_EDGE_DIM);
}

/* HSV histogram of the whole picture, with value taken relative to the
 * picture's mean so a brightened copy fills the same bins; square roots
 * (Hellinger) so a few big bins do not drown the rest. */
static void colour(const uint8_t *rgb, float *out)
{
    enum { N = DESC_SIDE * DESC_SIDE };
    uint8_t value[N];
    unsigned total = 0;
    for (int p = 0; p < N; p++) {
        const uint8_t *px = rgb + 3 * p;
        uint8_t max = px[0] > px[1] ? px[0] : px[1];
        value[p] = max > px[2] ? max : px[2];
        total += value[p];
    }
    /* Bin edges at 2/3 and 4/3 of the mean value. */
    float mean = (float)total / N + 1.0f;
    float edge1 = mean * 2.0f / 3.0f, edge2 = mean * 4.0f / 3.0f;
    memset(out, 0, DESC_COLOUR_DIM * sizeof *out);
    for (int p = 0; p < N; p++) {
        float r = rgb[3 * p], g = rgb[3 * p + 1], b = rgb[3 * p + 2];
        float max = value[p], min = fminf(r, fminf(g, b));
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
        int vb = max < edge1 ? 0 : max < edge2 ? 1 : 2;
        sb = sb >= DESC_SAT_BINS ? DESC_SAT_BINS - 1 : sb;
        out[(hb * DESC_SAT_BINS + sb) * DESC_VAL_BINS + vb] += 1.0f;
    }
    for (int i = 0; i < DESC_COLOUR_DIM; i++)
        out[i] = sqrtf(out[i]);
    remove_mean(out, DESC_COLOUR_DIM);
}

void desc_compute(const uint8_t *rgb, float *out)
{
    dct_init();
    float grey[DESC_SIDE * DESC_SIDE];
    for (int p = 0; p < DESC_SIDE * DESC_SIDE; p++)
        grey[p] = 0.299f * rgb[3 * p] + 0.587f * rgb[3 * p + 1] +
                  0.114f * rgb[3 * p + 2];
    float *d = out, *l = d + DESC_DCT_DIM, *e = l + DESC_LAYOUT_DIM,
          *c = e + DESC_EDGE_DIM;
    dct(grey, d);
    layout(rgb, l);
    edges(grey, e);
    colour(rgb, c);
    normalise(d, DESC_DCT_DIM, W_DCT);
    normalise(l, DESC_LAYOUT_DIM, W_LAYOUT);
    normalise(e, DESC_EDGE_DIM, W_EDGES);
    normalise(c, DESC_COLOUR_DIM, W_COLOUR);
    normalise(out, DESC_DIM, 1.0f);
}

int desc_from_image(const unsigned char *data, int len, uint64_t max_pixels,
                    float *out, const char **why)
{
    uint8_t small[DESC_SIDE * DESC_SIDE * 3];
    if (desc_decode(data, len, max_pixels, DESC_SIDE, small, why) != 0)
        return -1;
    desc_compute(small, out);
    return 0;
}
