# One image for both roles of the lottery: the command chooses the role.
#   central:  bun run central.ts   (the default)
#   agency:   bun run agency.ts
# Configuration (/config/*.yaml) and bets (/data/agency.csv) are mounted at run time, never baked in;
# the central's bets file lives on the /storage volume.
FROM oven/bun:1.4.5-alpine

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. Production only: no typescript, no types.
COPY package.json bun.lock bunfig.toml ./
RUN bun install --frozen-lockfile --production

# Only the runtime code (.dockerignore keeps the build context to these files). Owned by root: the app
# cannot modify itself.
COPY central.ts agency.ts ./
COPY lib/ ./lib/

# /storage is owned by the unprivileged user: a new named volume mounted there takes this ownership, so the
# central can write its bets file without root.
RUN mkdir -p /storage /config /data && chown bun:bun /storage

USER bun

# JavaScriptCore tuned for few cores: no FTL tier, and JIT compiling on the thread that runs the code
# (see lib/local/processes.ts). The generated compose and stack files turn FTL on for the long-lived
# central, where it pays; the agencies keep this default.
ENV BUN_JSC_useFTLJIT=0 BUN_JSC_useConcurrentJIT=0

EXPOSE 12345

# Exec form: bun is PID 1 and receives SIGTERM from `docker stop` / `docker compose down` directly.
CMD ["bun", "run", "central.ts"]
