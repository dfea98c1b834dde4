package vfs

import "golang.org/x/sys/unix"

// AnonInode is the inode of a file in no directory that Linux makes with
// anon_inode_getfile (timerfd, signalfd…): mode 0600, and /proc/PID/fd shows it as
// "anon_inode:[Name]".
type AnonInode struct{ Name string }

// Stat implements Inode.Stat.
func (AnonInode) Stat() (Stat, error) { return Stat{Mode: 0o600, Nlink: 1, Blksize: 4096}, nil }

// SetStat implements Inode.SetStat.
func (AnonInode) SetStat(SetStat) error { return unix.EPERM }

// Open implements Inode.Open: an anonymous file can't be opened again by name.
func (AnonInode) Open(int) (FileImpl, error) { return nil, unix.ENXIO }

// FDName implements FDNamer.
func (in AnonInode) FDName() string { return "anon_inode:[" + in.Name + "]" }

// FDNamer is implemented by inodes in no directory that /proc/PID/fd names its own way.
type FDNamer interface {
	FDName() string
}

// NoopSeeker is embedded by streams whose lseek succeeds and changes nothing, as
// Linux's noop_llseek (timerfd, signalfd, eventfd).
type NoopSeeker struct{}

// Llseek implements Seeker.
func (NoopSeeker) Llseek(_ int64, _ int, cur int64) (int64, error) { return cur, nil }

// Sealer is implemented by files that take seals (tmpfs files: fcntl F_ADD_SEALS and
// F_GET_SEALS); the F_SEAL_* bits.
type Sealer interface {
	Seals() uint32
	AddSeals(seals uint32) error
}

// FDInfoer is implemented by FileImpls that add lines of their own to
// /proc/PID/fdinfo/N (a pidfd's Pid:).
type FDInfoer interface {
	FDInfo() string
}
