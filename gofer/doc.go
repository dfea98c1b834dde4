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
// Tclunk cannot free it, and marking it in use so that the FD cache cannot
// close its FDs under it: Host FDs below), checks the request, performs it with
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
//   - Every operation on a node uses its O_PATH FD, opened without following
//     symlinks (fstat, fchownat/fchmodat/utimensat with AT_EMPTY_PATH,
//     readlinkat(fd, "")), or the *at calls on its parent directory's FD
//     with a single-component name. No path is ever resolved from "/" or the
//     working directory. The FD may have been closed by the FD cache (Host
//     FDs below); it is then opened again from the parent's FD with the
//     walk's one-component lookup and must lead to the node's inode (st_dev
//     and st_ino): another file there is ESTALE, none ENOENT. A parent
//     without an FD is reopened the same way, and a mount root by duplicating
//     the mount's root FD, which the Server keeps open, so a reopen, like a
//     walk, never leaves its mount.
//   - Topen reopens a directory with openat(fd, ".") and anything else with
//     openat(parent, name, flags|O_NOFOLLOW), checking that the name leads
//     to the node's inode (st_dev and st_ino) both before, with a
//     side-effect-free O_PATH lookup, and after, on the FD opened; if the
//     name has since been taken by another file the result is ESTALE, and
//     O_TRUNC is applied only after the checks. A node whose name was
//     removed through the connection (unnamed: Host FDs) is reopened,
//     for Topen and for a truncation, through the /proc/self/fd entry of its
//     own O_PATH FD, whose magic link leads to exactly its inode (as a Linux
//     process reopens an unlinked file it holds); the same dev and ino check
//     follows. Symlinks give ELOOP, character and block devices
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
// (from whose FD it is reopened), and closes its FDs when the last
// reference goes. A node's parent and name follow renames made through the
// same connection; a rename made by someone else makes Topen of a
// non-directory ESTALE (or ENOENT) until the client walks again, and so
// every request on a node whose FD the cache closed.
//
// # Host FDs
//
// A node is its identity (mount, parent and name, st_dev, st_ino, type),
// kept as long as the node; its host FDs, the O_PATH FD and, once a
// directory has been listed, a readable directory FD for Treaddir, are kept
// in a bounded cache (fdCache, fdcache.go), since a client such as the
// Sentry keeps a FID for every file it has ever looked up and a walk of a
// large tree (find, du, tar, git status) would otherwise hold a host FD per
// file and run into EMFILE. The cache holds at most Config.NodeFDs FDs of
// nodes no request uses, by default the soft RLIMIT_NOFILE (which runsc
// raises to the hard limit) less a reserve for the process's own FDs and
// those of the requests in flight (replies' FDs, lookups), and at most 65536.
// Past that, the least recently used lose their FDs, and get them back on
// their next use as Trust says. A node in use by a handler keeps its FDs
// until the handler is done with it.
//
// A directory listing survives its directory FD being closed: each Treaddir
// seeks to the cookie it is given (a host d_off, which ext4, xfs, btrfs and
// tmpfs keep valid across opens of the directory), on the kept FD or on a
// new one. A directory removed meanwhile gives ENOENT, as getdents on a
// removed directory does on Linux.
//
// A node whose name was removed through the connection (Tunlink, or a Trename
// over it; the rename or unlink looks it up first if need be) can't be looked
// up again by name, yet the client may still use the file: an application's
// temporary file, unlinked while open, then fchmod, fstat or ftruncate through
// its descriptor. Such an unnamed node keeps its FDs while it is among the most
// recently unnamed (a quarter of the cache's limit); an older one loses them
// once no request uses it, and every request on it is then ESTALE, the stale
// file handle of a network filesystem whose server forgot a deleted file.
// Nothing tells the server that the client has stopped using a node, so only
// this bound keeps the removal of a large tree (rm -r) from holding an FD for
// each file removed. A file removed by someone else, behind a node without FDs,
// is ENOENT.
//
// # Locks
//
// Lock order: conn.treeMu, then conn.fidsMu, then node.dirMu, then
// fdCache.mu. treeMu guards every node's parent and name: Trename and Tunlink
// hold it for writing across the host rename or unlink and the update of the
// nodes they moved or unnamed; Topen, Tlink and the reopening of a node's FD
// hold it for reading across the openat or linkat that uses a parent and name.
// fdCache.mu guards the cache and every node's FDs and use count; it is held
// for no system call but close. Node reference counts are atomic and dropping
// one takes no lock beyond fdCache.mu.
package gofer
