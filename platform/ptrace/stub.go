package ptrace

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The stub region: two pages at a fixed high address, the same in the Sentry and in every
// stub process (they are forked from the Sentry, then from each other). Application
// mappings stay below it: MaxUserAddress is the stub's base.
//
//	page 0 (r-x): the stub's code, below.
//	page 1 (rw-): data the template stub's set-up reads (sigaction, seccomp program).
const (
	stubPages = 2
	stubSize  = stubPages * pageSize
	pageSize  = 4096

	// Highest address a stub may end at: TASK_SIZE_MAX of 4-level paging.
	maxStubEnd = 0x7ffffffff000
)

// stubCode is the stub's machine code. Each syscall instruction is a "site": the Sentry
// makes a stopped stub thread execute a host system call by pointing rip at a site with
// the registers set, resuming it with PTRACE_CONT and catching the int3 that follows.
// The stub's seccomp filter pins each system call to its site (seccomp_data's
// instruction_pointer is the address after the syscall instruction).
//
//	0x00 siteSyscall:  syscall                 ; mmap, munmap, mprotect
//	0x02               int3
//	0x10 siteClone:    syscall                 ; clone: a new stub process or thread
//	0x12               test   %rax,%rax
//	0x15               je     child
//	0x17               int3                    ; parent: back to the tracer
//	0x18 child:        mov    $39,%eax         ; getpid
//	0x1d               syscall
//	0x1f               mov    %rax,%rdi
//	0x22               mov    $19,%esi         ; SIGSTOP
//	0x27               mov    $62,%eax         ; kill(getpid(), SIGSTOP)
//	0x2c               syscall
//	0x2e               jmp    child
//
// A new stub (a child of clone, at 0x12 with rax 0) stops itself with SIGSTOP and waits
// there, untraced, until the thread that will trace it seizes it. The code uses no stack
// and no memory: a stub has nothing mapped but these two pages until the Sentry maps
// application memory.
var stubCode = []byte{
	0x0f, 0x05, // syscall
	0xcc,                                                                         // int3
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // padding
	0x0f, 0x05, // syscall
	0x48, 0x85, 0xc0, // test %rax,%rax
	0x74, 0x01, // je +1
	0xcc,                         // int3
	0xb8, 0x27, 0x00, 0x00, 0x00, // mov $39,%eax
	0x0f, 0x05, // syscall
	0x48, 0x89, 0xc7, // mov %rax,%rdi
	0xbe, 0x13, 0x00, 0x00, 0x00, // mov $19,%esi
	0xb8, 0x3e, 0x00, 0x00, 0x00, // mov $62,%eax
	0x0f, 0x05, // syscall
	0xeb, 0xe8, // jmp -0x18
}

// Offsets in the code page.
const (
	siteSyscall = 0x00
	siteClone   = 0x10
	siteGetpid  = 0x1d
	siteKill    = 0x2c
	syscallLen  = 2 // bytes of a syscall instruction
)

// Offsets in the data page.
const (
	dataSigaction = 0   // struct kernel_sigaction {handler, flags, restorer, mask}
	dataFprog     = 64  // struct sock_fprog {len u16, filter *sock_filter}
	dataFilter    = 128 // the filter's instructions
	maxFilterLen  = (pageSize - dataFilter) / 8
)

// sigIgn is SIG_IGN.
const sigIgn = 1

// layoutData fills the data page that the template's set-up reads: a sigaction that
// ignores SIGCHLD (so dead stubs are reaped by the kernel, not left as zombies of the
// stub that cloned them) and the seccomp program at base+dataFilter.
func layoutData(data []byte, base uintptr, prog []unix.SockFilter) {
	clear(data)
	le := binary.LittleEndian
	le.PutUint64(data[dataSigaction:], sigIgn)
	le.PutUint16(data[dataFprog:], uint16(len(prog)))
	le.PutUint64(data[dataFprog+8:], uint64(base+pageSize+dataFilter))
	for i, ins := range prog {
		o := dataFilter + 8*i
		le.PutUint16(data[o:], ins.Code)
		data[o+2] = ins.Jt
		data[o+3] = ins.Jf
		le.PutUint32(data[o+4:], ins.K)
	}
}
