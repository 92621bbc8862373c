# The course's targets (tp0-base): the system in Docker with make and Docker alone.
#   make docker-compose-up     build both images, then start the system (docker-compose-dev.yaml)
#   make docker-compose-logs   follow every container's log
#   make docker-compose-down   stop with a short grace period, then remove every resource the project started
#   make docker-image          build both images, as the course's tests do
# `./generar-compose.sh docker-compose-dev.yaml N` writes the compose file for N agencies first.
SHELL := /bin/sh
COMPOSE := docker compose -f docker-compose-dev.yaml

default: docker-compose-up

docker-image:
	docker build -f ./server/Dockerfile -t "server:latest" .
	docker build -f ./client/Dockerfile -t "client:latest" .
.PHONY: docker-image

docker-compose-up: docker-image
	$(COMPOSE) up -d
.PHONY: docker-compose-up

# Stop first with a grace period (SIGTERM, then SIGKILL after it), so that every role closes in order; then
# down removes the containers and the network (the next up is a new lottery, unless --keep-bets was asked).
docker-compose-down:
	$(COMPOSE) stop -t 10
	$(COMPOSE) down
.PHONY: docker-compose-down

docker-compose-logs:
	$(COMPOSE) logs -f
.PHONY: docker-compose-logs
