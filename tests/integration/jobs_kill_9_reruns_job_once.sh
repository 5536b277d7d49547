# kill -9 a runner mid-job: the next runner notices the dead process, puts
# the job back (attempt counted) and runs it exactly once more.
. "$(dirname "$0")/lib.sh"
printf 'version: 1\nqueues: { default: 2 }\n' > vibe.yaml
# The job counts its runs, and on its first run blocks until killed.
cat > job.sh <<'SH'
echo run >> "$1/runs"
[ "$(wc -l < "$1/runs")" -gt 1 ] && exit 0
echo $$ > "$1/job.pid"
touch "$1/started"
exec tail -f /dev/null  # the job's work: it blocks until killed
SH
id=$("$VIBE" jobs enqueue exec --args "{\"argv\": [\"sh\", \"$T/job.sh\", \"$T\"]}")
"$VIBE" jobs run > first.log 2>&1 &
runner=$!
_pids+=("$runner")
wait_until 20 test -f started
expect_eq "state while running" "$("$VIBE" jobs show "$id" --json | json_get state)" executing
kill -9 "$runner"
wait "$runner" 2>/dev/null || true
# The job's command outlives its runner (it has its own process group);
# end it by the pid it recorded.
kill -9 "$(cat job.pid)" 2>/dev/null || true

"$VIBE" jobs run --drain --json > second.json || fail "drain failed: $(cat second.json)"
expect_eq "rescued" "$(json_get rescued < second.json)" 1
expect_eq "completed" "$(json_get completed < second.json)" 1
"$VIBE" jobs show "$id" --json > job.json
expect_eq "state" "$(json_get state < job.json)" completed
expect_eq "attempt" "$(json_get attempt < job.json)" 2
expect_eq "runs" "$(wc -l < runs)" 2
grep -q '"rescued: node ' job.json || fail "no rescue note in errors: $(cat job.json)"
