// Package gofer is the Gofer server: the one process of a container through
// which the Sentry reaches the container's files. It speaks the protocol of
// package gofer/protocol over one SOCK_SEQPACKET connection per Sentry.
//
// # Serving a request
//
// Serve runs a reader loop on the connection. It receives one packet, closes
// any FDs that came with it (a client never sends FDs), decodes it, and hands
// it to a handler goroutine; at most maxInFlight handlers run at once, and
// the reader waits for a free slot before receiving more, so a client
// cannot make the server grow without bound. A handler looks up the FIDs the
// request names (taking a reference on each node so that a concurrent
// Tclunk cannot close an FD under it), checks the request, performs it with
// *at system calls relative to the nodes' FDs, and sends the reply itself,
// with a host FD attached for Ropen and Rcreate. Replies therefore go out in
// completion order, matched to requests by tag. A packet with a readable
// tag but a bad body, an unknown type or a reply type is answered with
// Rerror (EINVAL, or ENOSYS for an unknown type); a packet too short to hold
// a tag ends the connection, since nothing could be answered. When the
// client closes its end, Serve waits for the handlers, forgets every FID and
// returns.
//
// # Trust
//
// The Gofer itself is confined. It runs in mount and PID namespaces of its own, and
// before opening its mounts makes its mount namespace hold nothing but copies of the
// trees it serves and its own /proc (Isolate, isolate.go): nothing of the host is above
// a mount's root. Once its mounts are open (Box, box.go) it has an empty, removed root
// directory, the file capabilities only, no_new_privs and a seccomp allow-list that
// kills it on any other system call.
//
// The client is the Sentry, which runs the application and is assumed
// compromised. Nothing in a request is trusted:
//
//   - Names are single components: a name containing "/" or NUL, or equal
//     to "", "." or "..", is refused with EINVAL before any system call.
//     Every lookup is one openat2(dirfd, name, O_PATH|O_NOFOLLOW,
//     RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS|RESOLVE_NO_MAGICLINKS) from the
//     directory node's FD (openat with O_NOFOLLOW where openat2 is ENOSYS).
//     A walk can therefore never leave a mount: there is no way to name a
//     parent, and a symlink is never followed — it is returned as a node of
//     its own (S_IFLNK), it is not a directory so nothing can be walked
//     through it (ENOTDIR), and it cannot be opened (ELOOP). The Sentry
//     resolves symlinks and ".." itself, above this protocol.
//   - Every node is held as an O_PATH FD opened without following symlinks,
//     and every operation on it uses that FD (fstat, fchownat/fchmodat/
//     utimensat with AT_EMPTY_PATH, readlinkat(fd, "")) or the *at calls on
//     its parent directory's FD with a single-component name. No path is
//     ever resolved from "/" or the working directory.
//   - Topen reopens a directory with openat(fd, ".") and anything else with
//     openat(parent, name, flags|O_NOFOLLOW), checking that the name leads
//     to the node's inode (st_dev and st_ino) both before, with a
//     side-effect-free O_PATH lookup, and after, on the FD opened; if the
//     name has since been taken by another file the result is ESTALE, and
//     O_TRUNC is applied only after the checks. Symlinks give ELOOP, character and block devices
//     EPERM (a rootfs may contain device nodes; opening them on the host
//     would bypass the Sentry's device model), sockets ENXIO, and FIFOs are
//     opened with O_NONBLOCK on the host so that the server never blocks.
//     Tmknod creates only regular files, FIFOs and sockets (devices: EPERM).
//   - Hard links and renames only join nodes of the same mount (else EXDEV),
//     so a link to a file outside a mount cannot be made: the only files a
//     client can name are ones it walked to inside a mount.
//   - Everything a request creates is created with O_EXCL semantics and then
//     given the requested owner (when the server runs as root) and exactly
//     the requested permission bits, whatever the server's umask.
//
// # Read-only mounts
//
// On a mount configured ReadOnly every request that would change the
// filesystem — Tcreate, Tmkdir, Tsymlink, Tmknod, Tlink, Tunlink, Trename,
// Tsetattr — fails with EROFS, and so does a Topen for writing or with
// O_TRUNC. This holds whatever the host mount's own flags are.
//
// # FID lifetime
//
// A FID is created by Tattach, Twalk (one per component walked), Tcreate,
// Tmkdir, Tsymlink, Tmknod and Tlink, and lives until Tclunk names it or the
// connection ends. FID numbers count up per connection and are never
// reused, so a stale FID is EBADF, never another file. A FID holds one
// reference on its node; a node also holds a reference on its parent node
// (whose FD it needs for openat), and closes its FDs when the last
// reference goes. A node's parent and name follow renames made through the
// same connection; a rename made by someone else makes Topen of a
// non-directory ESTALE (or ENOENT) until the client walks again.
//
// # Locks
//
// Lock order: conn.treeMu, then conn.fidsMu, then node.dirMu. treeMu guards
// every node's parent and name: Trename holds it for writing across the
// host rename and the update of the nodes it moved; Topen and Tlink hold it
// for reading across the openat or linkat that uses a parent and name.
// Node reference counts are atomic and dropping one takes no lock.
package gofer
