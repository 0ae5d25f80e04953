# Parley. The two commands:
#   make run    install what is missing, build the desktop app, open its window
#   make test   install what the tests need, then every check from a fresh clone
# Also: make build (desktop and server-only binaries in bin/), make serve
# (the headless server; ARGS="--lan --data ./data" passes flags), make bench,
# make fuzz (FUZZTIME=10s per target), make screenshots (refresh
# docs/screenshots/), make wasm, make clean.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
BIN := bin
DESKTOP_TAGS := desktop,production,webkit2_41
GOROOT := $(shell $(GO) env GOROOT 2>/dev/null)
WASM_EXEC := $(GOROOT)/lib/wasm/go_js_wasm_exec
# Packages that also build for the browser (GOOS=js GOARCH=wasm).
JS_PKGS := ./protocol/... ./client/... ./bridge/... ./wasm/...
JS_TEST_PKGS := ./protocol/... ./client/... ./wasm/...
FUZZTIME ?= 10s
BENCHTIME ?= 1s
TEST_TIMEOUT ?= 20m
ARGS ?=
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X parley/internal/servecmd.version=$(VERSION)

# The browser client's WebAssembly module, embedded by the server (not committed).
WASM := server/webwasm/parley.wasm
WASM_SRC := $(shell find protocol client bridge wasm internal/webbuild -name '*.go' 2>/dev/null) go.mod go.sum

.PHONY: build run serve desktop server wasm deps-run deps-test \
	test fmt-check vet test-go test-js test-frontend test-desktop screenshots bench fuzz clean

# --- building ---------------------------------------------------------------

$(WASM): $(WASM_SRC)
	$(GO) run ./internal/webbuild -out server/webwasm

wasm: $(WASM)

deps-run:
	scripts/deps.sh run

deps-test:
	scripts/deps.sh test

# The desktop app (cgo, GTK 3, WebKitGTK 4.1): also runs `parley serve`.
desktop: deps-run $(WASM)
	$(GO) build -tags $(DESKTOP_TAGS) -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/parley .

# The server-only binary: no cgo, starts on a machine without GUI libraries.
server: $(WASM)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/parley-server .

build: desktop server

run: desktop
	./$(BIN)/parley

serve: server
	./$(BIN)/parley-server serve $(ARGS)

# --- checking ---------------------------------------------------------------

test: deps-test fmt-check vet $(WASM) test-go test-js test-frontend test-desktop
	@echo "make test: all checks passed"

fmt-check:
	@files=$$(gofmt -l $$(git ls-files -co --exclude-standard -- '*.go')); \
	if [ -n "$$files" ]; then echo "gofmt -w needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet ./...
	CGO_ENABLED=1 $(GO) vet -tags $(DESKTOP_TAGS) ./...
	GOOS=js GOARCH=wasm $(GO) vet $(JS_PKGS)

# Every Go test with the race detector: unit and integration tests against
# real servers, the real `parley serve` binary, the mDNS test in a network
# namespace, the browser tests (chromium; required when CI=true).
test-go: $(WASM)
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

# The client and the wasm entry point compiled to WebAssembly, run under Node.
test-js:
	GOOS=js GOARCH=wasm $(GO) test -exec $(WASM_EXEC) $(JS_TEST_PKGS)

# The UI's state logic, with Node's built-in test runner.
test-frontend:
	@tests=$$(find frontend/test -name '*.test.js' -o -name '*.test.mjs' 2>/dev/null | sort); \
	if [ -z "$$tests" ]; then echo "test-frontend: no tests in frontend/test"; exit 0; fi; \
	echo node --test $$tests; node --test $$tests

# The real desktop binary under Xvfb: tests behind the desktopsmoke build tag
# (they build the binary with $(DESKTOP_TAGS) and start Xvfb themselves).
test-desktop: deps-run
	@pkgs=$$(grep -rl --include='*_test.go' '^//go:build.*desktopsmoke' . | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$pkgs" ]; then echo "test-desktop: no desktopsmoke tests"; exit 0; fi; \
	echo "PARLEY_DESKTOP_SMOKE=1 $(GO) test -race -tags desktopsmoke -count=1 $$pkgs"; \
	PARLEY_DESKTOP_SMOKE=1 $(GO) test -race -tags desktopsmoke -count=1 -timeout 10m $$pkgs

# Refresh docs/screenshots/ from the desktop smoke test and the browser
# tests (a plain test run writes its screenshots to temporary directories).
screenshots: deps-test $(WASM)
	PARLEY_SCREENSHOTS=$(CURDIR)/docs/screenshots PARLEY_DESKTOP_SMOKE=1 \
		$(GO) test -tags desktopsmoke -count=1 -timeout 10m -run TestDesktopSmoke ./app
	PARLEY_SCREENSHOTS=$(CURDIR)/docs/screenshots CI=$${CI:-} \
		$(GO) test -count=1 -timeout 15m ./browsertest

bench: $(WASM)
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# Each fuzz target for FUZZTIME (fuzzing takes one target at a time).
fuzz:
	@grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . | sort | while IFS=: read -r file fn; do \
		fn=$${fn#func }; pkg=./$$(dirname "$${file#./}"); \
		echo "$(GO) test -run '^$$' -fuzz '^$$fn$$' -fuzztime $(FUZZTIME) $$pkg"; \
		$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
	done

clean:
	rm -rf $(BIN)
	rm -f server/webwasm/parley.wasm server/webwasm/parley.wasm.gz server/webwasm/parley.wasm.br \
		server/webwasm/wasm_exec.js server/webwasm/build.json
