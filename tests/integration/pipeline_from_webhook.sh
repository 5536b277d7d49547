# A pipeline whose source is a webhook: each signed delivery that serve
# acknowledges (202) reaches the pipeline through a job queued in the same
# transaction, is mapped and filtered, and its sink receives it; a
# redelivery (same delivery id) reaches it once. The raw layer keeps what
# was pushed, so a replay rebuilds the records.
. "$(dirname "$0")/lib.sh"
export HOOK_SECRET=s3cret-for-tests
cat > vibe.yaml <<'YAML'
version: 1
serve: { http: "127.0.0.1:0" }
sources:
  deploys: { type: webhook, secret: "${HOOK_SECRET}" }
pipelines:
  prod:
    from: deploys
    map: { service: /service, env: /env, version: /version }
    filter: 'env == "prod"'
    sinks: [ { type: file, path: out/prod.ndjson } ]
YAML
start_serve
url="http://$("$VIBE" status --json | json_get http)/webhooks/deploys"
post() {  # post BODY DELIVERY-ID: a signed webhook; prints the HTTP status
  local sig
  sig=$(printf '%s' "$1" | openssl dgst -sha256 -hmac "$HOOK_SECRET" | sed 's/^.* //')
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H "X-Webhook-Signature: $sig" \
    -H "X-Request-Id: $2" --data-binary "$1" "$url"
}
expect_eq "first delivery" "$(post '{"service":"api","env":"prod","version":"1.2"}' d1)" 202
expect_eq "a staging delivery" "$(post '{"service":"api","env":"staging","version":"1.3"}' d2)" 202
expect_eq "a redelivery" "$(post '{"service":"api","env":"prod","version":"1.2"}' d1)" 202
expect_eq "second prod delivery" "$(post '[{"service":"web","env":"prod","version":"7"}]' d3)" 202
lines() { if [ -f out/prod.ndjson ]; then wc -l < out/prod.ndjson | tr -d ' '; else echo 0; fi; }
two_lines() { [ "$(lines)" -ge 2 ]; }
wait_until 20 two_lines
"$VIBE" events pipeline:prod --json > events.txt
expect_eq "stored records" "$(wc -l < events.txt | tr -d ' ')" 2
grep -q '"version":"1.2"' out/prod.ndjson || fail "sink: $(cat out/prod.ndjson)"
grep -q '"service":"web"' out/prod.ndjson || fail "sink: $(cat out/prod.ndjson)"
# The staging delivery's job has run too (nothing left to wait for) and kept nothing.
idle() {
  "$VIBE" jobs list --state available --json > available.txt
  "$VIBE" jobs list --state executing --json >> available.txt
  ! grep -q '"worker":"pipeline"' available.txt
}
wait_until 20 idle
expect_eq "sink lines" "$(lines)" 2
stop_serve
expect_eq "serve exit" "$SERVE_STATUS" 0
# The raw layer holds the pushed events: a replay with a wider filter
# rebuilds the staging record too, without any new delivery.
sed -i "s/filter: 'env == \"prod\"'/filter: 'exists env'/" vibe.yaml
"$VIBE" pipeline replay prod --json > replay.txt
expect_eq "rebuilt" "$(json_get rebuilt < replay.txt)" 3
"$VIBE" events pipeline:prod --json > events.txt
grep -q '"env":"staging"' events.txt || fail "after replay: $(cat events.txt)"
