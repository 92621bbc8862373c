#!/bin/sh
# Exercise 3: netcat check of the central from inside the compose network. A throwaway container sends an
# echo frame to server:12345 and compares the answer with what it sent. Netcat is not needed on the host,
# and no port is published. Prints exactly one line:
#   action: test_echo_server | result: success     (the identical frame came back)
#   action: test_echo_server | result: fail        (anything else: wrong answer, server down, network missing...)
# and exits 0 or 1 accordingly. Every step is bounded by a timeout, so it never hangs.
#
# Environment (all optional):
#   NETWORK  docker network to join (default: <project>_testing_net)
#   COMPOSE_PROJECT_NAME  the compose project (default: tp0, the name docker-compose-dev.yaml gives itself)
#   IMAGE    image holding busybox nc (default: server:latest, which `make docker-image` builds)
#   SERVER   host name of the central (default: server)   PORT  its port (default: 12345)
#   TIMEOUT  seconds allowed for the exchange (default: 5)

network=${NETWORK:-${COMPOSE_PROJECT_NAME:-tp0}_testing_net}
image=${IMAGE:-server:latest}
server=${SERVER:-server}
port=${PORT:-12345}
limit=${TIMEOUT:-5}

# A payload unique to this run, so an answer left over from anything else cannot match by accident.
payload="echo-$$-$(date +%s)"
# Frame: size u32 big-endian (payload length, < 256 here) | type 'P' | payload; octal escapes for busybox printf.
frame=$(printf '\\000\\000\\000\\%03o' "${#payload}")"P${payload}"

result=fail
# Inside: send the frame, keep the answer, compare it byte for byte with what was sent. `timeout` bounds the
# exchange because busybox nc has no idle timeout (its -w bounds only the connect). The outer `timeout`
# bounds docker itself (e.g. a stuck engine); --rm removes the container either way. The image's own
# command is replaced; --pull never: nothing is looked for in a registry.
if timeout $((limit + 20)) docker run --rm --pull never --network "$network" -e FRAME="$frame" "$image" sh -c "
      printf \"\$FRAME\" > /tmp/sent &&
      timeout $limit nc -w 2 $server $port < /tmp/sent > /tmp/got;
      cmp -s /tmp/sent /tmp/got" >/dev/null 2>&1; then
  result=success
fi
echo "action: test_echo_server | result: $result"
[ "$result" = success ]
