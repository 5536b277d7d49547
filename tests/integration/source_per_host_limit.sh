# Per-host politeness: 20 sources on one host never have more requests in
# flight than fetch.per_host (the fixture server records its concurrency),
# and the limit is used, not just respected by accident.
. "$(dirname "$0")/lib.sh"
start_server api_server --fixtures "$FIXTURES/github"
{
  echo "version: 1"
  echo "fetch: { per_host: 3 }"
  echo "sources:"
  for i in $(seq 1 20); do
    echo "  s$i: { type: http_api, url: \"$SERVER_URL/api/slow?ms=300&id=$i\", id: /id }"
  done
} > vibe.yaml
start=$SECONDS
"$VIBE" poll --json > polls.ndjson || fail "poll failed: $(cat polls.ndjson)"
expect_eq "sources polled ok" "$(grep -c '"outcome":"ok"' polls.ndjson)" 20
expect_eq "events" "$("$VIBE" stats --json | json_get total)" 20
curl -sf "$SERVER_URL/__concurrency" > concurrency.json
expect_eq "most requests in flight at once" "$(json_get max < concurrency.json)" 3
# 20 requests of 300 ms, 3 at a time, take at least 7 rounds: about 2 s.
(( SECONDS - start >= 2 )) || fail "20 slow requests finished too fast for 3 at a time"

# The default is 2.
sed -i 's/^fetch: .*$/fetch: {}/' vibe.yaml
rm -rf .vibe
curl -sf -X POST "$SERVER_URL/__reset" > /dev/null
"$VIBE" poll --json > polls2.ndjson || fail "poll failed: $(cat polls2.ndjson)"
curl -sf "$SERVER_URL/__concurrency" > concurrency2.json
expect_eq "default per-host limit" "$(json_get max < concurrency2.json)" 2

# host_spacing: the starts of two requests to one host are that far apart.
{
  echo "version: 1"
  echo "fetch: { per_host: 5, host_spacing: 300ms }"
  echo "sources:"
  for i in 1 2 3 4 5; do
    echo "  s$i: { type: http_api, url: \"$SERVER_URL/api/slow?ms=1&id=$i\", id: /id }"
  done
} > vibe.yaml
rm -rf .vibe
start=$(date +%s%N)
"$VIBE" poll --json > spaced.ndjson || fail "spaced poll failed: $(cat spaced.ndjson)"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
expect_eq "spaced sources polled ok" "$(grep -c '"outcome":"ok"' spaced.ndjson)" 5
# 5 starts, 300 ms apart: at least 1.2 s.
(( elapsed_ms >= 1200 )) || fail "5 requests with host_spacing 300ms took only ${elapsed_ms} ms"
