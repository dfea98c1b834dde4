# Moat's whole build: the Go toolchain, gcc and make. Run as root on Debian.
#
#   make build    static binaries into bin/
#   make test     every test (installs what it needs first)
#   make bench    in-sandbox costs as ratios to native, and runsc start/idle memory
#                 as ratios to runc, measured in this run
#   make install  bin/runsc into $(PREFIX)/bin
#   make lint     gofmt and go vet

GO      ?= $(shell command -v go 2>/dev/null || echo /usr/local/go/bin/go)
PREFIX  ?= /usr/local
BUILD   ?= build
export CGO_ENABLED := 0

.PHONY: all build test unit deps bench install lint clean oci-validation

all: build

build:
	$(GO) build -trimpath -o bin/ ./runsc

# deps installs the host packages the tests use, once: gcc for the C test programs,
# busybox-static for the real-program tests, runc as the reference OCI runtime.
deps:
	@command -v gcc >/dev/null && test -x /bin/busybox && command -v runc >/dev/null || \
	  (apt-get update && apt-get install -y gcc libc6-dev busybox-static runc)

test: deps lint build
	$(GO) test -count=1 -timeout 30m ./...
	# The conformance suite again on the ptrace platform (the default is systrap).
	MOAT_PLATFORM=ptrace $(GO) test -count=1 -timeout 20m ./test/conformance
	# And the sandbox's lifecycle (its seccomp allow-list differs by platform).
	MOAT_PLATFORM=ptrace $(GO) test -count=1 -timeout 10m ./test/integration
	# And on kvm, where /dev/kvm opens and makes a VM (it says so and skips elsewhere).
	MOAT_PLATFORM=kvm $(GO) test -count=1 -timeout 20m ./test/conformance
	# The concurrent core again under the race detector (cgo, so glibc is in the Sentry).
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 10m ./platform/... ./sentry/...

bench: deps
	$(GO) run ./test/bench/cmd/moatbench -builddir $(BUILD)/bench

# oci-validation runs programs of the OCI runtime-tools validation suite under runc and
# runsc and prints how many of each program's tests pass under each (not part of make
# test: it fetches the suite from the Go module proxy).
oci-validation: deps build
	GO=$(GO) BUILD=$(BUILD) RUNSC_FLAGS=--overlay=none sh test/e2e/oci-validation.sh bin/runsc

install: build
	install -D -m 0755 bin/runsc $(PREFIX)/bin/runsc

lint:
	@out=$$($(shell dirname $(GO))/gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf bin $(BUILD)
