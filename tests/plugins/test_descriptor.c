/* The descriptor's features: deterministic, unit length, near duplicates
 * nearer than different pictures, JPEG and PNG, undecodable input refused,
 * mirror invariance, transparency, and the pixel cap. */
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
#define CAP DESC_DEFAULT_MAX_PIXELS
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
    assert_int_equal(desc_from_image(e.data, e.len, CAP, out, &why), 0);
    free(e.data);
}

/* The stripes as a PNG, the caller's to free (e.data). */
static encoded striped_png(void)
{
    uint8_t img[W * H * 3];
    stripes(img);
    encoded e = {0};
    assert_true(stbi_write_png_to_func(collect, &e, W, H, 3, img, W * 3));
    return e;
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
    assert_int_equal(desc_from_image(junk, (int)sizeof junk, CAP, v, &why), -1);
    assert_non_null(why);
    /* A truncated PNG too. */
    uint8_t img[W * H * 3];
    disc(img, 1, 2, 3, 0, 0, 0);
    encoded e = {0};
    stbi_write_png_to_func(collect, &e, W, H, 3, img, W * 3);
    assert_int_equal(desc_from_image(e.data, 40, CAP, v, &why), -1);
    free(e.data);
}

/* A few bytes claiming a chunk of 1.3 GB (the fuzzer's find): refused
 * before stb_image reserves room for it. */
static void png_chunk_past_the_end_is_refused(void **unused)
{
    (void)unused;
    float v[DESC_DIM];
    encoded e = striped_png();
    /* The first chunk after IHDR claims 0x4e00004e bytes. */
    assert_true(e.len > 37);
    const unsigned char claim[4] = {0x4e, 0x00, 0x00, 0x4e};
    memcpy(e.data + 33, claim, sizeof claim);
    const char *why = NULL;
    assert_int_equal(desc_from_image(e.data, e.len, CAP, v, &why), -1);
    assert_non_null(why);
    assert_non_null(strstr(why, "runs past the end"));
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
    assert_int_equal(desc_from_image(e.data, e.len, CAP, v, &why), 0);
    assert_int_equal(desc_from_image(e.data, e.len * 2 / 3, CAP, v, &why), -1);
    assert_non_null(why);
    free(e.data);
}

/* A mirrored copy is a copy: the same vector, up to rounding. */
static void mirror_is_the_same_picture(void **unused)
{
    (void)unused;
    uint8_t img[W * H * 3], flipped[W * H * 3];
    disc(img, 200, 30, 30, 20, 5, 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memcpy(flipped + 3 * (y * W + x), img + 3 * (y * W + W - 1 - x), 3);
    float a[DESC_DIM], b[DESC_DIM];
    embed(img, 0, a);
    embed(flipped, 0, b);
    double s = dot(a, b);
    if (s < 0.999)
        fail_msg("mirror scores %.4f", s);
}

/* Black pixels whose shape is only in alpha (a symbolic icon): two
 * different shapes must not come out as one picture. */
static void embed_rgba(const uint8_t *rgba, float *out)
{
    encoded e = {0};
    assert_true(stbi_write_png_to_func(collect, &e, W, H, 4, rgba, W * 4));
    const char *why = NULL;
    assert_int_equal(desc_from_image(e.data, e.len, CAP, out, &why), 0);
    free(e.data);
}

static void alpha_shapes_are_told_apart(void **unused)
{
    (void)unused;
    static uint8_t disc_icon[W * H * 4], bar_icon[W * H * 4];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int in_disc = (x - W / 2) * (x - W / 2) + (y - H / 2) * (y - H / 2) < 20 * 20;
            int in_bar = x > 10 && x < 30;
            disc_icon[4 * (y * W + x) + 3] = in_disc ? 255 : 0;
            bar_icon[4 * (y * W + x) + 3] = in_bar ? 255 : 0;
        }
    float a[DESC_DIM], b[DESC_DIM], black[DESC_DIM];
    embed_rgba(disc_icon, a);
    embed_rgba(bar_icon, b);
    uint8_t rgb[W * H * 3];
    memset(rgb, 0, sizeof rgb);
    embed(rgb, 0, black);
    double shapes = dot(a, b), to_black = dot(a, black);
    if (shapes > 0.8 || to_black > 0.8)
        fail_msg("two alpha shapes score %.3f, a shape and all black %.3f",
                 shapes, to_black);
}

/* An opaque alpha channel changes nothing. */
static void opaque_alpha_is_ignored(void **unused)
{
    (void)unused;
    uint8_t rgb[W * H * 3];
    static uint8_t rgba[W * H * 4];
    disc(rgb, 30, 160, 90, -10, 4, 0);
    for (int p = 0; p < W * H; p++) {
        memcpy(rgba + 4 * p, rgb + 3 * p, 3);
        rgba[4 * p + 3] = 255;
    }
    float a[DESC_DIM], b[DESC_DIM];
    embed(rgb, 0, a);
    embed_rgba(rgba, b);
    assert_memory_equal(a, b, sizeof a);
}

/* A PNG header of width x height 8-bit RGB pixels, and no pixel data. */
static void png_header(unsigned char *png, uint32_t width, uint32_t height)
{
    static const unsigned char start[] = {
        0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n',
        0, 0, 0, 13, 'I', 'H', 'D', 'R',
    };
    static const unsigned char end[] = {
        8, 2, 0, 0, 0,                      /* 8-bit RGB */
        0, 0, 0, 0,                         /* CRC (not checked) */
        0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82,
    };
    memcpy(png, start, sizeof start);
    for (int i = 0; i < 4; i++) {
        png[16 + i] = (unsigned char)(width >> (24 - 8 * i));
        png[20 + i] = (unsigned char)(height >> (24 - 8 * i));
    }
    memcpy(png + 24, end, sizeof end);
}

/* A 150 KB PNG can claim 30000 x 30000 pixels (2.7 GB decoded), or 15000
 * x 15000 (675 MB, which stb_image would allocate): both are refused from
 * the header, with a reason that says so. */
static void huge_png_is_refused_before_decoding(void **unused)
{
    (void)unused;
    unsigned char png[45];
    float v[DESC_DIM];
    const char *why = NULL;
    png_header(png, 15000, 15000);
    assert_int_equal(desc_from_image(png, (int)sizeof png, CAP, v, &why), -1);
    assert_non_null(why);
    if (strstr(why, "15000 x 15000") == NULL || strstr(why, "max_pixels") == NULL)
        fail_msg("reason: %s", why);
    png_header(png, 30000, 30000);
    why = NULL;
    assert_int_equal(desc_from_image(png, (int)sizeof png, CAP, v, &why), -1);
    if (why == NULL || strstr(why, "30000 x 30000") == NULL)
        fail_msg("reason: %s", why ? why : "(none)");
}

/* The same for a JPEG whose frame header claims more than the cap; a
 * small one passes the same cap. */
static void huge_jpeg_is_refused_before_decoding(void **unused)
{
    (void)unused;
    uint8_t img[W * H * 3];
    disc(img, 200, 30, 30, 0, 0, 0);
    encoded e = {0};
    stbi_write_jpg_to_func(collect, &e, W, H, 3, img, 90);
    float v[DESC_DIM];
    const char *why = NULL;
    assert_int_equal(desc_from_image(e.data, e.len, (uint64_t)W * H, v, &why), 0);
    assert_int_equal(desc_from_image(e.data, e.len, (uint64_t)W * H - 1, v, &why), -1);
    assert_non_null(strstr(why, "96 x 72 pixels"));
    free(e.data);
}

/* Cut anywhere, a PNG is refused with a reason one can read: stb_image's
 * own message for a cut-off chunk can be empty or binary. */
static void truncated_png_always_has_a_reason(void **unused)
{
    (void)unused;
    float v[DESC_DIM];
    encoded e = striped_png();
    for (int len = 1; len < e.len; len++) {
        const char *why = NULL;
        if (desc_from_image(e.data, len, CAP, v, &why) == 0)
            continue;
        assert_non_null(why);
        if (strlen(why) < 4)
            fail_msg("cut at %d of %d bytes: reason '%s'", len, e.len, why);
        for (const char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
                fail_msg("cut at %d of %d bytes: unprintable reason", len, e.len);
    }
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
    assert_int_equal(desc_from_image(gif, (int)sizeof gif, CAP, v, &why), -1);
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
        cmocka_unit_test(mirror_is_the_same_picture),
        cmocka_unit_test(alpha_shapes_are_told_apart),
        cmocka_unit_test(opaque_alpha_is_ignored),
        cmocka_unit_test(huge_png_is_refused_before_decoding),
        cmocka_unit_test(huge_jpeg_is_refused_before_decoding),
        cmocka_unit_test(truncated_png_always_has_a_reason),
        cmocka_unit_test(png_chunk_past_the_end_is_refused),
        cmocka_unit_test(zero_height_gif_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
