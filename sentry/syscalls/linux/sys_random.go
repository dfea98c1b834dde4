package linux

import (
	"crypto/rand"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

// Getrandom implements getrandom(2). The Sentry's entropy is the host's, through Go's
// crypto/rand; it never blocks once the host pool is ready.
func Getrandom(t *kernel.Task, a [6]uintptr) (uintptr, error) {
	addr, n, flags := a[0], a[1], a[2]
	const grndInsecure = 0x4
	if flags&^(unix.GRND_NONBLOCK|unix.GRND_RANDOM|grndInsecure) != 0 ||
		flags&(unix.GRND_RANDOM|grndInsecure) == unix.GRND_RANDOM|grndInsecure {
		return 0, unix.EINVAL
	}
	n = min(n, 0x7fffffff)
	buf := make([]byte, min(n, chunk))
	done := uintptr(0)
	for done < n {
		b := buf[:min(n-done, chunk)]
		rand.Read(b)
		got, err := t.MM.CopyOut(addr+done, b)
		done += uintptr(got)
		if err != nil {
			if done > 0 {
				return done, nil
			}
			return 0, err
		}
	}
	return done, nil
}
