// Package linux holds the parts of the Linux ABI that golang.org/x/sys/unix
// lacks: constants, names and structure layouts that the Sentry needs in
// order to implement Linux system calls. Everything is named as Linux names
// it (in the kernel's uapi headers and syscall tables), so that a name can be
// looked up in the kernel sources unchanged.
//
// The package describes the x86-64 ABI regardless of the architecture it is
// compiled for.
//
// # System call names
//
// [SyscallNames] is the x86-64 system call table,
// arch/x86/entry/syscalls/syscall_64.tbl in the Linux source, without the x32
// entries (512 and up). Numbers 0 through 450 were taken from the __NR_*
// definitions of the kernel uapi header asm/unistd_64.h (which the kernel
// generates from syscall_64.tbl) as shipped by Debian 12; the newer entries,
// through rseq_slice_yield (471, Linux 7.0), follow the upstream table and
// golang.org/x/sys/unix, and are annotated with the Linux release that added
// them. The tests cross-check the table against every SYS_* constant of
// golang.org/x/sys/unix and, when it is installed, against
// /usr/include/x86_64-linux-gnu/asm/unistd_64.h.
package linux
