package linux

import (
	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// memfd_create(2)'s flags (include/uapi/linux/memfd.h) and limits.
const (
	mfdCloexec      = 0x1
	mfdAllowSealing = 0x2
	mfdHugetlb      = 0x4
	mfdNoexecSeal   = 0x8
	mfdExec         = 0x10
	mfdAllFlags     = mfdCloexec | mfdAllowSealing | mfdHugetlb | mfdNoexecSeal | mfdExec
	mfdHugeMask     = 0x3f << 26 // MFD_HUGE_MASK << MFD_HUGE_SHIFT
	mfdNameMaxLen   = 255 - len("memfd:")
)

// MemfdCreate implements memfd_create(2), in mm/memfd.c's order of checks: the flags,
// then the name (EFAULT, or EINVAL past 249 bytes). Huge-page memfds are not supported.
func MemfdCreate(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := uint32(a[1])
	valid := uint32(mfdAllFlags)
	if flags&mfdHugetlb != 0 {
		valid |= mfdHugeMask
	}
	if flags&^valid != 0 || flags&mfdExec != 0 && flags&mfdNoexecSeal != 0 {
		return 0, unix.EINVAL
	}
	name, err := t.MM.CopyInString(a[0], mfdNameMaxLen)
	if err == unix.ENAMETOOLONG {
		return 0, unix.EINVAL
	} else if err != nil {
		return 0, unix.EFAULT
	}
	if flags&mfdHugetlb != 0 {
		return 0, unsupported(t, "memfd_create with MFD_HUGETLB")
	}
	owner := vfs.Owner{UID: t.Creds.UID, GID: t.Creds.GID}
	f := t.Kernel().MemfdFS().NewMemfd(t.Kernel().VFS, name, flags&mfdAllowSealing != 0,
		flags&mfdNoexecSeal != 0, owner)
	return installFD(t, f, flags&mfdCloexec != 0)
}
