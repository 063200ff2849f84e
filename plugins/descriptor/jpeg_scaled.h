/* JPEG decoding straight to a reduced size. */
#ifndef JPEG_SCALED_H
#define JPEG_SCALED_H

#include <stddef.h>
#include <stdint.h>

/** Is data a JPEG (by its signature)? */
int jpeg_is_jpeg(const unsigned char *data, size_t len);

/** Decode a JPEG to RGB at the smallest scale N/8 (N = 1..8) that keeps
 *  both sides at least min_side pixels (libjpeg-turbo scales in the DCT
 *  domain, so a smaller output is also a cheaper decode).  The full size
 *  from the header goes to *full_w × *full_h (0 × 0 if the header is
 *  unreadable); one of more than max_pixels is refused before decoding.
 *  Returns a malloc'd w × h × 3 buffer, or NULL with *why set. */
unsigned char *jpeg_decode_scaled(const unsigned char *data, size_t len,
                                  int min_side, uint64_t max_pixels,
                                  uint64_t *full_w, uint64_t *full_h, int *w,
                                  int *h, const char **why);

#endif
