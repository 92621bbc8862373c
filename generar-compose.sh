#!/bin/sh
# The statement's interface: ./generar-compose.sh OUTPUT N  (e.g. ./generar-compose.sh docker-compose-dev.yaml 5)
# Thin wrapper over gen-compose.ts, which validates N and prints its usage (exit 2) on bad input.
if [ "$#" -ne 2 ]; then
  echo "usage: $0 OUTPUT N" >&2
  exit 2
fi
# OUTPUT stays relative to the caller's directory; only the script is found next to this wrapper.
exec bun "$(dirname "$0")/gen-compose.ts" "$1" "$2"
