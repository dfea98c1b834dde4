package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Getuid implements getuid(2): the real user ID.
func Getuid(t *kernel.Task, a [6]uintptr) (uintptr, error) { return uintptr(t.Creds.RealUID), nil }

// Geteuid implements geteuid(2).
func Geteuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.Creds.EffectiveUID), nil
}

// Getgid implements getgid(2).
func Getgid(t *kernel.Task, a [6]uintptr) (uintptr, error) { return uintptr(t.Creds.RealGID), nil }

// Getegid implements getegid(2).
func Getegid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.Creds.EffectiveGID), nil
}

// Getresuid implements getresuid(2): the real, effective and saved IDs, stored in that
// order (a bad pointer is EFAULT, the IDs before it stored).
func Getresuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	c := t.Creds
	return 0, copyOutIDs(t, [3]uintptr{a[0], a[1], a[2]}, [3]uint32{c.RealUID, c.EffectiveUID, c.SavedUID})
}

// Getresgid implements getresgid(2).
func Getresgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	c := t.Creds
	return 0, copyOutIDs(t, [3]uintptr{a[0], a[1], a[2]}, [3]uint32{c.RealGID, c.EffectiveGID, c.SavedGID})
}

func copyOutIDs(t *kernel.Task, addrs [3]uintptr, ids [3]uint32) error {
	for i, addr := range addrs {
		if err := t.CopyOutObj(addr, ids[i]); err != nil {
			return err
		}
	}
	return nil
}

// Setuid implements setuid(2).
func Setuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetID(kernel.UserIDs, uint32(a[0]))
}

// Setgid implements setgid(2).
func Setgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetID(kernel.GroupIDs, uint32(a[0]))
}

// Setreuid implements setreuid(2).
func Setreuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetREID(kernel.UserIDs, uint32(a[0]), uint32(a[1]))
}

// Setregid implements setregid(2).
func Setregid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetREID(kernel.GroupIDs, uint32(a[0]), uint32(a[1]))
}

// Setresuid implements setresuid(2).
func Setresuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetRESID(kernel.UserIDs, uint32(a[0]), uint32(a[1]), uint32(a[2]))
}

// Setresgid implements setresgid(2).
func Setresgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return 0, t.SetRESID(kernel.GroupIDs, uint32(a[0]), uint32(a[1]), uint32(a[2]))
}

// Setfsuid implements setfsuid(2): it returns the old filesystem user ID, changed or not.
func Setfsuid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.SetFSID(kernel.UserIDs, uint32(a[0]))), nil
}

// Setfsgid implements setfsgid(2).
func Setfsgid(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	return uintptr(t.SetFSID(kernel.GroupIDs, uint32(a[0]))), nil
}

// Getgroups implements getgroups(2): the supplementary groups; with size 0 only their
// number, EINVAL if size is too small.
func Getgroups(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	size := int32(a[0])
	groups := t.Creds.Groups
	if size < 0 {
		return 0, unix.EINVAL
	}
	if size == 0 {
		return uintptr(len(groups)), nil
	}
	if int(size) < len(groups) {
		return 0, unix.EINVAL
	}
	for i, g := range groups {
		if err := t.CopyOutObj(a[1]+uintptr(4*i), g); err != nil {
			return 0, err
		}
	}
	return uintptr(len(groups)), nil
}

// ngroupsMax is NGROUPS_MAX.
const ngroupsMax = 65536

// Setgroups implements setgroups(2), as kernel/groups.c: EPERM without CAP_SETGID,
// then EINVAL for more than NGROUPS_MAX groups, EFAULT for a bad list, EINVAL for the
// group -1.
func Setgroups(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	size := uint32(a[0])
	if !t.Creds.HasCap(vfs.CapSetgid) {
		return 0, unix.EPERM
	}
	if size > ngroupsMax {
		return 0, unix.EINVAL
	}
	groups := make([]uint32, size)
	if size > 0 {
		if err := t.CopyInObj(a[1], groups); err != nil {
			return 0, unix.EFAULT
		}
	}
	for _, g := range groups {
		if g == ^uint32(0) {
			return 0, unix.EINVAL
		}
	}
	return 0, t.SetGroups(groups)
}

// Capability header versions (include/uapi/linux/capability.h).
const (
	linuxCapabilityVersion1 = 0x19980330
	linuxCapabilityVersion2 = 0x20071026
	linuxCapabilityVersion3 = 0x20080522
)

// capVersion reads a capability header's version and returns how many 32-bit words
// each set takes, as kernel/capability.c:cap_validate_magic: an unknown version is
// EINVAL, with the kernel's preferred version written back.
func capVersion(t *kernel.Task, header uintptr) (int, error) {
	var version uint32
	if err := t.CopyInObj(header, &version); err != nil {
		return 0, err
	}
	switch version {
	case linuxCapabilityVersion1:
		return 1, nil
	case linuxCapabilityVersion2, linuxCapabilityVersion3:
		return 2, nil
	}
	if err := t.CopyOutObj(header, uint32(linuxCapabilityVersion3)); err != nil {
		return 0, err
	}
	return 0, unix.EINVAL
}

// capData is struct __user_cap_data_struct.
type capData struct{ Effective, Permitted, Inheritable uint32 }

// Capget implements capget(2). A NULL data pointer only probes the version: 0 even for
// an unknown one (whose preferred version is written back).
func Capget(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	header, data := a[0], a[1]
	words, err := capVersion(t, header)
	if data == 0 || err != nil {
		if data == 0 && err == unix.EINVAL {
			return 0, nil
		}
		return 0, err
	}
	var pid int32
	if err := t.CopyInObj(header+4, &pid); err != nil {
		return 0, err
	}
	if pid < 0 {
		return 0, unix.EINVAL
	}
	s, err := t.Capabilities(pid)
	if err != nil {
		return 0, err
	}
	out := make([]capData, words)
	for i := range out {
		sh := 32 * i
		out[i] = capData{uint32(s.Effective >> sh), uint32(s.Permitted >> sh), uint32(s.Inheritable >> sh)}
	}
	return 0, t.CopyOutObj(data, out)
}

// Capset implements capset(2): only the caller's own sets (EPERM for another pid).
func Capset(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	header, data := a[0], a[1]
	words, err := capVersion(t, header)
	if err != nil {
		return 0, err
	}
	var pid int32
	if err := t.CopyInObj(header+4, &pid); err != nil {
		return 0, err
	}
	if pid != 0 && pid != t.ThreadID() {
		return 0, unix.EPERM
	}
	in := make([]capData, words)
	if err := t.CopyInObj(data, in); err != nil {
		return 0, unix.EFAULT
	}
	var s kernel.CapSets
	for i, d := range in {
		sh := 32 * i
		s.Effective |= uint64(d.Effective) << sh
		s.Permitted |= uint64(d.Permitted) << sh
		s.Inheritable |= uint64(d.Inheritable) << sh
	}
	return 0, t.SetCapabilities(s)
}
