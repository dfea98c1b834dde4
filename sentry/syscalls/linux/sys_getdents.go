package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Getdents64 implements getdents64(2): struct linux_dirent64 records, each 8-byte
// aligned; EINVAL if not even the first entry fits.
func Getdents64(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	f, err := getFD(t, a[0])
	if err != nil {
		return 0, err
	}
	defer f.DecRef()
	size := int(min(a[2], 1<<20))
	buf := make([]byte, 0, size)
	err = f.Readdir(size/24+1, func(e vfs.Dirent) bool {
		reclen := (19 + len(e.Name) + 1 + 7) &^ 7
		if len(buf)+reclen > size {
			return false
		}
		rec := make([]byte, reclen)
		binary.LittleEndian.PutUint64(rec[0:], e.Ino)
		binary.LittleEndian.PutUint64(rec[8:], uint64(len(buf)+reclen)) // d_off: a position hint
		binary.LittleEndian.PutUint16(rec[16:], uint16(reclen))
		rec[18] = e.Type
		copy(rec[19:], e.Name)
		buf = append(buf, rec...)
		return true
	})
	if err != nil {
		return 0, err
	}
	if len(buf) == 0 && size > 0 {
		// Nothing fit, or the directory is at its end: tell them apart.
		probe := false
		f.Readdir(1, func(vfs.Dirent) bool { probe = true; return false })
		if probe {
			return 0, unix.EINVAL
		}
	}
	if _, err := t.MM.CopyOut(a[1], buf); err != nil {
		return 0, err
	}
	return uintptr(len(buf)), nil
}
