// The C++ side of faiss_index.h.  FAISS throws; nothing may cross into C,
// so every entry point catches and turns exceptions into -1 / NULL.
#include "faiss_index.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIDMap.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>
#include <faiss/utils/distances.h>
#include <omp.h>

namespace {

thread_local std::string last_error;

// FAISS ids are signed 64-bit; embsync ids are unsigned.  A bit-for-bit
// reinterpretation keeps ids at or above 2^63 exact both ways.
faiss::Index::idx_t to_faiss(uint64_t id)
{
    faiss::Index::idx_t out;
    std::memcpy(&out, &id, sizeof out);
    return out;
}

uint64_t from_faiss(faiss::Index::idx_t id)
{
    uint64_t out;
    std::memcpy(&out, &id, sizeof out);
    return out;
}

template <typename F> int guarded(F &&f)
{
    try {
        return f();
    } catch (const std::exception &e) {
        last_error = e.what();
    } catch (...) {
        last_error = "unknown FAISS error";
    }
    return -1;
}

} // namespace

// Exactly one of the two is set: an exact flat index behind an id map, or
// an IVF index (which keeps ids itself).
struct fl_index {
    std::unique_ptr<faiss::IndexIDMap2> map;
    std::unique_ptr<faiss::IndexIVFFlat> ivf;

    faiss::Index *index() const
    {
        return map ? static_cast<faiss::Index *>(map.get())
                   : static_cast<faiss::Index *>(ivf.get());
    }
};

namespace {

// Training reads up to this many vectors per cell, FAISS's own default
// cap (with 64, recall@10 in bench/bench_faiss fell from 0.97 to 0.90),
// and no more than TRAIN_MAX in all: k-means time grows with the sample
// times the cells, and past ~150 a cell recall gained nothing measurable
// (0.996 with 128 a cell, 1.000 with 256, at 316 cells) while a rebuild
// at 100,000 points took 13 s instead of 8.
constexpr size_t TRAIN_PER_CELL = 256;
constexpr size_t TRAIN_MAX = 50000;

std::unique_ptr<faiss::IndexIVFFlat> new_ivf(uint32_t dim, faiss::MetricType metric,
                                             size_t cells)
{
    faiss::Index *quantizer =
        metric == faiss::METRIC_L2
            ? static_cast<faiss::Index *>(new faiss::IndexFlatL2(dim))
            : static_cast<faiss::Index *>(new faiss::IndexFlatIP(dim));
    std::unique_ptr<faiss::IndexIVFFlat> ivf(
        new faiss::IndexIVFFlat(quantizer, dim, cells, metric));
    ivf->own_fields = true;
    // Unit-length centroids for inner product, so no cell wins a query by
    // the length of its centroid alone.
    ivf->cp.spherical = metric == faiss::METRIC_INNER_PRODUCT;
    ivf->cp.niter = 10;
    ivf->cp.max_points_per_centroid = static_cast<int>(TRAIN_PER_CELL);
    // FAISS warns on stderr below 39 points per cell; a collection gets
    // cells only from 1,000 points on, with about sqrt(n) points per cell.
    ivf->cp.min_points_per_centroid = 1;
    ivf->cp.seed = 1234; // the same cells for the same points
    return ivf;
}

// Calls f(n, vectors, ids) over every point of ix, in blocks.
template <typename F> void for_each_block(const fl_index *ix, F &&f)
{
    if (ix->map) {
        auto *flat = static_cast<const faiss::IndexFlat *>(ix->map->index);
        f(static_cast<size_t>(ix->map->ntotal), flat->get_xb(),
          ix->map->id_map.data());
        return;
    }
    const faiss::InvertedLists *lists = ix->ivf->invlists;
    for (size_t l = 0; l < lists->nlist; l++) {
        size_t n = lists->list_size(l);
        if (n == 0)
            continue;
        faiss::InvertedLists::ScopedCodes codes(lists, l);
        faiss::InvertedLists::ScopedIds ids(lists, l);
        f(n, reinterpret_cast<const float *>(codes.get()), ids.get());
    }
}

// `want` vectors of src spread evenly over all of it (every total/want-th),
// so training sees the whole collection, not its oldest points.
std::vector<float> training_sample(const fl_index *src, size_t want)
{
    uint32_t dim = static_cast<uint32_t>(src->index()->d);
    uint64_t total = static_cast<uint64_t>(src->index()->ntotal), seen = 0;
    std::vector<float> sample(want * dim);
    size_t taken = 0;
    for_each_block(src, [&](size_t n, const float *v, const faiss::Index::idx_t *) {
        for (size_t i = 0; i < n && taken < want; i++, seen++)
            if (seen * want / total >= taken)
                std::memcpy(&sample[dim * taken++], v + dim * i, dim * sizeof(float));
    });
    return sample;
}

} // namespace

extern "C" {

fl_index *fl_index_new(uint32_t dim, int l2)
{
    fl_index *ix = nullptr;
    guarded([&] {
        std::unique_ptr<fl_index> made(new fl_index);
        faiss::Index *flat = l2 ? static_cast<faiss::Index *>(new faiss::IndexFlatL2(dim))
                                : static_cast<faiss::Index *>(new faiss::IndexFlatIP(dim));
        made->map.reset(new faiss::IndexIDMap2(flat));
        made->map->own_fields = true;
        ix = made.release();
        return 0;
    });
    return ix;
}

void fl_index_free(fl_index *ix)
{
    delete ix;
}

uint32_t fl_index_dim(const fl_index *ix)
{
    return static_cast<uint32_t>(ix->index()->d);
}

uint64_t fl_index_count(const fl_index *ix)
{
    return static_cast<uint64_t>(ix->index()->ntotal);
}

size_t fl_index_cells(const fl_index *ix)
{
    return ix->ivf ? ix->ivf->nlist : 0;
}

void fl_index_set_nprobe(fl_index *ix, size_t nprobe)
{
    if (ix->ivf)
        ix->ivf->nprobe = nprobe < 1 ? 1 : nprobe > ix->ivf->nlist ? ix->ivf->nlist : nprobe;
}

fl_index *fl_index_rebuild(const fl_index *src, size_t cells)
{
    fl_index *made = nullptr;
    guarded([&] {
        const faiss::Index *from = src->index();
        uint32_t dim = static_cast<uint32_t>(from->d);
        std::unique_ptr<fl_index> ix;
        if (cells == 0) {
            ix.reset(fl_index_new(dim, from->metric_type == faiss::METRIC_L2));
            if (!ix)
                return -1;
        } else {
            uint64_t total = fl_index_count(src);
            if (total < cells) {
                last_error = "fewer points than IVF cells";
                return -1;
            }
            size_t want = static_cast<size_t>(
                std::min<uint64_t>({total, cells * TRAIN_PER_CELL, TRAIN_MAX}));
            std::vector<float> sample = training_sample(src, want);
            ix.reset(new fl_index);
            ix->ivf = new_ivf(dim, from->metric_type, cells);
            ix->ivf->train(static_cast<faiss::Index::idx_t>(want), sample.data());
        }
        faiss::Index *to = ix->index();
        for_each_block(src, [&](size_t n, const float *v, const faiss::Index::idx_t *ids) {
            to->add_with_ids(static_cast<faiss::Index::idx_t>(n), v, ids);
        });
        made = ix.release();
        return 0;
    });
    return made;
}

int fl_index_remove(fl_index *ix, size_t n, const uint64_t *ids)
{
    return guarded([&] {
        if (n == 0 || ix->index()->ntotal == 0)
            return 0;
        std::vector<faiss::Index::idx_t> v(n);
        for (size_t i = 0; i < n; i++)
            v[i] = to_faiss(ids[i]);
        // On the flat index remove_ids() scans every point and rebuilds
        // the id map: skip it when none of the ids is there (an upsert of
        // new points), or replaying a million-point log takes minutes.
        if (ix->map && std::none_of(v.begin(), v.end(), [&](faiss::Index::idx_t id) {
                return ix->map->rev_map.count(id) > 0;
            }))
            return 0;
        faiss::IDSelectorBatch sel(static_cast<size_t>(n), v.data());
        ix->index()->remove_ids(sel);
        return 0;
    });
}

int fl_index_upsert(fl_index *ix, size_t n, const uint64_t *ids,
                    const float *vectors)
{
    if (fl_index_remove(ix, n, ids) != 0)
        return -1;
    return guarded([&] {
        std::vector<faiss::Index::idx_t> v(n);
        for (size_t i = 0; i < n; i++)
            v[i] = to_faiss(ids[i]);
        ix->index()->add_with_ids(static_cast<faiss::Index::idx_t>(n), vectors,
                                  v.data());
        return 0;
    });
}

long fl_index_search(const fl_index *ix, const float *query, size_t k,
                     uint64_t *ids, float *scores)
{
    long found = -1;
    guarded([&] {
        const faiss::Index *index = ix->index();
        if (index->ntotal == 0 || k == 0) {
            found = 0;
            return 0;
        }
        std::vector<faiss::Index::idx_t> labels(k);
        std::vector<float> dist(k);
        index->search(1, query, static_cast<faiss::Index::idx_t>(k),
                      dist.data(), labels.data());
        bool l2 = index->metric_type == faiss::METRIC_L2;
        found = 0;
        for (size_t i = 0; i < k; i++) {
            if (labels[i] < 0 && from_faiss(labels[i]) == UINT64_MAX)
                break; // FAISS pads missing results with -1
            ids[found] = from_faiss(labels[i]);
            scores[found] = l2 ? -dist[i] : dist[i];
            found++;
        }
        return 0;
    });
    return found;
}

int fl_index_write(const fl_index *ix, const char *path)
{
    return guarded([&] {
        faiss::write_index(ix->index(), path);
        return 0;
    });
}

fl_index *fl_index_read(const char *path)
{
    fl_index *ix = nullptr;
    guarded([&] {
        std::unique_ptr<faiss::Index> read(faiss::read_index(path));
        std::unique_ptr<fl_index> made(new fl_index);
        if (auto *map = dynamic_cast<faiss::IndexIDMap2 *>(read.get())) {
            read.release();
            made->map.reset(map);
        } else if (auto *ivf = dynamic_cast<faiss::IndexIVFFlat *>(read.get())) {
            read.release();
            made->ivf.reset(ivf);
        } else {
            last_error = std::string(path) + ": neither an IndexIDMap2 nor an IndexIVFFlat";
            return -1;
        }
        ix = made.release();
        return 0;
    });
    return ix;
}

void fl_index_single_threaded(void)
{
    omp_set_num_threads(1);
    /* A single query otherwise takes FAISS's scalar loop; the BLAS path
     * (OpenBLAS, vectorised for this CPU) scans the same flat index faster
     * (bench/bench_faiss: 51 -> 37 ms at 100k x 512). */
    faiss::distance_compute_blas_threshold = 1;
}

const char *fl_index_error(void)
{
    return last_error.c_str();
}

} // extern "C"
