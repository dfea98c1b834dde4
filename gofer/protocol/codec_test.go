package protocol

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var sampleStat = Stat{
	Mode: 0o100644, UID: 1000, GID: 1001, Nlink: 2, Ino: 1 << 40, Dev: 0x803, Rdev: 7,
	Size: 1 << 33, Blocks: 9, Blksize: 4096,
	Atime: Timespec{Sec: -1, Nsec: 999999999}, Mtime: Timespec{Sec: 1 << 40, Nsec: 1}, Ctime: Timespec{Sec: 3, Nsec: 4},
}

// sampleMessages has one message of every type, with every field set.
func sampleMessages() []Message {
	return []Message{
		&Rerror{Errno: 2},
		&Tattach{Mount: 3},
		&Rattach{FID: 9, Stat: sampleStat},
		&Twalk{FID: 1, Names: []string{"usr", "lib", ""}},
		&Rwalk{Nodes: []Node{{FID: 2, Stat: sampleStat}, {FID: 3}}, Errno: 20},
		&Tstat{FID: 4},
		&Rstat{Stat: sampleStat},
		&Topen{FID: 5, Flags: 0o2001},
		&Ropen{},
		&Tcreate{DirFID: 6, Name: "new", Flags: 2, Mode: 0o644, UID: 7, GID: 8},
		&Rcreate{FID: 10, Stat: sampleStat},
		&Tmkdir{DirFID: 6, Name: "d", Mode: 0o755, UID: 1, GID: 2},
		&Rmkdir{FID: 11, Stat: sampleStat},
		&Tsymlink{DirFID: 6, Name: "l", Target: "../x", UID: 1, GID: 2},
		&Rsymlink{FID: 12, Stat: sampleStat},
		&Tmknod{DirFID: 6, Name: "p", Mode: 0o10644, Rdev: 1 << 50, UID: 1, GID: 2},
		&Rmknod{FID: 13, Stat: sampleStat},
		&Tlink{DirFID: 6, Name: "h", TargetFID: 14},
		&Rlink{FID: 15, Stat: sampleStat},
		&Tunlink{DirFID: 6, Name: "h", Flags: 0x200},
		&Runlink{},
		&Trename{OldDirFID: 6, OldName: "a", NewDirFID: 16, NewName: "b", Flags: 1},
		&Rrename{},
		&Treadlink{FID: 17},
		&Rreadlink{Target: "/etc/passwd"},
		&Treaddir{FID: 18, Cookie: 1 << 62, Count: 100},
		&Rreaddir{Entries: []Dirent{{Name: "a", Ino: 1, Type: 4, Next: 5}, {Name: "bb", Ino: 2, Type: 8, Next: 1 << 63}}},
		&Tsetattr{FID: 19, Attr: Attr{Mask: SetattrAll, Mode: 0o4755, UID: 3, GID: 4, Size: 5, Atime: Timespec{Sec: 6, Nsec: 7}, Mtime: Timespec{Sec: 8, Nsec: 9}}},
		&Rsetattr{Stat: sampleStat},
		&Tstatfs{FID: 20},
		&Rstatfs{Statfs: Statfs{Type: 1, Bsize: 2, Blocks: 3, Bfree: 4, Bavail: 5, Files: 6, Ffree: 7, Namelen: 255}},
		&Tclunk{FIDs: []FID{1, 2, 1 << 63}},
		&Rclunk{},
	}
}

func TestEveryTypeHasASample(t *testing.T) {
	seen := map[MsgType]bool{}
	for _, m := range sampleMessages() {
		seen[m.Type()] = true
	}
	for typ := MsgRerror; typ <= msgLast; typ++ {
		if !seen[typ] {
			t.Errorf("no sample message of type %v", typ)
		}
		if got := newMessage(typ).Type(); got != typ {
			t.Errorf("newMessage(%v).Type() = %v", typ, got)
		}
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		t.Run(m.Type().String(), func(t *testing.T) {
			b, err := Encode(0xdeadbeef, m)
			if err != nil {
				t.Fatal(err)
			}
			tag, got, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			if tag != 0xdeadbeef {
				t.Errorf("tag = %#x", tag)
			}
			if !reflect.DeepEqual(got, m) {
				t.Errorf("decoded %+v, want %+v", got, m)
			}
		})
	}
}

func TestStatIsOneHundredBytes(t *testing.T) {
	b, _ := Encode(0, &Rstat{Stat: sampleStat})
	if len(b) != HeaderSize+100 || statSize != 100 {
		t.Errorf("Rstat is %d bytes, statSize %d", len(b), statSize)
	}
}

func TestEncodeRefusesOversizedMessages(t *testing.T) {
	_, err := Encode(1, &Rreadlink{Target: strings.Repeat("x", MaxMessageSize)})
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}

func TestMaxWalkReplyFits(t *testing.T) {
	r := &Rwalk{Nodes: make([]Node, MaxWalkNames), Errno: 2}
	if _, err := Encode(1, r); err != nil {
		t.Errorf("Rwalk of MaxWalkNames nodes: %v", err)
	}
}

func packet(typ MsgType, tag uint32, body ...byte) []byte {
	b := make([]byte, HeaderSize, HeaderSize+len(body))
	le.PutUint32(b[0:], uint32(HeaderSize+len(body)))
	le.PutUint16(b[4:], uint16(typ))
	le.PutUint32(b[8:], tag)
	return append(b, body...)
}

func TestDecodeRejectsMalformedPackets(t *testing.T) {
	good, _ := Encode(7, &Twalk{FID: 1, Names: []string{"a"}})
	withSize := func(b []byte, size uint32) []byte {
		b = bytes.Clone(b)
		le.PutUint32(b, size)
		return b
	}
	withPad := bytes.Clone(good)
	withPad[6] = 1
	tests := []struct {
		name    string
		b       []byte
		wantTag bool
	}{
		{"empty", nil, false},
		{"short header", good[:HeaderSize-1], false},
		{"size larger than packet", withSize(good, uint32(len(good)+1)), false},
		{"size smaller than packet", withSize(good, uint32(len(good)-1)), false},
		{"huge size", withSize(good, 0xffffffff), false},
		{"nonzero padding", withPad, false},
		{"oversized packet", withSize(make([]byte, MaxMessageSize+1), MaxMessageSize+1), false},
		{"unknown type", packet(999, 7), true},
		{"type zero", packet(0, 7), true},
		{"truncated body", packet(MsgTstat, 7, 1, 2, 3), true},
		{"trailing bytes", packet(MsgTattach, 7, 0, 0, 0, 0, 9), true},
		{"string longer than packet", packet(MsgTreadlink+1, 7, 0xff, 0xff, 0xff, 0x7f, 'a'), true},
		{"list count beyond packet", packet(MsgTclunk, 7, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8), true},
		{"walk count beyond packet", packet(MsgTwalk, 7, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0), true},
		{"readdir entries beyond packet", packet(MsgRreaddir, 7, 1, 0, 0, 0, 1, 0, 0, 0, 'x'), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tag, m, err := Decode(tt.b)
			if !errors.Is(err, ErrMalformed) || m != nil {
				t.Fatalf("Decode = %v, %v; want ErrMalformed", m, err)
			}
			if tt.wantTag && tag != 7 {
				t.Errorf("tag = %d, want 7 from a sound header", tag)
			}
		})
	}
}

// FuzzDecode checks that Decode never panics and that every packet it
// accepts encodes back to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleMessages() {
		b, err := Encode(42, m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{})
	f.Add(packet(MsgTclunk, 1, 0xff, 0xff, 0xff, 0xff))
	f.Add(packet(MsgRwalk, 1, 0, 0, 0, 0x10, 0, 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, m, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := Encode(tag, m)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", m, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x, decoded from %x", again, b)
		}
	})
}
