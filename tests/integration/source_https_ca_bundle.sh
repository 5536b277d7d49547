# https to a server whose certificate only a private CA vouches for: refused
# with the system's CAs, accepted with fetch.ca_bundle naming the CA.
. "$(dirname "$0")/lib.sh"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
  -keyout key.pem -out cert.pem 2> openssl.err || fail "openssl could not make a certificate: $(cat openssl.err)"
start_server api_server --fixtures "$FIXTURES/github" --tls cert.pem key.pem
[[ $SERVER_URL == https://* ]] || fail "the fixture server is not on https: $SERVER_URL"
cat > vibe.yaml <<YAML
version: 1
sources:
  secure: { type: http_api, url: "$SERVER_URL/api/single", id: /id }
YAML
status=0
"$VIBE" poll secure > refused.txt || status=$?
expect_eq "unknown CA: exit" "$status" 1
grep -qi "certificate" refused.txt || fail "the certificate problem is not named: $(cat refused.txt)"
expect_eq "unknown CA: stored" "$("$VIBE" stats source:secure --json | json_get total)" 0

printf 'fetch: { ca_bundle: cert.pem }\n' >> vibe.yaml
"$VIBE" poll secure > accepted.txt || fail "with ca_bundle: $(cat accepted.txt)"
expect_eq "with ca_bundle: stored" "$("$VIBE" stats source:secure --json | json_get total)" 1
