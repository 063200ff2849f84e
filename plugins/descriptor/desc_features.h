/* The model-free image descriptor, version 4: four blocks computed from a
 * small working picture, each L2-normalised and weighted, the whole unit
 * length.  Every block is the same for a picture and its mirror image, and
 * the spatial ones are mean-free, so unrelated pictures score near zero
 * rather than near one:
 *
 *   dct     the low frequencies of the grey picture's 2-D DCT (a
 *           perceptual hash kept as numbers): composition and shape
 *   layout  mean colour (opponent channels) per cell of a grid
 *   edges   gradient orientation histograms per cell
 *   colour  an HSV histogram of the whole picture (Hellinger)
 *
 * Close vectors mean near-duplicates and look-alikes, not meaning: this is
 * no substitute for CLIP, only a working default that needs no model.
 * bench/descriptor_eval measures it on edited copies of real photographs. */
#ifndef DESC_FEATURES_H
#define DESC_FEATURES_H

#include <stdint.h>

/* Bump when the computation changes: the identity carries it, so stored
 * collections are rebuilt instead of mixing two descriptors. */
#define DESC_VERSION 4

#define DESC_SIDE 64            /* working picture: DESC_SIDE² RGB pixels */
#define DESC_DCT_SIDE 32        /* the grey picture the DCT is taken of */
#define DESC_DCT_KEEP 8         /* lowest DESC_DCT_KEEP² frequencies, less DC */
#define DESC_GRID 4             /* layout and edge cells per side */
#define DESC_ORIENT_BINS 4
#define DESC_HUE_BINS 8
#define DESC_SAT_BINS 3
#define DESC_VAL_BINS 3

#define DESC_DCT_DIM (DESC_DCT_KEEP * DESC_DCT_KEEP - 1)
#define DESC_LAYOUT_DIM (DESC_GRID * DESC_GRID * 3)
#define DESC_EDGE_DIM (DESC_GRID * DESC_GRID * DESC_ORIENT_BINS)
#define DESC_COLOUR_DIM (DESC_HUE_BINS * DESC_SAT_BINS * DESC_VAL_BINS)
#define DESC_DIM (DESC_DCT_DIM + DESC_LAYOUT_DIM + DESC_EDGE_DIM + DESC_COLOUR_DIM)

/** Pictures larger than this many pixels are refused unless the plugin's
 *  max_pixels key says otherwise (a 150 KB PNG can claim 30000²). */
#define DESC_DEFAULT_MAX_PIXELS 100000000ULL

/** Compute the descriptor of a DESC_SIDE × DESC_SIDE RGB picture (rows
 *  packed) into out[DESC_DIM]. */
void desc_compute(const uint8_t *rgb, float *out);

/** Decode JPEG/PNG/... bytes (at most max_pixels pixels), resize, and
 *  compute.  Returns 0, or -1 with a reason (static or thread-local
 *  text) in *why. */
int desc_from_image(const unsigned char *data, int len, uint64_t max_pixels,
                    float *out, const char **why);

#endif
