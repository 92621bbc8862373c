#!/bin/sh
# Netcat check of the central from inside the compose network: a throwaway container sends an echo frame to
# server:12345 and compares the answer with what it sent. Netcat is not needed on the host, no port is published.
# Prints exactly one line:
#   action: test_echo_server | result: success     (the identical frame came back)
#   action: test_echo_server | result: fail        (anything else: wrong answer, server down, network missing...)
# and exits 0 or 1 accordingly. Every step is bounded by a timeout, so it never hangs.
#
# Environment (all optional):
#   NETWORK  docker network to join (default: <project>_testing_net)
#   COMPOSE_PROJECT_NAME  project used for the default network (default: this folder's name, as compose does)
#   IMAGE    image holding busybox nc (default: lottery:latest)
#   SERVER   host name of the central (default: server)   PORT  its port (default: 12345)
#   TIMEOUT  seconds allowed for the exchange (default: 5)

here=$(cd "$(dirname "$0")" && pwd)
# Compose's default project name: the compose file's folder, lower-cased, keeping [a-z0-9_-] (what 1.29 does).
project=${COMPOSE_PROJECT_NAME:-$(basename "$here" | tr 'A-Z' 'a-z' | tr -cd 'a-z0-9_-')}
network=${NETWORK:-${project}_testing_net}
image=${IMAGE:-lottery:latest}
server=${SERVER:-server}
port=${PORT:-12345}
limit=${TIMEOUT:-5}

# A payload unique to this run, so an answer left over from anything else cannot match by accident.
payload="echo-$$-$(date +%s)"
# Frame: size u32 big-endian (payload length, < 256 here) | type 'P' | payload; octal escapes for busybox printf.
frame=$(printf '\\000\\000\\000\\%03o' "${#payload}")"P${payload}"

result=fail
# Inside: send the frame, keep the answer, compare it byte for byte with what was sent. `timeout` bounds the
# exchange because Debian's busybox nc has no idle timeout (its -w bounds only the connect). The outer
# `timeout` bounds docker itself (e.g. a stuck engine); --rm removes the container either way.
if timeout $((limit + 20)) docker run --rm --network "$network" -e FRAME="$frame" "$image" sh -c "
      printf \"\$FRAME\" > /tmp/sent &&
      timeout $limit nc -w 2 $server $port < /tmp/sent > /tmp/got;
      cmp -s /tmp/sent /tmp/got" >/dev/null 2>&1; then
  result=success
fi
echo "action: test_echo_server | result: $result"
[ "$result" = success ]
