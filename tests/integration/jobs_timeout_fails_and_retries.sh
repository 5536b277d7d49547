# A job that outlives its timeout is stopped, counts as a failed attempt and
# is retried; the command is killed, not left running.
. "$(dirname "$0")/lib.sh"
printf 'version: 1\n' > vibe.yaml
# The command blocks until it is killed, so only the 300ms timeout ends it.
id=$("$VIBE" jobs enqueue exec --args "{\"shell\": \"touch $T/began; tail -f /dev/null; touch $T/finished\"}" --timeout 300ms --max-attempts 2 --backoff fixed)
start=$SECONDS
"$VIBE" jobs run --drain > out.txt || fail "drain exited non-zero with attempts left: $(cat out.txt)"
(( SECONDS - start < 20 )) || fail "the timeout did not stop the job"
grep -q "retryable=1" out.txt || fail "summary: $(cat out.txt)"
"$VIBE" jobs show "$id" --json > job.json
expect_eq "state" "$(json_get state < job.json)" retryable
expect_eq "attempt" "$(json_get attempt < job.json)" 1
grep -q "timed out after 300ms" job.json || fail "error: $(cat job.json)"
[ -f began ] || fail "the command never ran"
[ ! -f finished ] || fail "the command was not killed"
"$VIBE" jobs show "$id" | grep -q "^error         attempt 1 at .*: timed out after 300ms" || fail "show text: $("$VIBE" jobs show "$id")"
