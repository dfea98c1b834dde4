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
