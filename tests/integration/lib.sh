# Shared setup for integration scenarios. Source it first:
#   . "$(dirname "$0")/lib.sh"
# It gives each scenario its own temp dir $T (deleted on success, kept and
# printed on failure), `fail`, `wait_until`, `start_server` and `hits`.
# Expects $VIBE (the binary under test) and $FIXTURES (../shared/fixtures).
set -euo pipefail

: "${VIBE:?VIBE must point at the vibe binary}"
: "${FIXTURES:?FIXTURES must point at ../shared/fixtures}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVERS="$HERE/../servers"
T=$(mktemp -d "${TMPDIR:-/tmp}/vibe-it.XXXXXX")
_pids=()
_failed=0

_cleanup() {
  local status=$?
  for pid in "${_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -eq 0 ] && [ "$_failed" -eq 0 ]; then
    rm -rf "$T"
  else
    echo "kept test dir: $T" >&2
  fi
}
trap _cleanup EXIT

fail() {
  _failed=1
  echo "FAIL: $(basename "$0"): $*" >&2
  exit 1
}

# wait_until SECONDS CMD...: re-check CMD until it holds or time is up.
wait_until() {
  local deadline=$((SECONDS + $1)); shift
  until "$@"; do
    (( SECONDS < deadline )) || fail "timed out: $*"
    sleep 0.05  # poll interval, not a wait for an event
  done
}

# start_server NAME ARGS...: starts tests/servers/NAME.py, waits (with a
# deadline) for the base URL it prints on its first line, exports it as
# SERVER_URL.
start_server() {
  local name=$1; shift
  local out="$T/$name.out"
  python3 "$SERVERS/$name.py" "$@" > "$out" 2> "$T/$name.err" &
  _pids+=($!)
  wait_until 10 test -s "$out"
  SERVER_URL=$(head -n 1 "$out")
  export SERVER_URL
}

# hits PATH STATUS: how many times the server answered PATH with STATUS.
hits() {
  python3 -c '
import json, sys, urllib.request
h = json.load(urllib.request.urlopen(sys.argv[1] + "/__hits", timeout=10))
print(h.get(sys.argv[2], {}).get(sys.argv[3], 0))' "$SERVER_URL" "$1" "$2"
}

# json_get FIELD: reads one JSON document from stdin, prints FIELD (a.b.c).
json_get() {
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# expect_eq WHAT GOT WANT
expect_eq() {
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}

cd "$T"

# start_serve [VIBE-BINARY] [ARGS...]: starts `vibe serve` in the background
# (log in $T/serve.log, pid in SERVE_PID) and waits, with a deadline, until
# it answers on its control socket.
start_serve() {
  local bin="$VIBE"
  if [ $# -gt 0 ] && [ -x "$1" ]; then bin=$1; shift; fi
  "$bin" serve "$@" >> "$T/serve.log" 2>&1 &
  SERVE_PID=$!
  _pids+=("$SERVE_PID")
  wait_until 20 serve_answers
}

serve_answers() {
  kill -0 "$SERVE_PID" 2>/dev/null || fail "vibe serve exited early: $(tail -n 20 "$T/serve.log")"
  "$VIBE" status --json > /dev/null 2>&1
}

# stop_serve: SIGTERM, then waits for the exit; sets SERVE_STATUS.
stop_serve() {
  kill -TERM "$SERVE_PID"
  SERVE_STATUS=0
  wait "$SERVE_PID" || SERVE_STATUS=$?
}

# source_field STREAM SOURCE FIELD: a field of one source in `vibe stream status --json`.
source_field() {
  "$VIBE" stream status "$1" --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
for src in s["sources"]:
    if src["id"] == sys.argv[1]:
        v = src[sys.argv[2]]
        print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$2" "$3"
}
