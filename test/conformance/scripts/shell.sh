# shell.sh: what issue 4 asks of a shell in the sandbox, run by busybox sh and dash
# natively and under runsc do; the outputs must match. Nothing here prints a PID or
# depends on timing beyond ordering the script itself enforces.

echo "pipelines: $(printf 'b\na\nc\n' | sort | tr a-z A-Z | head -2 | tr '\n' ' ')"

# Command substitution, nested, and its exit status.
x=$(echo outer $(echo inner))
echo "substitution: $x"
y=$(exit 3); echo "substitution status: $?"

# Background jobs and wait, with their statuses.
(exit 5) &
p1=$!
(sleep 0.1; exit 7) &
p2=$!
wait $p1; s1=$?
wait $p2; s2=$?
echo "wait: $s1 $s2"
sleep 0.05 & sleep 0.05 &
wait
echo "wait for all: $?"

# Traps: EXIT in a subshell, INT and TERM sent to ourselves and to a job.
(trap 'echo "exit trap ran"' EXIT; echo "in subshell")
sh -c 'trap "echo got TERM; exit 0" TERM; kill -TERM $$; sleep 1; echo "TERM not caught"'
echo "child shell status: $?"
trap 'echo "got INT"' INT
kill -INT $$
trap - INT

# Killing a background job: it dies of the signal.
sleep 10 &
job=$!
kill $job
wait $job
echo "killed job status: $?"
sleep 10 &
job=$!
kill -KILL $job
wait $job
echo "SIGKILLed job status: $?"

# read from a pipe, line by line and field by field.
printf 'one 1\ntwo 2\nthree 3\n' | while read word num; do echo "read: $num=$word"; done
printf 'a:b:c\n' | { IFS=: read f1 f2 f3; echo "fields: $f3 $f2 $f1"; }

# ulimit: set a soft limit (the sandbox's own defaults are a container's, not the
# caller's), lower it in a subshell, and see it there only.
ulimit -S -n 256
echo "ulimit -n: $(ulimit -n)"
(ulimit -n 64; echo "lowered: $(ulimit -n)")
echo "after the subshell: $(ulimit -n)"
(ulimit -n 1000000000 2>/dev/null; echo "raising past the hard limit: $?")

# exec redirections: new FDs for the shell itself, then closed.
tmp=${TMPDIR:-/tmp}/moat-shell-$$
exec 3>"$tmp"
echo "to fd 3" >&3
echo "again" >&3
exec 3>&-
exec 4<"$tmp"
read first <&4
read second <&4
exec 4<&-
echo "fd 4 read: $first, $second"
echo "fd 3 closed: $( (echo x >&3) 2>/dev/null && echo no || echo yes)"
rm -f "$tmp"

# Here-documents, functions, arithmetic, a failing command's status.
f() { echo "function got $# args: $*"; return 4; }
f a b c; echo "function status: $?"
cat <<END
here-doc: $((6 * 7))
END
false; echo "false: $?"
exit 0
