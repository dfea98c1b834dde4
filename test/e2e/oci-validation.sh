#!/bin/sh
# oci-validation runs programs of the OCI runtime-tools validation suite (all 58 by
# default) against runsc and, for comparison, runc, and prints a line per program: how
# many of its TAP tests passed under each runtime. Usage: oci-validation.sh RUNSC [PROGRAM...]
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
PROGRAMS=${*:-config_updates_without_affect create default delete delete_only_create_resources delete_resources hooks hooks_stdin hostname kill kill_no_effect killsig linux_cgroups_blkio linux_cgroups_cpus linux_cgroups_devices linux_cgroups_hugetlb linux_cgroups_memory linux_cgroups_network linux_cgroups_pids linux_cgroups_relative_blkio linux_cgroups_relative_cpus linux_cgroups_relative_devices linux_cgroups_relative_hugetlb linux_cgroups_relative_memory linux_cgroups_relative_network linux_cgroups_relative_pids linux_devices linux_masked_paths linux_mount_label linux_ns_itype linux_ns_nopath linux_ns_path linux_ns_path_type linux_process_apparmor_profile linux_readonly_paths linux_rootfs_propagation linux_seccomp linux_sysctl linux_uid_mappings misc_props mounts pidfile poststart poststart_fail poststop poststop_fail prestart prestart_fail process process_capabilities process_capabilities_fail process_oom_score_adj process_rlimits process_rlimits_fail process_user root_readonly_true start state}
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
