package protocol

import "fmt"

// HeaderSize is the size of the fixed message header.
const HeaderSize = 12

// MaxMessageSize is the largest message, header included, either side sends
// or accepts.
const MaxMessageSize = 64 << 10

// MaxWalkNames is the most names one Twalk may carry, so that its Rwalk
// (108 bytes per node) always fits in MaxMessageSize.
const MaxWalkNames = 512

// MaxFDsPerMessage is the most host FDs a reply carries.
const MaxFDsPerMessage = 1

// FID names a node (one host file) held by the server for a connection.
type FID uint64

// MsgType identifies a message. Requests are even; each request's reply is
// the request's type plus one.
type MsgType uint16

// Message types.
const (
	MsgRerror    MsgType = 1
	MsgTattach   MsgType = 2
	MsgRattach   MsgType = 3
	MsgTwalk     MsgType = 4
	MsgRwalk     MsgType = 5
	MsgTstat     MsgType = 6
	MsgRstat     MsgType = 7
	MsgTopen     MsgType = 8
	MsgRopen     MsgType = 9
	MsgTcreate   MsgType = 10
	MsgRcreate   MsgType = 11
	MsgTmkdir    MsgType = 12
	MsgRmkdir    MsgType = 13
	MsgTsymlink  MsgType = 14
	MsgRsymlink  MsgType = 15
	MsgTmknod    MsgType = 16
	MsgRmknod    MsgType = 17
	MsgTlink     MsgType = 18
	MsgRlink     MsgType = 19
	MsgTunlink   MsgType = 20
	MsgRunlink   MsgType = 21
	MsgTrename   MsgType = 22
	MsgRrename   MsgType = 23
	MsgTreadlink MsgType = 24
	MsgRreadlink MsgType = 25
	MsgTreaddir  MsgType = 26
	MsgRreaddir  MsgType = 27
	MsgTsetattr  MsgType = 28
	MsgRsetattr  MsgType = 29
	MsgTstatfs   MsgType = 30
	MsgRstatfs   MsgType = 31
	MsgTclunk    MsgType = 32
	MsgRclunk    MsgType = 33

	msgLast = MsgRclunk
)

var msgNames = [...]string{
	MsgRerror: "Rerror", MsgTattach: "Tattach", MsgRattach: "Rattach",
	MsgTwalk: "Twalk", MsgRwalk: "Rwalk", MsgTstat: "Tstat", MsgRstat: "Rstat",
	MsgTopen: "Topen", MsgRopen: "Ropen", MsgTcreate: "Tcreate", MsgRcreate: "Rcreate",
	MsgTmkdir: "Tmkdir", MsgRmkdir: "Rmkdir", MsgTsymlink: "Tsymlink", MsgRsymlink: "Rsymlink",
	MsgTmknod: "Tmknod", MsgRmknod: "Rmknod", MsgTlink: "Tlink", MsgRlink: "Rlink",
	MsgTunlink: "Tunlink", MsgRunlink: "Runlink", MsgTrename: "Trename", MsgRrename: "Rrename",
	MsgTreadlink: "Treadlink", MsgRreadlink: "Rreadlink", MsgTreaddir: "Treaddir", MsgRreaddir: "Rreaddir",
	MsgTsetattr: "Tsetattr", MsgRsetattr: "Rsetattr", MsgTstatfs: "Tstatfs", MsgRstatfs: "Rstatfs",
	MsgTclunk: "Tclunk", MsgRclunk: "Rclunk",
}

func (t MsgType) String() string {
	if t != 0 && t <= msgLast {
		return msgNames[t]
	}
	return fmt.Sprintf("MsgType(%d)", uint16(t))
}

// IsRequest reports whether t is a known request type.
func (t MsgType) IsRequest() bool { return t >= MsgTattach && t <= msgLast && t%2 == 0 }

// Timespec is a file timestamp.
type Timespec struct {
	Sec  int64
	Nsec uint32
}

// Stat is a node's metadata, as the host's struct stat.
type Stat struct {
	Mode    uint32 // st_mode: S_IFMT type bits and permission bits
	UID     uint32
	GID     uint32
	Nlink   uint64
	Ino     uint64
	Dev     uint64
	Rdev    uint64
	Size    uint64
	Blocks  uint64
	Blksize uint32
	Atime   Timespec
	Mtime   Timespec
	Ctime   Timespec
}

// statSize is the encoded size of a Stat.
const statSize = 3*4 + 6*8 + 4 + 3*12

// Node is a FID the server created together with the node's Stat.
type Node struct {
	FID  FID
	Stat Stat
}

// nodeSize is the encoded size of a Node.
const nodeSize = 8 + statSize

// Dirent is one directory entry of an Rreaddir.
type Dirent struct {
	Name string
	Ino  uint64
	Type uint8  // DT_* as in linux_dirent64.d_type
	Next uint64 // cookie of the entry after this one
}

// direntMinSize is the encoded size of a Dirent with an empty name.
const direntMinSize = 4 + 8 + 1 + 8

// DirentSize is the encoded size of a Dirent named name.
func DirentSize(name string) int { return direntMinSize + len(name) }

// Setattr mask bits: which fields of an Attr a Tsetattr applies.
const (
	SetattrMode     = 1 << 0
	SetattrUID      = 1 << 1
	SetattrGID      = 1 << 2
	SetattrSize     = 1 << 3
	SetattrAtime    = 1 << 4 // set atime to Attr.Atime
	SetattrMtime    = 1 << 5 // set mtime to Attr.Mtime
	SetattrAtimeNow = 1 << 6 // set atime to the current time
	SetattrMtimeNow = 1 << 7 // set mtime to the current time

	SetattrAll = 1<<8 - 1
)

// Attr is the set of changes a Tsetattr asks for; Mask says which apply.
type Attr struct {
	Mask  uint32
	Mode  uint32 // permission bits (07777)
	UID   uint32
	GID   uint32
	Size  uint64
	Atime Timespec
	Mtime Timespec
}

// Statfs is a filesystem's statistics, as the host's struct statfs.
type Statfs struct {
	Type    uint64
	Bsize   uint64
	Blocks  uint64
	Bfree   uint64
	Bavail  uint64
	Files   uint64
	Ffree   uint64
	Namelen uint64
}

// Message is one protocol message. Only the types of this package implement
// it.
type Message interface {
	Type() MsgType
	encode(e *encoder)
	decode(d *decoder)
}

// Rerror answers any request that failed; Errno is a Linux errno.
type Rerror struct{ Errno uint32 }

// Tattach asks for the root of mount number Mount (0 is the rootfs).
type Tattach struct{ Mount uint32 }

// Rattach answers Tattach with a FID for the mount's root.
type Rattach struct {
	FID  FID
	Stat Stat
}

// Twalk walks from FID through Names, one single component at a time.
type Twalk struct {
	FID   FID
	Names []string
}

// Rwalk answers Twalk with a FID for every name walked. Errno is 0 when all
// names were walked, else why the walk stopped (ENOENT, ENOTDIR, ...).
type Rwalk struct {
	Nodes []Node
	Errno uint32
}

// Tstat asks for a node's Stat.
type Tstat struct{ FID FID }

// Rstat answers Tstat.
type Rstat struct{ Stat Stat }

// Topen asks for a host FD of the node opened with Flags (O_ACCMODE,
// O_APPEND, O_TRUNC, O_NONBLOCK, O_DIRECTORY).
type Topen struct {
	FID   FID
	Flags uint32
}

// Ropen answers Topen; the host FD comes with it.
type Ropen struct{}

// Tcreate creates and opens a regular file Name in DirFID.
type Tcreate struct {
	DirFID FID
	Name   string
	Flags  uint32
	Mode   uint32
	UID    uint32
	GID    uint32
}

// Rcreate answers Tcreate with the new file's FID; the open host FD comes
// with it.
type Rcreate struct {
	FID  FID
	Stat Stat
}

// Tmkdir creates directory Name in DirFID.
type Tmkdir struct {
	DirFID FID
	Name   string
	Mode   uint32
	UID    uint32
	GID    uint32
}

// Rmkdir answers Tmkdir.
type Rmkdir struct {
	FID  FID
	Stat Stat
}

// Tsymlink creates symlink Name in DirFID pointing at Target.
type Tsymlink struct {
	DirFID FID
	Name   string
	Target string
	UID    uint32
	GID    uint32
}

// Rsymlink answers Tsymlink.
type Rsymlink struct {
	FID  FID
	Stat Stat
}

// Tmknod creates a regular file, FIFO or socket Name in DirFID; Mode
// includes the S_IFMT type bits.
type Tmknod struct {
	DirFID FID
	Name   string
	Mode   uint32
	Rdev   uint64
	UID    uint32
	GID    uint32
}

// Rmknod answers Tmknod.
type Rmknod struct {
	FID  FID
	Stat Stat
}

// Tlink creates hard link Name in DirFID to the node TargetFID.
type Tlink struct {
	DirFID    FID
	Name      string
	TargetFID FID
}

// Rlink answers Tlink with a FID for the new link.
type Rlink struct {
	FID  FID
	Stat Stat
}

// Tunlink removes Name from DirFID; Flags is 0 or AT_REMOVEDIR.
type Tunlink struct {
	DirFID FID
	Name   string
	Flags  uint32
}

// Runlink answers Tunlink.
type Runlink struct{}

// Trename renames OldName in OldDirFID to NewName in NewDirFID; Flags are
// renameat2 flags.
type Trename struct {
	OldDirFID FID
	OldName   string
	NewDirFID FID
	NewName   string
	Flags     uint32
}

// Rrename answers Trename.
type Rrename struct{}

// Treadlink asks for a symlink's target.
type Treadlink struct{ FID FID }

// Rreadlink answers Treadlink.
type Rreadlink struct{ Target string }

// Treaddir asks for at most Count entries of a directory, starting after
// Cookie (0: from the beginning).
type Treaddir struct {
	FID    FID
	Cookie uint64
	Count  uint32
}

// Rreaddir answers Treaddir; an empty Entries means the end of the
// directory.
type Rreaddir struct{ Entries []Dirent }

// Tsetattr changes a node's metadata.
type Tsetattr struct {
	FID  FID
	Attr Attr
}

// Rsetattr answers Tsetattr with the node's Stat after the change.
type Rsetattr struct{ Stat Stat }

// Tstatfs asks for the statistics of the filesystem holding a node.
type Tstatfs struct{ FID FID }

// Rstatfs answers Tstatfs.
type Rstatfs struct{ Statfs Statfs }

// Tclunk forgets FIDs.
type Tclunk struct{ FIDs []FID }

// Rclunk answers Tclunk.
type Rclunk struct{}

func (*Rerror) Type() MsgType    { return MsgRerror }
func (*Tattach) Type() MsgType   { return MsgTattach }
func (*Rattach) Type() MsgType   { return MsgRattach }
func (*Twalk) Type() MsgType     { return MsgTwalk }
func (*Rwalk) Type() MsgType     { return MsgRwalk }
func (*Tstat) Type() MsgType     { return MsgTstat }
func (*Rstat) Type() MsgType     { return MsgRstat }
func (*Topen) Type() MsgType     { return MsgTopen }
func (*Ropen) Type() MsgType     { return MsgRopen }
func (*Tcreate) Type() MsgType   { return MsgTcreate }
func (*Rcreate) Type() MsgType   { return MsgRcreate }
func (*Tmkdir) Type() MsgType    { return MsgTmkdir }
func (*Rmkdir) Type() MsgType    { return MsgRmkdir }
func (*Tsymlink) Type() MsgType  { return MsgTsymlink }
func (*Rsymlink) Type() MsgType  { return MsgRsymlink }
func (*Tmknod) Type() MsgType    { return MsgTmknod }
func (*Rmknod) Type() MsgType    { return MsgRmknod }
func (*Tlink) Type() MsgType     { return MsgTlink }
func (*Rlink) Type() MsgType     { return MsgRlink }
func (*Tunlink) Type() MsgType   { return MsgTunlink }
func (*Runlink) Type() MsgType   { return MsgRunlink }
func (*Trename) Type() MsgType   { return MsgTrename }
func (*Rrename) Type() MsgType   { return MsgRrename }
func (*Treadlink) Type() MsgType { return MsgTreadlink }
func (*Rreadlink) Type() MsgType { return MsgRreadlink }
func (*Treaddir) Type() MsgType  { return MsgTreaddir }
func (*Rreaddir) Type() MsgType  { return MsgRreaddir }
func (*Tsetattr) Type() MsgType  { return MsgTsetattr }
func (*Rsetattr) Type() MsgType  { return MsgRsetattr }
func (*Tstatfs) Type() MsgType   { return MsgTstatfs }
func (*Rstatfs) Type() MsgType   { return MsgRstatfs }
func (*Tclunk) Type() MsgType    { return MsgTclunk }
func (*Rclunk) Type() MsgType    { return MsgRclunk }

// newMessage returns an empty message of type t, or nil for an unknown type.
func newMessage(t MsgType) Message {
	switch t {
	case MsgRerror:
		return new(Rerror)
	case MsgTattach:
		return new(Tattach)
	case MsgRattach:
		return new(Rattach)
	case MsgTwalk:
		return new(Twalk)
	case MsgRwalk:
		return new(Rwalk)
	case MsgTstat:
		return new(Tstat)
	case MsgRstat:
		return new(Rstat)
	case MsgTopen:
		return new(Topen)
	case MsgRopen:
		return new(Ropen)
	case MsgTcreate:
		return new(Tcreate)
	case MsgRcreate:
		return new(Rcreate)
	case MsgTmkdir:
		return new(Tmkdir)
	case MsgRmkdir:
		return new(Rmkdir)
	case MsgTsymlink:
		return new(Tsymlink)
	case MsgRsymlink:
		return new(Rsymlink)
	case MsgTmknod:
		return new(Tmknod)
	case MsgRmknod:
		return new(Rmknod)
	case MsgTlink:
		return new(Tlink)
	case MsgRlink:
		return new(Rlink)
	case MsgTunlink:
		return new(Tunlink)
	case MsgRunlink:
		return new(Runlink)
	case MsgTrename:
		return new(Trename)
	case MsgRrename:
		return new(Rrename)
	case MsgTreadlink:
		return new(Treadlink)
	case MsgRreadlink:
		return new(Rreadlink)
	case MsgTreaddir:
		return new(Treaddir)
	case MsgRreaddir:
		return new(Rreaddir)
	case MsgTsetattr:
		return new(Tsetattr)
	case MsgRsetattr:
		return new(Rsetattr)
	case MsgTstatfs:
		return new(Tstatfs)
	case MsgRstatfs:
		return new(Rstatfs)
	case MsgTclunk:
		return new(Tclunk)
	case MsgRclunk:
		return new(Rclunk)
	}
	return nil
}
