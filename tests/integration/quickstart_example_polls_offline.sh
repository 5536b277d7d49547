# The bundled example polls offline and shows its events, as the README says.
. "$(dirname "$0")/lib.sh"
cp -r "$VIBE_SRC/examples/quickstart" qs
rm -rf qs/.vibe
expect_eq "validate" "$("$VIBE" -c qs/vibe.yaml validate)" ok
"$VIBE" -c qs/vibe.yaml poll > poll.txt || fail "poll failed: $(cat poll.txt)"
grep -q "^3 sources: new=9 duplicate=0 skipped=0 failed=0$" poll.txt || fail "summary: $(cat poll.txt)"
"$VIBE" -c qs/vibe.yaml events stream:quickstart > events.txt
expect_eq "events" "$(wc -l < events.txt)" 9
head -n 1 events.txt | grep -q "^2026-11-21T19:10:00Z  workshop .*Sharpening day" || fail "newest first: $(head -n 2 events.txt)"
expect_eq "local stream" "$("$VIBE" -c qs/vibe.yaml stats stream:local --json | json_get total)" 4
"$VIBE" -c qs/vibe.yaml poll > again.txt
grep -q "^3 sources: new=0 duplicate=9 skipped=0 failed=0$" again.txt || fail "second poll: $(cat again.txt)"
