package host

import (
	"bytes"
	"encoding/binary"

	"github.com/moat-sandbox/moat/sentry/vfs"
)

func copyOut(mem vfs.UserMemory, addr uintptr, v any) error {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
		return err
	}
	_, err := mem.CopyOut(addr, b.Bytes())
	return err
}

// termiosSize is the size of the kernel's struct termios, which TCGETS copies out.
const termiosSize = 36

// copyOutN copies the first n bytes of v's little-endian encoding to addr.
func copyOutN(mem vfs.UserMemory, addr uintptr, v any, n int) error {
	var b bytes.Buffer
	if err := binary.Write(&b, binary.LittleEndian, v); err != nil {
		return err
	}
	_, err := mem.CopyOut(addr, b.Bytes()[:n])
	return err
}
