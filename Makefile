# tierwise: the two commands are `make dev` and `make test`.

GO ?= go

.PHONY: dev test check build

## dev: run everything in one process (embedded Temporal, Web UI, PostgreSQL, worker, API)
dev: build
	@exec ./bin/tierwise dev

## test: formatting, vet and every test against real PostgreSQL and Temporal
test: check
	$(GO) test -count=1 -timeout 30m ./...

check:
	@big="$$(git ls-files -z 2>/dev/null | xargs -0 -r stat -c '%s %n' 2>/dev/null | awk '$$1 > 5242880 {print $$2}')"; \
	if [ -n "$$big" ]; then echo "tracked files over 5 MB (build outputs do not belong in git):"; echo "$$big"; exit 1; fi
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "not gofmt-formatted:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

build:
	$(GO) build -buildvcs=auto -o bin/tierwise ./cmd/tierwise
