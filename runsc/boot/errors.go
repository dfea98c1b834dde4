package boot

import "golang.org/x/sys/unix"

// errExist is what making an existing mountpoint returns.
const errExist = unix.EEXIST
