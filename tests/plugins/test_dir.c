/* The dir source through its operation table, loaded like the daemon loads
 * it and given the real host. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <xxhash.h>

#include "blob.h"
#include "host.h"
#include "log.h"
#include "module.h"

#define MAX_SEEN 64

static char root[64], state[64];
static es_module *mod;
static es_instance *inst;
static const embsync_source_ops *ops;

typedef struct seen {
    size_t n;
    embsync_change c[MAX_SEEN];
    char *strings[MAX_SEEN][3];
} seen;

static int collect(embsync_change_sink *sink, const embsync_change *changes,
                   size_t n)
{
    seen *s = sink->host_private;
    for (size_t i = 0; i < n && s->n < MAX_SEEN; i++, s->n++) {
        s->c[s->n] = changes[i];
        s->strings[s->n][0] = changes[i].ref ? strdup(changes[i].ref) : NULL;
        s->strings[s->n][1] = changes[i].version ? strdup(changes[i].version) : NULL;
        s->strings[s->n][2] = changes[i].payload ? strdup(changes[i].payload) : NULL;
        s->c[s->n].ref = s->strings[s->n][0];
        s->c[s->n].version = s->strings[s->n][1];
        s->c[s->n].payload = s->strings[s->n][2];
    }
    return EMBSYNC_OK;
}

static void seen_free(seen *s)
{
    for (size_t i = 0; i < s->n; i++)
        for (int k = 0; k < 3; k++)
            free(s->strings[i][k]);
    s->n = 0;
}

/* One run: begin, changes into s, optionally ack all, end. */
static void run(seen *s, int ack_all)
{
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = s};
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->changes(inst->state, "col", &sink), EMBSYNC_OK);
    if (ack_all && s->n > 0)
        assert_int_equal(ops->ack(inst->state, "col", s->n, s->c), EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
}

/* One items() run: begin, items into s, end. */
static void begin_items_end(seen *s)
{
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = s};
    seen_free(s);
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->items(inst->state, "col", &sink), EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    assert_int_equal(s->n, 3);
}

static void write_file(const char *rel, const char *content)
{
    char path[256];
    snprintf(path, sizeof path, "%s/col/%s", root, rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(content, fp);
    fclose(fp);
}

static int setup(void **unused)
{
    (void)unused;
    es_log_configure(EMBSYNC_LOG_ERROR, ES_LOG_TEXT);
    strcpy(root, "/tmp/es-dir-XXXXXX");
    strcpy(state, "/tmp/es-dirstate-XXXXXX");
    assert_non_null(mkdtemp(root));
    assert_non_null(mkdtemp(state));
    char path[256];
    snprintf(path, sizeof path, "%s/col/sub/deeper", root);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", path);
    assert_int_equal(system(cmd), 0);
    write_file("a.jpg", "aaaa");
    write_file("b.PNG", "bbbbbb");
    write_file("notes.txt", "not an image");
    write_file("sub/deeper/c.jpeg", "cc");

    char err[1024], dir[256];
    snprintf(dir, sizeof dir, "%s/plugins", getenv("top_builddir"));
    es_modules_init();
    mod = es_module_load(dir, "dir", EMBSYNC_KIND_SOURCE, err, sizeof err);
    if (mod == NULL)
        fail_msg("%s", err);
    ops = &mod->ops.source;
    es_entry entry = {.key = "root", .value = root, .line = 2};
    es_section sec = {.name = "source", .plugin = "dir", .line = 1,
                      .entries = &entry, .n_entries = 1};
    es_config cfg = {.path = "test.ini", .state_dir = state};
    inst = es_instance_open(mod, &cfg, &sec, NULL, err, sizeof err);
    if (inst == NULL)
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **unused)
{
    (void)unused;
    es_instance_close(inst);
    es_module_unload(mod);
    es_modules_exit();
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s", root, state);
    return system(cmd);
}

static const embsync_change *find(seen *s, const char *ref)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->c[i].ref, ref) == 0)
            return &s->c[i];
    return NULL;
}

static void first_run_lists_images_with_payloads(void **unused)
{
    (void)unused;
    seen s = {0};
    run(&s, 1);
    assert_int_equal(s.n, 3);
    const embsync_change *c = find(&s, "sub/deeper/c.jpeg");
    assert_non_null(c);
    assert_int_equal(c->op, EMBSYNC_OP_UPSERT);
    assert_true(c->id == XXH3_64bits("sub/deeper/c.jpeg", 17));
    cJSON *p = cJSON_Parse(c->payload);
    assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(p, "dataset")),
                        "sub/deeper");
    assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(p, "size")), 2);
    cJSON_Delete(p);
    assert_non_null(find(&s, "b.PNG"));
    assert_null(find(&s, "notes.txt"));
    seen_free(&s);

    run(&s, 0);
    assert_int_equal(s.n, 0); /* everything acknowledged */
}

/* Right after the first test: everything acknowledged. */
static void items_lists_everything_and_resets_nothing(void **unused)
{
    (void)unused;
    seen listed = {0}, all = {0}, after = {0};
    assert_non_null(ops->items);
    embsync_change_sink to_all = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                  .emit = collect, .host_private = &all};
    embsync_change_sink to_listed = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                     .emit = collect, .host_private = &listed};
    /* Only between begin() and end(). */
    assert_int_equal(ops->items(inst->state, "col", &to_all), EMBSYNC_FAILED);
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->items(inst->state, "col", &to_all), EMBSYNC_OK);
    /* What changes() gives for the same items once reset. */
    assert_int_equal(ops->reset(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->changes(inst->state, "col", &to_listed), EMBSYNC_OK);
    assert_int_equal(ops->ack(inst->state, "col", listed.n, listed.c),
                     EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    assert_int_equal(all.n, 3);
    assert_int_equal(listed.n, 3);
    for (size_t i = 0; i < listed.n; i++) {
        const embsync_change *c = find(&all, listed.c[i].ref);
        assert_non_null(c);
        assert_int_equal(c->op, EMBSYNC_OP_UPSERT);
        assert_true(c->id == listed.c[i].id);
        assert_string_equal(c->version, listed.c[i].version);
        assert_string_equal(c->payload, listed.c[i].payload);
    }
    /* items() reset nothing: acknowledged items stay acknowledged. */
    begin_items_end(&all);
    run(&after, 0);
    assert_int_equal(after.n, 0);
    seen_free(&listed);
    seen_free(&all);
}

static void modified_deleted_and_stale(void **unused)
{
    (void)unused;
    seen s = {0};
    write_file("a.jpg", "aaaaaaaa"); /* new size */
    char path[256];
    snprintf(path, sizeof path, "%s/col/b.PNG", root);
    unlink(path);
    run(&s, 0);
    assert_int_equal(s.n, 2);
    assert_int_equal(find(&s, "a.jpg")->op, EMBSYNC_OP_UPSERT);
    const embsync_change *gone = find(&s, "b.PNG");
    assert_int_equal(gone->op, EMBSYNC_OP_DELETE);
    assert_true(gone->id == XXH3_64bits("b.PNG", 5));

    /* The file changes again after it was listed: acknowledging the listed
     * version must leave the new one pending. */
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = &s};
    seen_free(&s);
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->changes(inst->state, "col", &sink), EMBSYNC_OK);
    write_file("a.jpg", "aaaaaaaaaaaa");
    assert_int_equal(ops->ack(inst->state, "col", s.n, s.c), EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    seen_free(&s);
    run(&s, 1);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.c[0].ref, "a.jpg");
    seen_free(&s);
}

static void fetch_fails_alone(void **unused)
{
    (void)unused;
    seen s = {0};
    write_file("d.jpg", "dddd");
    write_file("e.jpg", "eeeee");
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = &s};
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->changes(inst->state, "col", &sink), EMBSYNC_OK);
    assert_int_equal(s.n, 2);
    char path[256];
    snprintf(path, sizeof path, "%s/col/%s", root, s.c[0].ref);
    unlink(path);
    embsync_blob blobs[2];
    es_blob_init(&blobs[0]);
    es_blob_init(&blobs[1]);
    int status[2];
    char reasons[2][256];
    es_call_item_errors(&reasons[0][0], 2, 256);
    assert_int_equal(ops->fetch(inst->state, "col", 2, s.c, blobs, status),
                     EMBSYNC_OK);
    es_call_item_errors(NULL, 0, 0);
    assert_int_equal(status[0], EMBSYNC_ITEM_FAILED);
    assert_non_null(strstr(reasons[0], "No such file"));
    assert_int_equal(status[1], EMBSYNC_OK);
    assert_int_equal(blobs[1].len, 5);
    assert_memory_equal(blobs[1].data, "eeeee", 5);
    es_blob_release(&blobs[0]);
    es_blob_release(&blobs[1]);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    seen_free(&s);
}

static void reset_relists_and_lock_skips(void **unused)
{
    (void)unused;
    seen s = {0};
    run(&s, 1);
    seen_free(&s);
    run(&s, 0);
    assert_int_equal(s.n, 0);
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    /* A second instance on the same state directory is skipped. */
    char err[1024];
    es_entry entry = {.key = "root", .value = root, .line = 2};
    es_section sec = {.name = "source", .plugin = "dir", .line = 1,
                      .entries = &entry, .n_entries = 1};
    es_config cfg = {.path = "test.ini", .state_dir = state};
    es_instance *other = es_instance_open(mod, &cfg, &sec, NULL, err, sizeof err);
    assert_non_null(other);
    assert_int_equal(ops->begin(other->state, "col"), EMBSYNC_SKIP);
    es_instance_close(other);
    assert_int_equal(ops->reset(inst->state, "col"), EMBSYNC_OK);
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = &s};
    assert_int_equal(ops->changes(inst->state, "col", &sink), EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    assert_int_equal(s.n, 3); /* a.jpg, c.jpeg, e.jpg */
    seen_free(&s);
}

static uint64_t id_of(const char *rel)
{
    return XXH3_64bits(rel, strlen(rel));
}

static void make_link(const char *target, const char *rel)
{
    char path[256];
    snprintf(path, sizeof path, "%s/col/%s", root, rel);
    assert_int_equal(symlink(target, path), 0);
}

/* A link loop, a link out of the root and a link to a file in the
 * collection: none is followed, none yields an item, the walk ends. */
static void links_are_not_followed(void **unused)
{
    (void)unused;
    seen s = {0};
    run(&s, 1);
    seen_free(&s);
    char outside[64];
    strcpy(outside, "/tmp/es-outside-XXXXXX");
    assert_non_null(mkdtemp(outside));
    char path[128];
    snprintf(path, sizeof path, "%s/elsewhere.jpg", outside);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("xx", fp);
    fclose(fp);
    make_link(".", "loop");
    make_link(outside, "out");
    make_link("a.jpg", "linked.jpg");
    run(&s, 0);
    assert_int_equal(s.n, 0);
    seen_free(&s);
    assert_int_equal(ops->begin(inst->state, "col"), EMBSYNC_OK);
    assert_int_equal(ops->reset(inst->state, "col"), EMBSYNC_OK);
    embsync_change_sink sink = {.abi = EMBSYNC_ABI_INIT(embsync_change_sink),
                                .emit = collect, .host_private = &s};
    assert_int_equal(ops->changes(inst->state, "col", &sink), EMBSYNC_OK);
    assert_int_equal(ops->end(inst->state, "col", EMBSYNC_OK), EMBSYNC_OK);
    for (size_t i = 0; i < s.n; i++)
        if (strstr(s.c[i].ref, "loop") || strstr(s.c[i].ref, "out") ||
            strstr(s.c[i].ref, "linked"))
            fail_msg("followed a link: %s", s.c[i].ref);
    assert_int_equal(s.n, 3); /* a.jpg, c.jpeg, e.jpg */
    seen_free(&s);
    unlink(path);
    rmdir(outside);
}

static void exists_answers_from_the_folder(void **unused)
{
    (void)unused;
    assert_non_null(ops->exists);
    const char *refs[] = {"a.jpg", "sub/deeper/c.jpeg", "gone.jpg",
                          "linked.jpg", "loop/a.jpg", "notes.txt",
                          "../col/a.jpg", "out/elsewhere.jpg", NULL, NULL};
    const char *ids[] = {"a.jpg", "sub/deeper/c.jpeg", "gone.jpg",
                         "linked.jpg", "loop/a.jpg", "notes.txt",
                         "../col/a.jpg", "out/elsewhere.jpg", "e.jpg",
                         "nope.jpg"};
    const int want[] = {1, 1, 0, 0, 0, 0, 0, 0, 1, 0};
    enum { N = sizeof want / sizeof want[0] };
    embsync_change items[N];
    int present[N];
    for (size_t i = 0; i < N; i++)
        items[i] = (embsync_change){.abi = EMBSYNC_ABI_INIT(embsync_change),
                                    .id = id_of(ids[i]), .ref = refs[i]};
    /* Outside a run (no applied state): ids without ref take a walk. */
    assert_int_equal(ops->exists(inst->state, "col", N, items, present),
                     EMBSYNC_OK);
    for (size_t i = 0; i < N; i++)
        if (present[i] != want[i])
            fail_msg("%s: exists says %d", ids[i], present[i]);
    /* A ref that does not belong to the id is no proof. */
    items[0].id = id_of("other.jpg");
    assert_int_equal(ops->exists(inst->state, "col", 1, items, present),
                     EMBSYNC_OK);
    assert_int_equal(present[0], 0);
    /* A collection whose folder is gone has no items. */
    items[0].id = id_of("a.jpg");
    assert_int_equal(ops->exists(inst->state, "nosuch", 1, items, present),
                     EMBSYNC_OK);
    assert_int_equal(present[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(first_run_lists_images_with_payloads),
        cmocka_unit_test(items_lists_everything_and_resets_nothing),
        cmocka_unit_test(modified_deleted_and_stale),
        cmocka_unit_test(fetch_fails_alone),
        cmocka_unit_test(reset_relists_and_lock_skips),
        cmocka_unit_test(links_are_not_followed),
        cmocka_unit_test(exists_answers_from_the_folder),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
