# Slow and idle HTTP clients do not stop others being served: with 1,000 idle
# connections and a slow-loris client (a header byte every 200 ms) open,
# curl still gets answers; serve closes each of them once the header timeout
# passes. Keep-alive and pipelined requests are answered in order. Above
# http_max_connections new connections are closed at once.
. "$(dirname "$0")/lib.sh"
cat > vibe.yaml <<'YAML'
version: 1
serve:
  http: 127.0.0.1:0
  http_header_timeout: 3s
sources:
  hooks: { type: webhook }
YAML
# hold.py HOST PORT N OUT: opens N idle connections and one slow-loris client,
# then writes OUT when serve has closed every one of them (with how long
# each lasted), or after 60 s.
cat > hold.py <<'PY'
import json, selectors, socket, sys, time
host, port, n, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
sel = selectors.DefaultSelector()
opened = {}
for i in range(n):
    s = socket.create_connection((host, port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, i)
    opened[i] = time.monotonic()
slow = socket.create_connection((host, port))
head = b"POST /webhooks/hooks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"p" * 400 + b"\r\n\r\n"
start = time.monotonic()
open("ready", "w").write("%d\n" % n)
closed, slow_closed_after, sent = {}, None, 0
while time.monotonic() - start < 60 and (len(closed) < n or slow_closed_after is None):
    for key, _ in sel.select(timeout=0.2):
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            closed[key.data] = time.monotonic() - opened[key.data]
            sel.unregister(key.fileobj)
            key.fileobj.close()
    if slow_closed_after is None:
        try:
            slow.send(head[sent:sent + 1])  # one byte each round (~200 ms)
            sent += 1
        except OSError:
            slow_closed_after = time.monotonic() - start
json.dump({"closed": len(closed), "max_idle_s": max(closed.values(), default=None),
           "slow_closed_after_s": slow_closed_after, "slow_sent": sent, "head_len": len(head)}, open(out, "w"))
PY
start_serve
addr=$("$VIBE" status --json | json_get http)
host=${addr%:*}; port=${addr##*:}
python3 hold.py "$host" "$port" 1000 held.json &
holder=$!
_pids+=("$holder")
wait_until 30 test -s ready
# Others are served meanwhile: 20 requests, each within 2 s.
for i in $(seq 20); do
  code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -d "{\"i\":$i}" \
    "http://$addr/webhooks/hooks") || true
  expect_eq "request $i while 1000 connections idle" "$code" 202
done
wait "$holder" || fail "hold.py failed"
expect_eq "idle connections closed by serve" "$(json_get closed < held.json)" 1000
python3 - held.json <<'PY' || fail "slow clients not cut off in time: $(cat held.json)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["max_idle_s"] < 10, r                 # header timeout 3 s (+ slack)
assert r["slow_closed_after_s"] is not None and r["slow_closed_after_s"] < 10, r
assert r["slow_sent"] < r["head_len"], r       # cut off before its header was complete
PY
# Keep-alive and pipelining: three requests in one write on one connection
# are answered in order (the answer to the first waits for its commit); the
# last asks to close, and serve closes after answering it.
python3 - "$host" "$port" <<'PY' || fail "pipelined requests not answered in order"
import json, socket, sys
host, port = sys.argv[1], int(sys.argv[2])
def req(method, path, body=b"", extra=""):
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: {len(body)}\r\n\r\n"
    return head.encode() + body
s = socket.create_connection((host, port), timeout=10)
s.sendall(req("POST", "/webhooks/hooks", b'{"n":"p1"}', "X-Request-Id: pipe-1\r\n") +
          req("GET", "/healthz") +
          req("POST", "/webhooks/hooks", b'{"n":"p2"}', "X-Request-Id: pipe-2\r\nConnection: close\r\n"))
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break  # serve closed the connection after the third answer
    data += chunk
answers = []
while data:
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    length = int(headers["content-length"])
    answers.append((int(lines[0].split()[1]), headers, rest[:length]))
    data = rest[length:]
assert [a[0] for a in answers] == [202, 200, 202], answers
assert json.loads(answers[0][2])["accepted"] == 1, answers[0]
assert json.loads(answers[1][2]) == {"status": "ok"}, answers[1]
assert answers[2][1].get("connection", "").lower() == "close", answers[2]
assert "connection" not in answers[0][1], answers[0]  # kept alive
PY
expect_eq "stored" "$("$VIBE" stats source:hooks --json | json_get total)" 22
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0

# The connection limit: 30 connections against a limit of 20; the last 10 are
# closed at once, and once the idle ones time out others are served again.
cat > vibe.yaml <<'YAML'
version: 1
serve:
  http: 127.0.0.1:0
  http_header_timeout: 2s
  http_max_connections: 20
sources:
  hooks: { type: webhook }
YAML
start_serve
addr=$("$VIBE" status --json | json_get http)
python3 - "${addr%:*}" "${addr##*:}" <<'PY' || fail "connection limit not applied"
import socket, sys, time
host, port = sys.argv[1], int(sys.argv[2])
held = [socket.create_connection((host, port)) for _ in range(20)]
extra = [socket.create_connection((host, port)) for _ in range(10)]
refused = 0
for s in extra:
    s.settimeout(1.5)
    try:
        refused += s.recv(1) == b""
    except socket.timeout:
        pass
    except OSError:
        refused += 1
assert refused == 10, refused
PY
served_again() { [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://$addr/healthz")" = 200 ]; }
wait_until 15 served_again
stop_serve
expect_eq "serve exit status" "$SERVE_STATUS" 0
