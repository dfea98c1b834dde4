package linux

import (
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/fsimpl/cgroupfs"
	"github.com/moat-sandbox/moat/sentry/fsimpl/proc"
	"github.com/moat-sandbox/moat/sentry/fsimpl/sys"
	"github.com/moat-sandbox/moat/sentry/fsimpl/tmpfs"
	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// mount(2) flags (include/uapi/linux/mount.h).
const (
	msMgcMask = 0xffff0000
	msMgcVal  = 0xc0ed0000
	// msOperations pick another operation than a new mount.
	msOperations = unix.MS_REMOUNT | unix.MS_BIND | unix.MS_MOVE | unix.MS_SHARED |
		unix.MS_PRIVATE | unix.MS_SLAVE | unix.MS_UNBINDABLE
	// msNewMount are the flags a new mount takes: the per-mount ones it keeps; those
	// about access times, which the Sentry's filesystems don't keep apart (relatime is
	// Linux's default); the synchronous-write ones, which its filesystems, all in
	// memory, meet anyway; MS_SILENT and MS_I_VERSION; and MS_REC, which Linux ignores
	// for a new mount.
	msNewMount = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_SILENT |
		unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_LAZYTIME |
		unix.MS_SYNCHRONOUS | unix.MS_DIRSYNC | unix.MS_I_VERSION | unix.MS_REC
)

// mountString copies in one of mount's strings (at most a page, as copy_mount_string
// and copy_mount_options); NULL is "" and false.
func mountString(t *kernel.Task, addr uintptr) (string, bool, error) {
	if addr == 0 {
		return "", false, nil
	}
	s, err := t.MM.CopyInString(addr, 4096)
	return s, true, err
}

// Mount implements mount(2) for new mounts of the Sentry's own filesystems (cgroup2,
// proc, sysfs, tmpfs, mqueue), with the checks and errnos of path_mount and
// do_new_mount; remounts, bind mounts, moves and propagation changes are not
// supported yet (ENOSYS, logged).
func Mount(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	fstype, _, err := mountString(t, a[2])
	if err != nil {
		return 0, err
	}
	source, hasSource, err := mountString(t, a[0])
	if err != nil {
		return 0, err
	}
	data, _, err := mountString(t, a[4])
	if err != nil {
		return 0, err
	}
	target, err := resolveAt(t, unix.AT_FDCWD, a[1], true, false)
	if err != nil {
		return 0, err
	}
	flags := a[3]
	if flags&msMgcMask == msMgcVal {
		flags &^= msMgcMask
	}
	if flags&unix.MS_NOUSER != 0 {
		return 0, unix.EINVAL
	}
	if !t.Creds.HasCap(vfs.CapSysAdmin) {
		return 0, unix.EPERM
	}
	if flags&msOperations != 0 {
		return 0, unsupported(t, "mount with flags %#x (remount, bind, move or propagation)", flags&msOperations)
	}
	if fstype == "" {
		return 0, unix.EINVAL
	}
	if extra := flags &^ msNewMount; extra != 0 {
		return 0, unsupported(t, "mount with flags %#x", extra)
	}
	mflags := vfs.MountFlags{ReadOnly: flags&unix.MS_RDONLY != 0, NoSuid: flags&unix.MS_NOSUID != 0,
		NoDev: flags&unix.MS_NODEV != 0, NoExec: flags&unix.MS_NOEXEC != 0}
	if !hasSource {
		source = "none" // as show_vfsmnt shows a mount with no source
	}
	k := t.Kernel()
	v := k.VFS
	var m *vfs.Mount
	switch fstype {
	case cgroupfs.FSType:
		if err := cgroupOptions(data); err != nil {
			return 0, err
		}
		m = v.NewMount(cgroupfs.New(v, k, t.Container()), fstype, source, mflags)
	case "proc", "sysfs", "mqueue":
		if data != "" {
			return 0, unsupported(t, "%s mount options %q", fstype, data)
		}
		switch fstype {
		case "proc":
			m = v.NewMount(proc.New(v, k, t.PIDNamespace()), fstype, source, mflags)
		case "sysfs":
			m = v.NewMount(sys.New(v), fstype, source, mflags)
		default:
			m = v.NewMountOf(k.MqueueMount(), fstype, source, mflags)
		}
	case "tmpfs":
		mode, owner, err := tmpfsOptions(t, data)
		if err != nil {
			return 0, err
		}
		_, root := tmpfs.New(v, mode, owner)
		m = v.NewMount(root, fstype, source, mflags)
	default:
		return 0, unix.ENODEV // get_fs_type: no such filesystem type
	}
	return 0, v.Attach(m, target)
}

// cgroupOptions checks cgroup2's mount options (cgroup2_parse_param): those Linux
// knows change how delegation and the memory controller's protection are reckoned,
// which this cgroup filesystem, with no child cgroups and no writes, has no use for;
// any other is EINVAL.
func cgroupOptions(data string) error {
	for _, o := range strings.Split(data, ",") {
		switch o {
		case "", "nsdelegate", "favordynmods", "memory_localevents", "memory_recursiveprot",
			"memory_hugetlb_accounting", "pids_localevents":
		default:
			if strings.HasPrefix(o, "source=") {
				continue
			}
			return unix.EINVAL
		}
	}
	return nil
}

// tmpfsOptions reads a tmpfs's mode, uid and gid options (octal mode, as
// shmem_parse_one); a size or inode limit is not supported yet.
func tmpfsOptions(t *kernel.Task, data string) (uint32, vfs.Owner, error) {
	mode, owner := uint32(0o1777), vfs.Owner{}
	for _, o := range strings.Split(data, ",") {
		if o == "" {
			continue
		}
		key, val, _ := strings.Cut(o, "=")
		var n uint64
		var err error
		switch key {
		case "mode":
			n, err = strconv.ParseUint(val, 8, 32)
			mode = uint32(n) & 0o7777
		case "uid":
			n, err = strconv.ParseUint(val, 10, 32)
			owner.UID = uint32(n)
		case "gid":
			n, err = strconv.ParseUint(val, 10, 32)
			owner.GID = uint32(n)
		default:
			return 0, owner, unsupported(t, "tmpfs mount option %q", key)
		}
		if err != nil {
			return 0, owner, unix.EINVAL
		}
	}
	return mode, owner, nil
}

// Umount2 implements umount2(2), as ksys_umount and can_umount: the mount whose root
// the path names is detached, with the mounts on it if MNT_DETACH.
func Umount2(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	flags := int(a[1])
	if flags&^(unix.MNT_FORCE|unix.MNT_DETACH|unix.MNT_EXPIRE|unix.UMOUNT_NOFOLLOW) != 0 {
		return 0, unix.EINVAL
	}
	vd, err := resolveAt(t, unix.AT_FDCWD, a[0], flags&unix.UMOUNT_NOFOLLOW == 0, false)
	if err != nil {
		return 0, err
	}
	if !t.Creds.HasCap(vfs.CapSysAdmin) {
		return 0, unix.EPERM
	}
	if vd.Dentry != vd.Mount.Root().Dentry {
		return 0, unix.EINVAL
	}
	if flags&unix.MNT_EXPIRE != 0 {
		if flags&(unix.MNT_FORCE|unix.MNT_DETACH) != 0 {
			return 0, unix.EINVAL
		}
		return 0, unsupported(t, "umount2 with MNT_EXPIRE")
	}
	if vd.Mount == t.FS.Root().Mount && flags&unix.MNT_DETACH == 0 {
		return 0, unix.EBUSY // do_umount: the caller's root
	}
	return 0, t.Kernel().VFS.Detach(vd.Mount, flags&unix.MNT_DETACH != 0)
}
