package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed gofer message")

// ErrTooLarge is returned by Encode for a message over MaxMessageSize.
var ErrTooLarge = errors.New("gofer message too large")

var le = binary.LittleEndian

// Header is the fixed header of every message.
type Header struct {
	Size uint32
	Type MsgType
	Tag  uint32
}

// ParseHeader checks and returns the header of packet b: b must be at least
// HeaderSize and at most MaxMessageSize bytes long, the size field must be
// len(b) and the padding zero. The type is not checked.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, fmt.Errorf("%w: %d bytes, shorter than a header", ErrMalformed, len(b))
	}
	h := Header{Size: le.Uint32(b[0:]), Type: MsgType(le.Uint16(b[4:])), Tag: le.Uint32(b[8:])}
	if len(b) > MaxMessageSize {
		return h, fmt.Errorf("%w: %d bytes, over the maximum %d", ErrMalformed, len(b), MaxMessageSize)
	}
	if int(h.Size) != len(b) {
		return h, fmt.Errorf("%w: size field %d for a %d-byte packet", ErrMalformed, h.Size, len(b))
	}
	if pad := le.Uint16(b[6:]); pad != 0 {
		return h, fmt.Errorf("%w: nonzero header padding %#x", ErrMalformed, pad)
	}
	return h, nil
}

// PeekTag returns the tag field of a packet at least HeaderSize long
// without checking anything else, so that a server can answer a malformed
// request.
func PeekTag(b []byte) (uint32, bool) {
	if len(b) < HeaderSize {
		return 0, false
	}
	return le.Uint32(b[8:]), true
}

// Decode decodes packet b into a message. tag is valid whenever the header
// parsed, even if the body did not.
func Decode(b []byte) (tag uint32, m Message, err error) {
	h, err := ParseHeader(b)
	if err != nil {
		return 0, nil, err
	}
	m = newMessage(h.Type)
	if m == nil {
		return h.Tag, nil, fmt.Errorf("%w: unknown type %d", ErrMalformed, h.Type)
	}
	d := decoder{b: b[HeaderSize:]}
	m.decode(&d)
	if d.err == nil && len(d.b) != 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return h.Tag, nil, fmt.Errorf("%w: %v: %v", ErrMalformed, h.Type, d.err)
	}
	return h.Tag, m, nil
}

// Encode returns the packet for message m with tag.
func Encode(tag uint32, m Message) ([]byte, error) {
	e := encoder{b: make([]byte, HeaderSize, 128)}
	m.encode(&e)
	if len(e.b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %v of %d bytes", ErrTooLarge, m.Type(), len(e.b))
	}
	le.PutUint32(e.b[0:], uint32(len(e.b)))
	le.PutUint16(e.b[4:], uint16(m.Type()))
	le.PutUint16(e.b[6:], 0)
	le.PutUint32(e.b[8:], tag)
	return e.b, nil
}

// encoder appends fields to a packet. Its output is checked against
// MaxMessageSize once, at the end, by Encode.
type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u32(v uint32) { e.b = le.AppendUint32(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = le.AppendUint64(e.b, v) }
func (e *encoder) i64(v int64)  { e.u64(uint64(v)) }
func (e *encoder) fid(f FID)    { e.u64(uint64(f)) }

func (e *encoder) str(s string) {
	e.u32(uint32(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) timespec(t Timespec) {
	e.i64(t.Sec)
	e.u32(t.Nsec)
}

func (e *encoder) stat(s *Stat) {
	e.u32(s.Mode)
	e.u32(s.UID)
	e.u32(s.GID)
	e.u64(s.Nlink)
	e.u64(s.Ino)
	e.u64(s.Dev)
	e.u64(s.Rdev)
	e.u64(s.Size)
	e.u64(s.Blocks)
	e.u32(s.Blksize)
	e.timespec(s.Atime)
	e.timespec(s.Mtime)
	e.timespec(s.Ctime)
}

// decoder consumes fields from the front of b. The first failure is kept in
// err; after it every read returns zero values, so a decode method needs no
// checks of its own.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.b) {
		d.err = fmt.Errorf("need %d bytes, %d left", n, len(d.b))
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) u8() uint8 {
	if p := d.take(1); p != nil {
		return p[0]
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if p := d.take(4); p != nil {
		return le.Uint32(p)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if p := d.take(8); p != nil {
		return le.Uint64(p)
	}
	return 0
}

func (d *decoder) i64() int64 { return int64(d.u64()) }
func (d *decoder) fid() FID   { return FID(d.u64()) }

func (d *decoder) str() string {
	n := d.u32()
	if d.err != nil {
		return ""
	}
	if uint64(n) > uint64(len(d.b)) {
		d.err = fmt.Errorf("string of %d bytes, %d left", n, len(d.b))
		return ""
	}
	return string(d.take(int(n)))
}

// count reads a list length and checks that that many items of at least
// minSize bytes each can still follow, so that a forged count never makes
// the caller allocate more than the packet could hold.
func (d *decoder) count(minSize int) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(minSize) > uint64(len(d.b)) {
		d.err = fmt.Errorf("list of %d items of at least %d bytes, %d bytes left", n, minSize, len(d.b))
		return 0
	}
	return int(n)
}

func (d *decoder) timespec() Timespec {
	return Timespec{Sec: d.i64(), Nsec: d.u32()}
}

func (d *decoder) stat(s *Stat) {
	s.Mode = d.u32()
	s.UID = d.u32()
	s.GID = d.u32()
	s.Nlink = d.u64()
	s.Ino = d.u64()
	s.Dev = d.u64()
	s.Rdev = d.u64()
	s.Size = d.u64()
	s.Blocks = d.u64()
	s.Blksize = d.u32()
	s.Atime = d.timespec()
	s.Mtime = d.timespec()
	s.Ctime = d.timespec()
}

func (m *Rerror) encode(e *encoder) { e.u32(m.Errno) }
func (m *Rerror) decode(d *decoder) { m.Errno = d.u32() }

func (m *Tattach) encode(e *encoder) { e.u32(m.Mount) }
func (m *Tattach) decode(d *decoder) { m.Mount = d.u32() }

func (m *Rattach) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rattach) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Twalk) encode(e *encoder) {
	e.fid(m.FID)
	e.u32(uint32(len(m.Names)))
	for _, n := range m.Names {
		e.str(n)
	}
}

func (m *Twalk) decode(d *decoder) {
	m.FID = d.fid()
	n := d.count(4)
	if n == 0 {
		return
	}
	m.Names = make([]string, n)
	for i := range m.Names {
		m.Names[i] = d.str()
	}
}

func (m *Rwalk) encode(e *encoder) {
	e.u32(uint32(len(m.Nodes)))
	for i := range m.Nodes {
		e.fid(m.Nodes[i].FID)
		e.stat(&m.Nodes[i].Stat)
	}
	e.u32(m.Errno)
}

func (m *Rwalk) decode(d *decoder) {
	if n := d.count(nodeSize); n > 0 {
		m.Nodes = make([]Node, n)
		for i := range m.Nodes {
			m.Nodes[i].FID = d.fid()
			d.stat(&m.Nodes[i].Stat)
		}
	}
	m.Errno = d.u32()
}

func (m *Tstat) encode(e *encoder) { e.fid(m.FID) }
func (m *Tstat) decode(d *decoder) { m.FID = d.fid() }

func (m *Rstat) encode(e *encoder) { e.stat(&m.Stat) }
func (m *Rstat) decode(d *decoder) { d.stat(&m.Stat) }

func (m *Topen) encode(e *encoder) { e.fid(m.FID); e.u32(m.Flags) }
func (m *Topen) decode(d *decoder) { m.FID = d.fid(); m.Flags = d.u32() }

func (m *Ropen) encode(*encoder) {}
func (m *Ropen) decode(*decoder) {}

func (m *Tcreate) encode(e *encoder) {
	e.fid(m.DirFID)
	e.str(m.Name)
	e.u32(m.Flags)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tcreate) decode(d *decoder) {
	m.DirFID = d.fid()
	m.Name = d.str()
	m.Flags = d.u32()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

func (m *Rcreate) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rcreate) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Tmkdir) encode(e *encoder) {
	e.fid(m.DirFID)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tmkdir) decode(d *decoder) {
	m.DirFID = d.fid()
	m.Name = d.str()
	m.Mode = d.u32()
	m.UID = d.u32()
	m.GID = d.u32()
}

func (m *Rmkdir) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rmkdir) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Tsymlink) encode(e *encoder) {
	e.fid(m.DirFID)
	e.str(m.Name)
	e.str(m.Target)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tsymlink) decode(d *decoder) {
	m.DirFID = d.fid()
	m.Name = d.str()
	m.Target = d.str()
	m.UID = d.u32()
	m.GID = d.u32()
}

func (m *Rsymlink) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rsymlink) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Tmknod) encode(e *encoder) {
	e.fid(m.DirFID)
	e.str(m.Name)
	e.u32(m.Mode)
	e.u64(m.Rdev)
	e.u32(m.UID)
	e.u32(m.GID)
}

func (m *Tmknod) decode(d *decoder) {
	m.DirFID = d.fid()
	m.Name = d.str()
	m.Mode = d.u32()
	m.Rdev = d.u64()
	m.UID = d.u32()
	m.GID = d.u32()
}

func (m *Rmknod) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rmknod) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Tlink) encode(e *encoder) { e.fid(m.DirFID); e.str(m.Name); e.fid(m.TargetFID) }
func (m *Tlink) decode(d *decoder) { m.DirFID = d.fid(); m.Name = d.str(); m.TargetFID = d.fid() }

func (m *Rlink) encode(e *encoder) { e.fid(m.FID); e.stat(&m.Stat) }
func (m *Rlink) decode(d *decoder) { m.FID = d.fid(); d.stat(&m.Stat) }

func (m *Tunlink) encode(e *encoder) { e.fid(m.DirFID); e.str(m.Name); e.u32(m.Flags) }
func (m *Tunlink) decode(d *decoder) { m.DirFID = d.fid(); m.Name = d.str(); m.Flags = d.u32() }

func (m *Runlink) encode(*encoder) {}
func (m *Runlink) decode(*decoder) {}

func (m *Trename) encode(e *encoder) {
	e.fid(m.OldDirFID)
	e.str(m.OldName)
	e.fid(m.NewDirFID)
	e.str(m.NewName)
	e.u32(m.Flags)
}

func (m *Trename) decode(d *decoder) {
	m.OldDirFID = d.fid()
	m.OldName = d.str()
	m.NewDirFID = d.fid()
	m.NewName = d.str()
	m.Flags = d.u32()
}

func (m *Rrename) encode(*encoder) {}
func (m *Rrename) decode(*decoder) {}

func (m *Treadlink) encode(e *encoder) { e.fid(m.FID) }
func (m *Treadlink) decode(d *decoder) { m.FID = d.fid() }

func (m *Rreadlink) encode(e *encoder) { e.str(m.Target) }
func (m *Rreadlink) decode(d *decoder) { m.Target = d.str() }

func (m *Treaddir) encode(e *encoder) { e.fid(m.FID); e.u64(m.Cookie); e.u32(m.Count) }
func (m *Treaddir) decode(d *decoder) { m.FID = d.fid(); m.Cookie = d.u64(); m.Count = d.u32() }

func (m *Rreaddir) encode(e *encoder) {
	e.u32(uint32(len(m.Entries)))
	for i := range m.Entries {
		de := &m.Entries[i]
		e.str(de.Name)
		e.u64(de.Ino)
		e.u8(de.Type)
		e.u64(de.Next)
	}
}

func (m *Rreaddir) decode(d *decoder) {
	n := d.count(direntMinSize)
	if n == 0 {
		return
	}
	m.Entries = make([]Dirent, n)
	for i := range m.Entries {
		de := &m.Entries[i]
		de.Name = d.str()
		de.Ino = d.u64()
		de.Type = d.u8()
		de.Next = d.u64()
	}
}

func (m *Tsetattr) encode(e *encoder) {
	e.fid(m.FID)
	e.u32(m.Attr.Mask)
	e.u32(m.Attr.Mode)
	e.u32(m.Attr.UID)
	e.u32(m.Attr.GID)
	e.u64(m.Attr.Size)
	e.timespec(m.Attr.Atime)
	e.timespec(m.Attr.Mtime)
}

func (m *Tsetattr) decode(d *decoder) {
	m.FID = d.fid()
	m.Attr.Mask = d.u32()
	m.Attr.Mode = d.u32()
	m.Attr.UID = d.u32()
	m.Attr.GID = d.u32()
	m.Attr.Size = d.u64()
	m.Attr.Atime = d.timespec()
	m.Attr.Mtime = d.timespec()
}

func (m *Rsetattr) encode(e *encoder) { e.stat(&m.Stat) }
func (m *Rsetattr) decode(d *decoder) { d.stat(&m.Stat) }

func (m *Tstatfs) encode(e *encoder) { e.fid(m.FID) }
func (m *Tstatfs) decode(d *decoder) { m.FID = d.fid() }

func (m *Rstatfs) encode(e *encoder) {
	s := &m.Statfs
	for _, v := range [...]uint64{s.Type, s.Bsize, s.Blocks, s.Bfree, s.Bavail, s.Files, s.Ffree, s.Namelen} {
		e.u64(v)
	}
}

func (m *Rstatfs) decode(d *decoder) {
	s := &m.Statfs
	for _, p := range [...]*uint64{&s.Type, &s.Bsize, &s.Blocks, &s.Bfree, &s.Bavail, &s.Files, &s.Ffree, &s.Namelen} {
		*p = d.u64()
	}
}

func (m *Tclunk) encode(e *encoder) {
	e.u32(uint32(len(m.FIDs)))
	for _, f := range m.FIDs {
		e.fid(f)
	}
}

func (m *Tclunk) decode(d *decoder) {
	n := d.count(8)
	if n == 0 {
		return
	}
	m.FIDs = make([]FID, n)
	for i := range m.FIDs {
		m.FIDs[i] = d.fid()
	}
}

func (m *Rclunk) encode(*encoder) {}
func (m *Rclunk) decode(*decoder) {}
