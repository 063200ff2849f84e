#include <config.h>

#include "corekeys.h"

const embsync_config_key es_core_keys[] = {
    {"interval", EMBSYNC_KEY_INT, "10", 0,
     "Minutes between passes, 1 to 1440; a pass also runs at start."},
    {"state_dir", EMBSYNC_KEY_STRING, "/var/lib/embsync", 0,
     "Failed-items ledgers, run status and local indexes."},
    {"plugin_path", EMBSYNC_KEY_STRING, ES_PLUGINDIR, 0,
     "Colon-separated directories searched for plugin modules."},
    {"batch_size", EMBSYNC_KEY_INT, "32", 0,
     "Items per pipeline batch, 1 to 4096."},
    {"log_level", EMBSYNC_KEY_STRING, "info", 0,
     "error, warning, info or debug."},
    {"log_format", EMBSYNC_KEY_STRING, "text", 0,
     "text, or json: one JSON object per line, each collection's run counts "
     "(collection, status, embedded, deleted, failed, deferred, waiting, "
     "rebuilt, duration) in fields of their own."},
    {"listen", EMBSYNC_KEY_STRING, "", 0,
     "Address of the control port, HOST:PORT; empty: no control port. "
     "Beyond loopback a control token is required."},
    {"control_token", EMBSYNC_KEY_STRING, NULL, EMBSYNC_KEY_SECRET,
     "Bearer token for the POST routes (for every route beyond loopback)."},
    {"control_token_file", EMBSYNC_KEY_STRING, NULL, 0,
     "Read control_token from this file."},
    {"control_token_credential", EMBSYNC_KEY_STRING, NULL, 0,
     "Read control_token from the systemd credential of this name."},
    {"autoupdater_listen", EMBSYNC_KEY_STRING, "", 0,
     "HOST:PORT for the original Embeddings Auto-Updater's routes, in its "
     "shapes (GET /health, POST /stop-embeddings-update/ID, POST "
     "/processing_progress, the probes); empty: off.  Every route needs "
     "control_token unless autoupdater_without_token is set; without either "
     "the daemon refuses to start."},
    {"autoupdater_without_token", EMBSYNC_KEY_BOOL, "false", 0,
     "Serve the Auto-Updater routes without a token, as the original did for "
     "the platform's calls; logged as a warning at start.  Keep the address "
     "on the platform's network."},
    {"reconcile_interval", EMBSYNC_KEY_INT, "0", 0,
     "Minutes, 0 to 525600; 0: never.  embsync run reconciles every "
     "collection after a pass once this long has gone by since the last "
     "reconciliation recorded in state_dir, as embsync reconcile does; the "
     "source and store plugins must provide the reconciliation operations."},
    {"stale_after", EMBSYNC_KEY_INT, "0", 0,
     "Minutes after which a collection without a successful run makes "
     "/health report degraded; 0: three intervals."},
    {"rebuild_beside", EMBSYNC_KEY_BOOL, "true", 0,
     "A collection whose model changed is rebuilt beside the live one and "
     "switched to in one step (searches answer from the old model until "
     "then), when the store has aliases and the plugins can reconcile; the "
     "store needs room for both collections meanwhile.  false: drop it and "
     "rebuild it in place, searches answering nothing until it is done."},
    {"shard", EMBSYNC_KEY_STRING, "1/1", 0,
     "K/N: this daemon runs the collections whose name hashes to K of N "
     "(XXH3-64 of the name, modulo N, plus 1), so N daemons given 1/N to "
     "N/N split the source's collections without two ever running the same "
     "one; a collection keeps its shard while N stays the same.  Each "
     "daemon needs its own state_dir.  embsync reconcile --collection NAME "
     "reconciles NAME whatever its shard."},
    {NULL, 0, NULL, 0, NULL},
};
