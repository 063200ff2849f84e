#include "desc_decode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>
#include <stb_image_resize.h>

#include "jpeg_scaled.h"

static _Thread_local char reason[160];

/* stb_image names an unknown PNG chunk by its four type bytes; in a
 * truncated or damaged file those are often NULs (an empty reason: every
 * other message of stb_image is longer) or binary (unprintable in a log). */
static const char *stb_reason(void)
{
    const char *r = stbi_failure_reason();
    if (r == NULL || strlen(r) < 4)
        return "damaged or truncated image data (unreadable PNG chunk)";
    for (const unsigned char *p = (const unsigned char *)r; *p; p++)
        if (*p < 0x20 || *p >= 0x7f)
            return "damaged or truncated image data (unreadable PNG chunk)";
    return r;
}

static const char *too_large(uint64_t w, uint64_t h, uint64_t max_pixels)
{
    snprintf(reason, sizeof reason,
             "image is %llu x %llu pixels, more than max_pixels (%llu)",
             (unsigned long long)w, (unsigned long long)h,
             (unsigned long long)max_pixels);
    return reason;
}

/* Over the fixed background, in place, RGBA to RGB. */
static void composite(unsigned char *pixels, size_t n)
{
    for (size_t p = 0; p < n; p++) {
        const unsigned char *in = pixels + 4 * p;
        unsigned a = in[3];
        unsigned char *o = pixels + 3 * p;
        for (int c = 0; c < 3; c++)
            o[c] = (unsigned char)((in[c] * a + DESC_BACKGROUND * (255 - a) +
                                    127) / 255);
    }
}

/* stb_image grows its buffer for a PNG's image data to the length each
 * IDAT chunk claims before it reads the chunk, so a hundred bytes claiming
 * a 1.3 GB chunk make it allocate 2 GB.  Returns 0 when a chunk before
 * IEND runs past the end of the data (the file is cut or damaged), 1
 * otherwise (also for what is not a PNG: stb_image decides). */
static int png_chunks_fit(const unsigned char *data, size_t len)
{
    static const unsigned char signature[8] = {0x89, 'P',  'N', 'G',
                                               '\r', '\n', 0x1a, '\n'};
    if (len < sizeof signature || memcmp(data, signature, sizeof signature))
        return 1;
    size_t at = sizeof signature;
    while (len - at >= 8) {
        uint64_t n = (uint64_t)data[at] << 24 | (uint64_t)data[at + 1] << 16 |
                     (uint64_t)data[at + 2] << 8 | data[at + 3];
        /* length, type, data, CRC */
        if (n + 12 > len - at)
            return 0;
        if (memcmp(data + at + 4, "IEND", 4) == 0)
            return 1;
        at += 12 + (size_t)n;
    }
    return 1;
}

static unsigned char *decode_other(const unsigned char *data, int len,
                                   uint64_t max_pixels, int *w, int *h,
                                   const char **why)
{
    int channels;
    if (!png_chunks_fit(data, (size_t)len)) {
        *why = "damaged or truncated PNG: a chunk runs past the end of the "
               "data";
        return NULL;
    }
    if (!stbi_info_from_memory(data, len, w, h, &channels)) {
        /* stb_image refuses a PNG of over 2^30 bytes of pixels before it
         * says its size, and then reports "unknown image type": read the
         * size from the IHDR chunk, always the first, to say why. */
        static const unsigned char ihdr[] = {0x89, 'P', 'N', 'G', '\r', '\n',
                                             0x1a, '\n', 0, 0, 0, 13,
                                             'I', 'H', 'D', 'R'};
        if (len >= 24 && memcmp(data, ihdr, sizeof ihdr) == 0) {
            uint64_t pw = 0, ph = 0;
            for (int i = 0; i < 4; i++) {
                pw = pw << 8 | data[16 + i];
                ph = ph << 8 | data[20 + i];
            }
            if (pw * ph > max_pixels) {
                *why = too_large(pw, ph, max_pixels);
                return NULL;
            }
        }
        *why = stb_reason();
        return NULL;
    }
    if ((uint64_t)*w * (uint64_t)*h > max_pixels) {
        *why = too_large((uint64_t)*w, (uint64_t)*h, max_pixels);
        return NULL;
    }
    int alpha = channels == 2 || channels == 4;
    unsigned char *pixels =
        stbi_load_from_memory(data, len, w, h, &channels, alpha ? 4 : 3);
    if (pixels == NULL) {
        *why = stb_reason();
        return NULL;
    }
    if (alpha)
        composite(pixels, (size_t)*w * (size_t)*h);
    return pixels;
}

int desc_decode(const unsigned char *data, int len, uint64_t max_pixels,
                int side, uint8_t *out, const char **why)
{
    int w, h;
    unsigned char *pixels;
    int from_stb = 0;
    if (len > 0 && jpeg_is_jpeg(data, (size_t)len)) {
        /* Most inputs are JPEG: decode them at a reduced scale, which is
         * most of the cost saved (stb_image always decodes in full). */
        uint64_t jw, jh;
        pixels = jpeg_decode_scaled(data, (size_t)len, side, max_pixels, &jw,
                                    &jh, &w, &h, why);
        if (pixels == NULL) {
            if (jw * jh > max_pixels)
                *why = too_large(jw, jh, max_pixels);
            return -1;
        }
    } else {
        pixels = decode_other(data, len, max_pixels, &w, &h, why);
        if (pixels == NULL)
            return -1;
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
    int ok = stbir_resize_uint8(pixels, w, h, 0, out, side, side, 0, 3);
    if (from_stb)
        stbi_image_free(pixels);
    else
        free(pixels);
    if (!ok) {
        *why = "cannot resize";
        return -1;
    }
    return 0;
}
