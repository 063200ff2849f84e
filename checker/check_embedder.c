/* Embedder conformance: a stable description, finite (and, when declared,
 * unit-length and deterministic) vectors, inputs that are told apart, and
 * an undecodable input failing alone. */
#include <config.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

enum { N_IMAGES = 6, IMAGE_SIZE = 96, REASON_LEN = 512 };

static const embsync_embedder_ops *ops(const pc_target *t)
{
    return &t->module->ops.embedder;
}

static int get_info(pc_target *t, embsync_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->abi = (embsync_abi)EMBSYNC_ABI_INIT(embsync_model_info);
    es_call_begin();
    return ops(t)->info(t->inst->state, info);
}

/* Returns the index of the first bad row, or -1. */
static long bad_row(const float *v, size_t n, uint32_t dim, const int *status,
                    int normalized, const char **why)
{
    for (size_t i = 0; i < n; i++) {
        if (status != NULL && status[i] != EMBSYNC_OK)
            continue;
        double norm = 0;
        for (uint32_t d = 0; d < dim; d++) {
            if (!isfinite(v[i * dim + d])) {
                *why = "holds NaN or Inf";
                return (long)i;
            }
            norm += (double)v[i * dim + d] * v[i * dim + d];
        }
        if (normalized && fabs(sqrt(norm) - 1.0) > 1e-3) {
            *why = "is not unit length although the model says NORMALIZED";
            return (long)i;
        }
        if (norm == 0) {
            *why = "is all zeros";
            return (long)i;
        }
    }
    return -1;
}

static double max_diff(const float *a, const float *b, size_t len)
{
    double m = 0;
    for (size_t i = 0; i < len; i++)
        m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

typedef struct batch {
    size_t n;
    embsync_blob blobs[N_IMAGES + 1];
    unsigned char *bytes[N_IMAGES + 1];
    int status[N_IMAGES + 1];
    char reasons[N_IMAGES + 1][REASON_LEN];
    float *vectors;
} batch;

static int embed(pc_target *t, batch *b, uint32_t dim)
{
    for (size_t i = 0; i < b->n; i++)
        b->status[i] = -1;
    memset(b->vectors, 0, b->n * dim * sizeof(float));
    memset(b->reasons, 0, sizeof b->reasons);
    es_call_begin();
    es_call_item_errors(&b->reasons[0][0], b->n, REASON_LEN);
    int rc = ops(t)->embed_images(t->inst->state, b->n, b->blobs, b->vectors,
                                  b->status);
    es_call_item_errors(NULL, 0, 0);
    return rc;
}

static void batch_add(batch *b, unsigned char *bytes, size_t len,
                      const char *mime)
{
    b->bytes[b->n] = bytes;
    b->blobs[b->n] = (embsync_blob){.abi = EMBSYNC_ABI_INIT(embsync_blob),
                                    .data = bytes,
                                    .len = len,
                                    .mime = mime};
    b->n++;
}

static void batch_free(batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->bytes[i]);
    free(b->vectors);
}

static int statuses_ok(const batch *b, size_t skip)
{
    for (size_t i = 0; i < b->n; i++)
        if (i != skip && b->status[i] != EMBSYNC_OK)
            return 0;
    return 1;
}

static void check_images(pc_target *t, pc_report *r,
                         const embsync_model_info *info)
{
    uint32_t dim = info->dim;
    int normalized = (info->flags & EMBSYNC_MODEL_NORMALIZED) != 0;
    batch b = {0}, again = {0};
    b.vectors = calloc((size_t)(N_IMAGES + 1) * dim, sizeof(float));
    again.vectors = calloc((size_t)(N_IMAGES + 1) * dim, sizeof(float));
    if (b.vectors == NULL || again.vectors == NULL)
        goto out;
    for (unsigned i = 0; i < N_IMAGES; i++) {
        size_t len = 0;
        unsigned char *img = pc_test_image(i, IMAGE_SIZE, &len);
        if (img == NULL)
            goto out;
        batch_add(&b, img, len, i % 2 ? "image/jpeg" : "image/png");
    }

    int rc = embed(t, &b, dim);
    const char *why = NULL;
    long row;
    if (rc != EMBSYNC_OK || !statuses_ok(&b, (size_t)-1)) {
        pc_fail(r, "embedder/images",
                "6 valid PNG/JPEG images: call returned %s, first item "
                "status %d %s",
                pc_outcome(rc), b.status[0], b.reasons[0]);
        goto out;
    }
    pc_pass(r, "embedder/images", "6 valid PNG and JPEG images embed OK");
    if ((row = bad_row(b.vectors, b.n, dim, NULL, normalized, &why)) >= 0)
        pc_fail(r, "embedder/vectors-valid", "the vector of image %ld %s",
                row, why);
    else
        pc_pass(r, "embedder/vectors-valid",
                normalized ? "vectors are finite and unit length"
                           : "vectors are finite and non-zero");

    int distinct = 1;
    for (size_t i = 1; i < b.n && distinct; i++)
        if (max_diff(b.vectors, b.vectors + i * dim, dim) < 1e-6)
            distinct = 0;
    if (!distinct)
        pc_fail(r, "embedder/inputs-distinct",
                "two different pictures got the same vector: the input "
                "seems ignored");
    else
        pc_pass(r, "embedder/inputs-distinct",
                "different pictures get different vectors");

    /* Same images, in reverse order, one of them replaced by garbage in
     * the middle: the garbage must fail alone, the others must match. */
    for (size_t i = 0; i < N_IMAGES; i++) {
        size_t src = N_IMAGES - 1 - i;
        unsigned char *copy = malloc(b.blobs[src].len);
        if (copy == NULL)
            goto out;
        memcpy(copy, b.blobs[src].data, b.blobs[src].len);
        batch_add(&again, copy, b.blobs[src].len, b.blobs[src].mime);
        if (i == 2) {
            static const char junk[] = "this is not an image, only text that "
                                       "no decoder accepts\n";
            unsigned char *bad = malloc(sizeof junk);
            if (bad == NULL)
                goto out;
            memcpy(bad, junk, sizeof junk);
            batch_add(&again, bad, sizeof junk, "image/jpeg");
        }
    }
    const size_t junk_at = 3;
    rc = embed(t, &again, dim);
    if (rc != EMBSYNC_OK && rc != EMBSYNC_ITEM_FAILED) {
        pc_fail(r, "embedder/undecodable-item",
                "a batch with one undecodable input failed as a whole: %s",
                pc_outcome(rc));
    } else if (again.status[junk_at] != EMBSYNC_ITEM_FAILED) {
        pc_fail(r, "embedder/undecodable-item",
                "the undecodable input got status %d, not ITEM_FAILED",
                again.status[junk_at]);
    } else if (!statuses_ok(&again, junk_at)) {
        pc_fail(r, "embedder/undecodable-item",
                "valid images beside an undecodable one did not embed");
    } else if (again.reasons[junk_at][0] == '\0') {
        pc_fail(r, "embedder/undecodable-item",
                "the undecodable input failed without a reason "
                "(set_item_error)");
    } else {
        pc_pass(r, "embedder/undecodable-item",
                "an undecodable input fails alone, with a reason");
    }

    if (!(info->flags & EMBSYNC_MODEL_DETERMINISTIC)) {
        pc_skip(r, "embedder/deterministic",
                "the model does not declare EMBSYNC_MODEL_DETERMINISTIC");
        goto out;
    }
    if (!statuses_ok(&again, junk_at)) {
        pc_fail(r, "embedder/deterministic",
                "cannot compare: the second batch did not embed");
        goto out;
    }
    double worst = 0;
    for (size_t i = 0; i < again.n; i++) {
        if (i == junk_at)
            continue;
        size_t src = N_IMAGES - 1 - (i < junk_at ? i : i - 1);
        worst = fmax(worst, max_diff(again.vectors + i * dim,
                                     b.vectors + src * dim, dim));
    }
    if (worst > 1e-4)
        pc_fail(r, "embedder/deterministic",
                "the same image in another batch position differs by %g",
                worst);
    else
        pc_pass(r, "embedder/deterministic",
                "the same image gives the same vector in any batch position");
out:
    batch_free(&b);
    batch_free(&again);
}

/* Two icons whose shapes are only in alpha: an embedder that drops the
 * alpha channel sees two black squares. */
static void check_alpha(pc_target *t, pc_report *r,
                        const embsync_model_info *info)
{
    uint32_t dim = info->dim;
    batch b = {0};
    b.vectors = calloc((size_t)(N_IMAGES + 1) * dim, sizeof(float));
    if (b.vectors == NULL)
        goto out;
    for (unsigned i = 0; i < 2; i++) {
        size_t len = 0;
        unsigned char *img = pc_test_icon(i, IMAGE_SIZE, &len);
        if (img == NULL)
            goto out;
        batch_add(&b, img, len, "image/png");
    }
    int rc = embed(t, &b, dim);
    if (rc != EMBSYNC_OK || !statuses_ok(&b, (size_t)-1))
        pc_fail(r, "embedder/alpha",
                "2 RGBA PNG icons: call returned %s, first item status %d %s",
                pc_outcome(rc), b.status[0], b.reasons[0]);
    else if (max_diff(b.vectors, b.vectors + dim, dim) < 1e-4)
        pc_fail(r, "embedder/alpha",
                "two icons with different shapes in alpha (black pixels) got "
                "the same vector: the alpha channel seems dropped");
    else
        pc_pass(r, "embedder/alpha",
                "shapes drawn only in alpha are told apart");
out:
    batch_free(&b);
}

static void check_text(pc_target *t, pc_report *r,
                       const embsync_model_info *info)
{
    if (!(info->flags & EMBSYNC_MODEL_TEXT)) {
        pc_skip(r, "embedder/text", "the model does not declare "
                                    "EMBSYNC_MODEL_TEXT");
        return;
    }
    if (ops(t)->embed_text == NULL) {
        pc_fail(r, "embedder/text", "EMBSYNC_MODEL_TEXT is declared but "
                                    "embed_text is NULL");
        return;
    }
    uint32_t dim = info->dim;
    float *a = calloc(dim, sizeof *a), *b = calloc(dim, sizeof *b),
          *c = calloc(dim, sizeof *c);
    if (a == NULL || b == NULL || c == NULL)
        goto out;
    es_call_begin();
    int rc = ops(t)->embed_text(t->inst->state, "a red and white striped "
                                                "pattern", a);
    if (rc == EMBSYNC_OK) {
        es_call_begin();
        rc = ops(t)->embed_text(t->inst->state, "a photo of a dog on grass", b);
    }
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "embedder/text", "embed_text returned %s", pc_outcome(rc));
        goto out;
    }
    const char *why = NULL;
    int normalized = (info->flags & EMBSYNC_MODEL_NORMALIZED) != 0;
    if (bad_row(a, 1, dim, NULL, normalized, &why) >= 0 ||
        bad_row(b, 1, dim, NULL, normalized, &why) >= 0)
        pc_fail(r, "embedder/text", "a text vector %s", why);
    else if (max_diff(a, b, dim) < 1e-6)
        pc_fail(r, "embedder/text", "two different texts got the same vector");
    else
        pc_pass(r, "embedder/text", "text queries embed to valid, distinct "
                                    "vectors");
    if (info->flags & EMBSYNC_MODEL_DETERMINISTIC) {
        es_call_begin();
        rc = ops(t)->embed_text(t->inst->state, "a red and white striped "
                                                "pattern", c);
        if (rc != EMBSYNC_OK || max_diff(a, c, dim) > 1e-4)
            pc_fail(r, "embedder/text-deterministic",
                    "the same text gave %s", rc != EMBSYNC_OK
                                                 ? pc_outcome(rc)
                                                 : "another vector");
        else
            pc_pass(r, "embedder/text-deterministic",
                    "the same text gives the same vector");
    }
out:
    free(a);
    free(b);
    free(c);
}

void pc_check_embedder(pc_target *t, pc_report *r)
{
    embsync_model_info info, again;
    int rc = get_info(t, &info);
    if (rc != EMBSYNC_OK) {
        pc_fail(r, "embedder/info", "info() returned %s", pc_outcome(rc));
        return;
    }
    if (info.dim == 0 || info.dim > 65536)
        pc_fail(r, "embedder/info", "dimension %u is out of range 1–65536",
                info.dim);
    else if (info.metric < EMBSYNC_METRIC_COSINE ||
             info.metric > EMBSYNC_METRIC_EUCLID)
        pc_fail(r, "embedder/info", "metric %d is not an embsync_metric",
                info.metric);
    else if (memchr(info.identity, '\0', sizeof info.identity) == NULL ||
             info.identity[0] == '\0')
        pc_fail(r, "embedder/info", "model identity is empty or not "
                                    "terminated");
    else if (!(info.flags & (EMBSYNC_MODEL_IMAGE | EMBSYNC_MODEL_TEXT)))
        pc_fail(r, "embedder/info", "the model embeds neither images nor text");
    else {
        pc_pass(r, "embedder/info", "dim %u, identity \"%s\"", info.dim,
                info.identity);
    }
    if (info.dim == 0 || info.dim > 65536)
        return;

    rc = get_info(t, &again);
    if (rc != EMBSYNC_OK || again.dim != info.dim ||
        again.metric != info.metric ||
        strcmp(again.identity, info.identity) != 0 || again.flags != info.flags)
        pc_fail(r, "embedder/info-stable", "a second info() answered "
                                           "differently");
    else
        pc_pass(r, "embedder/info-stable", "info() gives the same answer "
                                           "every time");

    if (info.flags & EMBSYNC_MODEL_IMAGE) {
        check_images(t, r, &info);
        check_alpha(t, r, &info);
    } else
        pc_skip(r, "embedder/images", "the model does not declare "
                                      "EMBSYNC_MODEL_IMAGE");
    check_text(t, r, &info);

    char err[1024];
    if (pc_reopen(t, err, sizeof err) != 0) {
        pc_fail(r, "embedder/reopen", "reopening failed: %s", err);
        return;
    }
    rc = get_info(t, &again);
    if (rc != EMBSYNC_OK || again.dim != info.dim ||
        strcmp(again.identity, info.identity) != 0)
        pc_fail(r, "embedder/reopen", "after reopening, info() answered %s",
                rc != EMBSYNC_OK ? pc_outcome(rc) : "another model");
    else
        pc_pass(r, "embedder/reopen", "after reopening, the model is the same");
}
