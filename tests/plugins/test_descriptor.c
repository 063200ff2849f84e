/* The descriptor's features: deterministic, unit length, near duplicates
 * nearer than different pictures, JPEG and PNG, undecodable input refused. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <stb_image_write.h>

#include "desc_features.h"

#define W 96
#define H 72

typedef struct encoded {
    unsigned char *data;
    int len;
} encoded;

static void collect(void *ctx, void *data, int size)
{
    encoded *e = ctx;
    e->data = realloc(e->data, (size_t)(e->len + size));
    memcpy(e->data + e->len, data, (size_t)size);
    e->len += size;
}

/* A disc of colour (r,g,b) on white, moved by (dx,dy), brightened. */
static void disc(uint8_t *img, int r, int g, int b, int dx, int dy, int bright)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int in = (x - W / 2 - dx) * (x - W / 2 - dx) +
                         (y - H / 2 - dy) * (y - H / 2 - dy) < 25 * 25;
            uint8_t *p = img + 3 * (y * W + x);
            p[0] = (uint8_t)fmin(255, (in ? r : 250) + bright);
            p[1] = (uint8_t)fmin(255, (in ? g : 250) + bright);
            p[2] = (uint8_t)fmin(255, (in ? b : 250) + bright);
        }
}

static void stripes(uint8_t *img)
{
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            uint8_t v = ((x + y) / 8) % 2 ? 20 : 230;
            uint8_t *p = img + 3 * (y * W + x);
            p[0] = v;
            p[1] = v;
            p[2] = (uint8_t)(255 - v);
        }
}

static void embed(const uint8_t *img, int jpeg, float *out)
{
    encoded e = {0};
    int ok = jpeg ? stbi_write_jpg_to_func(collect, &e, W, H, 3, img, 90)
                  : stbi_write_png_to_func(collect, &e, W, H, 3, img, W * 3);
    assert_true(ok);
    const char *why = NULL;
    assert_int_equal(desc_from_image(e.data, e.len, out, &why), 0);
    free(e.data);
}

static double dot(const float *a, const float *b)
{
    double s = 0;
    for (int i = 0; i < DESC_DIM; i++)
        s += (double)a[i] * b[i];
    return s;
}

static void deterministic_finite_unit(void **unused)
{
    (void)unused;
    uint8_t img[W * H * 3];
    float a[DESC_DIM], b[DESC_DIM];
    disc(img, 200, 30, 30, 0, 0, 0);
    embed(img, 0, a);
    embed(img, 0, b);
    assert_memory_equal(a, b, sizeof a);
    double norm = 0;
    for (int i = 0; i < DESC_DIM; i++) {
        assert_true(isfinite(a[i]));
        norm += (double)a[i] * a[i];
    }
    assert_true(fabs(norm - 1.0) < 1e-4);
}

static void near_duplicate_is_nearer(void **unused)
{
    (void)unused;
    uint8_t img[W * H * 3];
    float orig[DESC_DIM], twin[DESC_DIM], other_colour[DESC_DIM], other[DESC_DIM];
    disc(img, 200, 30, 30, 0, 0, 0);
    embed(img, 0, orig);
    disc(img, 200, 30, 30, 3, 2, 10); /* moved, brighter, as JPEG */
    embed(img, 1, twin);
    disc(img, 30, 40, 200, 0, 0, 0);
    embed(img, 0, other_colour);
    stripes(img);
    embed(img, 1, other);
    double s_twin = dot(orig, twin), s_colour = dot(orig, other_colour),
           s_other = dot(orig, other);
    if (!(s_twin > s_colour && s_colour > s_other && s_twin > 0.9))
        fail_msg("twin %.3f, other colour %.3f, other picture %.3f", s_twin,
                 s_colour, s_other);
}

static void black_image_is_not_zero(void **unused)
{
    (void)unused;
    uint8_t img[W * H * 3];
    float v[DESC_DIM];
    memset(img, 0, sizeof img);
    embed(img, 0, v);
    double norm = dot(v, v);
    assert_true(fabs(norm - 1.0) < 1e-4);
}

static void undecodable_is_refused(void **unused)
{
    (void)unused;
    float v[DESC_DIM];
    const char *why = NULL;
    const unsigned char junk[] = "definitely not an image";
    assert_int_equal(desc_from_image(junk, (int)sizeof junk, v, &why), -1);
    assert_non_null(why);
    /* A truncated PNG too. */
    uint8_t img[W * H * 3];
    disc(img, 1, 2, 3, 0, 0, 0);
    encoded e = {0};
    stbi_write_png_to_func(collect, &e, W, H, 3, img, W * 3);
    assert_int_equal(desc_from_image(e.data, 40, v, &why), -1);
    free(e.data);
}

/* libjpeg would fill a cut-off JPEG with grey and call it a picture: a
 * truncated download must be refused, not embedded as half an image. */
static void truncated_jpeg_is_refused(void **unused)
{
    (void)unused;
    float v[DESC_DIM];
    const char *why = NULL;
    uint8_t img[W * H * 3];
    disc(img, 200, 30, 30, 20, 20, 200);
    encoded e = {0};
    stbi_write_jpg_to_func(collect, &e, W, H, 3, img, 90);
    assert_int_equal(desc_from_image(e.data, e.len, v, &why), 0);
    assert_int_equal(desc_from_image(e.data, e.len * 2 / 3, v, &why), -1);
    assert_non_null(why);
    free(e.data);
}

/* Found by tests/fuzz (corpus/descriptor/zero-height.gif): a GIF that
 * stb_image decodes to 4108 x 0 pixels.  The resizer asserts on an empty
 * side, which killed the whole process; it must be one refused item. */
static void zero_height_gif_is_refused(void **unused)
{
    (void)unused;
    static const unsigned char gif[] = {
  0x47, 0x49, 0x46, 0x38, 0x37, 0x61, 0x0c, 0x10, 0x00, 0x00, 0x81, 0x00,
  0x00, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0c, 0x00,
  0x00, 0x08, 0x2b, 0x00, 0x01, 0x08, 0x1c, 0x48, 0xb0, 0xa0, 0xc1, 0x83,
  0x08, 0x01, 0x04, 0x58, 0xb8, 0x35, 0xa1, 0x42, 0x86, 0x0c, 0x11, 0x42,
  0x9c, 0x68, 0x70, 0xa2, 0xc5, 0x82, 0x16, 0x29, 0x12, 0xcc, 0x08, 0xb1,
  0x22, 0x47, 0x89, 0x17, 0x13, 0x6a, 0x74, 0xe8, 0x30, 0x0c, 0x00, 0x00,
  0x08, 0x2b, 0x00, 0x01, 0x08, 0x1c, 0x48, 0xb0, 0xa0, 0xc1, 0x83, 0x08,
  0x01, 0x04, 0x58, 0xb8, 0x35, 0xa1, 0x42, 0x86, 0x0c, 0x11, 0x42, 0x9c,
  0x68, 0x70, 0xa2, 0xc5, 0x82, 0x16, 0x29, 0x12, 0xcc, 0x08, 0xb1, 0x22,
  0x47, 0x89, 0x17, 0x13, 0x6a, 0x74, 0xe8, 0x30, 0x20, 0x00, 0x3b
    };
    float v[DESC_DIM];
    const char *why = NULL;
    assert_int_equal(desc_from_image(gif, (int)sizeof gif, v, &why), -1);
    assert_non_null(why);
    assert_string_equal(why, "image has no pixels");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(deterministic_finite_unit),
        cmocka_unit_test(near_duplicate_is_nearer),
        cmocka_unit_test(black_image_is_not_zero),
        cmocka_unit_test(undecodable_is_refused),
        cmocka_unit_test(truncated_jpeg_is_refused),
        cmocka_unit_test(zero_height_gif_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
