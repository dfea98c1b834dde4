package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Release is the kernel version the Sentry reports. glibc and busybox check it against
// their minimum (3.2), and programs read it for features: it names a kernel whose system
// calls the Sentry aims to provide.
const Release = "6.6.0-moat"

// Uname implements uname(2).
func Uname(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	var u [6][65]byte // struct new_utsname
	host, domain := t.Kernel().UTSNames()
	for i, s := range []string{"Linux", host, Release, "#1 SMP Moat", "x86_64", domain} {
		copy(u[i][:64], s)
	}
	return 0, t.CopyOutObj(a[0], &u)
}

// Sethostname implements sethostname(2).
func Sethostname(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, setUTSName(t, false, a[0], a[1])
}

// Setdomainname implements setdomainname(2).
func Setdomainname(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, setUTSName(t, true, a[0], a[1])
}

// setUTSName is sethostname and setdomainname (kernel/sys.c): CAP_SYS_ADMIN first
// (EPERM), then a length within __NEW_UTS_LEN, 64 (EINVAL; as an int, so a negative
// length too), then the name (EFAULT). The name is taken as given, NULs included, and
// shown up to the first.
func setUTSName(t *kernel.Task, domain bool, addr, length uintptr) error {
	if !t.Creds.HasCap(vfs.CapSysAdmin) {
		return unix.EPERM
	}
	n := int32(length)
	if n < 0 || n > 64 {
		return unix.EINVAL
	}
	buf := make([]byte, n)
	if _, err := t.MM.CopyIn(addr, buf); err != nil {
		return unix.EFAULT
	}
	if i := bytesIndexNUL(buf); i >= 0 {
		buf = buf[:i]
	}
	t.Kernel().SetUTSName(domain, string(buf))
	return nil
}

func bytesIndexNUL(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
