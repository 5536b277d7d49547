#!/usr/bin/env python3
"""JSON API fixture server for vibe's integration tests (Python stdlib only).

Serves a GitHub REST v3 emulation, a generic JSON API (for "http_api"
sources) and a tiny GraphQL endpoint on 127.0.0.1 at an OS-chosen port, and
prints its base URL (BASE = http://127.0.0.1:PORT; https with --tls CERT KEY) as the first line of
output, so tests never use fixed ports or readiness sleeps. The GitHub bodies
come from the fixture files in --fixtures DIR (resolved against the current
directory).

Every request to a route that does not start with "/__" is recorded (see
GET /__requests) and counted in the concurrency counters (GET /__concurrency).
A request line with an absolute URI ("GET http://some.host:1234/api/link
HTTP/1.1", as an HTTP proxy receives it) is served as if its path were the
path part of that URI, and recorded with "proxied": true and
"host": "some.host:1234". Every 200 JSON response carries
ETag: W/"<sha256 hex of the body>"; a GET whose If-None-Match matches it gets
304 with no body (still recorded).

GitHub REST v3 (OWNER/NAME can be anything, except the note on NAME below):
  GET /repos/OWNER/NAME/issues     issues.json (page 1), with
                                   Link: <BASE/repositories/1/issues?page=2>; rel="next",
                                         <BASE/repositories/1/issues?page=2>; rel="last"
                                   ?page=2 serves page 2 as below
  GET /repositories/ID/issues      ?page=1 (or none) as above; ?page=2 -> issues_page2.json
                                   with Link rel="prev" and rel="first" to page 1;
                                   ?page=3 and later -> [] without Link
                                   ?since=T (either issues route) keeps only items with
                                   updated_at >= T; the Link headers stay unchanged
  GET /repos/OWNER/NAME/pulls      the items of both issue pages that have a
                                   "pull_request" key (whole objects), no Link
  GET /repos/OWNER/NAME/releases   releases.json
  GET /repos/OWNER/NAME/commits    commits.json
  GET /repos/OWNER/no-such-repo/*  404 with error_404.json (a deleted/renamed repository)
  Every GitHub response has X-RateLimit-Limit: 5000, X-RateLimit-Remaining: 4999,
  X-RateLimit-Reset: <now+3600> and Content-Type: application/json; charset=utf-8.

GitHub modes (POST /__github with a JSON object, any combination of keys; 204):
  {"rate_limited_until": EPOCH}    while now < EPOCH every GitHub route answers 403 with
                                   error_rate_limit.json, X-RateLimit-Remaining: 0 and
                                   X-RateLimit-Reset: EPOCH; 0 clears
  {"retry_after": N}               GitHub routes answer 429 with Retry-After: N; 0 clears
  {"malformed": true}              GitHub routes answer 200 with the first 100 bytes of
                                   their normal body; false clears
  {"edit_issue": NUMBER, "updated_at": "...", "title": "...", "body": "...", "state": "..."}
                                   edits that issue in the in-memory copy (page 1 or 2, and
                                   so in pulls too); its page's body and ETag change.
                                   An unknown NUMBER -> 404 and nothing changes.
  {"reset_fixtures": true}         reloads the fixture files (undoes every edit)
  GET /__github                    the current modes as JSON

Generic JSON API: 7 items {"id": "item-N", "title": "Item N",
"updated_at": "2026-01-0NT00:00:00Z", "score": N}, 3 per page (pages 1..3):
  GET /api/link?page=N             JSON array of page N (default 1); Link:
                                   <BASE/api/link?page=N+1>; rel="next" if there is a next page
  GET /api/next_field?page=N       {"data": {"items": [...]}, "next": "BASE/api/next_field?page=N+1"|null}
  GET /api/cursor?cursor=C         {"data": {"items": [...]}, "meta": {"next_cursor": "cN+1"|null}};
                                   no cursor = page 1, "c2" = page 2, "c3" = page 3;
                                   an unknown cursor -> 400
  GET|POST /api/single             {"id": "single-1", "status": "ok", "at": "2026-03-01T12:00:00Z"}
  GET /api/malformed               200 application/json with the body {"data": [1, 2
  GET /api/cached                  the /api/link page 1 body with Cache-Control: max-age=120
  GET /api/items                   {"data": [every item]} in one page (POST /__api changes them)
  POST|PUT|PATCH /sink/NAME        a delivery target: ?fail=N answers 500 to the first N requests
                                   to NAME (?fail=always to all), then 200 {"ok": true, "request": K};
                                   recorded like every route (headers, body); POST /__reset
                                   restarts the counts
  GET /api/status/CODE             replies CODE with {"error": "status CODE"} (no body for
                                   204/304); ?retry_after=N adds Retry-After: N;
                                   ?reset=EPOCH adds X-RateLimit-Remaining: 0, X-RateLimit-Reset: EPOCH
  GET /api/slow?ms=M&id=X          waits M ms (default 200), then [{"id": "slow-X"}] (X default "1")
  POST /__api {"add_item": {...}}  appends an item (204); {"reset_items": true} restores the 7

GraphQL:
  POST /graphql                    {"query": Q, "variables": V}; Q containing the word "boom"
                                   -> 200 with an "errors" array and "data": null; otherwise
                                   200 {"data": {"repository": {"issues": {"nodes": [I_1, I_2]}}}};
                                   a body that is not a JSON object -> 400; Q containing
                                   "paged": 5 nodes P_1..P_5 over 3 pages by variables.after
                                   (none, c1, c2) with pageInfo {hasNextPage, endCursor};
                                   Q containing "malformed": a truncated JSON body

Control routes (neither recorded nor counted):
  GET /__requests[?path=PREFIX]    JSON list of recorded requests (optionally only those whose
                                   path starts with PREFIX), oldest first. Each is
                                   {"method", "path", "query" (raw), "headers" (lowercase
                                   names), "body" (text), "json" (parsed body or null),
                                   "variables" (GraphQL only), "proxied", "host" (the proxy
                                   URI's host[:port], else null), "status" (null until answered)}
  POST /__reset                    clears the recorded requests and sets the concurrency max
                                   to the number in flight (modes are kept); 204
  GET /__concurrency               {"now": N, "max": M}
  Anything else                    404 {"message": "Not Found"}
"""
import argparse
import copy
import hashlib
import http.server
import json
import os
import re
import sys
import threading
import time
import urllib.parse

JSON_TYPE = "application/json"
GITHUB_TYPE = "application/json; charset=utf-8"
PER_PAGE = 3


def dumps(obj):
    """Serialise like the fixture files (2-space indent, trailing newline)."""
    return json.dumps(obj, indent=2, ensure_ascii=False).encode("utf-8") + b"\n"


def compact(obj):
    return json.dumps(obj).encode("utf-8")


def etag_of(body):
    return 'W/"%s"' % hashlib.sha256(body).hexdigest()


def etag_matches(header, etag):
    if not header:
        return False
    bare = etag[2:] if etag.startswith("W/") else etag
    for candidate in header.split(","):
        candidate = candidate.strip()
        if candidate == "*" or candidate == etag:
            return True
        if candidate.startswith("W/"):
            candidate = candidate[2:]
        if candidate == bare:
            return True
    return False


def default_items():
    return [
        {"id": "item-%d" % n, "title": "Item %d" % n,
         "updated_at": "2026-01-0%dT00:00:00Z" % n, "score": n}
        for n in range(1, 8)
    ]


class State:
    """Everything the handlers share; guarded by one lock."""

    def __init__(self, fixtures):
        self.fixtures = fixtures
        self.lock = threading.Lock()
        self.requests = []
        self.sink_counts = {}
        self.now = 0
        self.max = 0
        self.rate_limited_until = 0
        self.retry_after = 0
        self.malformed = False
        self.items = default_items()
        self.load_fixtures()

    def read(self, name):
        with open(os.path.join(self.fixtures, name), "rb") as f:
            return f.read()

    def load_fixtures(self):
        raw1 = self.read("issues.json")
        raw2 = self.read("issues_page2.json")
        # Raw bytes are served untouched until an edit, so the ETags match headers.txt.
        self.issue_raw = [raw1, raw2]
        self.issue_pages = [json.loads(raw1), json.loads(raw2)]
        self.releases = self.read("releases.json")
        self.commits = self.read("commits.json")
        self.rate_limit_body = self.read("error_rate_limit.json")
        self.not_found_body = self.read("error_404.json")


def make_handler(state):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        # ---- plumbing -------------------------------------------------

        def base(self):
            return "%s://127.0.0.1:%d" % (self.server.scheme, self.server.server_address[1])

        def read_body(self):
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                chunks = []
                while True:
                    size_line = self.rfile.readline()
                    if not size_line:
                        break
                    size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        break
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()  # CRLF after each chunk
                return b"".join(chunks)
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length > 0 else b""

        def reply(self, status, body=b"", headers=None):
            if status in (204, 304):
                body = b""
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.replied = True
            if self.record is not None:
                with state.lock:
                    self.record["status"] = status
            if body and self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()

        def reply_json(self, status, body, headers=None, content_type=JSON_TYPE):
            """Send JSON; a 200 gets an ETag and a GET can be answered with 304."""
            headers = dict(headers or {})
            if status == 200:
                etag = etag_of(body)
                headers["ETag"] = etag
                if self.command in ("GET", "HEAD") and etag_matches(
                        self.headers.get("If-None-Match"), etag):
                    keep = {k: v for k, v in headers.items()
                            if k.lower() in ("etag", "cache-control") or k.lower().startswith("x-ratelimit")}
                    return self.reply(304, b"", keep)
            headers["Content-Type"] = content_type
            return self.reply(status, body, headers)

        def not_found(self):
            return self.reply_json(404, compact({"message": "Not Found"}))

        def do_GET(self):
            self.handle_any()

        def do_HEAD(self):
            self.handle_any()

        def do_POST(self):
            self.handle_any()

        def do_PUT(self):
            self.handle_any()

        def do_PATCH(self):
            self.handle_any()

        def do_DELETE(self):
            self.handle_any()

        def handle_any(self):
            self.replied = False
            self.record = None
            counted = False
            try:
                raw_body = self.read_body()
                target = self.path
                proxied = False
                proxy_host = None
                if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", target):
                    parts = urllib.parse.urlsplit(target)
                    proxied = True
                    proxy_host = parts.netloc
                    path = parts.path or "/"
                    query = parts.query
                else:
                    parts = urllib.parse.urlsplit(target)
                    path = parts.path or "/"
                    query = parts.query
                self.route_path = path
                self.query_string = query
                self.query = {k: v[0] for k, v in
                              urllib.parse.parse_qs(query, keep_blank_values=True).items()}
                self.body = raw_body

                if path.startswith("/__"):
                    return self.control(path)

                text = raw_body.decode("utf-8", errors="replace")
                try:
                    parsed = json.loads(text) if text.strip() else None
                except ValueError:
                    parsed = None
                headers = {}
                for name, value in self.headers.items():
                    name = name.lower()
                    headers[name] = headers[name] + ", " + value if name in headers else value
                self.record = {
                    "method": self.command, "path": path, "query": query,
                    "headers": headers, "body": text, "json": parsed,
                    "proxied": proxied, "host": proxy_host, "status": None,
                }
                with state.lock:
                    state.requests.append(self.record)
                    state.now += 1
                    state.max = max(state.max, state.now)
                counted = True
                self.route(path)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except Exception as exc:  # never let a handler bug kill the server
                if not self.replied:
                    try:
                        self.reply(500, compact({"message": "fixture server error: %r" % (exc,)}),
                                   {"Content-Type": JSON_TYPE})
                    except Exception:
                        pass
                self.close_connection = True
                print("api_server: error handling %s %s: %r" % (self.command, self.path, exc),
                      file=sys.stderr, flush=True)
            finally:
                if counted:
                    with state.lock:
                        state.now -= 1

        # ---- control routes ------------------------------------------

        def control_json(self):
            try:
                payload = json.loads(self.body.decode("utf-8") or "{}")
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                self.reply_json(400, compact({"message": "expected a JSON object"}))
                return None
            return payload

        def control(self, path):
            method = self.command
            if path == "/__requests" and method in ("GET", "HEAD"):
                prefix = self.query.get("path", "")
                with state.lock:
                    body = compact([r for r in state.requests if r["path"].startswith(prefix)])
                return self.reply(200, body, {"Content-Type": JSON_TYPE})
            if path == "/__reset" and method == "POST":
                with state.lock:
                    state.requests = []
                    state.sink_counts = {}
                    state.max = state.now
                return self.reply(204)
            if path == "/__concurrency" and method in ("GET", "HEAD"):
                with state.lock:
                    body = compact({"now": state.now, "max": state.max})
                return self.reply(200, body, {"Content-Type": JSON_TYPE})
            if path == "/__github" and method in ("GET", "HEAD"):
                with state.lock:
                    body = compact({"rate_limited_until": state.rate_limited_until,
                                    "retry_after": state.retry_after,
                                    "malformed": state.malformed})
                return self.reply(200, body, {"Content-Type": JSON_TYPE})
            if path == "/__github" and method == "POST":
                payload = self.control_json()
                if payload is None:
                    return
                return self.github_control(payload)
            if path == "/__api" and method == "POST":
                payload = self.control_json()
                if payload is None:
                    return
                with state.lock:
                    if payload.get("reset_items"):
                        state.items = default_items()
                    if "add_item" in payload:
                        state.items.append(payload["add_item"])
                return self.reply(204)
            return self.reply_json(404, compact({"message": "Not Found"}))

        def github_control(self, payload):
            with state.lock:
                if payload.get("reset_fixtures"):
                    state.load_fixtures()
                if "edit_issue" in payload:
                    number = int(payload["edit_issue"])
                    fields = {k: payload[k] for k in ("updated_at", "title", "body", "state")
                              if k in payload}
                    found = False
                    for index, page in enumerate(state.issue_pages):
                        for issue in page:
                            if issue.get("number") == number:
                                issue.update(fields)
                                state.issue_raw[index] = dumps(page)
                                found = True
                    if not found:
                        body = compact({"message": "no issue #%d in the fixtures" % number})
                        return self.reply(404, body, {"Content-Type": JSON_TYPE})
                if "rate_limited_until" in payload:
                    state.rate_limited_until = int(payload["rate_limited_until"] or 0)
                if "retry_after" in payload:
                    state.retry_after = int(payload["retry_after"] or 0)
                if "malformed" in payload:
                    state.malformed = bool(payload["malformed"])
            return self.reply(204)

        # ---- recorded routes -----------------------------------------

        def route(self, path):
            method = self.command
            is_get = method in ("GET", "HEAD")
            m = re.match(r"^/repos/([^/]+)/([^/]+)/(issues|pulls|releases|commits)/?$", path)
            if m and is_get:
                return self.github(m.group(3), m.group(2))
            m = re.match(r"^/repositories/(\d+)/issues/?$", path)
            if m and is_get:
                return self.github("issues", None)
            if path == "/graphql" and method == "POST":
                return self.graphql()
            if path == "/api/single" and method in ("GET", "HEAD", "POST"):
                return self.reply_json(200, compact(
                    {"id": "single-1", "status": "ok", "at": "2026-03-01T12:00:00Z"}))
            m = re.match(r"^/sink/([A-Za-z0-9_-]+)$", path)
            if m and method in ("POST", "PUT", "PATCH"):
                # A delivery target: fails the first `fail` requests to this
                # name (every one with fail=always), then answers 200.
                name = m.group(1)
                with state.lock:
                    seen = state.sink_counts.get(name, 0) + 1
                    state.sink_counts[name] = seen
                failing = self.query.get("fail", "0")
                if failing == "always" or seen <= int(failing or 0):
                    return self.reply_json(500, compact({"error": "sink %s: failing request %d" % (name, seen)}))
                return self.reply_json(200, compact({"ok": True, "request": seen}))
            if not is_get:
                return self.not_found()
            if path == "/api/items":
                with state.lock:
                    items = list(state.items)
                return self.reply_json(200, compact({"data": items}))
            if path == "/api/link":
                page = self.page_number()
                if page is None:
                    return
                items, has_next = self.api_page(page)
                headers = {}
                if has_next:
                    headers["Link"] = '<%s/api/link?page=%d>; rel="next"' % (self.base(), page + 1)
                return self.reply_json(200, compact(items), headers)
            if path == "/api/next_field":
                page = self.page_number()
                if page is None:
                    return
                items, has_next = self.api_page(page)
                nxt = "%s/api/next_field?page=%d" % (self.base(), page + 1) if has_next else None
                return self.reply_json(200, compact({"data": {"items": items}, "next": nxt}))
            if path == "/api/cursor":
                cursor = self.query.get("cursor", "")
                if cursor == "":
                    page = 1
                else:
                    m = re.match(r"^c(\d+)$", cursor)
                    if not m or int(m.group(1)) < 1:
                        return self.reply_json(400, compact({"error": "bad cursor %r" % cursor}))
                    page = int(m.group(1))
                items, has_next = self.api_page(page)
                nxt = "c%d" % (page + 1) if has_next else None
                return self.reply_json(200, compact(
                    {"data": {"items": items}, "meta": {"next_cursor": nxt}}))
            if path == "/api/malformed":
                return self.reply_json(200, b'{"data": [1, 2')
            if path == "/api/cached":
                items, _ = self.api_page(1)
                return self.reply_json(200, compact(items), {"Cache-Control": "max-age=120"})
            m = re.match(r"^/api/status/(\d{3})$", path)
            if m:
                code = int(m.group(1))
                if not 200 <= code <= 599:
                    return self.reply_json(400, compact({"error": "unsupported status %d" % code}))
                headers = {}
                if "retry_after" in self.query:
                    headers["Retry-After"] = self.query["retry_after"]
                if "reset" in self.query:
                    headers["X-RateLimit-Remaining"] = "0"
                    headers["X-RateLimit-Reset"] = self.query["reset"]
                return self.reply_json(code, compact({"error": "status %d" % code}), headers)
            if path == "/api/slow":
                ms = int(self.query.get("ms") or 200)
                time.sleep(ms / 1000.0)
                ident = self.query.get("id", "1")
                return self.reply_json(200, compact([{"id": "slow-%s" % ident}]))
            return self.not_found()

        def page_number(self):
            try:
                page = int(self.query.get("page") or 1)
                if page < 1:
                    raise ValueError
                return page
            except ValueError:
                self.reply_json(400, compact({"error": "bad page %r" % self.query.get("page")}))
                return None

        def api_page(self, page):
            with state.lock:
                items = copy.deepcopy(state.items[(page - 1) * PER_PAGE:page * PER_PAGE])
                has_next = len(state.items) > page * PER_PAGE
            return items, has_next

        # ---- GitHub ---------------------------------------------------

        def github(self, kind, repo_name):
            now = int(time.time())
            headers = {
                "X-RateLimit-Limit": "5000",
                "X-RateLimit-Remaining": "4999",
                "X-RateLimit-Reset": str(now + 3600),
            }
            with state.lock:
                limited_until = state.rate_limited_until
                retry_after = state.retry_after
                malformed = state.malformed
            if limited_until and now < limited_until:
                headers["X-RateLimit-Remaining"] = "0"
                headers["X-RateLimit-Reset"] = str(limited_until)
                return self.reply_json(403, state.rate_limit_body, headers, GITHUB_TYPE)
            if retry_after:
                headers["Retry-After"] = str(retry_after)
                body = compact({
                    "message": "You have exceeded a secondary rate limit. "
                               "Please wait a few minutes before you try again.",
                    "documentation_url": "https://docs.github.com/rest/overview/"
                                         "rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "429"})
                return self.reply_json(429, body, headers, GITHUB_TYPE)
            if repo_name == "no-such-repo":
                return self.reply_json(404, state.not_found_body, headers, GITHUB_TYPE)

            base = self.base()
            with state.lock:
                if kind == "issues":
                    page = self.query.get("page") or "1"
                    page = int(page) if page.isdigit() and int(page) >= 1 else 1
                    link1 = "%s/repositories/1/issues?page=1" % base
                    link2 = "%s/repositories/1/issues?page=2" % base
                    if page <= 2:
                        items = state.issue_pages[page - 1]
                        body = state.issue_raw[page - 1]
                        since = self.query.get("since")
                        if since:
                            kept = [i for i in items if str(i.get("updated_at", "")) >= since]
                            if len(kept) != len(items):
                                body = dumps(kept)
                        if page == 1:
                            headers["Link"] = '<%s>; rel="next", <%s>; rel="last"' % (link2, link2)
                        else:
                            headers["Link"] = '<%s>; rel="prev", <%s>; rel="first"' % (link1, link1)
                    else:
                        body = dumps([])
                elif kind == "pulls":
                    body = dumps([i for page in state.issue_pages for i in page
                                  if "pull_request" in i])
                elif kind == "releases":
                    body = state.releases
                else:
                    body = state.commits
            if malformed:
                body = body[:100]
            return self.reply_json(200, body, headers, GITHUB_TYPE)

        # ---- GraphQL --------------------------------------------------

        def graphql(self):
            try:
                payload = json.loads(self.body.decode("utf-8"))
            except ValueError:
                payload = None
            if not isinstance(payload, dict):
                return self.reply_json(400, compact({"message": "Problems parsing JSON"}))
            query = payload.get("query")
            with state.lock:
                self.record["variables"] = payload.get("variables")
            variables = payload.get("variables") or {}
            if isinstance(query, str) and re.search(r"\bmalformed\b", query):
                return self.reply_json(200, b'{"data": {"repository": ')
            if isinstance(query, str) and re.search(r"\bpaged\b", query):
                after = variables.get("after") if isinstance(variables, dict) else None
                pages = {None: (["P_1", "P_2"], "c1"), "c1": (["P_3", "P_4"], "c2"), "c2": (["P_5"], None)}
                if after not in pages:
                    return self.reply_json(200, compact({"errors": [{"message": "bad cursor %r" % after}]}))
                ids, cursor = pages[after]
                body = {"data": {"repository": {"issues": {
                    "nodes": [{"id": i, "title": i} for i in ids],
                    "pageInfo": {"hasNextPage": cursor is not None, "endCursor": cursor}}}}}
                return self.reply_json(200, compact(body))
            if isinstance(query, str) and re.search(r"\bboom\b", query):
                body = {"errors": [{"message": "Cannot query field \"boom\" on type \"Repository\".",
                                    "locations": [{"line": 1, "column": 30}]}],
                        "data": None}
            else:
                body = {"data": {"repository": {"issues": {"nodes": [
                    {"id": "I_1", "number": 1, "title": "First", "updatedAt": "2026-02-01T00:00:00Z"},
                    {"id": "I_2", "number": 2, "title": "Second", "updatedAt": "2026-02-02T00:00:00Z"},
                ]}}}}
            return self.reply_json(200, compact(body))

    return Handler


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    scheme = "http"
    request_queue_size = 128  # parallel slow requests must not queue in the backlog


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--fixtures", required=True,
                        help="folder with the GitHub fixture files (relative to the current directory)")
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"),
                        help="serve https with this certificate and key (PEM files)")
    args = parser.parse_args()
    fixtures = os.path.abspath(args.fixtures)
    state = State(fixtures)
    server = Server(("127.0.0.1", 0), make_handler(state))
    if args.tls:
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    print("%s://127.0.0.1:%d" % (server.scheme, server.server_address[1]), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
