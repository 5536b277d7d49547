# Every ready-made pipeline in pipelines/ validates with the example values
# its header lists for its variables, and examples/pipeline-offline runs
# offline: the records are mapped, filtered, stored, delivered to its file
# sink and chained to the bargains pipeline.
. "$(dirname "$0")/lib.sh"
count=0
for file in "$VIBE_SRC"/pipelines/*.yaml; do
  count=$((count + 1))
  # "# Variables (...):" then "#   NAME  EXAMPLE  meaning" lines, up to a bare "#".
  vars=$(sed -n '/^# Variables/,/^#$/p' "$file" | grep -E '^#   [A-Z_][A-Z0-9_]* ' | awk '{print $2 "=" $3}')
  if grep -q '\${' "$file" && [ -z "$vars" ]; then
    fail "$(basename "$file") uses \${VAR} but lists no variables"
  fi
  status=0
  # shellcheck disable=SC2086
  env $vars "$VIBE" -c "$file" validate > validate.txt 2>&1 || status=$?
  expect_eq "validate $(basename "$file")" "$status" 0
  grep -q "^pipelines:" "$file" || fail "$(basename "$file") defines no pipelines"
done
[ "$count" -ge 3 ] || fail "pipelines/ ships $count definitions, want at least 3"

cp -r "$VIBE_SRC/examples/pipeline-offline" ex
rm -rf ex/.vibe ex/out
"$VIBE" -c ex/vibe.yaml run pipeline:prices --json > run.json
new=$(json_get new < run.json)
[ "$new" -gt 0 ] || fail "the example stored nothing: $(cat run.json)"
expect_eq "example delivered" "$(json_get failed < run.json)" False
expect_eq "file sink lines" "$(wc -l < ex/out/prices.ndjson | tr -d ' ')" "$new"
[ -s ex/out/bargains.ndjson ] || fail "the chained pipeline delivered nothing"
"$VIBE" -c ex/vibe.yaml events pipeline:prices --json > events.txt
expect_eq "stored records" "$(wc -l < events.txt | tr -d ' ')" "$new"
