/* The control port's and the Auto-Updater's route tables, rendered from a
 * hand-made snapshot through a daemon of the test's own. */
#include <config.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "autoupdater_routes.h"
#include "control_routes.h"

/* The daemon the routes see: a snapshot to hand out, the requests made. */
struct es_daemon {
    es_daemon_snapshot snap;
    es_collection_status statuses[4];
    int probes, runs_requested, pass_running;
    char stop_asked[256];
    double stop_wait;
    es_stopped_run stop_outcome;
};

static void fake_probe(struct es_daemon *d)
{
    d->probes++;
}

static int fake_snapshot(struct es_daemon *d, es_daemon_snapshot *out)
{
    *out = d->snap;
    out->collections = NULL;
    if (d->snap.n_collections > 0) {
        out->collections = malloc(d->snap.n_collections * sizeof *out->collections);
        if (out->collections == NULL)
            return -1;
        memcpy(out->collections, d->statuses,
               d->snap.n_collections * sizeof *out->collections);
    }
    return 0;
}

static int fake_request_run(struct es_daemon *d)
{
    d->runs_requested++;
    return !d->pass_running;
}

static void fake_request_stop(struct es_daemon *d, const char *collection,
                              double wait_s, es_stopped_run *out)
{
    snprintf(d->stop_asked, sizeof d->stop_asked, "%s", collection);
    d->stop_wait = wait_s;
    *out = d->stop_outcome;
}

static struct es_daemon daemon_state;
static const es_daemon_api api = {
    .d = &daemon_state,
    .probe = fake_probe,
    .snapshot = fake_snapshot,
    .request_run = fake_request_run,
    .request_stop = fake_request_stop,
};

/* A daemon after a good first pass: three backends up, two fresh
 * collections, nothing in flight. */
static int setup(void **unused)
{
    (void)unused;
    struct es_daemon *d = &daemon_state;
    memset(d, 0, sizeof *d);
    es_daemon_snapshot *s = &d->snap;
    s->now = 1000000;
    s->mono_now = 500.0;
    s->progress.stage = ES_STAGE_IDLE;
    s->progress.end_status = ES_PROGRESS_NONE;
    s->progress.ended_status = ES_PROGRESS_NONE;
    s->scheduler_running = 1;
    s->last_pass_start = 999000;
    s->last_pass_end = 999100;
    s->next_pass_at = 1002600;
    s->interval_min = 60;
    s->stale_after_min = 180;
    const char *plugins[3] = {"dir", "descriptor", "faiss-local"};
    for (int i = 0; i < 3; i++) {
        snprintf(s->backends[i].plugin, sizeof s->backends[i].plugin, "%s",
                 plugins[i]);
        s->backends[i].status = EMBSYNC_OK;
    }
    es_collection_status *c = d->statuses;
    snprintf(c[0].name, sizeof c[0].name, "a");
    c[0].last_success = 999100;
    c[0].last_run_end = 999100;
    c[0].embedded = 7;
    snprintf(c[1].name, sizeof c[1].name, "b");
    c[1].last_success = 999000;
    c[1].last_run_end = 999050;
    c[1].deferred = 2;
    c[1].waiting = 1;
    c[1].ledger_size = 3;
    c[1].oldest_failed = 990000;
    s->n_collections = 2;
    return 0;
}

static const char *query_value;

static const char *fake_query(const es_route_request *rq, const char *key)
{
    (void)rq;
    return strcmp(key, "collection") == 0 ? query_value : NULL;
}

typedef struct answer {
    unsigned status;       /* the route's, or the dispatcher's 404/405 */
    char *text;            /* the printed JSON, or the route's text */
    const char *type;
} answer;

static answer call(const es_route *routes, size_t n, const char *method,
                   const char *url, const char *body)
{
    es_route_request rq = {
        .daemon = &api,
        .arg = "",
        .body = body,
        .body_len = body != NULL ? strlen(body) : 0,
        .query = fake_query,
    };
    es_route_answer ans = {0};
    unsigned status = 0;
    unsigned missing = es_route_dispatch(routes, n, method, url, &rq, &ans,
                                         &status);
    answer a = {.status = missing != 0 ? missing : status, .type = ans.type};
    if (ans.json != NULL) {
        a.text = cJSON_PrintUnformatted(ans.json);
        cJSON_Delete(ans.json);
    } else {
        a.text = ans.text;
    }
    return a;
}

static answer control(const char *method, const char *url)
{
    return call(es_control_routes, es_control_n_routes, method, url, NULL);
}

static answer autoupdater(const char *method, const char *url, const char *body)
{
    return call(es_autoupdater_routes, es_autoupdater_n_routes, method, url,
                body);
}

static void expect(answer a, unsigned status, const char *json)
{
    assert_int_equal(a.status, status);
    assert_non_null(a.text);
    assert_string_equal(a.text, json);
    free(a.text);
}

/* ---- the control port ------------------------------------------------------ */

static void health_ok(void **unused)
{
    (void)unused;
    expect(control("GET", "/health"), 200,
           "{\"version\":\"" PACKAGE_VERSION "\","
           "\"plugins\":{\"source\":{\"name\":\"dir\",\"status\":\"up\"},"
           "\"embedder\":{\"name\":\"descriptor\",\"status\":\"up\"},"
           "\"store\":{\"name\":\"faiss-local\",\"status\":\"up\"}},"
           "\"scheduler\":{\"state\":\"idle\",\"interval_minutes\":60,"
           "\"last_pass_start\":999000,\"last_pass_end\":999100,"
           "\"next_pass_at\":1002600},"
           "\"collections\":["
           "{\"name\":\"a\",\"last_success\":999100,"
           "\"last_success_age_seconds\":900,\"last_run_end\":999100,"
           "\"last_run_ok\":true,\"pending\":0,\"failed\":0,\"stale\":false},"
           "{\"name\":\"b\",\"last_success\":999000,"
           "\"last_success_age_seconds\":1000,\"last_run_end\":999050,"
           "\"last_run_ok\":true,\"pending\":3,\"failed\":3,"
           "\"oldest_pending_age_seconds\":10000,\"stale\":false}],"
           "\"status\":\"ok\",\"reasons\":[]}");
    assert_int_equal(daemon_state.probes, 1);
}

static void health_degraded(void **unused)
{
    (void)unused;
    es_daemon_snapshot *s = &daemon_state.snap;
    s->pass_running = 1;
    s->last_pass_end = 0;
    s->backends[EMBSYNC_KIND_STORE - 1].status = EMBSYNC_RETRY;
    snprintf(s->backends[EMBSYNC_KIND_STORE - 1].error,
             sizeof s->backends[0].error, "connection refused");
    snprintf(s->generator_url, sizeof s->generator_url, "http://gen:8000");
    snprintf(s->generator_error, sizeof s->generator_error,
             "/is_ready answered HTTP 503");
    es_collection_status *c = daemon_state.statuses;
    c[0].last_success = 1000000 - 180 * 60 - 1;  /* just past stale_after */
    c[1].last_success = 0;
    c[1].last_status = EMBSYNC_FAILED;
    snprintf(c[1].last_error, sizeof c[1].last_error, "store: disk full");
    answer a = control("GET", "/health");
    assert_int_equal(a.status, 503);
    cJSON *o = cJSON_Parse(a.text);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(o, "status")->valuestring, "degraded");
    cJSON *store = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "plugins"), "store");
    assert_string_equal(cJSON_GetObjectItem(store, "status")->valuestring, "down");
    assert_string_equal(cJSON_GetObjectItem(store, "error")->valuestring,
                        "connection refused");
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "scheduler"),
                                            "state")->valuestring, "running");
    cJSON *cols = cJSON_GetObjectItem(o, "collections");
    cJSON *b = cJSON_GetArrayItem(cols, 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(cols, 0), "stale")));
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(b, "last_run_ok")));
    assert_string_equal(cJSON_GetObjectItem(b, "last_error")->valuestring,
                        "store: disk full");
    assert_null(cJSON_GetObjectItem(b, "last_success_age_seconds"));
    char *g = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "generator"));
    assert_string_equal(g, "{\"url\":\"http://gen:8000\",\"status\":\"down\","
                           "\"error\":\"/is_ready answered HTTP 503\"}");
    free(g);
    char *reasons = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "reasons"));
    assert_string_equal(reasons,
                        "[\"store faiss-local is down: connection refused\","
                        "\"collection a has not synced successfully recently\","
                        "\"collection b has not synced successfully yet\","
                        "\"generator is down: /is_ready answered HTTP 503\","
                        "\"the first pass has not finished yet\"]");
    free(reasons);
    cJSON_Delete(o);
    free(a.text);
}

static void health_generator_up(void **unused)
{
    (void)unused;
    es_daemon_snapshot *s = &daemon_state.snap;
    snprintf(s->generator_url, sizeof s->generator_url, "http://gen:8000");
    s->generator_ready = 1;
    answer a = control("GET", "/health");
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.text, ",\"generator\":{\"url\":\"http://gen:8000\","
                                   "\"status\":\"up\"},\"status\":\"ok\","));
    free(a.text);
}

static void set_rebuild(uint64_t done, uint64_t total)
{
    es_progress_view *p = &daemon_state.snap.progress;
    snprintf(p->collection, sizeof p->collection, "shapes");
    p->stage = ES_STAGE_REBUILD;
    p->started = 490.0;
    p->done = 4;
    snprintf(p->rebuild_target, sizeof p->rebuild_target, "shapes__v2");
    p->rebuild_done = done;
    p->rebuild_total = total;
}

static void health_shows_a_rebuild(void **unused)
{
    (void)unused;
    set_rebuild(40, 100);
    answer a = control("GET", "/health");
    assert_int_equal(a.status, 200);
    assert_non_null(strstr(a.text, "],\"rebuild\":{\"target\":\"shapes__v2\","
                                   "\"done\":40,\"total\":100},\"status\":\"ok\""));
    free(a.text);
    set_rebuild(40, 0);
    a = control("GET", "/health");
    assert_non_null(strstr(a.text, "\"rebuild\":{\"target\":\"shapes__v2\","
                                   "\"done\":40,\"total\":null}"));
    free(a.text);
}

static void progress_idle(void **unused)
{
    (void)unused;
    query_value = NULL;
    expect(control("GET", "/progress"), 200, "{\"state\":\"idle\"}");
    query_value = "a";
    expect(control("GET", "/progress"), 200,
           "{\"state\":\"idle\",\"collection\":\"a\"}");
    query_value = NULL;
    assert_int_equal(daemon_state.probes, 0);
}

/* The run of `collection` in flight, syncing. */
static es_progress_view *set_run(const char *collection, uint64_t total,
                                 uint64_t done)
{
    es_progress_view *p = &daemon_state.snap.progress;
    snprintf(p->collection, sizeof p->collection, "%s", collection);
    p->stage = ES_STAGE_SYNC;
    p->started = 498.0;
    p->total = total;
    p->done = done;
    return p;
}

static void progress_running(void **unused)
{
    (void)unused;
    es_progress_view *p = set_run("a", 10, 4);
    p->failed = 1;
    query_value = NULL;
    expect(control("GET", "/progress"), 200,
           "{\"state\":\"running\",\"collection\":\"a\",\"stage\":\"sync\","
           "\"total\":10,\"done\":4,\"failed\":1,\"elapsed_seconds\":2,"
           "\"rate_per_second\":2}");
    p->total = 0;
    query_value = "a";
    expect(control("GET", "/progress"), 200,
           "{\"state\":\"running\",\"collection\":\"a\",\"stage\":\"sync\","
           "\"total\":null,\"done\":4,\"failed\":1,\"elapsed_seconds\":2,"
           "\"rate_per_second\":2}");
    /* Another collection's run is not the one asked about. */
    query_value = "b";
    expect(control("GET", "/progress"), 200,
           "{\"state\":\"idle\",\"collection\":\"b\"}");
    query_value = NULL;
}

static void progress_shows_a_rebuild(void **unused)
{
    (void)unused;
    set_rebuild(4, 0);
    query_value = NULL;
    expect(control("GET", "/progress"), 200,
           "{\"state\":\"running\",\"collection\":\"shapes\","
           "\"stage\":\"rebuild\",\"total\":null,\"done\":4,\"failed\":0,"
           "\"elapsed_seconds\":10,\"rate_per_second\":0.4,"
           "\"rebuild\":{\"target\":\"shapes__v2\",\"done\":4,\"total\":null}}");
    set_rebuild(4, 50);
    answer a = control("GET", "/progress");
    assert_non_null(strstr(a.text, "\"rebuild\":{\"target\":\"shapes__v2\","
                                   "\"done\":4,\"total\":50}}"));
    free(a.text);
}

static void run_request(void **unused)
{
    (void)unused;
    expect(control("POST", "/run"), 202, "{\"started\":true}");
    daemon_state.pass_running = 1;
    expect(control("POST", "/run"), 202,
           "{\"started\":false,\"note\":\"a pass is already running\"}");
    assert_int_equal(daemon_state.runs_requested, 2);
}

static void stop_request(void **unused)
{
    (void)unused;
    expect(control("POST", "/collections/b/stop"), 409,
           "{\"collection\":\"b\",\"error\":\"collection is not being synced now\"}");
    assert_string_equal(daemon_state.stop_asked, "b");
    assert_true(daemon_state.stop_wait > 0);
    daemon_state.stop_outcome.was_running = 1;
    daemon_state.statuses[1].embedded = 5;
    daemon_state.statuses[1].deleted = 1;
    daemon_state.statuses[1].failed = 2;
    expect(control("POST", "/collections/b/stop"), 200,
           "{\"collection\":\"b\",\"stopped\":true,\"embedded\":5,"
           "\"deleted\":1,\"failed\":2}");
    /* A collection without a status record yet. */
    expect(control("POST", "/collections/new/stop"), 200,
           "{\"collection\":\"new\",\"stopped\":true}");
}

static void metrics_text(void **unused)
{
    (void)unused;
    answer a = control("GET", "/metrics");
    assert_int_equal(a.status, 200);
    assert_string_equal(a.type, "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(a.text);
    free(a.text);
}

static void unknown_routes_and_methods(void **unused)
{
    (void)unused;
    answer a = control("GET", "/nothing");
    assert_int_equal(a.status, 404);
    assert_null(a.text);
    a = control("DELETE", "/health");
    assert_int_equal(a.status, 405);
    a = control("GET", "/collections/b/stop");
    assert_int_equal(a.status, 405);
    /* "*" is one segment, never empty. */
    assert_int_equal(control("POST", "/collections/a/b/stop").status, 404);
    assert_int_equal(control("POST", "/collections//stop").status, 404);
    assert_int_equal(control("POST", "/collections/stop").status, 404);
    assert_string_equal(daemon_state.stop_asked, "");
}

/* ---- the original Auto-Updater's routes ------------------------------------- */

static void au_health(void **unused)
{
    (void)unused;
    answer a = autoupdater("GET", "/health", NULL);
    assert_int_equal(a.status, 200);
    assert_int_equal(daemon_state.probes, 1);
    /* The timestamp is the wall clock's: compare up to it. */
    const char *head = "{\"status\":\"healthy\",\"checks\":{\"qdrant\":\"healthy\","
                       "\"clip\":\"healthy\",\"scheduler\":\"healthy\"},"
                       "\"timestamp\":\"";
    assert_memory_equal(a.text, head, strlen(head));
    assert_string_equal(a.text + strlen(a.text) - 3, "Z\"}");
    free(a.text);

    es_daemon_snapshot *s = &daemon_state.snap;
    s->backends[EMBSYNC_KIND_EMBEDDER - 1].status = EMBSYNC_RETRY;
    snprintf(s->generator_url, sizeof s->generator_url, "http://gen:8000");
    snprintf(s->generator_error, sizeof s->generator_error, "timed out");
    s->scheduler_running = 0;
    a = autoupdater("GET", "/health", NULL);
    assert_int_equal(a.status, 503);
    head = "{\"status\":\"degraded\",\"checks\":{\"qdrant\":\"healthy\","
           "\"clip\":\"unhealthy: check failed\","
           "\"generator\":\"unhealthy: timed out\","
           "\"scheduler\":\"unhealthy: the scheduler is stopping\"},";
    assert_memory_equal(a.text, head, strlen(head));
    free(a.text);
}

static void au_progress(void **unused)
{
    (void)unused;
    es_progress_view *p = set_run("42", 300, 32);
    const char *ask = "{\"state\": {\"project_id\": 42}}";
    expect(autoupdater("POST", "/processing_progress", ask), 200,
           "{\"progress\":{\"project_id\":42,\"total\":300,\"current\":32,"
           "\"status\":\"processing\"}}");
    expect(autoupdater("POST", "/processing_progress",
                       "{\"state\": {\"project_id\": 41}}"),
           200, "{\"message\":\"No processing progress found for project 41\","
                "\"progress\":null}");
    /* Ended: the last run stands until the next starts. */
    p->stage = ES_STAGE_IDLE;
    snprintf(p->ended_collection, sizeof p->ended_collection, "42");
    p->ended_status = EMBSYNC_OK;
    expect(autoupdater("POST", "/processing_progress", ask), 200,
           "{\"progress\":{\"project_id\":42,\"total\":300,\"current\":32,"
           "\"status\":\"completed\"}}");
    p->ended_status = EMBSYNC_FAILED;
    expect(autoupdater("POST", "/processing_progress", ask), 200,
           "{\"progress\":{\"project_id\":42,\"total\":300,\"current\":32,"
           "\"status\":\"error\"}}");
    /* A skipped run is no progress. */
    p->ended_status = EMBSYNC_SKIP;
    expect(autoupdater("POST", "/processing_progress", ask), 200,
           "{\"message\":\"No processing progress found for project 42\","
           "\"progress\":null}");
    expect(autoupdater("POST", "/processing_progress", "{}"), 500,
           "{\"message\":\"Error getting processing progress: no \\\"state\\\" "
           "object in the body\"}");
}

static void au_stop(void **unused)
{
    (void)unused;
    expect(autoupdater("POST", "/stop-embeddings-update/7", NULL), 200,
           "{\"project_id\":7,\"is_current_task\":false,\"success\":true,"
           "\"message\":\"Project 7 is not being processed now: nothing to "
           "stop\",\"details\":{}}");
    assert_string_equal(daemon_state.stop_asked, "7");
    daemon_state.stop_outcome = (es_stopped_run){
        .was_running = 1, .ended = 1, .end_status = EMBSYNC_OK,
        .inflight_cleared = 1};
    expect(autoupdater("POST", "/stop-embeddings-update/42", NULL), 200,
           "{\"project_id\":42,\"is_current_task\":true,\"success\":true,"
           "\"message\":\"Stopped auto update task successfully\","
           "\"details\":{\"cancel_task\":\"success\","
           "\"clear_current_task\":\"success\","
           "\"clear_in_progress_flag\":\"success\","
           "\"clear_update_flag\":\"success\","
           "\"clear_autorestart\":\"success\"}}");
    daemon_state.stop_outcome.end_status = EMBSYNC_FAILED;
    answer a = autoupdater("POST", "/stop-embeddings-update/42", NULL);
    assert_int_equal(a.status, 400);
    assert_non_null(strstr(a.text, "\"clear_in_progress_flag\":\"failed\""));
    free(a.text);
    a = autoupdater("POST", "/stop-embeddings-update/abc", NULL);
    assert_int_equal(a.status, 422);
    assert_non_null(strstr(a.text, "\"type\":\"int_parsing\""));
    free(a.text);
}

static void au_probes_and_errors(void **unused)
{
    (void)unused;
    expect(autoupdater("GET", "/livez", NULL), 200, "{\"status\":\"alive\"}");
    expect(autoupdater("POST", "/is_ready", NULL), 200, "{\"status\":\"ready\"}");
    expect(autoupdater("POST", "/is_running", NULL), 200,
           "{\"running\":true,\"mode\":\"production\"}");
    assert_int_equal(autoupdater("GET", "/nothing", NULL).status, 404);
    assert_int_equal(autoupdater("GET", "/is_running", NULL).status, 405);
    assert_int_equal(autoupdater("POST", "/stop-embeddings-update/", NULL).status,
                     404);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(health_ok, setup),
        cmocka_unit_test_setup(health_degraded, setup),
        cmocka_unit_test_setup(health_generator_up, setup),
        cmocka_unit_test_setup(health_shows_a_rebuild, setup),
        cmocka_unit_test_setup(progress_idle, setup),
        cmocka_unit_test_setup(progress_running, setup),
        cmocka_unit_test_setup(progress_shows_a_rebuild, setup),
        cmocka_unit_test_setup(run_request, setup),
        cmocka_unit_test_setup(stop_request, setup),
        cmocka_unit_test_setup(metrics_text, setup),
        cmocka_unit_test_setup(unknown_routes_and_methods, setup),
        cmocka_unit_test_setup(au_health, setup),
        cmocka_unit_test_setup(au_progress, setup),
        cmocka_unit_test_setup(au_stop, setup),
        cmocka_unit_test_setup(au_probes_and_errors, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
