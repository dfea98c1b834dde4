module github.com/moat-sandbox/moat

go 1.26.8

require (
	golang.org/x/net v0.62.0
	golang.org/x/sys v0.49.0
)

require github.com/google/subcommands v1.2.0

require github.com/opencontainers/runtime-spec v1.3.0
