# `vibe feed parse` shows a feed as vibe sees it, from a file or a URL.
. "$(dirname "$0")/lib.sh"
"$VIBE" feed parse "$FIXTURES/feeds/samples/atom_blog.xml" --json > blog.json || fail "parse failed"
expect_eq "title" "$(json_get title < blog.json)" "Kestrel Field Notes"
expect_eq "entries" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["entries"]))' < blog.json)" 6
expect_eq "entry author" "$(json_get entries.0.author < blog.json)" "Ines Kowalczyk"
"$VIBE" feed parse "$FIXTURES/feeds/samples/rss2_iso-8859-1.xml" | grep -q "^title     Rheinland-Kurier · Kultur$" \
  || fail "latin-1 title: $("$VIBE" feed parse "$FIXTURES/feeds/samples/rss2_iso-8859-1.xml" | head -n 3)"
start_server feed_server --root "$FIXTURES/feeds/samples"
expect_eq "from URL" "$("$VIBE" feed parse "$SERVER_URL/jsonfeed.json" --json | json_get title)" "Harbor Notes"
status=0
"$VIBE" feed parse "$FIXTURES/feeds/samples/rss2_truncated.xml" 2> err.txt || status=$?
expect_eq "truncated exit" "$status" 1
grep -q "line 26" err.txt || fail "no line: $(cat err.txt)"
status=0
"$VIBE" feed parse /nonexistent.xml 2> err.txt || status=$?
expect_eq "missing file exit" "$status" 2
