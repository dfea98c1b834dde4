package host

import (
	"testing"

	"golang.org/x/sys/unix"
)

// recordMemory is application memory that records the copies made into it.
type recordMemory struct{ out []byte }

func (m *recordMemory) CopyIn(addr uintptr, dst []byte) (int, error) { return 0, unix.EFAULT }
func (m *recordMemory) CopyOut(addr uintptr, src []byte) (int, error) {
	m.out = append([]byte(nil), src...)
	return len(src), nil
}

// TestTCGETSSize: TCGETS on a host terminal copies out the kernel's struct termios,
// 36 bytes, not the 44 of unix.Termios (a buffer of the kernel's size was overrun).
// TIOCGWINSZ copies struct winsize, 8 bytes.
func TestTCGETSSize(t *testing.T) {
	master, err := unix.Open("/dev/ptmx", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no /dev/ptmx: %v", err)
	}
	defer unix.Close(master)
	f := &File{FD: master}
	var m recordMemory
	if _, err := f.Ioctl(&m, unix.TCGETS, 0x1000); err != nil {
		t.Fatalf("TCGETS: %v", err)
	}
	if len(m.out) != 36 {
		t.Errorf("TCGETS copied %d bytes, want 36", len(m.out))
	}
	tio, err := unix.IoctlGetTermios(master, unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if got := uint32(m.out[12]) | uint32(m.out[13])<<8 | uint32(m.out[14])<<16 | uint32(m.out[15])<<24; got != tio.Lflag {
		t.Errorf("c_lflag %#x, want %#x", got, tio.Lflag)
	}
	if _, err := f.Ioctl(&m, unix.TIOCGWINSZ, 0x1000); err != nil || len(m.out) != 8 {
		t.Errorf("TIOCGWINSZ: %d bytes, %v", len(m.out), err)
	}
	if _, err := f.Ioctl(&m, unix.TIOCSTI, 0x1000); err != unix.ENOTTY {
		t.Errorf("an unknown request: %v, want ENOTTY", err)
	}
}
