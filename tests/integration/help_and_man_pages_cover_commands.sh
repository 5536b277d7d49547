# Every command answers --help; --version and `vibe help` work; the man pages
# render without warnings and document every command, every source option,
# every serve: and fetch: key and every request of the control socket protocol.
. "$(dirname "$0")/lib.sh"
"$VIBE" --version | grep -qE '^vibe [0-9]+\.[0-9]+\.[0-9]+$' || fail "version: $("$VIBE" --version)"
"$VIBE" help | grep -q "poll" || fail "help lists no commands"
for cmd in validate init poll events stats replay "feed parse" sources "source test" "source list" "jobs list" \
    "jobs show" "jobs enqueue" "jobs retry" "jobs cancel" "jobs prune" "jobs stats" "jobs run" "jobs wait" \
    "cron next" serve status reload "stream list" "stream start" "stream pause" "stream stop" "stream status" tail \
    ingest run "pipeline list" "pipeline show" "pipeline replay" sinks help; do
  # shellcheck disable=SC2086
  "$VIBE" $cmd --help > /dev/null || fail "'vibe $cmd --help' failed"
done
status=0
"$VIBE" no-such-command 2> err.txt || status=$?
expect_eq "unknown command exit" "$status" 2
status=0
"$VIBE" > /dev/null 2>&1 || status=$?
expect_eq "no command exit" "$status" 2

for page in vibe.1 vibe-jobs.1 vibe-serve.1 vibe-stream.1 vibe-tail.1 vibe-ingest.1 vibe.yaml.5; do
  groff -man -Tutf8 -ww -z "$VIBE_SRC/man/$page" 2> warn.txt || fail "$page does not render"
  [ ! -s warn.txt ] || fail "$page warnings: $(cat warn.txt)"
done
groff -man -Tutf8 "$VIBE_SRC/man/vibe.1" 2>/dev/null | sed 's/.\x08//g' > vibe.1.txt
for cmd in validate init poll events stats replay "feed parse" sources "source test" "source list" jobs "cron next" serve \
    stream status reload tail ingest "run pipeline:" "pipeline list" "pipeline show" "pipeline replay" sinks; do
  grep -q "vibe $cmd" vibe.1.txt || fail "vibe(1) does not document 'vibe $cmd'"
done
groff -man -Tutf8 "$VIBE_SRC/man/vibe-jobs.1" 2>/dev/null | sed 's/.\x08//g' > vibe-jobs.1.txt
for cmd in list show enqueue retry cancel prune stats run wait; do
  grep -q "vibe jobs $cmd" vibe-jobs.1.txt || fail "vibe-jobs(1) does not document 'vibe jobs $cmd'"
done
"$VIBE" jobs enqueue --help > /dev/null || fail "enqueue help"
groff -man -Tutf8 "$VIBE_SRC/man/vibe-stream.1" 2>/dev/null | sed 's/.\x08//g' > vibe-stream.1.txt
for cmd in list start pause stop status; do
  grep -q "vibe stream $cmd" vibe-stream.1.txt || fail "vibe-stream(1) does not document 'vibe stream $cmd'"
done
# vibe-serve(1) documents every request of the control socket protocol in
# its own section, each under a tag {"cmd": "NAME", ...}.
groff -man -Tutf8 "$VIBE_SRC/man/vibe-serve.1" 2>/dev/null | sed 's/.\x08//g' > vibe-serve.1.txt
for cmd in serve status reload; do
  grep -q "vibe $cmd" vibe-serve.1.txt || fail "vibe-serve(1) does not document 'vibe $cmd'"
done
sed -n '/^CONTROL SOCKET PROTOCOL$/,/^[A-Z]/p' vibe-serve.1.txt > protocol.txt
for cmd in ping status stream.list stream.status stream.start stream.pause stream.stop reload ingest tail \
    pipeline.recent; do
  grep -qE "^ {7}\{\"cmd\": \"$cmd\"" protocol.txt || fail "vibe-serve(1) does not document the control command '$cmd'"
done
# vibe-tail(1) documents every option `vibe tail --help` lists.
groff -man -Tutf8 "$VIBE_SRC/man/vibe-tail.1" 2>/dev/null | sed 's/.\x08//g' > vibe-tail.1.txt
for option in $("$VIBE" tail --help | grep -oE -- '--[a-z][a-z-]+' | grep -vx -- '--help' | sort -u); do
  grep -qE -- "^ {7}.*$option" vibe-tail.1.txt || fail "vibe-tail(1) does not document $option"
done
# vibe-ingest(1) documents every option `vibe ingest --help` lists, each as
# a tag of its OPTIONS section (body text is indented 7 columns too).
groff -man -Tutf8 "$VIBE_SRC/man/vibe-ingest.1" 2>/dev/null | sed 's/.\x08//g' > vibe-ingest.1.txt
sed -n '/^OPTIONS$/,/^[A-Z]/p' vibe-ingest.1.txt > ingest-options.txt
for option in $("$VIBE" ingest --help | grep -oE -- '--[a-z][a-z-]+' | grep -vx -- '--help' | sort -u); do
  grep -qE -- "^ {7}$option( |\$)" ingest-options.txt || fail "vibe-ingest(1) does not document $option"
done
groff -man -Tutf8 "$VIBE_SRC/man/vibe.yaml.5" 2>/dev/null | sed 's/.\x08//g' > vibe.yaml.5.txt
# Every option of every source kind is documented in its subsection of
# SOURCE TYPES in vibe.yaml(5), and every option of every sink kind in its
# subsection of PIPELINES.
check_options() {  # check_options KINDS.ndjson SECTION
  python3 - "$1" vibe.yaml.5.txt "$2" <<'PY'
import json, re, sys
page = open(sys.argv[2]).read()
scope = re.search(r"\n" + re.escape(sys.argv[3]) + r"\n(.*?)\n[A-Z]", page, re.S)
assert scope, "no section " + sys.argv[3]
missing = []
for line in open(sys.argv[1]):
    kind = json.loads(line)
    section = re.search(r"\n   " + re.escape(kind["type"]) + r"\n(.*?)(\n   \S|$)", scope.group(1), re.S)
    if not section:
        missing.append("type " + kind["type"])
        continue
    for option in kind["options"]:
        if not re.search(r"\b" + re.escape(option["name"]) + r" \(", section.group(1)):
            missing.append(kind["type"] + "." + option["name"])
if missing:
    print("undocumented:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
}
"$VIBE" sources --json > kinds.ndjson
[ -s kinds.ndjson ] || fail "vibe sources printed nothing"
check_options kinds.ndjson "SOURCE TYPES" || fail "vibe.yaml(5) is out of step with the source option tables"
"$VIBE" sinks --json > sinks.ndjson
[ -s sinks.ndjson ] || fail "vibe sinks printed nothing"
check_options sinks.ndjson PIPELINES || fail "vibe.yaml(5) is out of step with the sink option tables"
# Every key of the serve: block (k_serve_options in src/core/config.cpp) is
# documented under "serve" in vibe.yaml(5).
python3 - "$VIBE_SRC/src/core/config.cpp" vibe.yaml.5.txt <<'PY' || fail "vibe.yaml(5) is out of step with k_serve_options"
import re, sys
table = re.search(r"k_serve_options\[\] = \{(.*?)\n\};", open(sys.argv[1]).read(), re.S)
keys = re.findall(r'\{"(\w+)", OptionType::', table.group(1)) if table else []
assert keys, "no k_serve_options table found"
page = open(sys.argv[2]).read()
section = re.search(r"\n       serve  (.*?)\n       \S", page, re.S)
assert section, "no serve entry in TOP-LEVEL KEYS"
missing = [k for k in keys if not re.search(r"\b" + re.escape(k) + r" \(", section.group(1))]
if missing:
    print("undocumented serve keys:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
# Every key of the fetch: block (k_fetch_options in src/core/config.cpp) is
# documented under "fetch" in vibe.yaml(5).
python3 - "$VIBE_SRC/src/core/config.cpp" vibe.yaml.5.txt <<'PY' || fail "vibe.yaml(5) is out of step with k_fetch_options"
import re, sys
table = re.search(r"k_fetch_options\[\] = \{(.*?)\n\};", open(sys.argv[1]).read(), re.S)
keys = re.findall(r'\{"(\w+)", OptionType::', table.group(1)) if table else []
assert keys, "no k_fetch_options table found"
page = open(sys.argv[2]).read()
section = re.search(r"\n       fetch  (.*?)\n       \S", page, re.S)
assert section, "no fetch entry in TOP-LEVEL KEYS"
missing = [k for k in keys if not re.search(r"\b" + re.escape(k) + r" \(", section.group(1))]
if missing:
    print("undocumented fetch keys:", ", ".join(missing), file=sys.stderr)
    sys.exit(1)
PY
