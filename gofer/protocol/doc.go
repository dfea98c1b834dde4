// Package protocol is the wire protocol between the Sentry and its Gofer: the
// message types, their binary encoding, and a Client that the Sentry's gofer
// filesystem uses to talk to a Gofer server.
//
// # Transport
//
// One connection is one SOCK_SEQPACKET unix socket (one end of a socketpair).
// Each packet carries exactly one message; the kernel keeps packet
// boundaries, so there is no stream framing. Replies may carry host file
// descriptors as SCM_RIGHTS ancillary data: Ropen and Rcreate carry exactly
// one, every other reply none, and requests never carry any (a server closes
// any it is sent).
//
// # Encoding
//
// All integers are little endian. Every message starts with a fixed header
//
//	Size u32   length of the whole message, header included
//	Type u16   MsgType
//	_    u16   zero
//	Tag  u32   chosen by the client, copied into the reply
//
// followed by the body, whose fields are encoded in struct order: u8/u16/u32/
// u64 and i64 as themselves, a string as u32 length + bytes, a list as u32
// count + items, a Stat as its fields in order (100 bytes), a Timespec as
// sec i64 + nsec u32. A message is at most MaxMessageSize bytes, Readdir
// replies included: the server returns fewer entries than asked rather than
// a bigger message.
//
// Decoding is strict and total: the size field must equal the packet length,
// the padding must be zero, every length and count is checked against the
// bytes that remain before anything is allocated, and a body must be
// consumed exactly. A bad message is an error wrapping ErrMalformed, never a
// panic (FuzzDecode pins this). Encoding then decoding any message gives it
// back, and decoding then encoding any accepted packet gives the same bytes.
//
// # Requests
//
// Files are named by FIDs, 64-bit handles that the server hands out in every
// reply that creates a node (Rattach, Rwalk, Rcreate, Rmkdir, Rsymlink,
// Rmknod, Rlink), always together with the node's Stat. A FID lives until the
// client clunks it (Tclunk) or the connection ends; FID numbers are not
// reused within a connection. Each request type T has the reply type T+1;
// any request may instead be answered with Rerror, which the Client returns
// as a unix.Errno.
//
// Names in requests are single path components: no "/", NUL, "", "." or
// "..". The client (the Sentry) resolves paths, symlinks and ".." itself;
// the server walks one component at a time and never follows a symlink.
//
// # Client
//
// A Client is safe for concurrent use. Each call picks a free tag, registers
// a one-slot channel under it and sends its request; one reader goroutine
// receives every reply and hands it to the channel of its tag, so replies
// may arrive in any order. When the connection fails (EOF, an I/O error, a
// reply that cannot be framed, Close) every pending and later call returns
// an error wrapping ErrConnClosed; none is left waiting.
package protocol
