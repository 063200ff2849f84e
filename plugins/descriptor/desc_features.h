/* The model-free image descriptor: colour, layout, edges and a thumbnail,
 * each block L2-normalised and weighted, the whole unit length.  Close
 * vectors mean near-duplicates and look-alikes, not meaning: this is no
 * substitute for CLIP, only a working default that needs no model. */
#ifndef DESC_FEATURES_H
#define DESC_FEATURES_H

#include <stdint.h>

/* Bump when the computation changes: the identity carries it, so stored
 * collections are rebuilt instead of mixing two descriptors. */
#define DESC_VERSION 3

#define DESC_SIDE 64            /* working image: DESC_SIDE² RGB pixels */
#define DESC_HUE_BINS 8
#define DESC_SAT_BINS 4
#define DESC_VAL_BINS 4
#define DESC_GRID 4             /* layout and edge cells per side */
#define DESC_ORIENT_BINS 8
#define DESC_THUMB 8            /* grey thumbnail side */

#define DESC_COLOUR_DIM (DESC_HUE_BINS * DESC_SAT_BINS * DESC_VAL_BINS)
#define DESC_LAYOUT_DIM (DESC_GRID * DESC_GRID * 3)
#define DESC_EDGE_DIM (DESC_GRID * DESC_GRID * DESC_ORIENT_BINS)
#define DESC_THUMB_DIM (DESC_THUMB * DESC_THUMB)
#define DESC_DIM (DESC_COLOUR_DIM + DESC_LAYOUT_DIM + DESC_EDGE_DIM + DESC_THUMB_DIM)

/** Compute the descriptor of a DESC_SIDE × DESC_SIDE RGB image (rows
 *  packed) into out[DESC_DIM]. */
void desc_compute(const uint8_t *rgb, float *out);

/** Decode JPEG/PNG bytes, resize, and compute.  Returns 0, or -1 with a
 *  reason (static text) in *why. */
int desc_from_image(const unsigned char *data, int len, float *out,
                    const char **why);

#endif
