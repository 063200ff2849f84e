#include "jpeg_scaled.h"

#include <stdint.h>

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <jpeglib.h>
#include <jerror.h>

/* libjpeg reports fatal errors through a callback that must not return. */
typedef struct error_jump {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char message[JMSG_LENGTH_MAX];
} error_jump;

static void on_error(j_common_ptr cinfo)
{
    error_jump *e = (error_jump *)cinfo->err;
    e->mgr.format_message(cinfo, e->message);
    longjmp(e->jump, 1);
}

/* libjpeg only warns about missing or damaged entropy data and fills the
 * rest of the picture with grey; a truncated download must not become a
 * vector of half a picture, so those warnings fail the decode (stb_image
 * refuses such files too).  Other warnings are harmless. */
static void on_message(j_common_ptr cinfo, int level)
{
    int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER ||
                      code == JWRN_HUFF_BAD_CODE))
        on_error(cinfo);
}

int jpeg_is_jpeg(const unsigned char *data, size_t len)
{
    return len > 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff;
}

unsigned char *jpeg_decode_scaled(const unsigned char *data, size_t len,
                                  int min_side, uint64_t max_pixels,
                                  uint64_t *full_w, uint64_t *full_h, int *w,
                                  int *h, const char **why)
{
    static _Thread_local char reason[JMSG_LENGTH_MAX];
    struct jpeg_decompress_struct cinfo;
    error_jump err;
    unsigned char *volatile rgb = NULL;
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = on_error;
    err.mgr.emit_message = on_message;
    if (setjmp(err.jump)) {
        snprintf(reason, sizeof reason, "%s", err.message);
        *why = reason;
        jpeg_destroy_decompress(&cinfo);
        free(rgb);
        return NULL;
    }
    *full_w = *full_h = 0;
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)len);
    jpeg_read_header(&cinfo, TRUE);
    *full_w = cinfo.image_width;
    *full_h = cinfo.image_height;
    if (*full_w * *full_h > max_pixels) {
        jpeg_destroy_decompress(&cinfo);
        *why = "too many pixels";
        return NULL;
    }
    cinfo.out_color_space = JCS_RGB;
    /* libjpeg-turbo scales by N/8 for N = 1..16; the smallest N that keeps
     * min_side pixels a side (224 -> 84 for 64) decodes and resizes the
     * fewest pixels. */
    cinfo.scale_num = 8;
    cinfo.scale_denom = 8;
    for (unsigned num = 1; num < 8; num++)
        if ((uint64_t)cinfo.image_width * num / 8 >= (uint64_t)min_side &&
            (uint64_t)cinfo.image_height * num / 8 >= (uint64_t)min_side) {
            cinfo.scale_num = num;
            break;
        }
    jpeg_start_decompress(&cinfo);
    size_t stride = (size_t)cinfo.output_width * 3;
    rgb = malloc(stride * cinfo.output_height);
    if (rgb == NULL) {
        jpeg_destroy_decompress(&cinfo);
        *why = "out of memory";
        return NULL;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = rgb + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    *w = (int)cinfo.output_width;
    *h = (int)cinfo.output_height;
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    return rgb;
}
