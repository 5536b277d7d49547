# `vibe cron next` prints the hand-checked fire times, across DST in New York
# and Berlin, and a malformed expression exits 2 with a message naming the problem.
. "$(dirname "$0")/lib.sh"
nl=$'\n'

# Default count is 5; @hourly from half past fires on the hour.
expect_eq "@hourly" "$("$VIBE" cron next @hourly --from 2026-01-01T00:30:00Z)" \
  "$(printf '2026-01-01T%02d:00:00Z\n' 1 2 3 4 5)"

# New York springs forward 02:00->03:00 on 2026-03-08 (07:00Z): 02:30 does not
# exist that day and fires at 03:00 EDT; the days around it are 02:30 EST
# (07:30Z) and 02:30 EDT (06:30Z).
expect_eq "NY gap" "$("$VIBE" cron next '30 2 * * *' --tz America/New_York --from 2026-03-07T00:00:00Z -n 3)" \
  "2026-03-07T07:30:00Z${nl}2026-03-08T07:00:00Z${nl}2026-03-09T06:30:00Z"

# Four times inside the gap fire once.
got=$("$VIBE" cron next '*/15 2 * * *' --tz America/New_York --from 2026-03-07T12:00:00Z -n 2)
expect_eq "NY gap, several" "$got" "2026-03-08T07:00:00Z${nl}2026-03-09T06:00:00Z"

# New York falls back 02:00->01:00 on 2026-11-01: 01:30 happens at 05:30Z
# (EDT) and 06:30Z (EST) and fires only at the first; the next day 01:30 EST is 06:30Z.
expect_eq "NY overlap" "$("$VIBE" cron next '30 1 * * *' --tz America/New_York --from 2026-10-31T12:00:00Z -n 2)" \
  "2026-11-01T05:30:00Z${nl}2026-11-02T06:30:00Z"

# Berlin springs forward on 2026-03-29 at 01:00Z (03:00 CEST); 02:30 CEST the
# next day is 00:30Z. JSON is one array.
got=$("$VIBE" cron next '30 2 * * *' --tz Europe/Berlin --from 2026-03-28T12:00:00Z -n 2 --json)
expect_eq "Berlin gap json" "$got" '["2026-03-29T01:00:00Z","2026-03-30T00:30:00Z"]'

# Feb 29 waits for the next leap year.
expect_eq "Feb 29" "$("$VIBE" cron next '0 0 29 2 *' --from 2025-03-01T00:00:00Z -n 1)" "2028-02-29T00:00:00Z"

# Both day fields restricted: the 13th OR a Friday. April 2026: Fridays 3, 10,
# 17; the 13th is a Monday.
expect_eq "Vixie OR" "$("$VIBE" cron next '0 0 13 * fri' --from 2026-04-01T00:00:00Z -n 4)" \
  "2026-04-03T00:00:00Z${nl}2026-04-10T00:00:00Z${nl}2026-04-13T00:00:00Z${nl}2026-04-17T00:00:00Z"

# Mistakes exit 2 and say what is wrong; nothing goes to stdout.
check_rejected() {  # check_rejected WANT_IN_STDERR ARGS...
  local want=$1; shift
  local status=0
  "$VIBE" cron next "$@" > out.txt 2> err.txt || status=$?
  expect_eq "exit for $*" "$status" 2
  grep -qF -- "$want" err.txt || fail "stderr for $*: $(cat err.txt)"
  [ ! -s out.txt ] || fail "stdout for $*: $(cat out.txt)"
}
check_rejected "minute: 61 is out of range 0-59" '61 * * * *'
check_rejected "has 4 fields" '* * * *'
check_rejected "'0 0 30 2 *' can never fire" '0 0 30 2 *'
check_rejected "unknown time zone 'Mars/Base'" '0 0 * * *' --tz Mars/Base
check_rejected "--from" '0 0 * * *' --from yesterday
