# The two commands of the README, and a few more.
.PHONY: up down status test lint bench

up:         ## install what is missing, then run Kafka, Redis, worker and API with a demo catalog
	@scripts/bootstrap.sh
	.venv/bin/streamrec up $(ARGS)

down:
	.venv/bin/streamrec down

status:
	.venv/bin/streamrec status

test:       ## install what is missing, then run every test (starts its own Kafka and Redis)
	@scripts/bootstrap.sh
	.venv/bin/ruff check .
	.venv/bin/pytest -q -p no:cacheprovider $(ARGS)

lint:
	.venv/bin/ruff check .
