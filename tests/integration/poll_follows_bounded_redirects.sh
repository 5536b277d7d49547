# Redirects are followed up to a bound; a longer chain is an error. Requests
# carry vibe's User-Agent.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
cat > vibe.yaml <<YAML
sources:
  moved: { type: rss, url: "$SERVER_URL/__redirect/3/rss1_rdf.xml" }
  loop: { type: rss, url: "$SERVER_URL/__redirect/9/rss1_rdf.xml" }
YAML
status=0
"$VIBE" poll --json > out.ndjson || status=$?
expect_eq "exit status" "$status" 1
expect_eq "moved new" "$(grep '"moved"' out.ndjson | json_get new)" 5
expect_eq "loop outcome" "$(grep '"loop"' out.ndjson | json_get outcome)" error
grep '"loop"' out.ndjson | grep -qi "redirect" || fail "loop error: $(cat out.ndjson)"
agent=$(python3 -c 'import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1] + "/__agent").read().decode())' "$SERVER_URL")
case "$agent" in vibe/*) ;; *) fail "User-Agent: '$agent'" ;; esac
# Relative links in the redirected feed resolve against where it ended up.
"$VIBE" events source:moved --json -n 1 | grep -q '"url":"https://bitstream.example/' || fail "links"
