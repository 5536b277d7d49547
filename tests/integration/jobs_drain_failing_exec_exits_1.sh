# `vibe jobs run --drain` runs what is due and exits; a job that ends
# discarded makes it exit 1, and `vibe jobs show` has the command's stderr.
. "$(dirname "$0")/lib.sh"
printf 'version: 1\nqueues: { default: 3, other: 1 }\n' > vibe.yaml
ok=$("$VIBE" jobs enqueue exec --args '{"argv": ["true"]}')
bad=$("$VIBE" jobs enqueue exec --args '{"shell": "echo disk quota exceeded >&2; exit 7"}' --max-attempts 1)
other=$("$VIBE" jobs enqueue noop --queue other)
later=$("$VIBE" jobs enqueue noop --in 1h)
status=0
"$VIBE" jobs run --drain --json > out.json || status=$?
expect_eq "exit status" "$status" 1
expect_eq "completed" "$(json_get completed < out.json)" 2
expect_eq "discarded" "$(json_get discarded < out.json)" 1
expect_eq "ok state" "$("$VIBE" jobs show "$ok" --json | json_get state)" completed
expect_eq "other queue" "$("$VIBE" jobs show "$other" --json | json_get state)" completed
expect_eq "future job untouched" "$("$VIBE" jobs show "$later" --json | json_get state)" scheduled
"$VIBE" jobs show "$bad" --json > bad.json
expect_eq "bad state" "$(json_get state < bad.json)" discarded
expect_eq "bad error" "$(json_get errors.0.error < bad.json)" "command exit status 7: disk quota exceeded"

# retry brings it back; wait reports the final state through its exit code
expect_eq "retry" "$("$VIBE" jobs retry --state discarded)" "retried 1 job"
"$VIBE" jobs run --drain > /dev/null || true
status=0
"$VIBE" jobs wait "$bad" --timeout 5s > wait.txt || status=$?
expect_eq "wait exit" "$status" 1
expect_eq "wait output" "$(cat wait.txt)" discarded
"$VIBE" jobs wait "$ok" --timeout 5s > /dev/null || fail "wait on a completed job failed"
status=0
"$VIBE" jobs wait "$later" --timeout 200ms 2> err.txt || status=$?
expect_eq "wait timeout exit" "$status" 1
grep -q "still scheduled after 200ms" err.txt || fail "wait message: $(cat err.txt)"

expect_eq "cancel" "$("$VIBE" jobs cancel "$later")" "cancelled 1 job"
"$VIBE" jobs stats --json > stats.json
expect_eq "stats cancelled" "$(json_get queues.default.cancelled < stats.json)" 1
"$VIBE" jobs list --state completed --json > list.ndjson
expect_eq "list completed" "$(wc -l < list.ndjson)" 2
expect_eq "pruned young jobs" "$("$VIBE" jobs prune)" "pruned 0 jobs"
expect_eq "prune all" "$("$VIBE" jobs prune --older-than 0s --json | json_get pruned)" 4
