# `vibe jobs enqueue --batch` inserts one job per NDJSON line in one
# transaction and prints the ids; a bad line names its line number and
# inserts nothing; --unique-for returns the existing job.
. "$(dirname "$0")/lib.sh"
printf 'version: 1\n' > vibe.yaml
printf '{"worker":"noop"}\n{"worker":"noop","args":{"n":2},"priority":3,"tags":["a"]}\n\n{"worker":"exec","args":{"argv":["true"]},"in":"1h"}\n' > jobs.ndjson
"$VIBE" jobs enqueue --batch < jobs.ndjson > ids.txt || fail "batch failed"
expect_eq "ids" "$(tr '\n' ' ' < ids.txt)" "1 2 3 "
expect_eq "priority" "$("$VIBE" jobs show 2 --json | json_get priority)" 3
expect_eq "scheduled" "$("$VIBE" jobs show 3 --json | json_get state)" scheduled

printf '{"worker":"noop"}\n{"worker":"nope"}\n' > bad.ndjson
status=0
"$VIBE" jobs enqueue --batch < bad.ndjson 2> err.txt || status=$?
expect_eq "bad batch exit" "$status" 2
grep -q "stdin:2: worker: no worker named 'nope'" err.txt || fail "message: $(cat err.txt)"
expect_eq "nothing inserted" "$("$VIBE" jobs list --json | wc -l)" 3

first=$("$VIBE" jobs enqueue noop --args '{"k":1}' --unique-for 10m)
again=$("$VIBE" jobs enqueue noop --args '{"k":1}' --unique-for 10m --json)
expect_eq "unique id" "$(json_get id <<< "$again")" "$first"
expect_eq "existing" "$(json_get existing <<< "$again")" True
status=0
"$VIBE" jobs enqueue noop --args 'not json' 2> err.txt || status=$?
expect_eq "bad args exit" "$status" 2
