#!/usr/bin/env python3
"""Fixture HTTP server for vibe's integration tests (Python stdlib only).

Serves the files under --root on 127.0.0.1 at an OS-chosen port and prints
its base URL as the first line of output, so tests never use fixed ports or
readiness sleeps. Feed files get ETag (sha256 of the bytes) and Last-Modified
headers, and If-None-Match / If-Modified-Since are answered with 304.

Test hooks:
  GET /__hits             JSON {path: {status: count}} of every request so far
  GET /__status/CODE      replies CODE; ?retry_after=N adds Retry-After: N
  GET /__redirect/N/PATH  redirects N times, then to /PATH
  GET /__agent            the User-Agent of the last feed request
  GET /__slow/MS/PATH     counts "/__slow" as "started", waits MS milliseconds,
                          then serves /PATH (hits count under /PATH)
  --no-etag               serve without validators (every GET is a 200)
  --gzip                  gzip bodies when the client accepts it
"""
import argparse
import collections
import email.utils
import gzip
import hashlib
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

TYPES = {
    ".xml": "application/rss+xml",
    ".rss": "application/rss+xml",
    ".atom": "application/atom+xml",
    ".json": "application/feed+json",
}


def make_handler(root, use_etag, use_gzip, hits, lock):
    last_agent = [""]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # keep test output quiet
            pass

        def count(self, path, status):
            with lock:
                hits[path][str(status)] += 1

        def reply(self, status, body=b"", headers=None):
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self):
            self.do_GET()

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            path = url.path
            if path == "/__hits":
                with lock:
                    body = json.dumps(hits).encode()
                return self.reply(200, body, {"Content-Type": "application/json"})
            if path == "/__agent":
                with lock:
                    body = last_agent[0].encode()
                return self.reply(200, body, {"Content-Type": "text/plain"})
            if path.startswith("/__redirect/"):
                _, _, count, rest = path.split("/", 3)
                target = "/" + rest if int(count) <= 1 else "/__redirect/%d/%s" % (int(count) - 1, rest)
                self.count("/__redirect", 302)
                return self.reply(302, b"", {"Location": target})
            if path.startswith("/__slow/"):
                _, _, ms, rest = path.split("/", 3)
                self.count("/__slow", "started")
                time.sleep(int(ms) / 1000.0)
                path = "/" + rest
            if path.startswith("/__status/"):
                status = int(path.rsplit("/", 1)[1])
                query = urllib.parse.parse_qs(url.query)
                headers = {"Content-Type": "text/plain"}
                if "retry_after" in query:
                    headers["Retry-After"] = query["retry_after"][0]
                self.count(path, status)
                return self.reply(status, b"fixture status\n", headers)

            with lock:
                last_agent[0] = self.headers.get("User-Agent", "")
            local = os.path.realpath(os.path.join(root, urllib.parse.unquote(path).lstrip("/")))
            if not local.startswith(os.path.realpath(root) + os.sep) or not os.path.isfile(local):
                self.count(path, 404)
                return self.reply(404, b"not found\n", {"Content-Type": "text/plain"})
            with open(local, "rb") as f:
                body = f.read()
            headers = {"Content-Type": TYPES.get(os.path.splitext(local)[1], "application/octet-stream")}
            if use_etag:
                etag = '"%s"' % hashlib.sha256(body).hexdigest()[:32]
                mtime = int(os.path.getmtime(local))
                last_modified = email.utils.formatdate(mtime, usegmt=True)
                headers["ETag"] = etag
                headers["Last-Modified"] = last_modified
                if self.headers.get("If-None-Match") == etag:
                    self.count(path, 304)
                    return self.reply(304, b"", {"ETag": etag})
            if use_gzip and "gzip" in self.headers.get("Accept-Encoding", ""):
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            self.count(path, 200)
            return self.reply(200, body, headers)

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True)
    parser.add_argument("--no-etag", action="store_true")
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()
    hits = collections.defaultdict(lambda: collections.defaultdict(int))
    lock = threading.Lock()
    handler = make_handler(args.root, not args.no_etag, args.gzip, hits, lock)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
