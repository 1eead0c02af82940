#!/usr/bin/env bash
# Pins the S3 semantics vrepo's ref updates rely on, against the server s3_server.sh started:
# PUT with If-None-Match: * creates once (200, then 412), PUT with If-Match: ETAG replaces only
# when ETAG is the current one (200, then 412 for a stale one).
# Usage: conditional_writes_test.sh ENV_FILE   (the DIR/env that s3_server.sh start wrote)
set -euo pipefail

(($# == 1)) || {
  echo "usage: conditional_writes_test.sh ENV_FILE" >&2
  exit 2
}
[[ -f $1 ]] || {
  echo "conditional_writes_test.sh: $1: no such file (did s3/server_start run?)" >&2
  exit 1
}
endpoint=$(sed -n 's/^AWS_ENDPOINT_URL=//p' "$1")
access_key=$(sed -n 's/^AWS_ACCESS_KEY_ID=//p' "$1")
secret_key=$(sed -n 's/^AWS_SECRET_ACCESS_KEY=//p' "$1")
region=$(sed -n 's/^AWS_REGION=//p' "$1")

work=$(mktemp -d /tmp/vrepo-s3-cond.XXXXXX)
trap 'rm -rf "$work"' EXIT
# A bucket of its own, so that a rerun against the same server starts from nothing.
bucket=cond-$(date +%s)-$$
failures=0

# s3 METHOD PATH BODY [HEADER...]: prints the HTTP status; response headers land in
# $work/headers.
s3() {
  local method=$1 path=$2 body=$3 sha
  shift 3
  sha=$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)
  curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' --max-time 10 -X "$method" \
    --aws-sigv4 "aws:amz:$region:s3" --user "$access_key:$secret_key" \
    -H "x-amz-content-sha256: $sha" "$@" --data-binary "$body" "$endpoint$path"
}

# expect WHAT WANTED GOT
expect() {
  if [[ $3 == "$2" ]]; then
    echo "ok: $1: $3"
  else
    echo "FAILED: $1: expected $2, got $3: $(head -c 300 "$work/body")"
    failures=$((failures + 1))
  fi
}

expect "create bucket $bucket" 200 "$(s3 PUT "/$bucket" "")"
key=/$bucket/refs/heads/main
expect "create $key with If-None-Match: *" 200 "$(s3 PUT "$key" one -H 'If-None-Match: *')"
etag=$(sed -n 's/^[Ee][Tt][Aa][Gg]:[[:space:]]*"\{0,1\}\([^"[:space:]]*\)"\{0,1\}.*/\1/p' \
  "$work/headers")
expect "ETag of the created $key is present" yes "$([[ -n $etag ]] && echo yes || echo no)"
expect "create existing $key with If-None-Match: *" 412 \
  "$(s3 PUT "$key" two -H 'If-None-Match: *')"
expect "update $key with If-Match: its current ETag (unquoted)" 200 \
  "$(s3 PUT "$key" three -H "If-Match: $etag")"
# The first ETag is now stale: a second writer that read it must lose.
expect "update $key with If-Match: a stale ETag" 412 \
  "$(s3 PUT "$key" four -H "If-Match: $etag")"
expect "read $key back" 200 "$(s3 GET "$key" "")"
expect "content of $key is the last accepted write" three "$(cat "$work/body")"

exit $((failures > 0))
