# hetuflow: common tasks. `make run` starts a dev server; `make test` runs the
# whole suite exactly as CI does (CI calls it from .ci/run).

GO        ?= go
TOOL      := $(GO) tool -modfile=tools/go.mod
PKGS      := ./...
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)

.PHONY: build run test test-short generate check-generated lint fmt clean bench release

build: ## Build bin/hetuflow (static, CGO off)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/hetuflow ./cmd/hetuflow

run: ## Run hetuflow dev: server + SQLite + agent on http://127.0.0.1:9500
	$(GO) run ./cmd/hetuflow dev

test: lint check-generated ## Lint, check generated code, run every test with the race detector
	$(TOOL) gotestsum --format testname -- -race -count=1 -timeout 15m $(PKGS)

test-short: ## Tests without lint or the generated-code check
	$(GO) test -race -count=1 $(PKGS)

generate: ## Regenerate sqlc code
	$(GO) generate ./internal/store/...

check-generated: generate ## Fail if generated code differs from what is committed
	@git diff --exit-code -- internal/store || { echo "generated code is stale: run make generate and commit"; exit 1; }
	@test -z "$$(git status --porcelain -- internal/store | grep '^??')" || { echo "untracked generated files: run make generate and commit"; git status --porcelain -- internal/store; exit 1; }

lint: ## gofmt, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(TOOL) staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

bench: ## Benchmark the standard set (under 10 minutes) into bench/results/; BENCHFLAGS='-set full' for all
	$(GO) run ./bench $(BENCHFLAGS)

clean:
	rm -rf bin dist

RELEASE_PLATFORMS ?= linux/amd64 linux/arm64

release: ## Static binaries for linux/amd64 and linux/arm64 with version info in dist/, with SHA256SUMS
	@rm -rf dist && mkdir -p dist
	@set -e; for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/hetuflow-$(VERSION)-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $$out ./cmd/hetuflow; \
	done
	cd dist && sha256sum hetuflow-* > SHA256SUMS && cat SHA256SUMS
