package strace

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// maxErrno is the largest errno a system call can return: Linux treats
// return values in [-4095, -1] as errors (include/linux/err.h:MAX_ERRNO).
const maxErrno = 4095

// errnoOf returns the errno that ret encodes, if it is a negated errno.
func errnoOf(ret uintptr) (unix.Errno, bool) {
	if v := int64(ret); v < 0 && v >= -maxErrno {
		return unix.Errno(-v), true
	}
	return 0, false
}

// errnoNames overrides golang.org/x/sys/unix's names where strace and glibc
// name an errno differently.
var errnoNames = map[unix.Errno]string{
	unix.EOPNOTSUPP: "EOPNOTSUPP", // x/sys calls 95 ENOTSUP.
	unix.EUCLEAN:    "EUCLEAN",    // x/sys calls 117 EFSCORRUPTED.
}

// restartErrnos are the kernel-internal errnos that ask for a signal-
// interrupted call to be restarted (include/linux/errno.h). strace prints
// them as "? ERESTARTSYS (To be restarted if SA_RESTART is set)" since the
// application never sees them.
var restartErrnos = map[unix.Errno]string{
	512: "ERESTARTSYS (To be restarted if SA_RESTART is set)",
	513: "ERESTARTNOINTR (To be restarted)",
	514: "ERESTARTNOHAND (To be restarted if no handler)",
	516: "ERESTART_RESTARTBLOCK (Interrupted by signal)",
}

// errnoText formats a failed call's result: "-1 ENOENT (No such file or
// directory)", with glibc's strerror text.
func errnoText(e unix.Errno) string {
	if s, ok := restartErrnos[e]; ok {
		return "? " + s
	}
	name, ok := errnoNames[e]
	if !ok {
		name = unix.ErrnoName(e)
	}
	if name == "" || e > unix.EHWPOISON {
		n := strconv.Itoa(int(e))
		return "-1 ERRNO_" + n + " (Unknown error " + n + ")"
	}
	msg := e.Error() // glibc's strerror, lowercased by x/sys.
	if msg != "" && msg[0] >= 'a' && msg[0] <= 'z' {
		msg = string(msg[0]-'a'+'A') + msg[1:]
	}
	return "-1 " + name + " (" + msg + ")"
}
