/* Image bytes to the descriptor's small working picture: JPEG through
 * libjpeg-turbo at a reduced scale, everything else through stb_image;
 * the size is checked from the header before any pixel is decoded, and
 * transparency is composited over a fixed grey. */
#ifndef DESC_DECODE_H
#define DESC_DECODE_H

#include <stdint.h>

/** The grey transparent pixels are shown over: mid-grey keeps both black
 *  and white shapes visible (a symbolic icon is black with its shape only
 *  in alpha). */
#define DESC_BACKGROUND 128

/** Decode data[len] and resize it to side × side RGB (rows packed) into
 *  out[side * side * 3].  An image of more than max_pixels pixels (width
 *  × height, from its header) is refused before decoding.  Returns 0, or
 *  -1 with a reason in *why (static or thread-local text). */
int desc_decode(const unsigned char *data, int len, uint64_t max_pixels,
                int side, uint8_t *out, const char **why);

#endif
