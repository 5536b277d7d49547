# A ${VAR} secret is used for the request but never reaches the store, the
# logs or the output, even when the request fails. Pipelines too: the
# source URL, a sink's URL, HMAC key and bearer token stay out of the raw
# layer, the delivery jobs, and what `vibe run` and `vibe jobs` print.
. "$(dirname "$0")/lib.sh"
start_server feed_server --root "$FIXTURES/feeds/samples"
export VIBE_IT_TOKEN="s3cr3t-value-4242"
cat > vibe.yaml <<YAML
sources:
  private: { type: rss, url: "$SERVER_URL/rss2_utf8_bom.xml?token=\${VIBE_IT_TOKEN}" }
  denied: { type: rss, url: "$SERVER_URL/missing.xml?api_key=\${VIBE_IT_TOKEN}" }
pipelines:
  p:
    from: { type: rss, url: "$SERVER_URL/rss2_utf8_bom.xml?token=\${VIBE_IT_TOKEN}" }
    sinks:
      - { type: webhook, url: "$SERVER_URL/hook?token=\${VIBE_IT_TOKEN}", secret: "\${VIBE_IT_TOKEN}",
          auth: bearer, token: "\${VIBE_IT_TOKEN}", max_attempts: 1 }
YAML
"$VIBE" --log-level debug poll --json > out.ndjson 2> log.txt || true
expect_eq "private new" "$(grep '"private"' out.ndjson | json_get new)" 3
grep -q "HTTP 404" out.ndjson || fail "denied did not fail: $(cat out.ndjson)"
status=0
"$VIBE" --log-level debug run pipeline:p --json >> out.ndjson 2>> log.txt || status=$?
expect_eq "pipeline run with a failing sink" "$status" 1
grep -q '"new":3' out.ndjson || fail "pipeline run: $(tail -n 1 out.ndjson)"
grep -q 'token=\*\*\*' out.ndjson || fail "the sink's error does not show the redacted URL: $(tail -n 1 out.ndjson)"
"$VIBE" jobs list --json >> out.ndjson
"$VIBE" pipeline show p --json --recent 3 >> out.ndjson
"$VIBE" events --json > events.ndjson
"$VIBE" --log-level trace stats --json >> events.ndjson 2>> log.txt
for f in out.ndjson log.txt events.ndjson .vibe/vibe.db*; do
  if grep -q "s3cr3t-value-4242" "$f"; then fail "secret leaked into $f"; fi
done
grep -q 'api_key=\*\*\*' out.ndjson || fail "redacted URL missing: $(cat out.ndjson)"
