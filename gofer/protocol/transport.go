package protocol

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

// ErrTruncated is returned by RecvPacket for a packet or ancillary data that
// did not fit the buffers given.
var ErrTruncated = errors.New("gofer packet truncated")

// OOBSize is the ancillary-data buffer size RecvPacket needs to receive
// MaxFDsPerMessage FDs. A bigger buffer lets a receiver see (and close) more
// FDs than it expects instead of the kernel dropping them.
var OOBSize = unix.CmsgSpace(4 * MaxFDsPerMessage)

// SendPacket sends b as one packet on the SOCK_SEQPACKET socket fd, with fds
// attached as SCM_RIGHTS. The caller keeps its copies of fds.
func SendPacket(fd int, b []byte, fds []int) error {
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	for {
		err := unix.Sendmsg(fd, b, oob, nil, unix.MSG_NOSIGNAL)
		if err != unix.EINTR {
			return err
		}
	}
}

// RecvPacket receives one packet from the SOCK_SEQPACKET socket fd into buf
// and returns its length and the FDs that came with it (close-on-exec). It
// returns io.EOF when the peer has closed the connection (a zero-length
// packet reads the same way). When the packet or its ancillary data was
// truncated it closes every FD received and returns ErrTruncated, with n the
// number of bytes that did fit in buf.
func RecvPacket(fd int, buf, oob []byte) (n int, fds []int, err error) {
	var oobn, flags int
	for {
		n, oobn, flags, _, err = unix.Recvmsg(fd, buf, oob, unix.MSG_CMSG_CLOEXEC)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return 0, nil, err
	}
	fds, ferr := parseRights(oob[:oobn])
	if ferr == nil && flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		ferr = ErrTruncated
	}
	if ferr != nil {
		CloseFDs(fds)
		return n, nil, ferr
	}
	if n == 0 && len(fds) == 0 {
		return 0, nil, io.EOF
	}
	return n, fds, nil
}

// parseRights returns every FD in the SCM_RIGHTS messages of oob. On an
// error it still returns the FDs it found, for the caller to close.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control data: %v", ErrMalformed, err)
	}
	var fds []int
	for i := range msgs {
		if msgs[i].Header.Level != unix.SOL_SOCKET || msgs[i].Header.Type != unix.SCM_RIGHTS {
			err = fmt.Errorf("%w: unexpected control message %d/%d", ErrMalformed, msgs[i].Header.Level, msgs[i].Header.Type)
			continue
		}
		got, perr := unix.ParseUnixRights(&msgs[i])
		fds = append(fds, got...)
		if perr != nil {
			err = fmt.Errorf("%w: SCM_RIGHTS: %v", ErrMalformed, perr)
		}
	}
	return fds, err
}

// CloseFDs closes every FD in fds.
func CloseFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}
