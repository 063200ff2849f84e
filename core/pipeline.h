/* The pipeline of one stream of changes: what the producer emits is cut
 * into batches by the sink, and each batch goes through three bounded
 * stages, each a thread of its own: fetch (the source's content of the
 * upserts), embed (the embedder's vectors) and store (upserts and removes,
 * recorded in flight first, then acknowledged).  A stage waits when the
 * queue after it is full, so memory stays flat whatever the stream's
 * length; deletions ride through fetch and embed untouched. */
#ifndef ES_PIPELINE_H
#define ES_PIPELINE_H

#include "engine.h"
#include "inflight.h"
#include "ledger.h"

/** Stream what `produce` emits for `collection` through the stages, with
 *  the options of es_engine_stream_opts() (NULL: the defaults).  `ledger`
 *  (the run's failed items) and `pending` (the in-flight record) may be
 *  NULL.  Fills res's counts, its error and `stopped`; returns the
 *  stream's status: the first stage failure, else the producer's, else
 *  RETRY when a stop cut it short. */
int es_pipeline_run(es_engine *e, const char *collection,
                    const es_stream_opts *opts, es_ledger *ledger,
                    es_inflight *pending, es_change_producer produce,
                    void *arg, es_run_result *res);

#endif
