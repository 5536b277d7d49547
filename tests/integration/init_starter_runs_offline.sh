# `vibe init DIR` writes a starter project that validates and polls offline,
# and refuses to overwrite it without --force.
. "$(dirname "$0")/lib.sh"
"$VIBE" init proj > out.txt || fail "init failed"
[ -f proj/vibe.yaml ] && [ -f proj/feeds/example.xml ] || fail "files missing: $(cat out.txt)"
expect_eq "validate" "$("$VIBE" -c proj/vibe.yaml validate)" ok
"$VIBE" -c proj/vibe.yaml poll > poll.txt || fail "poll failed: $(cat poll.txt)"
grep -q "example .*ok .*new=2" poll.txt || fail "poll output: $(cat poll.txt)"
# Relative paths resolve against the config's directory, not the cwd.
[ -f proj/.vibe/vibe.db ] || fail "store not next to the config"
"$VIBE" -c proj/vibe.yaml events stream:news | grep -q "Welcome to vibe" || fail "events missing"
status=0
"$VIBE" init proj 2> err.txt || status=$?
expect_eq "second init exit" "$status" 2
grep -q "exists; use --force" err.txt || fail "message: $(cat err.txt)"
"$VIBE" init proj --force > /dev/null || fail "--force failed"
