#!/bin/sh
# The statement's interface: ./generar-compose.sh [--stack] [--tls] [--keep-bets] OUTPUT N
# (e.g. ./generar-compose.sh docker-compose-dev.yaml 5). Thin wrapper over gen-compose.ts, which validates
# the options and N and prints its usage (exit 2) on bad input. It runs on the host's Bun, or, without one,
# on the same Bun version fetched by Node's npx.
positional=0
for arg in "$@"; do
  case "$arg" in --*) ;; *) positional=$((positional + 1)) ;; esac
done
if [ "$positional" -ne 2 ]; then
  echo "usage: $0 [--stack] [--tls] [--keep-bets] OUTPUT N" >&2
  exit 2
fi
here=$(dirname "$0")
# OUTPUT stays relative to the caller's directory; only the script is found next to this wrapper.
if command -v bun >/dev/null 2>&1; then
  exec bun "$here/gen-compose.ts" "$@"
fi
version=$(sed -n 's/^FROM oven\/bun:\([0-9.]*\).*/\1/p' "$here/server/Dockerfile")
if command -v npx >/dev/null 2>&1; then
  exec npx -y "bun@$version" "$here/gen-compose.ts" "$@"
fi
echo "$0: needs Bun (https://bun.sh) or Node.js's npx, to run gen-compose.ts" >&2
exit 127
