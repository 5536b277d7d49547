# A config with five mistakes reports all five, each as FILE:LINE:COL, and
# exits 2; `vibe validate` prints only "ok" for a good file.
. "$(dirname "$0")/lib.sh"
unset VIBE_TEST_UNSET_TOKEN || true
cat > bad.yaml <<'YAML'
version: 1
sources:
  hn:
    type: rss
    url: https://news.example/rss
    evry: 5m
  gh:
    type: rss
    url: "https://feeds.example/x?token=${VIBE_TEST_UNSET_TOKEN}"
  slow:
    type: rss
    url: https://slow.example/feed
    every: 5 minutes
  odd: { type: rsss, url: https://odd.example/ }
streams:
  news: { sources: [hn, gh, hackernews] }
YAML
status=0
"$VIBE" validate -c bad.yaml > out.txt 2> err.txt || status=$?
expect_eq "exit status" "$status" 2
[ ! -s out.txt ] || fail "validate printed to stdout on error: $(cat out.txt)"
grep -q "^bad.yaml:6:5: sources.hn: unknown key 'evry' (did you mean 'every'?)$" err.txt || fail "typo: $(cat err.txt)"
grep -q "^bad.yaml:9:10: environment variable VIBE_TEST_UNSET_TOKEN is not set$" err.txt || fail "unset var: $(cat err.txt)"
grep -q "^bad.yaml:13:12: sources.slow.every: unknown unit 'minutes'" err.txt || fail "duration: $(cat err.txt)"
grep -q "^bad.yaml:14:16: sources.odd.type: unknown source type 'rsss' (did you mean 'rss'?)$" err.txt || fail "type: $(cat err.txt)"
grep -q "^bad.yaml:16:29: streams.news.sources: no source named 'hackernews'" err.txt || fail "stream ref: $(cat err.txt)"
expect_eq "error lines" "$(grep -cE '^bad.yaml:[0-9]+:[0-9]+: ' err.txt)" 5
grep -q "^vibe: 5 errors in config$" err.txt || fail "no summary: $(cat err.txt)"

"$VIBE" validate -c bad.yaml --json > out.json || true
expect_eq "json ok" "$(json_get ok < out.json)" False
expect_eq "json errors" "$(python3 -c 'import json,sys; print(len(json.load(sys.stdin)["errors"]))' < out.json)" 5

printf 'version: 1\nsources:\n  a: { type: rss, url: "https://a.example/feed" }\n' > good.yaml
expect_eq "validate good" "$("$VIBE" validate -c good.yaml)" ok
VIBE_CONFIG=good.yaml "$VIBE" validate > env.txt || fail "VIBE_CONFIG not used"
expect_eq "validate via VIBE_CONFIG" "$(cat env.txt)" ok

printf 'sources: [\n' > broken.yaml
status=0
"$VIBE" validate -c broken.yaml 2> err.txt || status=$?
expect_eq "broken yaml exit" "$status" 2
grep -qE "broken.yaml:[0-9]+:[0-9]+: not valid YAML" err.txt || fail "yaml syntax: $(cat err.txt)"
