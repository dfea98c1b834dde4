#!/bin/sh
# oci-validation runs programs of the OCI runtime-tools validation suite against runsc
# (and, for comparison, runc) and prints a line per program: how many of its TAP
# tests passed under each runtime. Usage: oci-validation.sh RUNSC [PROGRAM...]
#
# The programs are Go commands of github.com/opencontainers/runtime-tools, installed
# from the Go module proxy into $BUILD/oci-validation; each runs from a directory
# holding runtimetest (static: it runs inside the container) and the module's
# rootfs-amd64.tar.gz. RUNSC_FLAGS are global flags for runsc: the Makefile passes
# --overlay=none, since several programs look on the host for files the container
# wrote into its root, which the default in-memory overlay keeps in the sandbox.
set -u
RUNSC=$(realpath "$1"); shift
GO=${GO:-go}
BUILD=${BUILD:-build}
V=v0.9.1-0.20221107090550-2e043c6bd626
M=github.com/opencontainers/runtime-tools
PROGRAMS=${*:-create start state kill kill_no_effect killsig delete delete_only_create_resources pidfile hostname default process misc_props root_readonly_true hooks hooks_stdin prestart prestart_fail poststart poststart_fail poststop poststop_fail linux_cgroups_cpus linux_cgroups_memory linux_cgroups_pids linux_cgroups_relative_cpus linux_cgroups_relative_memory linux_cgroups_relative_pids}
DIR=$(realpath -m "$BUILD/oci-validation")
mkdir -p "$DIR/bin"
export GOBIN="$DIR/bin" GOFLAGS=-mod=mod
[ -x "$DIR/bin/runtimetest" ] || CGO_ENABLED=0 $GO install "$M/cmd/runtimetest@$V" || exit 1
for p in $PROGRAMS; do
	[ -x "$DIR/bin/$p" ] || $GO install "$M/validation/$p@$V" || exit 1
done
cp "$($GO env GOMODCACHE)/$M@$V/rootfs-amd64.tar.gz" "$DIR/bin/" 2>/dev/null || exit 1
chmod u+w "$DIR/bin/rootfs-amd64.tar.gz"
cd "$DIR/bin"
# The runtime the programs run: runsc with RUNSC_FLAGS.
printf '#!/bin/sh\nexec %s %s "$@"\n' "$RUNSC" "${RUNSC_FLAGS:-}" >"$DIR/runsc"
chmod +x "$DIR/runsc"
RUNSC=$DIR/runsc
# A few programs (the hook ones) plan no TAP test and report a failure as a YAML
# diagnostic with an "error" key: each counts as one test, failed if it printed one.
summary() { # RUNTIME PROGRAM: "passed/total"
	out=$(RUNTIME=$1 timeout 120 ./"$2" 2>&1)
	ok=$(printf '%s\n' "$out" | grep -c '^ok')
	bad=$(printf '%s\n' "$out" | grep -c '^not ok')
	if [ "$ok" -eq 0 ] && [ "$bad" -eq 0 ]; then
		if printf '%s\n' "$out" | grep -q '"error": "[^"]'; then bad=1; else ok=1; fi
	fi
	printf '%s\n' "$out" >"$DIR/$2.$(basename "$1").tap"
	echo "$ok/$((ok + bad))"
}
printf '%-32s %-8s %s\n' program runc runsc
for p in $PROGRAMS; do
	r=$(summary runc "$p")
	s=$(summary "$RUNSC" "$p")
	printf '%-32s %-8s %s\n' "$p" "$r" "$s"
done
echo "TAP output: $DIR/PROGRAM.RUNTIME.tap"
