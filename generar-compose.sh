#!/bin/sh
# The statement's interface: ./generar-compose.sh [--stack] [--tls] OUTPUT N  (e.g. ./generar-compose.sh docker-compose-dev.yaml 5)
# Thin wrapper over gen-compose.ts, which validates the options and N and prints its usage (exit 2) on bad input.
positional=0
for arg in "$@"; do
  case "$arg" in --*) ;; *) positional=$((positional + 1)) ;; esac
done
if [ "$positional" -ne 2 ]; then
  echo "usage: $0 [--stack] [--tls] OUTPUT N" >&2
  exit 2
fi
# OUTPUT stays relative to the caller's directory; only the script is found next to this wrapper.
exec bun "$(dirname "$0")/gen-compose.ts" "$@"
