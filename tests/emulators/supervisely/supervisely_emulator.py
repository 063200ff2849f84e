#!/usr/bin/env python3
"""A Supervisely public API emulator (the subset AI Search sync uses).

Follows Supervisely's public REST API (README.md here says what and how): POST
/public/api/v3/<method> with x-api-key, list envelopes and paging, filters
with null semantics and numeric timestamp comparison, project and image
stamps, and GET /previews/<options>/plain/<path> serving a JPEG within
224x224 without auth.  README.md lists the unsettled points and the choices.

    supervisely_emulator.py --port 0 --port-file F --token T [--fixture FILE]
        [--show-disabled include|only] [--modify-clears-stamp] [--page-cap N]
        [--fields ignore|honour|strict]
"""
import argparse
import bisect
import datetime
import io
import json
import os
import re
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

PREVIEW_RE = re.compile(r"^/previews/[^/]+/ext:jpeg/resize:fit:(\d+):(\d+):0/q:(\d+)/plain/(.+)$")


BLOCK = 1024   # ids per block of the never-embedded counts

# The image fields of the reference (section 2.7, SDK order; `ext` is the
# SDK's, taken from `mime`): the names a server reading `fields` strictly
# knows.
IMAGE_FIELDS = ("id", "name", "link", "hash", "mime", "size", "width", "height",
                "labelsCount", "datasetId", "createdAt", "updatedAt", "meta",
                "pathOriginal", "fullStorageUrl", "tags", "createdBy", "relatedDataId",
                "downloadId", "offsetStart", "offsetEnd", "aiSearchMeta",
                "embeddingsUpdatedAt")
FIELDS_READINGS = ("ignore", "honour", "strict")


def now_us():
    return int(time.time() * 1_000_000)


def fmt_ts(us):
    """Server timestamps: milliseconds and Z."""
    if us is None:
        return None
    dt = datetime.datetime.fromtimestamp(us / 1e6, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{(us // 1000) % 1000:03d}Z"


def parse_ts(text):
    """Client stamps: %Y-%m-%dT%H:%M:%S.%fZ (1-6 digits); integer microseconds."""
    if text is None:
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{1,6})Z", text)
    if not m:
        raise ValueError(f"bad timestamp {text!r}")
    dt = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 1_000_000 + int(m.group(2).ljust(6, "0"))


class ApiError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class World:
    """Teams, projects, images; images of big projects are generated on the
    fly from their index, with per-image overrides."""

    def __init__(self, fixture, base_url, settings):
        self.lock = threading.Lock()
        self.in_progress_log = []
        self.settings = settings  # the unsettled points' readings (README)
        self.base_url = base_url
        self.teams = {t["id"]: t for t in fixture.get("teams", [])}
        self.projects = {}
        self.images = {}          # id -> dict (explicit images)
        self.tasks = {t["id"]: t for t in fixture.get("tasks", [])}
        self.next_image = 1_000_000
        # Indexes that keep listing fast at a million images (what a real
        # database's indexes do): each project's ids in ascending order,
        # per block of ids the count of live images never embedded, and
        # the images whose updatedAt moved after the initial load.
        self.by_project = {}
        self.unembedded = {}
        self.disabled = {}        # project -> number of disabled images
        self.touched = {}
        t0 = now_us() - 3_600_000_000
        self.t0 = t0
        for p in fixture.get("projects", []):
            proj = {"id": p["id"], "name": p.get("name", f"project {p['id']}"),
                    "teamId": p["teamId"], "workspaceId": p.get("workspaceId", 1),
                    "embeddingsEnabled": p.get("embeddingsEnabled", True),
                    "embeddingsInProgress": p.get("embeddingsInProgress", False),
                    "embeddingsUpdatedAt": parse_ts(p["embeddingsUpdatedAt"])
                    if p.get("embeddingsUpdatedAt") else None,
                    "customData": p.get("customData", {}),
                    "archived": p.get("archived", False),
                    "createdAt": t0, "updatedAt": t0}
            self.projects[p["id"]] = proj
            stamped = parse_ts(p["imagesEmbeddedAt"]) if p.get("imagesEmbeddedAt") else None
            for i in range(p.get("images", 0)):
                iid = self.add_image(p["id"], p.get("datasets", [1])[i % len(p.get("datasets", [1]))], t0)
                if stamped is not None:
                    self.stamp(iid, stamped)

    def add_image(self, project, dataset, when=None):
        when = when or now_us()
        iid = self.next_image
        self.next_image += 1
        self.images[iid] = {"id": iid, "projectId": project, "datasetId": dataset,
                            "name": f"img_{iid}.jpg", "createdAt": when,
                            "updatedAt": when, "embeddingsUpdatedAt": None,
                            "disabled": False}
        ids = self.by_project.setdefault(project, [])
        ids.append(iid)   # ids only grow: the list stays sorted
        blocks = self.unembedded.setdefault(project, [])
        block = (len(ids) - 1) // BLOCK
        if block == len(blocks):
            blocks.append(0)
        blocks[block] += 1
        if when != self.t0:
            self.touched[iid] = when
        return iid

    def _count_unembedded(self, img, delta):
        ids = self.by_project[img["projectId"]]
        block = bisect.bisect_left(ids, img["id"]) // BLOCK
        self.unembedded[img["projectId"]][block] += delta

    def touch(self, iid):
        """Any change of an image, disabling included; under the
        modify_clears_stamp reading it also nulls embeddingsUpdatedAt."""
        img = self.images[iid]
        img["updatedAt"] = now_us()
        self.touched[iid] = img["updatedAt"]
        if self.settings["modify_clears_stamp"]:
            self.stamp(iid, None)

    def disable(self, iid):
        img = self.images[iid]
        if not img["disabled"] and img["embeddingsUpdatedAt"] is None:
            self._count_unembedded(img, -1)
        if not img["disabled"]:
            self.disabled[img["projectId"]] = self.disabled.get(img["projectId"], 0) + 1
        img["disabled"] = True
        self.touch(iid)

    def newest_first(self, pid):
        """A project's ids by updatedAt, newest first: the images changed
        since the initial load, then the rest (all loaded at t0) by id."""
        moved = sorted((i for i in self.touched if self.images[i]["projectId"] == pid),
                       key=lambda i: (-self.images[i]["updatedAt"], i))
        yield from moved
        seen = set(moved)
        yield from (i for i in self.by_project.get(pid, []) if i not in seen)

    def stamp(self, iid, when):
        img = self.images[iid]
        if not img["disabled"] and (img["embeddingsUpdatedAt"] is None) != (when is None):
            self._count_unembedded(img, -1 if when is not None else +1)
        img["embeddingsUpdatedAt"] = when

    def image_entity(self, img):
        path = f"storage/images/original/{img['id']}.jpg"
        return {"id": img["id"], "name": img["name"], "link": None,
                "hash": f"h{img['id']}=", "mime": "image/jpeg", "size": 4096,
                "width": 640, "height": 480, "labelsCount": 0,
                "datasetId": img["datasetId"], "createdAt": fmt_ts(img["createdAt"]),
                "updatedAt": fmt_ts(img["updatedAt"]), "meta": {},
                "pathOriginal": "/" + path,
                "fullStorageUrl": f"{self.base_url}/{path}", "tags": [],
                "createdBy": 7, "embeddingsUpdatedAt": fmt_ts(img["embeddingsUpdatedAt"])}

    def project_entity(self, p, full):
        e = {"id": p["id"], "name": p["name"], "description": "", "size": "861069",
             "workspaceId": p["workspaceId"], "teamId": p["teamId"], "type": "images",
             "importSettings": {}, "createdAt": fmt_ts(p["createdAt"]),
             "updatedAt": fmt_ts(p["updatedAt"]),
             "embeddingsEnabled": p["embeddingsEnabled"],
             "embeddingsInProgress": p["embeddingsInProgress"],
             "embeddingsUpdatedAt": fmt_ts(p["embeddingsUpdatedAt"])}
        if full:
            n = len(self.by_project.get(p["id"], [])) - self.disabled.get(p["id"], 0)
            e.update({"imagesCount": n, "itemsCount": n, "datasetsCount": 1, "readme": "",
                      "customData": p["customData"], "settings": {}, "backupArchive": {},
                      "version": {"id": 1, "version": 1}, "createdBy": 7})
        return e


def value_of(entity, field):
    v = entity.get(field)
    if field in ("updatedAt", "createdAt", "embeddingsUpdatedAt") and isinstance(v, str):
        return parse_ts(v)
    return v


def matches(entity, flt):
    """Filters compare in the field's type: timestamps as microseconds."""
    for cond in flt or []:
        field, op, value = cond.get("field"), cond.get("operator"), cond.get("value")
        have = entity.get(field)
        if field in ("updatedAt", "createdAt", "embeddingsUpdatedAt") and isinstance(value, str):
            value = parse_ts(value)
        if op in ("=", "eq"):
            ok = have is None if value is None else have == value
        elif op in ("!=", "not"):
            ok = have is not None if value is None else have != value
        elif op == "in":
            ok = have in value
        elif op == "!in":
            ok = have not in value
        elif op in (">", "gt", ">=", "gte", "<", "lt", "<=", "lte"):
            if have is None or value is None:
                ok = False
            elif op in (">", "gt"):
                ok = have > value
            elif op in (">=", "gte"):
                ok = have >= value
            elif op in ("<", "lt"):
                ok = have < value
            else:
                ok = have <= value
        else:
            raise ApiError(400, f"unknown operator {op}")
        if not ok:
            return False
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes; without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms per keep-alive request).
    disable_nagle_algorithm = True
    world = None
    args = None
    faults = []
    counts = {}
    max_stamp_batch = 0         # largest images.embeddings-updated-at.update
    fault_lock = threading.Lock()
    hooks = []                  # changes made when the Nth matching request comes
    list_calls = 0              # list requests answered (cycles a list of page caps)
    list_requests = {}          # images.list request shape (JSON) -> count
    fields_trimmed = 0          # entities answered with only the fields asked for

    def log_message(self, fmt, *a):
        if self.args.verbose:
            sys.stderr.write("supervisely-emulator: " + (fmt % a) + "\n")

    def send(self, status, body, ctype="application/json", headers=None):
        data = body if isinstance(body, bytes) else (
            json.dumps(body).encode() if ctype == "application/json" else body.encode())
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def error(self, status, message, headers=None):
        self.send(status, {"error": message, "details": {"message": message}}, headers=headers)

    def run_hooks(self, name, body):
        """Change images just before the Nth request matching a hook is
        handled (a change made while a client's run is in progress)."""
        fired = []
        with self.fault_lock:
            for h in self.hooks:
                if h.get("done") or not re.search(h.get("match", "."), name):
                    continue
                if h.get("body_has") and h["body_has"] not in body:
                    continue
                h["seen"] = h.get("seen", 0) + 1
                if h["seen"] >= h.get("after", 1):
                    h["done"] = True
                    fired.append(h)
        for h in fired:
            for iid in h.get("modify", []):
                self.world.touch(iid)
            for iid in h.get("delete", []):
                self.world.disable(iid)

    def take_fault(self, name):
        with self.fault_lock:
            for f in self.faults:
                if f.get("remaining", 0) > 0 and re.search(f.get("match", "."), name):
                    f["remaining"] -= 1
                    return dict(f)
        return None

    def count(self, name):
        with self.fault_lock:
            self.counts[name] = self.counts.get(name, 0) + 1

    # ---- previews -----------------------------------------------------------

    def do_GET(self):
        if self.path == "/__emulator/state":
            return self.state()
        m = PREVIEW_RE.match(self.path)
        if not m:
            return self.send(404, "Not Found", "text/plain")
        self.count("previews")
        fault = self.take_fault("previews")
        if fault and fault.get("status"):
            return self.error(fault["status"], "injected")
        wanted = re.search(r"original/(\d+)\.jpg$", m.group(4))
        iid = int(wanted.group(1)) if wanted else -1
        with self.world.lock:
            img = self.world.images.get(iid)
            version = img["updatedAt"] if img else None
        if img is None or (fault and fault.get("missing")):
            return self.send(404, "Not Found", "text/plain")
        self.send(200, self.picture(iid, version, int(m.group(1)), int(m.group(2))),
                  "image/jpeg")

    _cache = {}

    def picture(self, iid, version, w, h):
        """A distinct picture per image (and per modification)."""
        key = (iid, version) if not self.args.shared_bytes else (iid % 7, 0)
        data = self._cache.get(key)
        if data is None:
            seed = hash(key) & 0xFFFFFF
            img = Image.new("RGB", (min(w, 224), min(h, 168)),
                            ((seed >> 16) & 255, (seed >> 8) & 255, seed & 255))
            d = ImageDraw.Draw(img)
            x = seed % 120
            d.ellipse([x, 20, x + 60 + seed % 40, 120], fill=(255 - (seed & 255), 40, (seed >> 4) & 255))
            d.rectangle([10, (seed >> 3) % 100, 60, 160], fill=((seed >> 2) & 255, 200, 90))
            out = io.BytesIO()
            img.save(out, "JPEG", quality=70)
            data = out.getvalue()
            if len(self._cache) < 100000:
                self._cache[key] = data
        return data

    # ---- API ------------------------------------------------------------------

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.startswith("/__emulator/"):
            return self.control(raw)
        m = re.fullmatch(r"/public/api/v3/([A-Za-z.\-]+)", self.path)
        if not m:
            return self.error(404, "Not Found")
        method = m.group(1)
        self.count(method)
        if method != "instance.admin-info" and self.headers.get("x-api-key") != self.args.token:
            return self.error(401, "Unauthorized: invalid or missing x-api-key")
        fault = self.take_fault(method)
        if fault:
            if fault.get("delay_ms"):
                time.sleep(fault["delay_ms"] / 1000)
            if fault.get("status"):
                headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else None
                return self.error(fault["status"], "injected fault", headers)
        try:
            body = json.loads(raw or b"{}")
            handler = getattr(self, "m_" + method.replace(".", "_").replace("-", "_"), None)
            if handler is None:
                raise ApiError(404, f"unknown method {method}")
            with self.world.lock:
                self.run_hooks(method, body)
                result = handler(body)
        except ApiError as e:
            return self.error(e.status, e.message)
        except (ValueError, KeyError, TypeError) as e:
            return self.error(400, f"bad request: {e}")
        if isinstance(result, str):
            return self.send(200, result, "text/plain")
        self.send(200, result)

    def paging(self, body):
        """(per_page, entities to skip) of a list request.  A page cap (the
        page_cap setting: a number, or a list used in turn, one entry per
        list request) answers fewer entities than asked, as a server-side
        limit would; the envelope then says the page size it used."""
        per_page = body.get("per_page") or 20000
        if per_page > 20000:
            raise ApiError(400, "per_page must be at most 20000")
        cap = self.world.settings.get("page_cap")
        if isinstance(cap, list) and cap:
            cap = cap[Handler.list_calls % len(cap)]
        Handler.list_calls += 1
        if cap:
            per_page = min(per_page, int(cap))
        return per_page, ((body.get("page") or 1) - 1) * per_page

    @staticmethod
    def envelope(total, per_page, chunk):
        pages = max(1, (total + per_page - 1) // per_page)
        return {"total": total, "perPage": per_page, "pagesCount": pages, "entities": chunk}

    def page(self, body, items):
        per_page, skip = self.paging(body)
        return self.envelope(len(items), per_page, items[skip:skip + per_page])

    def m_projects_list_all(self, body):
        w = self.world
        out = []
        for p in sorted(w.projects.values(), key=lambda p: p["id"]):
            if body.get("skipExported") and p["archived"]:
                continue
            if matches(p, body.get("filter")):
                out.append(w.project_entity(p, False))
        return self.page(body, out)

    def project(self, pid):
        p = self.world.projects.get(pid)
        if p is None:
            raise ApiError(404, f"project {pid} not found")
        return p

    def m_projects_info(self, body):
        return self.world.project_entity(self.project(body["id"]), True)

    def m_projects_editInfo(self, body):
        p = self.project(body["id"])
        if "customData" in body:
            if not isinstance(body["customData"], dict):
                raise ApiError(400, "customData must be an object")
            p["customData"] = body["customData"]
        if "embeddingsUpdatedAt" in body:
            p["embeddingsUpdatedAt"] = parse_ts(body["embeddingsUpdatedAt"])
        if "embeddingsEnabled" in body:
            p["embeddingsEnabled"] = bool(body["embeddingsEnabled"])
        if not body.get("silent", False):
            p["updatedAt"] = now_us()
        return self.world.project_entity(p, True)

    def m_projects_embeddings_in_progress_update(self, body):
        flag = bool(body["embeddingsInProgress"])
        self.project(body["id"])["embeddingsInProgress"] = flag
        # In order (the caller holds the world's lock), for counting runs per
        # project and checking that no two clients ran one at once.
        self.world.in_progress_log.append(
            {"project": body["id"], "in_progress": flag, "time": time.time()})
        return {"success": True}

    def m_teams_info(self, body):
        t = self.world.teams.get(body["id"])
        if t is None:
            raise ApiError(404, f"team {body['id']} not found")
        return {"id": t["id"], "name": t.get("name", "team"), "description": "", "role": "admin",
                "createdAt": "2020-03-31T14:49:08.931Z", "updatedAt": "2020-03-31T14:49:08.931Z",
                "usage": {"plan": t.get("plan", "pro")}}

    def m_images_list(self, body):
        """The `fields` of the request under the reading chosen (README):
        ignored (every field), honoured (only those listed), or honoured
        with a name outside the reference's list answered 400.  Every
        request's shape is recorded for the tests (list_requests)."""
        reading = self.world.settings["fields"]
        fields = body.get("fields")
        if reading != "ignore" and fields is not None:
            if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
                raise ApiError(400, "fields must be a list of field names")
            unknown = [f for f in fields if f not in IMAGE_FIELDS]
            if reading == "strict" and unknown:
                raise ApiError(400, f"unknown fields: {', '.join(unknown)}")
        shape = json.dumps({"fields": fields, "showDisabled": bool(body.get("showDisabled")),
                            "sort": body.get("sort"),
                            "filter": sorted(f"{c.get('field')} {c.get('operator')}"
                                             for c in body.get("filter") or []
                                             if not (c.get("field") == "id" and c.get("operator") == ">"))},
                           sort_keys=True)
        Handler.list_requests[shape] = Handler.list_requests.get(shape, 0) + 1
        answer = self.images_list(body)
        if reading != "ignore" and fields is not None:
            keep = set(fields)
            answer["entities"] = [{k: v for k, v in e.items() if k in keep}
                                  for e in answer["entities"]]
            Handler.fields_trimmed += len(answer["entities"])
        return answer

    def images_list(self, body):
        """Sorted by id (the plugin asks for sort=id asc).  The id cursor, an
        `id in` list or an `updatedAt >` bound narrows the candidates through
        the indexes; every condition is still checked on every candidate, and
        `total` is exact."""
        w = self.world
        pid = body["projectId"]
        self.project(pid)
        # showDisabled: "include" lists disabled images beside the enabled
        # ones, "only" lists the disabled ones alone (README).
        show_disabled = body.get("showDisabled", False)
        only_disabled = show_disabled and w.settings["show_disabled"] == "only"
        flt = body.get("filter") or []
        if w.settings.get("ignore_id_cursor"):
            # A broken server: `id >` conditions are dropped, so a keyset
            # client gets the same page again.
            flt = [c for c in flt if not (c.get("field") == "id" and c.get("operator") in (">", "gt"))]
        ids = w.by_project.get(pid, [])
        start, candidates, since = 0, None, None
        for cond in flt:
            field, op, value = cond.get("field"), cond.get("operator"), cond.get("value")
            if field == "id" and op in (">", "gt") and isinstance(value, (int, float)):
                start = max(start, bisect.bisect_right(ids, value))
            elif field == "id" and op == "in" and isinstance(value, list):
                candidates = sorted(v for v in set(value) if isinstance(v, int))
            elif field == "updatedAt" and op in (">", "gt") and isinstance(value, str):
                since = parse_ts(value)
        if candidates is None and since is not None and since >= w.t0:
            candidates = sorted(i for i, t in w.touched.items() if t > since)
        per_page, skip = self.paging(body)
        chunk, total = [], 0
        never_embedded = any(c.get("field") == "embeddingsUpdatedAt" and
                             c.get("operator") in ("=", "eq") and c.get("value") is None
                             for c in flt)
        counted_only = (candidates is None and not show_disabled and never_embedded
                        and all(c.get("field") in ("id", "embeddingsUpdatedAt") for c in flt))
        if candidates is None and counted_only:
            # Blocks without a never-embedded image cannot match: skip them
            # (an idle pass over a synced million-image project reads none).
            blocks = w.unembedded.get(pid, [])
            candidates = (iid for b in range(start // BLOCK, len(blocks)) if blocks[b]
                          for iid in ids[max(start, b * BLOCK):(b + 1) * BLOCK])
        elif candidates is None:
            candidates = ids[start:]
        if body.get("sort") == "updatedAt" and not flt and body.get("sort_order") == "desc":
            # The newest first, unfiltered (what a client reads the server's
            # clock from): the first page without a scan, total from counts.
            n_disabled = w.disabled.get(pid, 0)
            total = (n_disabled if only_disabled else len(ids) if show_disabled
                     else len(ids) - n_disabled)
            chunk = []
            for iid in w.newest_first(pid):
                img = w.images[iid]
                if (img["disabled"] and not show_disabled) or (only_disabled and not img["disabled"]):
                    continue
                if len(chunk) >= skip + per_page:
                    break
                chunk.append(img)
            return self.envelope(total, per_page, [w.image_entity(i) for i in chunk[skip:]])
        if body.get("sort") == "updatedAt":
            pool = set(candidates)
            candidates = [i for i in w.newest_first(pid) if i in pool]
            if body.get("sort_order") != "desc":
                candidates.reverse()
        for iid in candidates:
            img = w.images.get(iid)
            if img is None or img["projectId"] != pid:
                continue
            if img["disabled"] and not show_disabled:
                continue
            if only_disabled and not img["disabled"]:
                continue
            if not matches(img, flt):
                continue
            if total >= skip + per_page and counted_only:
                # The page is full; the per-block counts give the rest.
                pos = bisect.bisect_left(ids, iid)
                block = pos // BLOCK
                for j in ids[pos:min(len(ids), (block + 1) * BLOCK)]:
                    i = w.images[j]
                    total += not i["disabled"] and i["embeddingsUpdatedAt"] is None
                total += sum(w.unembedded[pid][block + 1:])
                break
            if total >= skip and len(chunk) < per_page:
                chunk.append(w.image_entity(img))
            total += 1
        return self.envelope(total, per_page, chunk)

    def m_images_embeddings_updated_at_update(self, body):
        entries = body["images"]
        Handler.max_stamp_batch = max(Handler.max_stamp_batch, len(entries))
        for e in entries:
            if e["id"] not in self.world.images:
                raise ApiError(404, f"image {e['id']} not found")
        for e in entries:
            self.world.stamp(e["id"], parse_ts(e["embeddingsUpdatedAt"]))
        return {"success": True}

    def m_tasks_info(self, body):
        t = self.world.tasks.get(body["id"])
        if t is None:
            raise ApiError(404, f"task {body['id']} not found")
        return {"id": t["id"], "workspaceId": 7, "teamId": 3, "type": "app", "status": "started",
                "settings": {"message": {"appInfo": {"baseUrl": t["baseUrl"]}}},
                "meta": {"app": {"id": 5, "name": "CLIP as Service"}}}

    def m_instance_version(self, body):
        return {"version": "6.12.4"}

    def m_instance_admin_info(self, body):
        if body.get("accessToken") != self.args.access_token or not self.args.access_token:
            raise ApiError(403, "invalid access token")
        return {"apiToken": self.args.token}

    def m_instance_get_render_previews_session_token(self, body):
        return "PDVBF6ecX09FY75n7ufa8q"

    # ---- control --------------------------------------------------------------

    def control(self, raw):
        spec = json.loads(raw or b"{}")
        w = self.world
        out = {}
        with w.lock:
            if self.path == "/__emulator/faults":
                with self.fault_lock:
                    if spec.get("clear"):
                        self.faults.clear()
                    for f in spec.get("add", []):
                        f.setdefault("remaining", 1)
                        self.faults.append(f)
            elif self.path == "/__emulator/images":
                # {"add": {"project": P, "count": N, "dataset": D}} / {"modify": [ids]} / {"delete": [ids]}
                if "add" in spec:
                    a = spec["add"]
                    out["added"] = [w.add_image(a["project"], a.get("dataset", 1))
                                    for _ in range(a.get("count", 1))]
                for iid in spec.get("modify", []):
                    w.touch(iid)
                for iid in spec.get("delete", []):
                    w.disable(iid)
            elif self.path == "/__emulator/settings":
                # {"show_disabled": "include"|"only", "modify_clears_stamp": bool,
                #  "page_cap": N | [N, ...] | 0, "ignore_id_cursor": bool,
                #  "fields": "ignore"|"honour"|"strict"}
                for k, v in spec.items():
                    if k not in w.settings:
                        raise KeyError(k)
                    if k == "fields" and v not in FIELDS_READINGS:
                        raise ValueError(v)
                    w.settings[k] = v
                out = dict(w.settings)
            elif self.path == "/__emulator/hooks":
                # {"add": [{"match": REGEX, "body_has": KEY, "after": N,
                #           "modify": [ids], "delete": [ids]}]} / {"clear": true}
                with self.fault_lock:
                    if spec.get("clear"):
                        self.hooks.clear()
                    self.hooks.extend(spec.get("add", []))
            elif self.path == "/__emulator/projects":
                for pid, fields in spec.items():
                    p = w.projects[int(pid)]
                    for k, v in fields.items():
                        p[k] = parse_ts(v) if k == "embeddingsUpdatedAt" and v else v
        self.send(200, out)

    def state(self):
        w = self.world
        with w.lock:
            out = {"counts": dict(self.counts), "max_stamp_batch": self.max_stamp_batch,
                   "settings": dict(w.settings),
                   "list_requests": dict(self.list_requests),
                   "fields_trimmed": self.fields_trimmed,
                   "in_progress_log": list(w.in_progress_log),
                   "projects": {str(p["id"]): dict(w.project_entity(p, True))
                                for p in w.projects.values()},
                   "images": {str(i["id"]): {"projectId": i["projectId"],
                                             "disabled": i["disabled"],
                                             "embeddingsUpdatedAt": fmt_ts(i["embeddingsUpdatedAt"]),
                                             "updatedAt": fmt_ts(i["updatedAt"]),
                                             "embeddingsUpdatedAt_us": i["embeddingsUpdatedAt"],
                                             "updatedAt_us": i["updatedAt"],
                                             "datasetId": i["datasetId"]}
                              for i in w.images.values()}}
        self.send(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--token", required=True)
    ap.add_argument("--access-token", default="")
    ap.add_argument("--fixture", help="JSON: teams, projects (with images count), tasks")
    ap.add_argument("--shared-bytes", action="store_true", help="few distinct pictures (large runs)")
    ap.add_argument("--show-disabled", choices=("include", "only"), default="include",
                    help="what showDisabled: true lists besides the enabled images")
    ap.add_argument("--modify-clears-stamp", action="store_true",
                    help="changing an image nulls its embeddingsUpdatedAt")
    ap.add_argument("--page-cap", type=int, default=0,
                    help="answer at most this many entities per page (0: as asked)")
    ap.add_argument("--fields", choices=FIELDS_READINGS,
                    default=os.environ.get("SLY_EMULATOR_FIELDS") or "ignore",
                    help="how images.list reads `fields` (default: $SLY_EMULATOR_FIELDS, "
                         "else ignore; README)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    # socketserver's default backlog of 5 drops the SYNs of a burst of
    # parallel connections, which then wait a second to retry.
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    fixture = json.load(open(args.fixture)) if args.fixture else {}
    Handler.world = World(fixture, base, {"show_disabled": args.show_disabled,
                                          "modify_clears_stamp": args.modify_clears_stamp,
                                          "page_cap": args.page_cap,
                                          "ignore_id_cursor": False,
                                          "fields": args.fields})
    Handler.args = args
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write(str(server.server_address[1]))
        os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
