# The file source follows a file like tail -F under serve: appended lines,
# lines written to the old file after a rotation (mv + new file), the new
# file, a truncation; after a restart it continues from the stored offset
# without re-reading (no duplicates); from: end skips what was there.
. "$(dirname "$0")/lib.sh"
cat > vibe.yaml <<'YAML'
version: 1
serve: { http: "off" }
sources:
  log:  { type: file, path: app.log, from: start, every: 100ms }
  tail: { type: file, path: other.log, every: 100ms }
YAML
lines() {  # the stored lines of source log, in id order, comma-separated
  "$VIBE" events source:log --json --limit 100 | python3 -c '
import json, sys
evs = sorted((json.loads(l) for l in sys.stdin), key=lambda e: e["id"])
print(",".join(e["content"]["line"] for e in evs))'
}
has_lines() { [ "$(lines)" = "$1" ]; }

printf 'one\ntwo\n' > app.log
printf 'old\n' > other.log
start_serve
wait_until 20 has_lines "one,two"
printf 'three\npart' >> app.log
wait_until 20 has_lines "one,two,three"
printf 'ial\n' >> app.log   # a line written in two pieces is one line
wait_until 20 has_lines "one,two,three,partial"

# Rotation: the logger still writes to the old file, then a new one starts.
mv app.log app.log.1
printf 'four\n' >> app.log.1
printf 'five\n' > app.log
wait_until 20 has_lines "one,two,three,partial,four,five"

# Truncation: the file starts over, shorter than what was read.
printf 'six\n' > app.log
wait_until 20 has_lines "one,two,three,partial,four,five,six"
# A line over 1 MiB is skipped, in whatever pieces it arrives; the next one is not.
python3 -c 'import sys; sys.stdout.write("x" * 700000)' >> app.log
wait_until 20 has_lines "one,two,three,partial,four,five,six"
python3 -c 'import sys; sys.stdout.write("x" * 700000 + "\nafter\n")' >> app.log
wait_until 20 has_lines "one,two,three,partial,four,five,six,after"
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0

# After a restart: only the lines appended meanwhile, nothing read twice.
printf 'seven\n' >> app.log
"$VIBE" poll log --json > restart.json || fail "poll after restart: $(cat restart.json)"
expect_eq "new after restart" "$(json_get new < restart.json)" 1
expect_eq "duplicates after restart" "$(json_get duplicate < restart.json)" 0
expect_eq "all lines once" "$(lines)" "one,two,three,partial,four,five,six,after,seven"
"$VIBE" poll log --json > idle.json || fail "idle poll"
expect_eq "idle poll: new" "$(json_get new < idle.json)" 0
expect_eq "idle poll: duplicates" "$(json_get duplicate < idle.json)" 0

# from: end (the default): what was in the file before the first poll is skipped.
"$VIBE" events source:tail --json > tail.json
expect_eq "from end: nothing old" "$(wc -l < tail.json)" 0
printf 'new\n' >> other.log
"$VIBE" poll tail --json > tail-poll.json || fail "tail poll"
expect_eq "from end: the appended line" "$(json_get new < tail-poll.json)" 1
