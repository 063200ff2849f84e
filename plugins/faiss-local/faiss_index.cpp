// The C++ side of faiss_index.h.  FAISS throws; nothing may cross into C,
// so every entry point catches and turns exceptions into -1 / NULL.
#include "faiss_index.h"

#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/utils/distances.h>
#include <faiss/IndexIDMap.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_io.h>
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

struct fl_index {
    std::unique_ptr<faiss::IndexIDMap2> map;
};

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
    return static_cast<uint32_t>(ix->map->d);
}

uint64_t fl_index_count(const fl_index *ix)
{
    return static_cast<uint64_t>(ix->map->ntotal);
}

int fl_index_remove(fl_index *ix, size_t n, const uint64_t *ids)
{
    return guarded([&] {
        if (n == 0 || ix->map->ntotal == 0)
            return 0;
        std::vector<faiss::Index::idx_t> v(n);
        for (size_t i = 0; i < n; i++)
            v[i] = to_faiss(ids[i]);
        faiss::IDSelectorBatch sel(static_cast<size_t>(n), v.data());
        ix->map->remove_ids(sel);
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
        ix->map->add_with_ids(static_cast<faiss::Index::idx_t>(n), vectors,
                              v.data());
        return 0;
    });
}

long fl_index_search(const fl_index *ix, const float *query, size_t k,
                     uint64_t *ids, float *scores)
{
    long found = -1;
    guarded([&] {
        if (ix->map->ntotal == 0 || k == 0) {
            found = 0;
            return 0;
        }
        std::vector<faiss::Index::idx_t> labels(k);
        std::vector<float> dist(k);
        ix->map->search(1, query, static_cast<faiss::Index::idx_t>(k),
                        dist.data(), labels.data());
        bool l2 = ix->map->metric_type == faiss::METRIC_L2;
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
        faiss::write_index(ix->map.get(), path);
        return 0;
    });
}

fl_index *fl_index_read(const char *path)
{
    fl_index *ix = nullptr;
    guarded([&] {
        std::unique_ptr<faiss::Index> read(faiss::read_index(path));
        auto *map = dynamic_cast<faiss::IndexIDMap2 *>(read.get());
        if (map == nullptr) {
            last_error = std::string(path) + ": not an IndexIDMap2";
            return -1;
        }
        read.release();
        ix = new fl_index;
        ix->map.reset(map);
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
