package strace

import (
	"strconv"

	"golang.org/x/sys/unix"
)

// Names of the Linux ABI's constants, as the kernel's uapi headers spell
// them. Values come from golang.org/x/sys/unix where it has them.

// atFDCWD is AT_FDCWD as the int the kernel sees.
const atFDCWD = unix.AT_FDCWD

// oLargefile is the kernel's O_LARGEFILE (include/uapi/asm-generic/fcntl.h);
// x/sys has glibc's, which is 0 on 64-bit.
const oLargefile = 0o100000

// Constants golang.org/x/sys/unix lacks, named after the kernel's (which the
// tables below spell out); candidates for abi/linux.
const (
	// saRestorer is SA_RESTORER (arch/x86/include/uapi/asm/signal.h).
	saRestorer = 0x04000000

	// arch_prctl codes (arch/x86/include/uapi/asm/prctl.h).
	archSetGS    = 0x1001 // ARCH_SET_GS
	archSetFS    = 0x1002 // ARCH_SET_FS
	archGetFS    = 0x1003 // ARCH_GET_FS
	archGetGS    = 0x1004 // ARCH_GET_GS
	archGetCPUID = 0x1011 // ARCH_GET_CPUID
	archSetCPUID = 0x1012 // ARCH_SET_CPUID

	// ioctl requests (include/uapi/asm-generic/ioctls.h).
	fionread = 0x541b // FIONREAD
	fionbio  = 0x5421 // FIONBIO
	fionclex = 0x5450 // FIONCLEX
	fioclex  = 0x5451 // FIOCLEX
	fioasync = 0x5452 // FIOASYNC

	// futex operations and flags (include/uapi/linux/futex.h).
	futexWait           = 0          // FUTEX_WAIT
	futexWake           = 1          // FUTEX_WAKE
	futexFD             = 2          // FUTEX_FD
	futexRequeue        = 3          // FUTEX_REQUEUE
	futexCmpRequeue     = 4          // FUTEX_CMP_REQUEUE
	futexWakeOp         = 5          // FUTEX_WAKE_OP
	futexLockPI         = 6          // FUTEX_LOCK_PI
	futexUnlockPI       = 7          // FUTEX_UNLOCK_PI
	futexTrylockPI      = 8          // FUTEX_TRYLOCK_PI
	futexWaitBitset     = 9          // FUTEX_WAIT_BITSET
	futexWakeBitset     = 10         // FUTEX_WAKE_BITSET
	futexWaitRequeuePI  = 11         // FUTEX_WAIT_REQUEUE_PI
	futexCmpRequeuePI   = 12         // FUTEX_CMP_REQUEUE_PI
	futexLockPI2        = 13         // FUTEX_LOCK_PI2
	futexPrivateFlag    = 128        // FUTEX_PRIVATE_FLAG
	futexClockRealtime  = 256        // FUTEX_CLOCK_REALTIME
	futexBitsetMatchAny = 0xffffffff // FUTEX_BITSET_MATCH_ANY
)

// Files.

var openFlags = newFlags("0",
	name{unix.O_CREAT, "O_CREAT"},
	name{unix.O_EXCL, "O_EXCL"},
	name{unix.O_NOCTTY, "O_NOCTTY"},
	name{unix.O_TRUNC, "O_TRUNC"},
	name{unix.O_APPEND, "O_APPEND"},
	name{unix.O_NONBLOCK, "O_NONBLOCK"},
	name{unix.O_SYNC, "O_SYNC"},
	name{unix.O_DSYNC, "O_DSYNC"},
	name{unix.O_ASYNC, "O_ASYNC"},
	name{unix.O_DIRECT, "O_DIRECT"},
	name{oLargefile, "O_LARGEFILE"},
	name{unix.O_DIRECTORY, "O_DIRECTORY"},
	name{unix.O_NOFOLLOW, "O_NOFOLLOW"},
	name{unix.O_NOATIME, "O_NOATIME"},
	name{unix.O_CLOEXEC, "O_CLOEXEC"},
	name{unix.O_PATH, "O_PATH"},
	name{unix.O_TMPFILE, "O_TMPFILE"},
).withField(unix.O_ACCMODE, names{
	{unix.O_RDONLY, "O_RDONLY"},
	{unix.O_WRONLY, "O_WRONLY"},
	{unix.O_RDWR, "O_RDWR"},
})

// pipeFlags are the open flags pipe2, dup3, userfaultfd and friends take.
var pipeFlags = newFlags("0",
	name{unix.O_NONBLOCK, "O_NONBLOCK"},
	name{unix.O_DIRECT, "O_DIRECT"},
	name{unix.O_CLOEXEC, "O_CLOEXEC"},
	name{0x80, "O_NOTIFICATION_PIPE"},
)

var atFlags = newFlags("0",
	name{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	name{unix.AT_REMOVEDIR, "AT_REMOVEDIR"},
	name{unix.AT_SYMLINK_FOLLOW, "AT_SYMLINK_FOLLOW"},
	name{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	name{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
	name{unix.AT_RECURSIVE, "AT_RECURSIVE"},
)

// accessAtFlags are faccessat2's: 0x200 is AT_EACCESS there, not
// AT_REMOVEDIR.
var accessAtFlags = newFlags("0",
	name{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	name{unix.AT_EACCESS, "AT_EACCESS"},
	name{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
)

var statxFlags = newFlags("0",
	name{unix.AT_SYMLINK_NOFOLLOW, "AT_SYMLINK_NOFOLLOW"},
	name{unix.AT_NO_AUTOMOUNT, "AT_NO_AUTOMOUNT"},
	name{unix.AT_EMPTY_PATH, "AT_EMPTY_PATH"},
).withField(0x6000, names{
	{unix.AT_STATX_SYNC_AS_STAT, "AT_STATX_SYNC_AS_STAT"},
	{unix.AT_STATX_FORCE_SYNC, "AT_STATX_FORCE_SYNC"},
	{unix.AT_STATX_DONT_SYNC, "AT_STATX_DONT_SYNC"},
})

var statxMask = newFlags("0",
	name{unix.STATX_ALL, "STATX_ALL"},
	name{unix.STATX_BASIC_STATS, "STATX_BASIC_STATS"},
	name{unix.STATX_TYPE, "STATX_TYPE"},
	name{unix.STATX_MODE, "STATX_MODE"},
	name{unix.STATX_NLINK, "STATX_NLINK"},
	name{unix.STATX_UID, "STATX_UID"},
	name{unix.STATX_GID, "STATX_GID"},
	name{unix.STATX_ATIME, "STATX_ATIME"},
	name{unix.STATX_MTIME, "STATX_MTIME"},
	name{unix.STATX_CTIME, "STATX_CTIME"},
	name{unix.STATX_INO, "STATX_INO"},
	name{unix.STATX_SIZE, "STATX_SIZE"},
	name{unix.STATX_BLOCKS, "STATX_BLOCKS"},
	name{unix.STATX_BTIME, "STATX_BTIME"},
	name{unix.STATX_MNT_ID, "STATX_MNT_ID"},
	name{unix.STATX_DIOALIGN, "STATX_DIOALIGN"},
	name{unix.STATX_MNT_ID_UNIQUE, "STATX_MNT_ID_UNIQUE"},
	name{unix.STATX_SUBVOL, "STATX_SUBVOL"},
	name{unix.STATX_WRITE_ATOMIC, "STATX_WRITE_ATOMIC"},
	name{unix.STATX_DIO_READ_ALIGN, "STATX_DIO_READ_ALIGN"},
)

var accessMode = newFlags("F_OK",
	name{unix.R_OK, "R_OK"},
	name{unix.W_OK, "W_OK"},
	name{unix.X_OK, "X_OK"},
)

var whence = names{
	{unix.SEEK_SET, "SEEK_SET"},
	{unix.SEEK_CUR, "SEEK_CUR"},
	{unix.SEEK_END, "SEEK_END"},
	{unix.SEEK_DATA, "SEEK_DATA"},
	{unix.SEEK_HOLE, "SEEK_HOLE"},
}

var renameFlags = newFlags("0",
	name{unix.RENAME_NOREPLACE, "RENAME_NOREPLACE"},
	name{unix.RENAME_EXCHANGE, "RENAME_EXCHANGE"},
	name{unix.RENAME_WHITEOUT, "RENAME_WHITEOUT"},
)

var resolveFlags = newFlags("0",
	name{unix.RESOLVE_NO_XDEV, "RESOLVE_NO_XDEV"},
	name{unix.RESOLVE_NO_MAGICLINKS, "RESOLVE_NO_MAGICLINKS"},
	name{unix.RESOLVE_NO_SYMLINKS, "RESOLVE_NO_SYMLINKS"},
	name{unix.RESOLVE_BENEATH, "RESOLVE_BENEATH"},
	name{unix.RESOLVE_IN_ROOT, "RESOLVE_IN_ROOT"},
	name{0x20, "RESOLVE_CACHED"},
)

var closeRangeFlags = newFlags("0",
	name{unix.CLOSE_RANGE_UNSHARE, "CLOSE_RANGE_UNSHARE"},
	name{unix.CLOSE_RANGE_CLOEXEC, "CLOSE_RANGE_CLOEXEC"},
)

var fdFlags = newFlags("0", name{unix.FD_CLOEXEC, "FD_CLOEXEC"})

var fcntlCmds = names{
	{unix.F_DUPFD, "F_DUPFD"},
	{unix.F_GETFD, "F_GETFD"},
	{unix.F_SETFD, "F_SETFD"},
	{unix.F_GETFL, "F_GETFL"},
	{unix.F_SETFL, "F_SETFL"},
	{unix.F_GETLK, "F_GETLK"},
	{unix.F_SETLK, "F_SETLK"},
	{unix.F_SETLKW, "F_SETLKW"},
	{unix.F_SETOWN, "F_SETOWN"},
	{unix.F_GETOWN, "F_GETOWN"},
	{unix.F_SETSIG, "F_SETSIG"},
	{unix.F_GETSIG, "F_GETSIG"},
	{unix.F_SETOWN_EX, "F_SETOWN_EX"},
	{unix.F_GETOWN_EX, "F_GETOWN_EX"},
	{17, "F_GETOWNER_UIDS"},
	{unix.F_OFD_GETLK, "F_OFD_GETLK"},
	{unix.F_OFD_SETLK, "F_OFD_SETLK"},
	{unix.F_OFD_SETLKW, "F_OFD_SETLKW"},
	{unix.F_SETLEASE, "F_SETLEASE"},
	{unix.F_GETLEASE, "F_GETLEASE"},
	{unix.F_NOTIFY, "F_NOTIFY"},
	{1027, "F_DUPFD_QUERY"},
	{1028, "F_CREATED_QUERY"},
	{unix.F_DUPFD_CLOEXEC, "F_DUPFD_CLOEXEC"},
	{unix.F_SETPIPE_SZ, "F_SETPIPE_SZ"},
	{unix.F_GETPIPE_SZ, "F_GETPIPE_SZ"},
	{unix.F_ADD_SEALS, "F_ADD_SEALS"},
	{unix.F_GET_SEALS, "F_GET_SEALS"},
	{1035, "F_GET_RW_HINT"},
	{1036, "F_SET_RW_HINT"},
	{1037, "F_GET_FILE_RW_HINT"},
	{1038, "F_SET_FILE_RW_HINT"},
}

var lockTypes = names{
	{unix.F_RDLCK, "F_RDLCK"},
	{unix.F_WRLCK, "F_WRLCK"},
	{unix.F_UNLCK, "F_UNLCK"},
}

var leaseTypes = lockTypes

var seals = newFlags("0",
	name{unix.F_SEAL_SEAL, "F_SEAL_SEAL"},
	name{unix.F_SEAL_SHRINK, "F_SEAL_SHRINK"},
	name{unix.F_SEAL_GROW, "F_SEAL_GROW"},
	name{unix.F_SEAL_WRITE, "F_SEAL_WRITE"},
	name{unix.F_SEAL_FUTURE_WRITE, "F_SEAL_FUTURE_WRITE"},
	name{0x20, "F_SEAL_EXEC"},
)

var flockOps = newFlags("0",
	name{unix.LOCK_SH, "LOCK_SH"},
	name{unix.LOCK_EX, "LOCK_EX"},
	name{unix.LOCK_NB, "LOCK_NB"},
	name{unix.LOCK_UN, "LOCK_UN"},
)

var xattrFlags = newFlags("0",
	name{unix.XATTR_CREATE, "XATTR_CREATE"},
	name{unix.XATTR_REPLACE, "XATTR_REPLACE"},
)

var fadvice = names{
	{unix.FADV_NORMAL, "POSIX_FADV_NORMAL"},
	{unix.FADV_RANDOM, "POSIX_FADV_RANDOM"},
	{unix.FADV_SEQUENTIAL, "POSIX_FADV_SEQUENTIAL"},
	{unix.FADV_WILLNEED, "POSIX_FADV_WILLNEED"},
	{unix.FADV_DONTNEED, "POSIX_FADV_DONTNEED"},
	{unix.FADV_NOREUSE, "POSIX_FADV_NOREUSE"},
}

var fallocModes = newFlags("0",
	name{unix.FALLOC_FL_KEEP_SIZE, "FALLOC_FL_KEEP_SIZE"},
	name{unix.FALLOC_FL_PUNCH_HOLE, "FALLOC_FL_PUNCH_HOLE"},
	name{unix.FALLOC_FL_NO_HIDE_STALE, "FALLOC_FL_NO_HIDE_STALE"},
	name{unix.FALLOC_FL_COLLAPSE_RANGE, "FALLOC_FL_COLLAPSE_RANGE"},
	name{unix.FALLOC_FL_ZERO_RANGE, "FALLOC_FL_ZERO_RANGE"},
	name{unix.FALLOC_FL_INSERT_RANGE, "FALLOC_FL_INSERT_RANGE"},
	name{unix.FALLOC_FL_UNSHARE_RANGE, "FALLOC_FL_UNSHARE_RANGE"},
)

var spliceFlags = newFlags("0",
	name{unix.SPLICE_F_MOVE, "SPLICE_F_MOVE"},
	name{unix.SPLICE_F_NONBLOCK, "SPLICE_F_NONBLOCK"},
	name{unix.SPLICE_F_MORE, "SPLICE_F_MORE"},
	name{unix.SPLICE_F_GIFT, "SPLICE_F_GIFT"},
)

var rwfFlags = newFlags("0",
	name{unix.RWF_HIPRI, "RWF_HIPRI"},
	name{unix.RWF_DSYNC, "RWF_DSYNC"},
	name{unix.RWF_SYNC, "RWF_SYNC"},
	name{unix.RWF_NOWAIT, "RWF_NOWAIT"},
	name{unix.RWF_APPEND, "RWF_APPEND"},
	name{0x20, "RWF_NOAPPEND"},
	name{0x40, "RWF_ATOMIC"},
	name{0x80, "RWF_DONTCACHE"},
)

var inotifyMask = newFlags("0",
	name{unix.IN_ACCESS, "IN_ACCESS"},
	name{unix.IN_MODIFY, "IN_MODIFY"},
	name{unix.IN_ATTRIB, "IN_ATTRIB"},
	name{unix.IN_CLOSE_WRITE, "IN_CLOSE_WRITE"},
	name{unix.IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE"},
	name{unix.IN_OPEN, "IN_OPEN"},
	name{unix.IN_MOVED_FROM, "IN_MOVED_FROM"},
	name{unix.IN_MOVED_TO, "IN_MOVED_TO"},
	name{unix.IN_CREATE, "IN_CREATE"},
	name{unix.IN_DELETE, "IN_DELETE"},
	name{unix.IN_DELETE_SELF, "IN_DELETE_SELF"},
	name{unix.IN_MOVE_SELF, "IN_MOVE_SELF"},
	name{unix.IN_ONLYDIR, "IN_ONLYDIR"},
	name{unix.IN_DONT_FOLLOW, "IN_DONT_FOLLOW"},
	name{unix.IN_EXCL_UNLINK, "IN_EXCL_UNLINK"},
	name{unix.IN_MASK_CREATE, "IN_MASK_CREATE"},
	name{unix.IN_MASK_ADD, "IN_MASK_ADD"},
	name{unix.IN_ISDIR, "IN_ISDIR"},
	name{unix.IN_ONESHOT, "IN_ONESHOT"},
)

var inotifyInitFlags = newFlags("0",
	name{unix.IN_NONBLOCK, "IN_NONBLOCK"},
	name{unix.IN_CLOEXEC, "IN_CLOEXEC"},
)

var mountFlags = newFlags("0",
	name{unix.MS_RDONLY, "MS_RDONLY"},
	name{unix.MS_NOSUID, "MS_NOSUID"},
	name{unix.MS_NODEV, "MS_NODEV"},
	name{unix.MS_NOEXEC, "MS_NOEXEC"},
	name{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"},
	name{unix.MS_REMOUNT, "MS_REMOUNT"},
	name{unix.MS_MANDLOCK, "MS_MANDLOCK"},
	name{unix.MS_DIRSYNC, "MS_DIRSYNC"},
	name{unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
	name{unix.MS_NOATIME, "MS_NOATIME"},
	name{unix.MS_NODIRATIME, "MS_NODIRATIME"},
	name{unix.MS_BIND, "MS_BIND"},
	name{unix.MS_MOVE, "MS_MOVE"},
	name{unix.MS_REC, "MS_REC"},
	name{unix.MS_SILENT, "MS_SILENT"},
	name{unix.MS_POSIXACL, "MS_POSIXACL"},
	name{unix.MS_UNBINDABLE, "MS_UNBINDABLE"},
	name{unix.MS_PRIVATE, "MS_PRIVATE"},
	name{unix.MS_SLAVE, "MS_SLAVE"},
	name{unix.MS_SHARED, "MS_SHARED"},
	name{unix.MS_RELATIME, "MS_RELATIME"},
	name{unix.MS_KERNMOUNT, "MS_KERNMOUNT"},
	name{unix.MS_I_VERSION, "MS_I_VERSION"},
	name{unix.MS_STRICTATIME, "MS_STRICTATIME"},
	name{unix.MS_LAZYTIME, "MS_LAZYTIME"},
)

var umountFlags = newFlags("0",
	name{unix.MNT_FORCE, "MNT_FORCE"},
	name{unix.MNT_DETACH, "MNT_DETACH"},
	name{unix.MNT_EXPIRE, "MNT_EXPIRE"},
	name{unix.UMOUNT_NOFOLLOW, "UMOUNT_NOFOLLOW"},
)

// File types and modes.

var fileTypes = names{
	{unix.S_IFSOCK, "S_IFSOCK"},
	{unix.S_IFLNK, "S_IFLNK"},
	{unix.S_IFREG, "S_IFREG"},
	{unix.S_IFBLK, "S_IFBLK"},
	{unix.S_IFDIR, "S_IFDIR"},
	{unix.S_IFCHR, "S_IFCHR"},
	{unix.S_IFIFO, "S_IFIFO"},
}

// fileMode formats a mode with its type, as st_mode: S_IFDIR|S_ISVTX|0777.
func fileMode(m uint32) string {
	s := ""
	if t, ok := fileTypes.lookup(uint64(m & unix.S_IFMT)); ok {
		s = t + "|"
		m &^= unix.S_IFMT
	}
	for _, b := range []name{{unix.S_ISUID, "S_ISUID"}, {unix.S_ISGID, "S_ISGID"}, {unix.S_ISVTX, "S_ISVTX"}} {
		if uint64(m)&b.val != 0 && s != "" {
			s += b.name + "|"
			m &^= uint32(b.val)
		}
	}
	return s + octal(uint64(m))
}

// makedev formats a device number as strace does: makedev(0x88, 0x1).
func makedev(dev uint64) string {
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	return "makedev(" + hexC(major) + ", " + hexC(minor) + ")"
}

// Memory.

var prot = newFlags("PROT_NONE",
	name{unix.PROT_READ, "PROT_READ"},
	name{unix.PROT_WRITE, "PROT_WRITE"},
	name{unix.PROT_EXEC, "PROT_EXEC"},
	name{0x8, "PROT_SEM"},
	name{unix.PROT_GROWSDOWN, "PROT_GROWSDOWN"},
	name{unix.PROT_GROWSUP, "PROT_GROWSUP"},
)

var mmapFlags = newFlags("0",
	name{unix.MAP_FIXED, "MAP_FIXED"},
	name{unix.MAP_ANONYMOUS, "MAP_ANONYMOUS"},
	name{unix.MAP_32BIT, "MAP_32BIT"},
	name{unix.MAP_GROWSDOWN, "MAP_GROWSDOWN"},
	name{unix.MAP_DENYWRITE, "MAP_DENYWRITE"},
	name{unix.MAP_EXECUTABLE, "MAP_EXECUTABLE"},
	name{unix.MAP_LOCKED, "MAP_LOCKED"},
	name{unix.MAP_NORESERVE, "MAP_NORESERVE"},
	name{unix.MAP_POPULATE, "MAP_POPULATE"},
	name{unix.MAP_NONBLOCK, "MAP_NONBLOCK"},
	name{unix.MAP_STACK, "MAP_STACK"},
	name{unix.MAP_HUGETLB, "MAP_HUGETLB"},
	name{unix.MAP_SYNC, "MAP_SYNC"},
	name{unix.MAP_FIXED_NOREPLACE, "MAP_FIXED_NOREPLACE"},
	name{0x4000000, "MAP_UNINITIALIZED"},
).withField(unix.MAP_TYPE, names{
	{unix.MAP_SHARED, "MAP_SHARED"},
	{unix.MAP_PRIVATE, "MAP_PRIVATE"},
	{unix.MAP_SHARED_VALIDATE, "MAP_SHARED_VALIDATE"},
})

var mremapFlags = newFlags("0",
	name{unix.MREMAP_MAYMOVE, "MREMAP_MAYMOVE"},
	name{unix.MREMAP_FIXED, "MREMAP_FIXED"},
	name{unix.MREMAP_DONTUNMAP, "MREMAP_DONTUNMAP"},
)

var msyncFlags = newFlags("0",
	name{unix.MS_ASYNC, "MS_ASYNC"},
	name{unix.MS_INVALIDATE, "MS_INVALIDATE"},
	name{unix.MS_SYNC, "MS_SYNC"},
)

var mlockallFlags = newFlags("0",
	name{unix.MCL_CURRENT, "MCL_CURRENT"},
	name{unix.MCL_FUTURE, "MCL_FUTURE"},
	name{unix.MCL_ONFAULT, "MCL_ONFAULT"},
)

var madvice = names{
	{unix.MADV_NORMAL, "MADV_NORMAL"},
	{unix.MADV_RANDOM, "MADV_RANDOM"},
	{unix.MADV_SEQUENTIAL, "MADV_SEQUENTIAL"},
	{unix.MADV_WILLNEED, "MADV_WILLNEED"},
	{unix.MADV_DONTNEED, "MADV_DONTNEED"},
	{unix.MADV_FREE, "MADV_FREE"},
	{unix.MADV_REMOVE, "MADV_REMOVE"},
	{unix.MADV_DONTFORK, "MADV_DONTFORK"},
	{unix.MADV_DOFORK, "MADV_DOFORK"},
	{unix.MADV_MERGEABLE, "MADV_MERGEABLE"},
	{unix.MADV_UNMERGEABLE, "MADV_UNMERGEABLE"},
	{unix.MADV_HUGEPAGE, "MADV_HUGEPAGE"},
	{unix.MADV_NOHUGEPAGE, "MADV_NOHUGEPAGE"},
	{unix.MADV_DONTDUMP, "MADV_DONTDUMP"},
	{unix.MADV_DODUMP, "MADV_DODUMP"},
	{unix.MADV_WIPEONFORK, "MADV_WIPEONFORK"},
	{unix.MADV_KEEPONFORK, "MADV_KEEPONFORK"},
	{unix.MADV_COLD, "MADV_COLD"},
	{unix.MADV_PAGEOUT, "MADV_PAGEOUT"},
	{unix.MADV_POPULATE_READ, "MADV_POPULATE_READ"},
	{unix.MADV_POPULATE_WRITE, "MADV_POPULATE_WRITE"},
	{24, "MADV_DONTNEED_LOCKED"},
	{unix.MADV_COLLAPSE, "MADV_COLLAPSE"},
	{unix.MADV_HWPOISON, "MADV_HWPOISON"},
	{101, "MADV_SOFT_OFFLINE"},
	{102, "MADV_GUARD_INSTALL"},
	{103, "MADV_GUARD_REMOVE"},
}

var mfdFlags = newFlags("0",
	name{unix.MFD_CLOEXEC, "MFD_CLOEXEC"},
	name{unix.MFD_ALLOW_SEALING, "MFD_ALLOW_SEALING"},
	name{unix.MFD_HUGETLB, "MFD_HUGETLB"},
	name{unix.MFD_NOEXEC_SEAL, "MFD_NOEXEC_SEAL"},
	name{unix.MFD_EXEC, "MFD_EXEC"},
)

// Processes and threads.

// cloneFlags are clone's and unshare's flags, without the exit signal in
// clone's low byte (CSIGNAL).
var cloneFlags = newFlags("0",
	name{unix.CLONE_VM, "CLONE_VM"},
	name{unix.CLONE_FS, "CLONE_FS"},
	name{unix.CLONE_FILES, "CLONE_FILES"},
	name{unix.CLONE_SIGHAND, "CLONE_SIGHAND"},
	name{unix.CLONE_PIDFD, "CLONE_PIDFD"},
	name{unix.CLONE_PTRACE, "CLONE_PTRACE"},
	name{unix.CLONE_VFORK, "CLONE_VFORK"},
	name{unix.CLONE_PARENT, "CLONE_PARENT"},
	name{unix.CLONE_THREAD, "CLONE_THREAD"},
	name{unix.CLONE_NEWNS, "CLONE_NEWNS"},
	name{unix.CLONE_SYSVSEM, "CLONE_SYSVSEM"},
	name{unix.CLONE_SETTLS, "CLONE_SETTLS"},
	name{unix.CLONE_PARENT_SETTID, "CLONE_PARENT_SETTID"},
	name{unix.CLONE_CHILD_CLEARTID, "CLONE_CHILD_CLEARTID"},
	name{unix.CLONE_DETACHED, "CLONE_DETACHED"},
	name{unix.CLONE_UNTRACED, "CLONE_UNTRACED"},
	name{unix.CLONE_CHILD_SETTID, "CLONE_CHILD_SETTID"},
	name{unix.CLONE_NEWCGROUP, "CLONE_NEWCGROUP"},
	name{unix.CLONE_NEWUTS, "CLONE_NEWUTS"},
	name{unix.CLONE_NEWIPC, "CLONE_NEWIPC"},
	name{unix.CLONE_NEWUSER, "CLONE_NEWUSER"},
	name{unix.CLONE_NEWPID, "CLONE_NEWPID"},
	name{unix.CLONE_NEWNET, "CLONE_NEWNET"},
	name{unix.CLONE_IO, "CLONE_IO"},
	name{unix.CLONE_CLEAR_SIGHAND, "CLONE_CLEAR_SIGHAND"},
	name{unix.CLONE_INTO_CGROUP, "CLONE_INTO_CGROUP"},
	name{unix.CLONE_NEWTIME, "CLONE_NEWTIME"},
)

// cloneWithSignal formats clone's flags, the exit signal last:
// CLONE_VM|CLONE_FS|SIGCHLD.
func cloneWithSignal(v uint64) string {
	const csignal = 0xff
	s := cloneFlags.format(v &^ csignal)
	if sig := v & csignal; sig != 0 {
		if v&^csignal == 0 {
			return signalName(sig)
		}
		s += "|" + signalName(sig)
	}
	return s
}

var waitOptions = newFlags("0",
	name{unix.WNOHANG, "WNOHANG"},
	name{unix.WUNTRACED, "WSTOPPED"},
	name{unix.WEXITED, "WEXITED"},
	name{unix.WCONTINUED, "WCONTINUED"},
	name{unix.WNOWAIT, "WNOWAIT"},
	name{unix.WNOTHREAD, "__WNOTHREAD"},
	name{unix.WALL, "__WALL"},
	name{unix.WCLONE, "__WCLONE"},
)

var idTypes = names{
	{unix.P_ALL, "P_ALL"},
	{unix.P_PID, "P_PID"},
	{unix.P_PGID, "P_PGID"},
	{unix.P_PIDFD, "P_PIDFD"},
}

var rlimitResources = names{
	{unix.RLIMIT_CPU, "RLIMIT_CPU"},
	{unix.RLIMIT_FSIZE, "RLIMIT_FSIZE"},
	{unix.RLIMIT_DATA, "RLIMIT_DATA"},
	{unix.RLIMIT_STACK, "RLIMIT_STACK"},
	{unix.RLIMIT_CORE, "RLIMIT_CORE"},
	{unix.RLIMIT_RSS, "RLIMIT_RSS"},
	{unix.RLIMIT_NPROC, "RLIMIT_NPROC"},
	{unix.RLIMIT_NOFILE, "RLIMIT_NOFILE"},
	{unix.RLIMIT_MEMLOCK, "RLIMIT_MEMLOCK"},
	{unix.RLIMIT_AS, "RLIMIT_AS"},
	{unix.RLIMIT_LOCKS, "RLIMIT_LOCKS"},
	{unix.RLIMIT_SIGPENDING, "RLIMIT_SIGPENDING"},
	{unix.RLIMIT_MSGQUEUE, "RLIMIT_MSGQUEUE"},
	{unix.RLIMIT_NICE, "RLIMIT_NICE"},
	{unix.RLIMIT_RTPRIO, "RLIMIT_RTPRIO"},
	{unix.RLIMIT_RTTIME, "RLIMIT_RTTIME"},
}

var rusageWho = names{
	{unix.RUSAGE_SELF, "RUSAGE_SELF"},
	{1<<64 - 1, "RUSAGE_CHILDREN"}, // -1
	{unix.RUSAGE_THREAD, "RUSAGE_THREAD"},
}

var prioWhich = names{
	{unix.PRIO_PROCESS, "PRIO_PROCESS"},
	{unix.PRIO_PGRP, "PRIO_PGRP"},
	{unix.PRIO_USER, "PRIO_USER"},
}

var schedPolicies = names{
	{unix.SCHED_NORMAL, "SCHED_OTHER"},
	{unix.SCHED_FIFO, "SCHED_FIFO"},
	{unix.SCHED_RR, "SCHED_RR"},
	{unix.SCHED_BATCH, "SCHED_BATCH"},
	{unix.SCHED_IDLE, "SCHED_IDLE"},
	{unix.SCHED_DEADLINE, "SCHED_DEADLINE"},
	{7, "SCHED_EXT"},
}

var archPrctlCodes = names{
	{archSetGS, "ARCH_SET_GS"},
	{archSetFS, "ARCH_SET_FS"},
	{archGetFS, "ARCH_GET_FS"},
	{archGetGS, "ARCH_GET_GS"},
	{archGetCPUID, "ARCH_GET_CPUID"},
	{archSetCPUID, "ARCH_SET_CPUID"},
	{0x1021, "ARCH_GET_XCOMP_SUPP"},
	{0x1022, "ARCH_GET_XCOMP_PERM"},
	{0x1023, "ARCH_REQ_XCOMP_PERM"},
	{0x1024, "ARCH_GET_XCOMP_GUEST_PERM"},
	{0x1025, "ARCH_REQ_XCOMP_GUEST_PERM"},
	{0x1031, "ARCH_XCOMP_TILECFG"},
	{0x1032, "ARCH_XCOMP_TILEDATA"},
	{0x2001, "ARCH_MAP_VDSO_X32"},
	{0x2002, "ARCH_MAP_VDSO_32"},
	{0x2003, "ARCH_MAP_VDSO_64"},
	{0x4001, "ARCH_GET_UNTAG_MASK"},
	{0x4002, "ARCH_ENABLE_TAGGED_ADDR"},
	{0x4003, "ARCH_GET_MAX_TAG_BITS"},
	{0x4004, "ARCH_FORCE_TAGGED_SVA"},
	{0x5001, "ARCH_SHSTK_ENABLE"},
	{0x5002, "ARCH_SHSTK_DISABLE"},
	{0x5003, "ARCH_SHSTK_LOCK"},
	{0x5004, "ARCH_SHSTK_UNLOCK"},
	{0x5005, "ARCH_SHSTK_STATUS"},
}

var prctlOptions = names{
	{unix.PR_SET_PDEATHSIG, "PR_SET_PDEATHSIG"},
	{unix.PR_GET_PDEATHSIG, "PR_GET_PDEATHSIG"},
	{unix.PR_GET_DUMPABLE, "PR_GET_DUMPABLE"},
	{unix.PR_SET_DUMPABLE, "PR_SET_DUMPABLE"},
	{unix.PR_GET_KEEPCAPS, "PR_GET_KEEPCAPS"},
	{unix.PR_SET_KEEPCAPS, "PR_SET_KEEPCAPS"},
	{unix.PR_GET_TIMERSLACK, "PR_GET_TIMERSLACK"},
	{unix.PR_SET_TIMERSLACK, "PR_SET_TIMERSLACK"},
	{unix.PR_SET_NAME, "PR_SET_NAME"},
	{unix.PR_GET_NAME, "PR_GET_NAME"},
	{unix.PR_GET_SECCOMP, "PR_GET_SECCOMP"},
	{unix.PR_SET_SECCOMP, "PR_SET_SECCOMP"},
	{unix.PR_CAPBSET_READ, "PR_CAPBSET_READ"},
	{unix.PR_CAPBSET_DROP, "PR_CAPBSET_DROP"},
	{unix.PR_GET_SECUREBITS, "PR_GET_SECUREBITS"},
	{unix.PR_SET_SECUREBITS, "PR_SET_SECUREBITS"},
	{unix.PR_SET_MM, "PR_SET_MM"},
	{unix.PR_SET_CHILD_SUBREAPER, "PR_SET_CHILD_SUBREAPER"},
	{unix.PR_GET_CHILD_SUBREAPER, "PR_GET_CHILD_SUBREAPER"},
	{unix.PR_SET_NO_NEW_PRIVS, "PR_SET_NO_NEW_PRIVS"},
	{unix.PR_GET_NO_NEW_PRIVS, "PR_GET_NO_NEW_PRIVS"},
	{unix.PR_GET_TID_ADDRESS, "PR_GET_TID_ADDRESS"},
	{unix.PR_SET_THP_DISABLE, "PR_SET_THP_DISABLE"},
	{unix.PR_GET_THP_DISABLE, "PR_GET_THP_DISABLE"},
	{unix.PR_CAP_AMBIENT, "PR_CAP_AMBIENT"},
	{unix.PR_SET_VMA, "PR_SET_VMA"},
}

var seccompOps = names{
	{unix.SECCOMP_SET_MODE_STRICT, "SECCOMP_SET_MODE_STRICT"},
	{unix.SECCOMP_SET_MODE_FILTER, "SECCOMP_SET_MODE_FILTER"},
	{unix.SECCOMP_GET_ACTION_AVAIL, "SECCOMP_GET_ACTION_AVAIL"},
	{unix.SECCOMP_GET_NOTIF_SIZES, "SECCOMP_GET_NOTIF_SIZES"},
}

// Signals.

// signalName names a signal: SIGINT, SIGRTMIN, SIGRT_1; others decimal.
func signalName(sig uint64) string {
	switch {
	case sig >= 1 && sig < 32:
		return unix.SignalName(unix.Signal(sig))
	case sig == 32:
		return "SIGRTMIN"
	case sig > 32 && sig <= 64:
		return "SIGRT_" + strconv.FormatUint(sig-32, 10)
	}
	return strconv.FormatInt(int64(int32(sig)), 10)
}

// signal formats a signal number argument.
func signal(c *call, i int) string { return signalName(uint64(uint32(c.args[i]))) }

var sigHow = names{
	{unix.SIG_BLOCK, "SIG_BLOCK"},
	{unix.SIG_UNBLOCK, "SIG_UNBLOCK"},
	{unix.SIG_SETMASK, "SIG_SETMASK"},
}

// saFlags are sigaction's flags, in strace's order.
var saFlags = newFlags("0",
	name{saRestorer, "SA_RESTORER"},
	name{0x08000000, "SA_ONSTACK"},
	name{0x10000000, "SA_RESTART"},
	name{0x40000000, "SA_NODEFER"},
	name{0x80000000, "SA_RESETHAND"},
	name{0x1, "SA_NOCLDSTOP"},
	name{0x2, "SA_NOCLDWAIT"},
	name{0x4, "SA_SIGINFO"},
	name{0x400, "SA_UNSUPPORTED"},
	name{0x800, "SA_EXPOSE_TAGBITS"},
)

var ssFlags = newFlags("0",
	name{1, "SS_ONSTACK"},
	name{2, "SS_DISABLE"},
	name{1 << 31, "SS_AUTODISARM"},
)

var sfdFlags = newFlags("0",
	name{unix.SFD_NONBLOCK, "SFD_NONBLOCK"},
	name{unix.SFD_CLOEXEC, "SFD_CLOEXEC"},
)

// Time.

var clockIDs = names{
	{unix.CLOCK_REALTIME, "CLOCK_REALTIME"},
	{unix.CLOCK_MONOTONIC, "CLOCK_MONOTONIC"},
	{unix.CLOCK_PROCESS_CPUTIME_ID, "CLOCK_PROCESS_CPUTIME_ID"},
	{unix.CLOCK_THREAD_CPUTIME_ID, "CLOCK_THREAD_CPUTIME_ID"},
	{unix.CLOCK_MONOTONIC_RAW, "CLOCK_MONOTONIC_RAW"},
	{unix.CLOCK_REALTIME_COARSE, "CLOCK_REALTIME_COARSE"},
	{unix.CLOCK_MONOTONIC_COARSE, "CLOCK_MONOTONIC_COARSE"},
	{unix.CLOCK_BOOTTIME, "CLOCK_BOOTTIME"},
	{unix.CLOCK_REALTIME_ALARM, "CLOCK_REALTIME_ALARM"},
	{unix.CLOCK_BOOTTIME_ALARM, "CLOCK_BOOTTIME_ALARM"},
	{unix.CLOCK_TAI, "CLOCK_TAI"},
}

var timerFlags = newFlags("0", name{unix.TIMER_ABSTIME, "TIMER_ABSTIME"})

var tfdFlags = newFlags("0",
	name{unix.TFD_NONBLOCK, "TFD_NONBLOCK"},
	name{unix.TFD_CLOEXEC, "TFD_CLOEXEC"},
)

var tfdTimerFlags = newFlags("0",
	name{unix.TFD_TIMER_ABSTIME, "TFD_TIMER_ABSTIME"},
	name{unix.TFD_TIMER_CANCEL_ON_SET, "TFD_TIMER_CANCEL_ON_SET"},
)

var itimerWhich = names{
	{unix.ITIMER_REAL, "ITIMER_REAL"},
	{unix.ITIMER_VIRTUAL, "ITIMER_VIRTUAL"},
	{unix.ITIMER_PROF, "ITIMER_PROF"},
}

// Futexes.

var futexCmds = names{
	{futexWait, "FUTEX_WAIT"},
	{futexWake, "FUTEX_WAKE"},
	{futexFD, "FUTEX_FD"},
	{futexRequeue, "FUTEX_REQUEUE"},
	{futexCmpRequeue, "FUTEX_CMP_REQUEUE"},
	{futexWakeOp, "FUTEX_WAKE_OP"},
	{futexLockPI, "FUTEX_LOCK_PI"},
	{futexUnlockPI, "FUTEX_UNLOCK_PI"},
	{futexTrylockPI, "FUTEX_TRYLOCK_PI"},
	{futexWaitBitset, "FUTEX_WAIT_BITSET"},
	{futexWakeBitset, "FUTEX_WAKE_BITSET"},
	{futexWaitRequeuePI, "FUTEX_WAIT_REQUEUE_PI"},
	{futexCmpRequeuePI, "FUTEX_CMP_REQUEUE_PI"},
	{futexLockPI2, "FUTEX_LOCK_PI2"},
}

// Polling and events.

var pollEvents = newFlags("0",
	name{unix.POLLIN, "POLLIN"},
	name{unix.POLLPRI, "POLLPRI"},
	name{unix.POLLOUT, "POLLOUT"},
	name{unix.POLLERR, "POLLERR"},
	name{unix.POLLHUP, "POLLHUP"},
	name{unix.POLLNVAL, "POLLNVAL"},
	name{0x40, "POLLRDNORM"},
	name{0x80, "POLLRDBAND"},
	name{0x100, "POLLWRNORM"},
	name{0x200, "POLLWRBAND"},
	name{0x400, "POLLMSG"},
	name{0x1000, "POLLREMOVE"},
	name{unix.POLLRDHUP, "POLLRDHUP"},
)

var epollEvents = newFlags("0",
	name{unix.EPOLLIN, "EPOLLIN"},
	name{unix.EPOLLPRI, "EPOLLPRI"},
	name{unix.EPOLLOUT, "EPOLLOUT"},
	name{unix.EPOLLERR, "EPOLLERR"},
	name{unix.EPOLLHUP, "EPOLLHUP"},
	name{0x20, "EPOLLNVAL"},
	name{unix.EPOLLRDNORM, "EPOLLRDNORM"},
	name{unix.EPOLLRDBAND, "EPOLLRDBAND"},
	name{unix.EPOLLWRNORM, "EPOLLWRNORM"},
	name{unix.EPOLLWRBAND, "EPOLLWRBAND"},
	name{unix.EPOLLMSG, "EPOLLMSG"},
	name{unix.EPOLLRDHUP, "EPOLLRDHUP"},
	name{unix.EPOLLEXCLUSIVE, "EPOLLEXCLUSIVE"},
	name{unix.EPOLLWAKEUP, "EPOLLWAKEUP"},
	name{unix.EPOLLONESHOT, "EPOLLONESHOT"},
	name{unix.EPOLLET, "EPOLLET"},
)

var epollOps = names{
	{unix.EPOLL_CTL_ADD, "EPOLL_CTL_ADD"},
	{unix.EPOLL_CTL_DEL, "EPOLL_CTL_DEL"},
	{unix.EPOLL_CTL_MOD, "EPOLL_CTL_MOD"},
}

var epollCreateFlags = newFlags("0", name{unix.EPOLL_CLOEXEC, "EPOLL_CLOEXEC"})

var efdFlags = newFlags("0",
	name{unix.EFD_SEMAPHORE, "EFD_SEMAPHORE"},
	name{unix.EFD_NONBLOCK, "EFD_NONBLOCK"},
	name{unix.EFD_CLOEXEC, "EFD_CLOEXEC"},
)

var grndFlags = newFlags("0",
	name{unix.GRND_NONBLOCK, "GRND_NONBLOCK"},
	name{unix.GRND_RANDOM, "GRND_RANDOM"},
	name{unix.GRND_INSECURE, "GRND_INSECURE"},
)

// ioctls.

var ioctlReqs = names{
	{unix.TCGETS, "TCGETS"},
	{unix.TCSETS, "TCSETS"},
	{unix.TCSETSW, "TCSETSW"},
	{unix.TCSETSF, "TCSETSF"},
	{unix.TCGETA, "TCGETA"},
	{unix.TCSETA, "TCSETA"},
	{unix.TCSETAW, "TCSETAW"},
	{unix.TCSETAF, "TCSETAF"},
	{unix.TCSBRK, "TCSBRK"},
	{unix.TCXONC, "TCXONC"},
	{unix.TCFLSH, "TCFLSH"},
	{unix.TIOCEXCL, "TIOCEXCL"},
	{unix.TIOCNXCL, "TIOCNXCL"},
	{unix.TIOCSCTTY, "TIOCSCTTY"},
	{unix.TIOCGPGRP, "TIOCGPGRP"},
	{unix.TIOCSPGRP, "TIOCSPGRP"},
	{unix.TIOCOUTQ, "TIOCOUTQ"},
	{unix.TIOCSTI, "TIOCSTI"},
	{unix.TIOCGWINSZ, "TIOCGWINSZ"},
	{unix.TIOCSWINSZ, "TIOCSWINSZ"},
	{unix.TIOCMGET, "TIOCMGET"},
	{unix.TIOCMSET, "TIOCMSET"},
	{fionread, "FIONREAD"},
	{unix.TIOCLINUX, "TIOCLINUX"},
	{unix.TIOCCONS, "TIOCCONS"},
	{fionbio, "FIONBIO"},
	{unix.TIOCNOTTY, "TIOCNOTTY"},
	{unix.TIOCSETD, "TIOCSETD"},
	{unix.TIOCGETD, "TIOCGETD"},
	{unix.TIOCSBRK, "TIOCSBRK"},
	{unix.TIOCCBRK, "TIOCCBRK"},
	{unix.TIOCGSID, "TIOCGSID"},
	{unix.TCGETS2, "TCGETS2"},
	{unix.TCSETS2, "TCSETS2"},
	{unix.TIOCGPTN, "TIOCGPTN"},
	{unix.TIOCSPTLCK, "TIOCSPTLCK"},
	{unix.TIOCGDEV, "TIOCGDEV"},
	{unix.TIOCGPTLCK, "TIOCGPTLCK"},
	{unix.TIOCGPTPEER, "TIOCGPTPEER"},
	{fionclex, "FIONCLEX"},
	{fioclex, "FIOCLEX"},
	{fioasync, "FIOASYNC"},
	{0x5460, "FIOQSIZE"},
	{unix.SIOCGIFNAME, "SIOCGIFNAME"},
	{unix.SIOCGIFCONF, "SIOCGIFCONF"},
	{unix.SIOCGIFFLAGS, "SIOCGIFFLAGS"},
	{unix.SIOCSIFFLAGS, "SIOCSIFFLAGS"},
	{unix.SIOCGIFADDR, "SIOCGIFADDR"},
	{unix.SIOCGIFINDEX, "SIOCGIFINDEX"},
	{unix.SIOCGIFMTU, "SIOCGIFMTU"},
	{unix.SIOCGIFHWADDR, "SIOCGIFHWADDR"},
	{unix.FS_IOC_GETFLAGS, "FS_IOC_GETFLAGS"},
	{unix.FS_IOC_SETFLAGS, "FS_IOC_SETFLAGS"},
}

// Sockets.

var socketDomains = names{
	{unix.AF_UNSPEC, "AF_UNSPEC"},
	{unix.AF_UNIX, "AF_UNIX"},
	{unix.AF_INET, "AF_INET"},
	{unix.AF_AX25, "AF_AX25"},
	{unix.AF_IPX, "AF_IPX"},
	{unix.AF_APPLETALK, "AF_APPLETALK"},
	{unix.AF_INET6, "AF_INET6"},
	{unix.AF_KEY, "AF_KEY"},
	{unix.AF_NETLINK, "AF_NETLINK"},
	{unix.AF_PACKET, "AF_PACKET"},
	{unix.AF_ALG, "AF_ALG"},
	{unix.AF_BLUETOOTH, "AF_BLUETOOTH"},
	{unix.AF_CAN, "AF_CAN"},
	{unix.AF_TIPC, "AF_TIPC"},
	{unix.AF_VSOCK, "AF_VSOCK"},
	{unix.AF_XDP, "AF_XDP"},
}

var socketTypes = newFlags("0",
	name{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"},
	name{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
).withField(0xf, names{
	{unix.SOCK_STREAM, "SOCK_STREAM"},
	{unix.SOCK_DGRAM, "SOCK_DGRAM"},
	{unix.SOCK_RAW, "SOCK_RAW"},
	{unix.SOCK_RDM, "SOCK_RDM"},
	{unix.SOCK_SEQPACKET, "SOCK_SEQPACKET"},
	{unix.SOCK_DCCP, "SOCK_DCCP"},
	{unix.SOCK_PACKET, "SOCK_PACKET"},
})

// sockFlags are accept4's flags.
var sockFlags = newFlags("0",
	name{unix.SOCK_NONBLOCK, "SOCK_NONBLOCK"},
	name{unix.SOCK_CLOEXEC, "SOCK_CLOEXEC"},
)

var ipProtocols = names{
	{unix.IPPROTO_IP, "IPPROTO_IP"},
	{unix.IPPROTO_ICMP, "IPPROTO_ICMP"},
	{unix.IPPROTO_TCP, "IPPROTO_TCP"},
	{unix.IPPROTO_UDP, "IPPROTO_UDP"},
	{unix.IPPROTO_IPV6, "IPPROTO_IPV6"},
	{unix.IPPROTO_ICMPV6, "IPPROTO_ICMPV6"},
	{unix.IPPROTO_SCTP, "IPPROTO_SCTP"},
	{unix.IPPROTO_UDPLITE, "IPPROTO_UDPLITE"},
	{unix.IPPROTO_RAW, "IPPROTO_RAW"},
	{unix.IPPROTO_MPTCP, "IPPROTO_MPTCP"},
}

var netlinkProtocols = names{
	{unix.NETLINK_ROUTE, "NETLINK_ROUTE"},
	{unix.NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG"},
	{unix.NETLINK_AUDIT, "NETLINK_AUDIT"},
	{unix.NETLINK_KOBJECT_UEVENT, "NETLINK_KOBJECT_UEVENT"},
	{unix.NETLINK_GENERIC, "NETLINK_GENERIC"},
}

var msgFlags = newFlags("0",
	name{unix.MSG_OOB, "MSG_OOB"},
	name{unix.MSG_PEEK, "MSG_PEEK"},
	name{unix.MSG_DONTROUTE, "MSG_DONTROUTE"},
	name{unix.MSG_CTRUNC, "MSG_CTRUNC"},
	name{unix.MSG_PROXY, "MSG_PROXY"},
	name{unix.MSG_TRUNC, "MSG_TRUNC"},
	name{unix.MSG_DONTWAIT, "MSG_DONTWAIT"},
	name{unix.MSG_EOR, "MSG_EOR"},
	name{unix.MSG_WAITALL, "MSG_WAITALL"},
	name{unix.MSG_FIN, "MSG_FIN"},
	name{unix.MSG_SYN, "MSG_SYN"},
	name{unix.MSG_CONFIRM, "MSG_CONFIRM"},
	name{unix.MSG_RST, "MSG_RST"},
	name{unix.MSG_ERRQUEUE, "MSG_ERRQUEUE"},
	name{unix.MSG_NOSIGNAL, "MSG_NOSIGNAL"},
	name{unix.MSG_MORE, "MSG_MORE"},
	name{unix.MSG_WAITFORONE, "MSG_WAITFORONE"},
	name{unix.MSG_BATCH, "MSG_BATCH"},
	name{unix.MSG_ZEROCOPY, "MSG_ZEROCOPY"},
	name{unix.MSG_FASTOPEN, "MSG_FASTOPEN"},
	name{unix.MSG_CMSG_CLOEXEC, "MSG_CMSG_CLOEXEC"},
)

var shutdownHow = names{
	{unix.SHUT_RD, "SHUT_RD"},
	{unix.SHUT_WR, "SHUT_WR"},
	{unix.SHUT_RDWR, "SHUT_RDWR"},
}

var sockLevels = names{
	{unix.SOL_IP, "SOL_IP"},
	{unix.SOL_SOCKET, "SOL_SOCKET"},
	{unix.SOL_TCP, "SOL_TCP"},
	{unix.SOL_UDP, "SOL_UDP"},
	{unix.SOL_IPV6, "SOL_IPV6"},
	{unix.SOL_ICMPV6, "SOL_ICMPV6"},
	{unix.SOL_RAW, "SOL_RAW"},
	{unix.SOL_PACKET, "SOL_PACKET"},
	{unix.SOL_NETLINK, "SOL_NETLINK"},
}

// sockOptions names options by level.
var sockOptions = map[uint64]names{
	unix.SOL_SOCKET: {
		{unix.SO_DEBUG, "SO_DEBUG"},
		{unix.SO_REUSEADDR, "SO_REUSEADDR"},
		{unix.SO_TYPE, "SO_TYPE"},
		{unix.SO_ERROR, "SO_ERROR"},
		{unix.SO_DONTROUTE, "SO_DONTROUTE"},
		{unix.SO_BROADCAST, "SO_BROADCAST"},
		{unix.SO_SNDBUF, "SO_SNDBUF"},
		{unix.SO_RCVBUF, "SO_RCVBUF"},
		{unix.SO_KEEPALIVE, "SO_KEEPALIVE"},
		{unix.SO_OOBINLINE, "SO_OOBINLINE"},
		{unix.SO_NO_CHECK, "SO_NO_CHECK"},
		{unix.SO_PRIORITY, "SO_PRIORITY"},
		{unix.SO_LINGER, "SO_LINGER"},
		{unix.SO_BSDCOMPAT, "SO_BSDCOMPAT"},
		{unix.SO_REUSEPORT, "SO_REUSEPORT"},
		{unix.SO_PASSCRED, "SO_PASSCRED"},
		{unix.SO_PEERCRED, "SO_PEERCRED"},
		{unix.SO_RCVLOWAT, "SO_RCVLOWAT"},
		{unix.SO_SNDLOWAT, "SO_SNDLOWAT"},
		{unix.SO_RCVTIMEO, "SO_RCVTIMEO_OLD"},
		{unix.SO_SNDTIMEO, "SO_SNDTIMEO_OLD"},
		{unix.SO_BINDTODEVICE, "SO_BINDTODEVICE"},
		{unix.SO_ATTACH_FILTER, "SO_ATTACH_FILTER"},
		{unix.SO_TIMESTAMP, "SO_TIMESTAMP_OLD"},
		{unix.SO_ACCEPTCONN, "SO_ACCEPTCONN"},
		{unix.SO_PEERSEC, "SO_PEERSEC"},
		{unix.SO_SNDBUFFORCE, "SO_SNDBUFFORCE"},
		{unix.SO_RCVBUFFORCE, "SO_RCVBUFFORCE"},
		{unix.SO_PASSSEC, "SO_PASSSEC"},
		{unix.SO_MARK, "SO_MARK"},
		{unix.SO_PROTOCOL, "SO_PROTOCOL"},
		{unix.SO_DOMAIN, "SO_DOMAIN"},
		{unix.SO_BUSY_POLL, "SO_BUSY_POLL"},
		{unix.SO_INCOMING_CPU, "SO_INCOMING_CPU"},
		{unix.SO_COOKIE, "SO_COOKIE"},
		{unix.SO_PEERGROUPS, "SO_PEERGROUPS"},
		{unix.SO_ZEROCOPY, "SO_ZEROCOPY"},
	},
	unix.SOL_TCP: {
		{unix.TCP_NODELAY, "TCP_NODELAY"},
		{unix.TCP_MAXSEG, "TCP_MAXSEG"},
		{unix.TCP_CORK, "TCP_CORK"},
		{unix.TCP_KEEPIDLE, "TCP_KEEPIDLE"},
		{unix.TCP_KEEPINTVL, "TCP_KEEPINTVL"},
		{unix.TCP_KEEPCNT, "TCP_KEEPCNT"},
		{unix.TCP_SYNCNT, "TCP_SYNCNT"},
		{unix.TCP_LINGER2, "TCP_LINGER2"},
		{unix.TCP_DEFER_ACCEPT, "TCP_DEFER_ACCEPT"},
		{unix.TCP_WINDOW_CLAMP, "TCP_WINDOW_CLAMP"},
		{unix.TCP_INFO, "TCP_INFO"},
		{unix.TCP_QUICKACK, "TCP_QUICKACK"},
		{unix.TCP_CONGESTION, "TCP_CONGESTION"},
		{unix.TCP_USER_TIMEOUT, "TCP_USER_TIMEOUT"},
		{unix.TCP_FASTOPEN, "TCP_FASTOPEN"},
		{unix.TCP_NOTSENT_LOWAT, "TCP_NOTSENT_LOWAT"},
	},
	unix.SOL_IP: {
		{unix.IP_TOS, "IP_TOS"},
		{unix.IP_TTL, "IP_TTL"},
		{unix.IP_HDRINCL, "IP_HDRINCL"},
		{unix.IP_OPTIONS, "IP_OPTIONS"},
		{unix.IP_PKTINFO, "IP_PKTINFO"},
		{unix.IP_RECVERR, "IP_RECVERR"},
		{unix.IP_MTU_DISCOVER, "IP_MTU_DISCOVER"},
		{unix.IP_MULTICAST_IF, "IP_MULTICAST_IF"},
		{unix.IP_MULTICAST_TTL, "IP_MULTICAST_TTL"},
		{unix.IP_MULTICAST_LOOP, "IP_MULTICAST_LOOP"},
		{unix.IP_ADD_MEMBERSHIP, "IP_ADD_MEMBERSHIP"},
	},
	unix.SOL_IPV6: {
		{unix.IPV6_UNICAST_HOPS, "IPV6_UNICAST_HOPS"},
		{unix.IPV6_MULTICAST_IF, "IPV6_MULTICAST_IF"},
		{unix.IPV6_MULTICAST_HOPS, "IPV6_MULTICAST_HOPS"},
		{unix.IPV6_MULTICAST_LOOP, "IPV6_MULTICAST_LOOP"},
		{unix.IPV6_RECVERR, "IPV6_RECVERR"},
		{unix.IPV6_V6ONLY, "IPV6_V6ONLY"},
		{unix.IPV6_RECVPKTINFO, "IPV6_RECVPKTINFO"},
		{unix.IPV6_TCLASS, "IPV6_TCLASS"},
	},
}

var cmsgTypes = names{
	{unix.SCM_RIGHTS, "SCM_RIGHTS"},
	{unix.SCM_CREDENTIALS, "SCM_CREDENTIALS"},
	{unix.SCM_TIMESTAMP, "SCM_TIMESTAMP_OLD"},
}
