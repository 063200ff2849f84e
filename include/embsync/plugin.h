/*
 * embsync/plugin.h — the embsync plugin ABI, version 1 (minor: see the
 * changelog below and EMBSYNC_ABI_MINOR).
 *
 * This is the only header a plugin needs.  A plugin is a shared module that
 * exports one function, embsync_plugin_entry(), returning a pointer to a
 * constant embsync_plugin descriptor.  The descriptor names the plugin, its
 * kind (source, embedder or store), the configuration keys it accepts and a
 * table of operations for its kind.  Everything the plugin needs from the
 * daemon (logging, configuration, HTTP, errors, metrics) arrives through the
 * embsync_host table passed to open(); a plugin links nothing from embsync.
 *
 * Stability rules
 * ---------------
 * Every struct that crosses the boundary starts with an embsync_abi prefix:
 * ABI major, ABI minor, and the struct's size as the author compiled it.
 * The host copies min(size, sizeof) bytes into a zeroed copy of its own, so a
 * member appended in a later minor reads as zero/NULL ("absent") when a plugin
 * built against an older minor is loaded.  Consequently:
 *   - a minor release only ever appends members at the end of a struct, or
 *     adds new constants;
 *   - a major release is anything else, and the host refuses modules built
 *     for another major, or for a minor newer than its own;
 *   - before calling a host function added in minor N, a plugin checks
 *     EMBSYNC_HOST_HAS(host, member).
 *
 * Changelog
 * ---------
 *   1.0  First stable ABI: descriptor, source/embedder/store tables, host
 *        table (log, errors, config, state dir, blobs, HTTP, metrics, stop
 *        and retry wait, secret registration).
 *   1.1  Host: json_float_array() (vectors as shortest round-trip JSON
 *        text); EMBSYNC_JSON_FLOAT_MAX, EMBSYNC_JSON_FLOAT_ARRAY_MAX.
 *   1.2  Source: exists() and items() (optional), for resolving a crash's
 *        in-flight record and for reconciliation.  Store: list_ids() and
 *        contains(), alias_get() and alias_set() (optional), for
 *        reconciliation and for rebuilding a collection beside the live
 *        one.  EMBSYNC_ENSURE_ADOPTED.  Host: http_outcome() (the one
 *        mapping of an HTTP answer to an outcome, EMBSYNC_WHOLE_CALL),
 *        state_write() and state_read() (durable atomic files in the state
 *        directory), url_join() and url_escape() (URL building).
 *   1.3  Host: adaptive concurrency limits (limit_new(), limit_window(),
 *        limit_sample(), limit_restart(), limit_free(); AIMD with slow
 *        start and a latency signal), http_many_limited() (http_many()
 *        whose parallelism follows a limit), clock_now(), and metrics with
 *        one label of the plugin's (gauge_set(), counter_add_labelled()).
 *        EMBSYNC_LIMIT_*.
 *   1.4  Host: grpc_unary() and grpc_outcome() (gRPC unary calls through
 *        the one HTTP helper, and the one reading of a gRPC status).
 *        EMBSYNC_HTTP_NO_COMPRESSION (an answer HTTP compression cannot
 *        shrink: no Accept-Encoding is sent).  blob_take_body() (an
 *        answer's body becomes a blob without a copy).
 *        Embedder: embsync_model_info.concurrent_calls (embed_images()
 *        calls the host may make at once; 0 or 1: serialised as before).
 *
 * Ownership, in one sentence: whoever allocates frees; every pointer handed
 * to a call is borrowed for the duration of that call unless its comment says
 * otherwise; results the host must keep are copied by the host (strings, error
 * texts, payloads) or written into host-owned memory (vectors, blobs).
 *
 * Threading: see "Threading contract" below each operation table.
 */
#ifndef EMBSYNC_PLUGIN_H
#define EMBSYNC_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EMBSYNC_ABI_MAJOR 1
#define EMBSYNC_ABI_MINOR 4

#if defined(__GNUC__)
#define EMBSYNC_EXPORT __attribute__((visibility("default")))
#define EMBSYNC_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define EMBSYNC_EXPORT
#define EMBSYNC_PRINTF(fmt, args)
#endif

/* ------------------------------------------------------------------------ */
/* Versioned prefix                                                          */
/* ------------------------------------------------------------------------ */

/** First member of every struct crossing the ABI. */
typedef struct embsync_abi {
    uint16_t major; /**< EMBSYNC_ABI_MAJOR the struct was built against */
    uint16_t minor; /**< EMBSYNC_ABI_MINOR the struct was built against */
    uint32_t size;  /**< sizeof the struct as its author compiled it */
} embsync_abi;

/** Initialiser for the prefix of a struct of type T. */
#define EMBSYNC_ABI_INIT(T) { EMBSYNC_ABI_MAJOR, EMBSYNC_ABI_MINOR, (uint32_t)sizeof(T) }

/** True when the struct pointed to by p (prefix first) carries member m. */
#define EMBSYNC_HAS_MEMBER(p, T, m) \
    ((p)->abi.size >= offsetof(T, m) + sizeof(((T *)0)->m))

/** True when the host table has function m and it is set. */
#define EMBSYNC_HOST_HAS(host, m) \
    (EMBSYNC_HAS_MEMBER(host, embsync_host, m) && (host)->m != NULL)

/* ------------------------------------------------------------------------ */
/* Outcomes                                                                  */
/* ------------------------------------------------------------------------ */

/**
 * Result of every operation.  The core owns retries: a plugin reports what
 * happened and never loops on its own around a transient failure (the host's
 * http() already applies the retry policy to each request).
 */
typedef enum embsync_status {
    EMBSYNC_OK = 0,          /**< done */
    EMBSYNC_RETRY = 1,       /**< transient (timeout, 5xx, 429, not ready):
                                  try again later; see set_retry_after() */
    EMBSYNC_ITEM_FAILED = 2, /**< permanent for this item only (per-item slot) */
    EMBSYNC_FAILED = 3,      /**< this collection fails for this run */
    EMBSYNC_FATAL = 4,       /**< configuration or authorisation is wrong:
                                  the core stops using the plugin and says so */
    EMBSYNC_SKIP = 5         /**< source begin(): collection busy elsewhere */
} embsync_status;

/** Log levels (syslog numbering). */
enum {
    EMBSYNC_LOG_ERROR = 3,
    EMBSYNC_LOG_WARNING = 4,
    EMBSYNC_LOG_INFO = 6,
    EMBSYNC_LOG_DEBUG = 7
};

/** Plugin kinds. */
typedef enum embsync_kind {
    EMBSYNC_KIND_SOURCE = 1,
    EMBSYNC_KIND_EMBEDDER = 2,
    EMBSYNC_KIND_STORE = 3
} embsync_kind;

/* ------------------------------------------------------------------------ */
/* Configuration keys                                                        */
/* ------------------------------------------------------------------------ */

typedef enum embsync_key_type {
    EMBSYNC_KEY_STRING = 1,
    EMBSYNC_KEY_INT = 2,   /**< decimal integer (long long) */
    EMBSYNC_KEY_BOOL = 3,  /**< true/false, yes/no, on/off, 1/0 */
    EMBSYNC_KEY_DOUBLE = 4
} embsync_key_type;

/** Key flags. */
enum {
    EMBSYNC_KEY_REQUIRED = 1u << 0, /**< the section must set it */
    EMBSYNC_KEY_SECRET = 1u << 1    /**< never logged or printed; may also be
                                         given as NAME_file = PATH */
};

/**
 * One accepted configuration key.  A plugin declares an array of these,
 * terminated by an entry whose name is NULL.  The core validates the INI
 * section against the table before open() (unknown key, wrong type, missing
 * required key are errors naming file, line and key), and any string key may
 * be given as NAME_file = PATH to read the value from a file.
 */
typedef struct embsync_config_key {
    const char *name;          /**< key name as written in the INI file */
    int type;                  /**< embsync_key_type */
    const char *default_value; /**< text of the default, or NULL for none */
    unsigned flags;            /**< EMBSYNC_KEY_* flags */
    const char *help;          /**< one line for `embsync plugins` */
} embsync_config_key;

/* ------------------------------------------------------------------------ */
/* Data crossing the ABI                                                     */
/* ------------------------------------------------------------------------ */

/** What a change asks for. */
typedef enum embsync_op {
    EMBSYNC_OP_UPSERT = 1, /**< (re)embed the item and store its vector */
    EMBSYNC_OP_DELETE = 2  /**< remove the item's vector */
} embsync_op;

/**
 * One pending change, as a source reports it from changes().
 * All strings are borrowed: the core copies what it keeps before the sink
 * call returns.  The same record (host copies) is handed back to the source
 * in fetch() and ack().
 */
typedef struct embsync_change {
    embsync_abi abi;
    uint64_t id;         /**< item id, unique within the collection */
    int op;              /**< embsync_op */
    const char *ref;     /**< source-private locator for fetch (may be NULL) */
    const char *version; /**< source-private version token echoed to ack()
                              so the source records what was really applied
                              (may be NULL) */
    const char *payload; /**< JSON object text stored with the vector
                              (UPSERT only; NULL means "{}") */
} embsync_change;

/**
 * Content of one item (image bytes), in host-owned memory.  A source fills
 * it with host->blob_set(), host->blob_alloc() or (1.4)
 * host->blob_take_body(); the host frees it.
 */
typedef struct embsync_blob {
    embsync_abi abi;
    const unsigned char *data; /**< owned by the host; NULL when empty */
    size_t len;
    const char *mime;          /**< optional static string, e.g. "image/jpeg" */
    void *host_private;        /**< reserved for the host */
} embsync_blob;

/** A vector to store. Everything is borrowed for the call. */
typedef struct embsync_point {
    embsync_abi abi;
    uint64_t id;
    const float *vector;  /**< dim floats, finite */
    const char *payload;  /**< JSON object text, never NULL */
} embsync_point;

/** A search hit, borrowed for the duration of the callback. */
typedef struct embsync_hit {
    embsync_abi abi;
    uint64_t id;
    float score;         /**< higher is nearer */
    const char *payload; /**< JSON object text, or NULL */
} embsync_hit;

/** Distance metrics. */
typedef enum embsync_metric {
    EMBSYNC_METRIC_COSINE = 1, /**< vectors are (or are made) unit length */
    EMBSYNC_METRIC_DOT = 2,
    EMBSYNC_METRIC_EUCLID = 3
} embsync_metric;

/** What an embedder produces; filled by embedder info(). */
typedef struct embsync_model_info {
    embsync_abi abi;     /**< set by the host; plugin must not change it */
    uint32_t dim;        /**< vector dimension, > 0 */
    int metric;          /**< embsync_metric */
    char identity[128];  /**< model identity, e.g. "clip:ViT-B-32::openai:512";
                              a different identity forces a rebuild */
    unsigned flags;      /**< EMBSYNC_MODEL_* */

    /* ---- added in 1.4 ---- */

    /** How many embed_images() calls the host may have in flight at once,
     *  on different threads (see the embedder's threading contract).  0 or
     *  1: they are serialised, as for a plugin built against 1.3 (whose
     *  answer the host never reads here).  The host makes at most this
     *  many, and may make fewer.  Like the rest of the answer it must not
     *  change while the instance lives.  A plugin that spreads one call
     *  over several servers says enough to keep all of them busy while
     *  one call waits for its slowest request. */
    unsigned concurrent_calls;
} embsync_model_info;

enum {
    EMBSYNC_MODEL_NORMALIZED = 1u << 0,    /**< vectors leave with L2 norm 1 */
    EMBSYNC_MODEL_DETERMINISTIC = 1u << 1, /**< same input, same vector */
    EMBSYNC_MODEL_TEXT = 1u << 2,          /**< embed_text() is supported */
    EMBSYNC_MODEL_IMAGE = 1u << 3          /**< embed_images() is supported */
};

/** What the collection must look like; passed to store ensure(). */
typedef struct embsync_collection_spec {
    embsync_abi abi;
    uint32_t dim;
    int metric;              /**< embsync_metric */
    const char *identity;    /**< model identity to record */
} embsync_collection_spec;

/** Result of store ensure(). */
typedef enum embsync_ensure_result {
    EMBSYNC_ENSURE_EXISTS = 1,   /**< present and matching */
    EMBSYNC_ENSURE_CREATED = 2,  /**< was missing, now created */
    EMBSYNC_ENSURE_MISMATCH = 3, /**< present with another dim/metric/identity;
                                      nothing was changed: the core drops,
                                      re-creates and re-embeds */
    EMBSYNC_ENSURE_ADOPTED = 4   /**< (1.2) present with the right dim and
                                      metric but no record of a model (made
                                      by another writer); the store recorded
                                      spec->identity without touching a
                                      point.  The core goes on as for
                                      EXISTS and says so in the log. */
} embsync_ensure_result;

/* ------------------------------------------------------------------------ */
/* Host services                                                             */
/* ------------------------------------------------------------------------ */

/** Opaque per-instance handle the host passes to open(); valid until close. */
typedef struct embsync_ctx embsync_ctx;

/** (1.3) Opaque adaptive concurrency limit, made by host->limit_new(). */
typedef struct embsync_limit embsync_limit;

/** (1.3) limit_new() flags and limit_sample() outcomes. */
enum {
    EMBSYNC_LIMIT_FIXED = 1u << 0 /**< always the ceiling (adaptive = false) */
};
enum {
    EMBSYNC_LIMIT_OK = 0,       /**< an answer; its latency is judged too */
    EMBSYNC_LIMIT_CONGESTED = 1 /**< 429, 503 or a timeout: fewer, please */
};

/** HTTP request flags. */
enum {
    EMBSYNC_HTTP_NO_RETRY = 1u << 0, /**< one attempt only (non-idempotent) */
    EMBSYNC_HTTP_INSECURE = 1u << 1, /**< do not verify the TLS peer
                                          (verify_tls = false) */
    /* ---- added in 1.4 ---- */
    EMBSYNC_HTTP_NO_COMPRESSION = 1u << 2 /**< ask for the answer as it is
                                               (no Accept-Encoding): for media
                                               already compressed, such as
                                               JPEG downloads, where asking
                                               costs CPU and saves nothing;
                                               an older host ignores it */
};

/** An HTTP request; everything is borrowed for the call. */
typedef struct embsync_http_request {
    embsync_abi abi;
    const char *method;            /**< "GET", "POST", "PUT", "DELETE", … */
    const char *url;               /**< absolute http(s) URL */
    const char *const *headers;    /**< NULL-terminated "Name: value" list,
                                        or NULL */
    const void *body;              /**< request body or NULL */
    size_t body_len;
    long timeout_ms;               /**< whole-request timeout; 0 = 30 s */
    unsigned flags;                /**< EMBSYNC_HTTP_* */
    const char *ca_file;           /**< extra CA bundle, or NULL */
    unsigned max_attempts;         /**< 0 = the core's policy (default 5) */
} embsync_http_request;

/**
 * An HTTP response.  The host fills it; body and error are host-owned and
 * live until host->http_release() (call it even after a failure).
 */
typedef struct embsync_http_response {
    embsync_abi abi;        /**< the plugin initialises it (EMBSYNC_ABI_INIT) */
    long status;            /**< HTTP status, 0 when no answer was had */
    char *body;             /**< NUL-terminated body (may contain NULs) */
    size_t body_len;
    char *content_type;     /**< Content-Type header value or NULL */
    double retry_after;     /**< Retry-After of the last answer, seconds, or 0 */
    unsigned attempts;      /**< attempts made */
    const char *error;      /**< transport error text when status == 0 */
} embsync_http_response;

/**
 * Functions the host offers.  Passed to open(); valid until close().  All
 * functions are safe to call from any thread the host calls the plugin on.
 */
typedef struct embsync_host {
    embsync_abi abi;

    /** Log a line.  The host prefixes the plugin name, redacts every secret
     *  it knows of (secret config values, add_secret() strings) and
     *  rate-limits identical repeats. */
    void (*log)(embsync_ctx *ctx, int level, const char *fmt, ...)
        EMBSYNC_PRINTF(3, 4);

    /** Describe why the current call is about to return a non-OK status.
     *  The host copies the text (it is per thread, per call); the plugin
     *  frees nothing.  The text is redacted like log lines. */
    void (*set_error)(embsync_ctx *ctx, const char *fmt, ...)
        EMBSYNC_PRINTF(2, 3);

    /** Give the reason why item `index` of the current batch call failed
     *  (ITEM_FAILED or RETRY in its item_status slot).  Copied and redacted
     *  like set_error(); recorded in the failed-items ledger. */
    void (*set_item_error)(embsync_ctx *ctx, size_t index, const char *fmt,
                           ...) EMBSYNC_PRINTF(3, 4);

    /** Ask the core to wait at least `seconds` before retrying the current
     *  call (from a Retry-After header, say).  Only meaningful with RETRY. */
    void (*set_retry_after)(embsync_ctx *ctx, double seconds);

    /** The value of a declared key after ${ENV} expansion and NAME_file
     *  reading, or its default, or NULL when it has neither.  Host-owned,
     *  valid until close(). */
    const char *(*config_get)(embsync_ctx *ctx, const char *key);

    /** The value of a declared INT key (validated before open()), or its
     *  default, or `fallback` when it has neither. */
    long long (*config_int)(embsync_ctx *ctx, const char *key,
                            long long fallback);

    /** The value of a declared BOOL key, default, or `fallback`. */
    int (*config_bool)(embsync_ctx *ctx, const char *key, int fallback);

    /** The value of a declared DOUBLE key, default, or `fallback`. */
    double (*config_double)(embsync_ctx *ctx, const char *key,
                            double fallback);

    /** A directory private to this plugin instance under the core's
     *  state_dir, created on demand.  Host-owned, valid until close(). */
    const char *(*state_dir)(embsync_ctx *ctx);

    /** Register a string (a token found at run time, a URL with a key in
     *  it) that must never appear in logs; the host copies it. */
    void (*add_secret)(embsync_ctx *ctx, const char *value);

    /** Copy len bytes into host-owned memory attached to blob.  Returns 0,
     *  or -1 when out of memory. */
    int (*blob_set)(embsync_blob *blob, const void *data, size_t len);

    /** Attach len bytes of uninitialised host-owned memory to blob and
     *  return them for the plugin to write, or NULL when out of memory. */
    unsigned char *(*blob_alloc)(embsync_blob *blob, size_t len);

    /** Perform one HTTP request with the core's policy: timeouts, TLS
     *  verification (unless EMBSYNC_HTTP_INSECURE), retries with jittered
     *  exponential backoff on connection errors, 408, 429, 500, 502, 503
     *  and 504, honouring Retry-After.  Returns EMBSYNC_OK when an answer
     *  arrived (any status: check resp->status), EMBSYNC_RETRY when none
     *  could be had or retryable statuses persisted, EMBSYNC_FAILED for a
     *  malformed request.  resp must be released with http_release(). */
    int (*http)(embsync_ctx *ctx, const embsync_http_request *req,
                embsync_http_response *resp);

    /** Perform n requests concurrently, at most `parallel` at a time, each
     *  with the same policy as http(); status[i] is what http() would have
     *  returned for req[i].  Returns EMBSYNC_OK once all are finished, or
     *  EMBSYNC_FAILED for bad arguments.  Release each resp[i]. */
    int (*http_many)(embsync_ctx *ctx, size_t n,
                     const embsync_http_request *reqs,
                     embsync_http_response *resps, int *status,
                     unsigned parallel);

    /** Free what the host attached to resp; resets it to empty. */
    void (*http_release)(embsync_ctx *ctx, embsync_http_response *resp);

    /** Add `delta` to a plugin counter exported as a Prometheus metric
     *  embsync_plugin_<name>_total{plugin="…"}; name is [a-z0-9_]+. */
    void (*counter_add)(embsync_ctx *ctx, const char *name, double delta);

    /** Non-zero once the core asked the current work to stop (signal, stop
     *  request).  Long loops check it between steps. */
    int (*stop_requested)(embsync_ctx *ctx);

    /** Sleep for the core's backoff delay before attempt number `attempt`
     *  (1-based) — or at least `at_least` seconds when that is larger —
     *  returning early with non-zero when a stop is requested.  This is the
     *  one retry policy; plugins that poll (readiness waits) use it. */
    int (*retry_wait)(embsync_ctx *ctx, unsigned attempt, double at_least);

    /* ---- added in 1.1 ---- */

    /** Write the n floats of v as one JSON array ("[0.25,-1e-07,3]") into
     *  out, which the caller owns and sizes: out_len must be at least
     *  EMBSYNC_JSON_FLOAT_ARRAY_MAX(n).  Each value is the shortest decimal
     *  that reads back (strtof) to exactly the same float.  Returns the
     *  length written, not counting the terminating NUL, or 0 when out_len
     *  is too small or a value is NaN or infinite (JSON has neither).
     *  Thread-safe; needs no ctx.  This is the one way vectors become JSON
     *  text: a store plugin speaking JSON uses it rather than printf. */
    size_t (*json_float_array)(const float *v, size_t n, char *out,
                               size_t out_len);

    /* ---- added in 1.2 ---- */

    /** Map what http() (or one slot of http_many()) gave to an outcome,
     *  with the same policy http() retries by, so every plugin reads an
     *  answer the same way:
     *    - http_rc EMBSYNC_OK and a 2xx status: EMBSYNC_OK, nothing set;
     *    - no answer (status 0), or 408, 429, 500, 502, 503, 504 (already
     *      retried by http()): EMBSYNC_RETRY, with set_retry_after() from
     *      the answer's Retry-After;
     *    - 401 and 403: EMBSYNC_FATAL (credentials or rights);
     *    - any other status: EMBSYNC_FAILED, or EMBSYNC_ITEM_FAILED when
     *      `item` names an item of the current batch call.
     *  Every non-OK outcome also sets the error text: "WHAT: HTTP 404:
     *  DETAIL" (DETAIL is `detail` when not NULL, else the first 200 bytes
     *  of the body), "WHAT: HTTP 503 after retries: DETAIL", or "WHAT:
     *  <transport error>" without an answer; through set_item_error(item)
     *  for RETRY and ITEM_FAILED when `item` is not EMBSYNC_WHOLE_CALL,
     *  else through set_error().  Redacted like set_error(); a later
     *  set_error() replaces the text where a plugin has a better one.
     *  resp, what and detail are borrowed; thread-safe like set_error(). */
    int (*http_outcome)(embsync_ctx *ctx, int http_rc,
                        const embsync_http_response *resp, const char *what,
                        const char *detail, size_t item);

    /** Replace the file `name` (one path component, no '/', not "." or
     *  "..") in this instance's state_dir() with len bytes of data so that
     *  a crash leaves the old or the new content, never a mix: a temp file
     *  beside it, fsync, rename, fsync of the directory.  data is
     *  borrowed.  Returns 0, or -1 with errno set (EINVAL for a bad name).
     *  Thread-safe for different names; writers of one name serialise
     *  themselves. */
    int (*state_write)(embsync_ctx *ctx, const char *name, const void *data,
                       size_t len);

    /** Read the whole file `name` (rules as state_write()) of state_dir()
     *  into a NUL-terminated buffer the plugin owns and frees with free();
     *  *len (when not NULL) gets its length.  NULL with errno set on
     *  failure (ENOENT: never written).  Thread-safe. */
    char *(*state_read)(embsync_ctx *ctx, const char *name, size_t *len);

    /** Join base and path with exactly one '/' between them (trailing
     *  slashes of base and leading slashes of path dropped; an empty path
     *  gives base without its trailing slashes) into out, which the caller
     *  owns and which may be base itself (trimming in place).  Returns the
     *  length written, not counting the NUL, or 0 when out_len is too small
     *  (out is then "").  Thread-safe; needs no ctx. */
    size_t (*url_join)(const char *base, const char *path, char *out,
                       size_t out_len);

    /** Percent-escape value for use as one path segment or one query
     *  value: RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~) are
     *  kept, every other byte becomes %XX (upper-case hex).  out is the
     *  caller's; 3 * strlen(value) + 1 bytes always fit.  Returns the
     *  length written, or 0 when out_len is too small or value is empty
     *  (out is then "").  Thread-safe; needs no ctx. */
    size_t (*url_escape)(const char *value, char *out, size_t out_len);

    /* ---- added in 1.3 ---- */

    /** Seconds on a monotonic clock (only differences mean anything): the
     *  clock limit_sample() measures latency with.  Thread-safe; no ctx. */
    double (*clock_now)(void);

    /** A limit on the requests in flight to one server, between 1 and
     *  `ceiling`, that adapts by AIMD: multiplicative decrease (halved,
     *  once per round trip, on a congestion signal: 429, 503, a timeout,
     *  or an answer far slower than three times the least latency seen),
     *  then additive increase (each answer adds 1/window: one more per
     *  round trip); after limit_restart(), slow start (each answer adds
     *  one until the first congestion).  It starts at the ceiling: the
     *  operator's number holds until the server pushes back.  With
     *  EMBSYNC_LIMIT_FIXED it is always the ceiling.  NULL when out of
     *  memory.  Free with limit_free(). */
    embsync_limit *(*limit_new)(embsync_ctx *ctx, unsigned ceiling,
                                unsigned flags);

    /** Requests that may be in flight now.  Thread-safe, like every limit
     *  function: one limit serves all threads talking to its server. */
    unsigned (*limit_window)(embsync_limit *limit);

    /** Report one request sent at `sent_at` (clock_now()) that has just
     *  ended with `outcome` (EMBSYNC_LIMIT_OK or _CONGESTED).  Failures
     *  that say nothing about load (connection refused, a 4xx) are not
     *  reported. */
    void (*limit_sample)(embsync_limit *limit, double sent_at, int outcome);

    /** Start again from 1, in slow start up to the ceiling (a server that
     *  was down came back cold). */
    void (*limit_restart)(embsync_limit *limit);

    /** Free a limit (NULL is fine). */
    void (*limit_free)(embsync_limit *limit);

    /** http_many() whose parallelism is `limit`'s window, read again as
     *  each request ends, and whose every attempt is reported to the limit
     *  (answers, 429/503 and timeouts); other arguments and results as for
     *  http_many(). */
    int (*http_many_limited)(embsync_ctx *ctx, size_t n,
                             const embsync_http_request *reqs,
                             embsync_http_response *resps, int *status,
                             embsync_limit *limit);

    /** Set the gauge embsync_plugin_<name>{plugin="…",<label>="<value>"};
     *  name and label are [a-z0-9_]+ (else nothing happens); the value is
     *  escaped, and must carry no secret (the plugin redacts it). */
    void (*gauge_set)(embsync_ctx *ctx, const char *name, const char *label,
                      const char *label_value, double value);

    /** Add to the counter embsync_plugin_<name>_total{plugin="…",
     *  <label>="<value>"}; rules as gauge_set(). */
    void (*counter_add_labelled)(embsync_ctx *ctx, const char *name,
                                 const char *label, const char *label_value,
                                 double delta);

    /* ---- added in 1.4 ---- */

    /** One gRPC unary call (HTTP/2 POST, content-type application/grpc,
     *  te: trailers), through the same helper and policy as http():
     *  timeouts, TLS verification unless EMBSYNC_HTTP_INSECURE (https://
     *  URLs negotiate h2 by ALPN; http:// ones speak h2 with prior
     *  knowledge), secrets redacted from logs, retries with the core's
     *  backoff on connection errors and on the retryable gRPC statuses
     *  grpc_outcome() names (unless EMBSYNC_HTTP_NO_RETRY).
     *  req->url is the server's base joined with the method's path
     *  ("http://host:6334/qdrant.Points/Upsert"); req->method is ignored;
     *  req->headers are the call's metadata ("api-key: …"); req->body and
     *  body_len are the serialized request message, without the 5-byte
     *  length prefix, which the host adds.  All of req is borrowed.
     *  On return resp->status is the HTTP status (0 without an answer),
     *  resp->body and body_len the serialized response message, its prefix
     *  removed (empty when the server sent none), resp->error the decoded
     *  grpc-message of a non-zero status or the transport error, and
     *  *grpc_status the status from the trailers (or from the headers of a
     *  trailers-only answer; an HTTP error status without one is mapped as
     *  the gRPC spec says), -1 when no status was had.  resp is host-owned
     *  memory like http()'s: release it with http_release(), also after a
     *  failure.  Returns EMBSYNC_OK when a status arrived (any: check
     *  *grpc_status), EMBSYNC_RETRY when none could be had or retryable
     *  statuses persisted, EMBSYNC_FAILED for a malformed request. */
    int (*grpc_unary)(embsync_ctx *ctx, const embsync_http_request *req,
                      embsync_http_response *resp, int *grpc_status);

    /** Map what grpc_unary() gave to an outcome, as http_outcome() does for
     *  HTTP: status 0 (OK) is EMBSYNC_OK; no status, UNAVAILABLE (14),
     *  RESOURCE_EXHAUSTED (8), DEADLINE_EXCEEDED (4), ABORTED (10) and
     *  INTERNAL (13, Qdrant's service error, REST's 500) are EMBSYNC_RETRY;
     *  UNAUTHENTICATED (16) and PERMISSION_DENIED (7) are EMBSYNC_FATAL,
     *  like 401 and 403; every other status (INVALID_ARGUMENT, NOT_FOUND,
     *  …) is EMBSYNC_FAILED, or EMBSYNC_ITEM_FAILED when `item` names an
     *  item of the current batch call.  A non-OK outcome sets the error
     *  text "WHAT: gRPC NOT_FOUND (5): MESSAGE" (or "WHAT: <transport
     *  error>") as http_outcome() does; resp and what are borrowed. */
    int (*grpc_outcome)(embsync_ctx *ctx, int grpc_rc,
                        const embsync_http_response *resp, int grpc_status,
                        const char *what, size_t item);

    /** Move the body of an answer of http(), http_many() or
     *  http_many_limited() into blob instead of copying it, as blob_set()
     *  would: afterwards blob->data and blob->len are the body and its
     *  length, and resp->body is NULL with body_len 0.  The memory is the
     *  host's, freed with the blob; resp must still be released with
     *  http_release() (for its other fields).  Never fails: an answer
     *  without a body leaves the blob empty. */
    void (*blob_take_body)(embsync_blob *blob, embsync_http_response *resp);
} embsync_host;

/** http_outcome()'s `item` when the answer concerns the whole call. */
#define EMBSYNC_WHOLE_CALL ((size_t)-1)

/** Most characters json_float_array() writes per value, comma included. */
#define EMBSYNC_JSON_FLOAT_MAX 24u

/** Buffer size that always fits json_float_array() of n values: brackets
 *  and the terminating NUL included. */
#define EMBSYNC_JSON_FLOAT_ARRAY_MAX(n) ((size_t)(n) * EMBSYNC_JSON_FLOAT_MAX + 3u)

/* ------------------------------------------------------------------------ */
/* Operation tables                                                          */
/* ------------------------------------------------------------------------ */

/*
 * Common to every kind:
 *
 *   open(host, ctx, &state)   Create an instance.  host and ctx stay valid
 *                             until close(); read configuration through
 *                             host->config_*.  Store the opaque instance in
 *                             *state.  FATAL for bad configuration.
 *   close(state)              Release the instance (state may be NULL).
 *   check(state)              Cheap backend health probe for /health and
 *                             `embsync check`: OK, RETRY (unreachable or
 *                             not ready) or FATAL (credentials refused).
 *                             Under `embsync check`, open() and check()
 *                             run in probe mode: each http()/http_many()
 *                             request gets one attempt within a deadline of
 *                             a few seconds per backend, and retry_wait()
 *                             returns non-zero at once, so a readiness loop
 *                             ends with the first failure's error.
 */

/** Receives one collection name from list_collections(); name is borrowed.
 *  Returns 0 to continue, non-zero to stop listing. */
typedef int (*embsync_collection_cb)(void *arg, const char *name);

/** Where changes() delivers pending changes; provided by the host. */
typedef struct embsync_change_sink {
    embsync_abi abi;
    /** Deliver n changes (the host copies them).  May block while the
     *  pipeline is full: this is the backpressure that keeps memory flat.
     *  Returns EMBSYNC_OK to go on, or another status to stop streaming
     *  (stop requested, later stage failed) — return it from changes(). */
    int (*emit)(struct embsync_change_sink *sink, const embsync_change *changes,
                size_t n);
    /** Optional progress hint: total number of changes this run will emit
     *  (call any time; 0 = unknown). */
    void (*set_total)(struct embsync_change_sink *sink, uint64_t total);
    void *host_private;
} embsync_change_sink;

/**
 * Source: says which collections exist, which items changed, fetches their
 * content, and records what has been applied.
 *
 * Threading contract: changes(), fetch() and ack() for the same collection
 * run on three different host threads at the same time (the pipeline
 * overlaps them); each of them is never concurrent with itself.  All other
 * calls are serialised and never overlap with anything.  A source whose
 * state is shared between those three guards it itself.
 */
typedef struct embsync_source_ops {
    embsync_abi abi;
    int (*open)(const embsync_host *host, embsync_ctx *ctx, void **state);
    void (*close)(void *state);
    int (*check)(void *state);

    /** Call cb once per collection to sync. */
    int (*list_collections)(void *state, embsync_collection_cb cb, void *arg);

    /** Mark the collection as in progress; SKIP when another worker has it.
     *  Every OK begin() is followed by exactly one end(). */
    int (*begin)(void *state, const char *collection);

    /** Stream the pending changes through sink->emit(), page by page, and
     *  return OK when all were emitted.  Items whose content failed to be
     *  applied before (not acknowledged) must be emitted again. */
    int (*changes)(void *state, const char *collection,
                   embsync_change_sink *sink);

    /** Fetch the content of n UPSERT changes into out[i] (host-initialised
     *  blobs) and set item_status[i] per item: OK, ITEM_FAILED (this item
     *  cannot be had; give the reason with set_item_error()) or RETRY (try
     *  this item again on a later run).  Returns OK when item_status says
     *  it all, or RETRY/FAILED/FATAL for the whole batch. */
    int (*fetch)(void *state, const char *collection, size_t n,
                 const embsync_change *items, embsync_blob *out,
                 int *item_status);

    /** Record that these changes are applied: the store has confirmed them
     *  durably.  Idempotent: acknowledging twice is harmless.  n may exceed
     *  [core] batch_size: batches waiting for the store are stored and
     *  acknowledged together (up to 256 items). */
    int (*ack)(void *state, const char *collection, size_t n,
               const embsync_change *done);

    /** Forget what was applied so the next changes() emits every item again
     *  (called when the store collection was rebuilt). */
    int (*reset)(void *state, const char *collection);

    /** Close the run begun by begin(); run_status is the run's outcome
     *  (OK, or the status that failed it).  Clears in-progress marks. */
    int (*end)(void *state, const char *collection, int run_status);

    /* ---- added in 1.2; optional (NULL: the source cannot) ---- */

    /** Say which of n items still exist at the source: present[i] = 1 when
     *  item i is still an item of the collection (changes() would keep it,
     *  not delete it), 0 when it is gone (deleted, disabled, moved out).
     *  items[i].id is always set; items[i].ref is the ref changes() gave
     *  with it when the core knows it, NULL otherwise (an id read back from
     *  the store).  items is borrowed; present[] is host-owned, n ints.
     *  Returns OK when present[] says it all, or RETRY/FAILED/FATAL for the
     *  whole call (the core then decides nothing).  Changes nothing at the
     *  source.  The core asks it after a crash about the items that were on
     *  their way to the store, and in reconciliation about store ids. */
    int (*exists)(void *state, const char *collection, size_t n,
                  const embsync_change *items, int *present);

    /** Stream every item the collection holds now through sink->emit(),
     *  as UPSERT changes with the ref, version and payload changes() would
     *  give them, whatever has been applied; changes nothing at the source
     *  (the items are not reset).  Reconciliation uses it to find items
     *  the store lacks; those are fetched, embedded, stored and
     *  acknowledged like any change.  Runs like changes(): concurrently
     *  with fetch() and ack() of the same collection, never with itself,
     *  and between a begin() and its end(). */
    int (*items)(void *state, const char *collection,
                 embsync_change_sink *sink);
} embsync_source_ops;

/**
 * Embedder: turns content into vectors.
 *
 * Threading contract: all calls on one instance are serialised by the host,
 * except that embed_images() calls may overlap one another when info() said
 * concurrent_calls > 1 (ABI 1.4):
 *   - up to concurrent_calls embed_images() calls then run at once, each on
 *     a host thread of its own, each with its own inputs, vectors and
 *     item_status arrays (host-owned, borrowed for that call only, never
 *     shared between two calls in flight); a call may return before one
 *     that started earlier (the host keeps its own order of results);
 *   - check(), info() and embed_text() stay serialised with everything:
 *     none of them starts while an embed_images() call is in flight, and
 *     no embed_images() call starts while one of them runs;
 *   - set_error(), set_item_error() and set_retry_after() report on the
 *     calling thread, for the call that thread is making: a plugin that
 *     does a call's work on threads of its own reports from the thread
 *     that made the call, before it returns (item indexes are the call's);
 *   - open() and close() never overlap anything, as before.
 * The plugin guards its own state shared between concurrent calls.  Without
 * concurrent_calls, a plugin that wants parallelism does it inside a call
 * (e.g. http_many()).
 */
typedef struct embsync_embedder_ops {
    embsync_abi abi;
    int (*open)(const embsync_host *host, embsync_ctx *ctx, void **state);
    void (*close)(void *state);
    int (*check)(void *state);

    /** Describe the vectors (info->abi is set by the host; fill the rest).
     *  Called after open() and again before each run; the answer must not
     *  change while the instance lives. */
    int (*info)(void *state, embsync_model_info *info);

    /** Embed n images.  vectors is host-owned, n × dim floats; write row i
     *  for every item whose item_status[i] is OK.  ITEM_FAILED marks an
     *  undecodable or rejected input (give the reason with
     *  set_item_error()).  Rows must be finite, and unit length when the
     *  model says EMBSYNC_MODEL_NORMALIZED. */
    int (*embed_images)(void *state, size_t n, const embsync_blob *inputs,
                        float *vectors, int *item_status);

    /** Embed a text query into vector (dim floats, host-owned).  Only when
     *  the model has EMBSYNC_MODEL_TEXT; may be NULL otherwise. */
    int (*embed_text)(void *state, const char *text, float *vector);
} embsync_embedder_ops;

/** Receives one search hit; returns 0 to continue, non-zero to stop. */
typedef int (*embsync_hit_cb)(void *arg, const embsync_hit *hit);

/**
 * Store: keeps vectors with a JSON payload, one store collection per source
 * collection.  A call that returns OK has made its effect durable: the core
 * acknowledges items to the source on the strength of it.
 *
 * Threading contract: all calls on one instance are serialised by the host.
 */
typedef struct embsync_store_ops {
    embsync_abi abi;
    int (*open)(const embsync_host *host, embsync_ctx *ctx, void **state);
    void (*close)(void *state);
    int (*check)(void *state);

    /** Make sure the collection exists as spec says; create it when
     *  missing.  Sets *result; never changes an existing collection that
     *  does not match (MISMATCH: the core decides to drop it). */
    int (*ensure)(void *state, const char *collection,
                  const embsync_collection_spec *spec, int *result);

    /** Insert or replace n points, durably.  n may exceed [core]
     *  batch_size (batches waiting for the store go in one call). */
    int (*upsert)(void *state, const char *collection, size_t n,
                  const embsync_point *points);

    /** Remove n ids, durably; unknown ids are not an error. */
    int (*remove)(void *state, const char *collection, size_t n,
                  const uint64_t *ids);

    /** Number of points in the collection (0 when it does not exist). */
    int (*count)(void *state, const char *collection, uint64_t *count);

    /** Call cb with up to k nearest points to vector, nearest first. */
    int (*search)(void *state, const char *collection, const float *vector,
                  size_t k, embsync_hit_cb cb, void *arg);

    /** Delete the collection and everything in it (missing: OK). */
    int (*drop)(void *state, const char *collection);

    /* ---- added in 1.2; optional (NULL: the store cannot) ---- */

    /** Write into ids (host-owned, room for max) the ids of the
     *  collection's points that are >= start, in ascending order, at most
     *  max of them, and their number into *n.  *n < max means there are no
     *  more; the host asks again from the last id + 1 otherwise.  A missing
     *  collection has no ids (OK, *n = 0).  Reads neither vectors nor
     *  payloads: reconciliation pages through a million points with it. */
    int (*list_ids)(void *state, const char *collection, uint64_t start,
                    size_t max, uint64_t *ids, size_t *n);

    /** present[i] = 1 when the collection has a point with id ids[i], else
     *  0 (also for a missing collection).  ids is borrowed; present[] is
     *  host-owned, n ints. */
    int (*contains)(void *state, const char *collection, size_t n,
                    const uint64_t *ids, int *present);

    /** Write into target (host-owned, target_len bytes) the collection that
     *  reads of `name` answer from: `name` itself when it is a plain
     *  collection, the collection it points to when it is an alias, "" when
     *  it is neither.  Every other operation given an alias works on the
     *  collection it points to.  Lets the core build a model's collection
     *  under its own name beside the live one (zero-downtime rebuild). */
    int (*alias_get)(void *state, const char *name, char *target,
                     size_t target_len);

    /** Make `name` an alias of the existing collection `target` in one
     *  atomic step: until it, reads of `name` answer from what it named
     *  before; after it, from `target`.  An alias `name` is repointed; a
     *  plain collection `name` is first dropped, in back-to-back calls (the
     *  one short switch-over a store may not avoid: it says so in the log).
     *  The collection `name` pointed to before is left alone: the core
     *  drops it after the switch.  drop() of an alias drops the alias and
     *  the collection it points to. */
    int (*alias_set)(void *state, const char *name, const char *target);
} embsync_store_ops;

/* ------------------------------------------------------------------------ */
/* The descriptor and the entry point                                        */
/* ------------------------------------------------------------------------ */

/** Store capability flags (embsync_plugin.flags). */
enum {
    EMBSYNC_PLUGIN_PERSISTENT = 1u << 0 /**< data survives close()/open() */
};

/** What a module exports; constant, lives as long as the module. */
typedef struct embsync_plugin {
    embsync_abi abi;
    int kind;                            /**< embsync_kind */
    const char *name;                    /**< short name, as in `plugin =` */
    const char *version;                 /**< the plugin's own version */
    const char *description;             /**< one line */
    const embsync_config_key *config_keys; /**< NULL-name-terminated, or NULL */
    uint32_t config_key_size;            /**< sizeof(embsync_config_key) */
    unsigned flags;                      /**< EMBSYNC_PLUGIN_* */
    /** Points to the embsync_source_ops, embsync_embedder_ops or
     *  embsync_store_ops matching kind (each starts with embsync_abi). */
    const void *ops;
} embsync_plugin;

/** Name of the one symbol a module exports. */
#define EMBSYNC_ENTRY_SYMBOL "embsync_plugin_entry"

/** Signature of the entry point. */
typedef const embsync_plugin *(*embsync_plugin_entry_fn)(void);

/**
 * Declare the entry point of a module:
 *
 *     EMBSYNC_PLUGIN_ENTRY(my_descriptor)
 *
 * expands to an exported embsync_plugin_entry() returning &my_descriptor.
 */
#define EMBSYNC_PLUGIN_ENTRY(descriptor)                                     \
    EMBSYNC_EXPORT const embsync_plugin *embsync_plugin_entry(void);         \
    EMBSYNC_EXPORT const embsync_plugin *embsync_plugin_entry(void)          \
    {                                                                        \
        return &(descriptor);                                                \
    }

#ifdef __cplusplus
}
#endif

#endif /* EMBSYNC_PLUGIN_H */
