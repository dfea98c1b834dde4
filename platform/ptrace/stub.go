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
//	0x00 siteSyscall:  syscall                 ; mmap, munmap, mprotect (and set-up calls)
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
// and no memory: a stub has nothing mapped but the stub region until the Sentry maps
// application memory.
//
// The rest is systrap's (systrap.go). A systrap thread is released at siteStart, whose
// int3 enters the signal handler at once. The handler runs on the thread's alternate
// stack, which lies in the thread's slot; the slot's first page is the context page
// shared with the Sentry (ctx* offsets), found by masking rsp with the slot size:
//
//	0x40 siteStart:    int3
//	0x48 restorer:     mov    $15,%eax         ; rt_sigreturn: sa_restorer of the handler
//	0x4d siteSigreturn: syscall
//	0x50 handler:      mov    %rsp,%rbx
//	0x53               and    $-slotSize,%rbx  ; the context page
//	0x5a               mov    %rsi,8(%rbx)     ; ctxInfo: &siginfo
//	0x5e               mov    %rdx,16(%rbx)    ; ctxUcontext: &ucontext
//	0x62               rdfsbase %rax
//	0x67               mov    %rax,24(%rbx)    ; ctxFSBase
//	0x6b               rdgsbase %rax
//	0x70               mov    %rax,32(%rbx)    ; ctxGSBase
//	0x74               mov    $2,%eax
//	0x79               xchg   %eax,(%rbx)      ; ctxState = stateEvent
//	0x7b               cmp    $3,%eax          ; was the Sentry asleep (stateSentryWait)?
//	0x7e               jne    wait
//	0x80               futex(&ctxState, FUTEX_WAKE, 1)
//	0x92 siteFutexWake: syscall
//	0x94 wait:         mov    40(%rbx),%ecx    ; ctxSpin: the spin budget
//	0x97 spin:         cmpl   $1,(%rbx)        ; stateApp: the Sentry says go
//	0x9a               je     done
//	0x9c               pause
//	0x9e               dec    %ecx
//	0xa0               jg     spin
//	0xa2               cmpxchg stateEvent -> stateStubWait on ctxState
//	0xb0               je     sleep
//	0xb2               cmp    $4,%eax
//	0xb5               jne    wait
//	0xb7 sleep:        futex(&ctxState, FUTEX_WAIT, stateStubWait, NULL)
//	0xc9 siteFutexWait: syscall
//	0xcb               jmp    wait
//	0xcd done:         movl   $5,(%rbx)        ; stateRunning: the Sentry's go is taken
//	0xd3               mov    24(%rbx),%rax
//	0xd7               wrfsbase %rax
//	0xdc               mov    32(%rbx),%rax
//	0xe0               wrgsbase %rax
//	0xe5               ret                     ; to restorer, with the Sentry's registers
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
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // 0x30
	0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // 0x40 siteStart: int3, padding
	0xb8, 0x0f, 0x00, 0x00, 0x00, // 0x48 mov $15,%eax
	0x0f, 0x05, // syscall
	0xcc,             // padding
	0x48, 0x89, 0xe3, // 0x50 mov %rsp,%rbx
	0x48, 0x81, 0xe3, 0x00, 0x80, 0xff, 0xff, // and $-0x8000,%rbx
	0x48, 0x89, 0x73, 0x08, // mov %rsi,8(%rbx)
	0x48, 0x89, 0x53, 0x10, // mov %rdx,16(%rbx)
	0xf3, 0x48, 0x0f, 0xae, 0xc0, // rdfsbase %rax
	0x48, 0x89, 0x43, 0x18, // mov %rax,24(%rbx)
	0xf3, 0x48, 0x0f, 0xae, 0xc8, // rdgsbase %rax
	0x48, 0x89, 0x43, 0x20, // mov %rax,32(%rbx)
	0xb8, 0x02, 0x00, 0x00, 0x00, // mov $2,%eax
	0x87, 0x03, // xchg %eax,(%rbx)
	0x83, 0xf8, 0x03, // cmp $3,%eax
	0x75, 0x14, // jne wait
	0x48, 0x89, 0xdf, // mov %rbx,%rdi
	0xbe, 0x01, 0x00, 0x00, 0x00, // mov $1,%esi
	0xba, 0x01, 0x00, 0x00, 0x00, // mov $1,%edx
	0xb8, 0xca, 0x00, 0x00, 0x00, // mov $202,%eax
	0x0f, 0x05, // 0x92 syscall
	0x8b, 0x4b, 0x28, // 0x94 wait: mov 40(%rbx),%ecx
	0x83, 0x3b, 0x01, // 0x97 spin: cmpl $1,(%rbx)
	0x74, 0x31, // je done
	0xf3, 0x90, // pause
	0xff, 0xc9, // dec %ecx
	0x7f, 0xf5, // jg spin
	0xb8, 0x02, 0x00, 0x00, 0x00, // mov $2,%eax
	0xba, 0x04, 0x00, 0x00, 0x00, // mov $4,%edx
	0xf0, 0x0f, 0xb1, 0x13, // lock cmpxchg %edx,(%rbx)
	0x74, 0x05, // je sleep
	0x83, 0xf8, 0x04, // cmp $4,%eax
	0x75, 0xdd, // jne wait
	0x48, 0x89, 0xdf, // 0xb7 sleep: mov %rbx,%rdi
	0x31, 0xf6, // xor %esi,%esi
	0xba, 0x04, 0x00, 0x00, 0x00, // mov $4,%edx
	0x45, 0x31, 0xd2, // xor %r10d,%r10d
	0xb8, 0xca, 0x00, 0x00, 0x00, // mov $202,%eax
	0x0f, 0x05, // 0xc9 syscall
	0xeb, 0xc7, // jmp wait
	0xc7, 0x03, 0x05, 0x00, 0x00, 0x00, // 0xcd done: movl $5,(%rbx)
	0x48, 0x8b, 0x43, 0x18, // mov 24(%rbx),%rax
	0xf3, 0x48, 0x0f, 0xae, 0xd0, // wrfsbase %rax
	0x48, 0x8b, 0x43, 0x20, // mov 32(%rbx),%rax
	0xf3, 0x48, 0x0f, 0xae, 0xd8, // wrgsbase %rax
	0xc3, // ret
}

// Offsets in the code page.
const (
	siteSyscall = 0x00
	siteClone   = 0x10
	siteGetpid  = 0x1d
	siteKill    = 0x2c
	syscallLen  = 2 // bytes of a syscall instruction

	// systrap's.
	siteStart     = 0x40
	restorer      = 0x48
	siteSigreturn = 0x4d
	siteHandler   = 0x50
	siteFutexWake = 0x92
	siteFutexWait = 0xc9
)

// Offsets in the data page. It is made read-only before any application code runs in
// a stub, so nothing there can be changed by the application.
const (
	dataSigaction  = 0   // struct kernel_sigaction {handler, flags, restorer, mask}: SIG_IGN
	dataHandler    = 32  // struct kernel_sigaction: systrap's handler
	dataFprog      = 64  // struct sock_fprog {len u16, filter *sock_filter}: the stub's
	dataThreadProg = 80  // struct sock_fprog: systrap's per-thread filter
	dataFilter     = 128 // the filters' instructions, the stub's then the thread's
	maxFilterLen   = (pageSize - dataFilter) / 8
)

// sigIgn is SIG_IGN.
const sigIgn = 1

// handlerFlags are the flags of systrap's handler: SA_SIGINFO|SA_ONSTACK|SA_RESTORER.
const handlerFlags = 0x4 | 0x08000000 | 0x04000000

// layoutData fills the data page that the template's set-up reads: a sigaction that
// ignores SIGCHLD (so dead stubs are reaped by the kernel, not left as zombies of the
// stub that cloned them), the seccomp program at base+dataFilter, and for systrap the
// handler's sigaction (every signal blocked while it runs) and the per-thread program.
func layoutData(data []byte, base uintptr, prog, threadProg []unix.SockFilter) {
	clear(data)
	le := binary.LittleEndian
	le.PutUint64(data[dataSigaction:], sigIgn)
	le.PutUint64(data[dataHandler:], uint64(base+siteHandler))
	le.PutUint64(data[dataHandler+8:], handlerFlags)
	le.PutUint64(data[dataHandler+16:], uint64(base+restorer))
	le.PutUint64(data[dataHandler+24:], ^uint64(0))
	o := dataFilter
	for _, p := range []struct {
		at   int
		prog []unix.SockFilter
	}{{dataFprog, prog}, {dataThreadProg, threadProg}} {
		le.PutUint16(data[p.at:], uint16(len(p.prog)))
		le.PutUint64(data[p.at+8:], uint64(base+pageSize+uintptr(o)))
		for _, ins := range p.prog {
			le.PutUint16(data[o:], ins.Code)
			data[o+2] = ins.Jt
			data[o+3] = ins.Jf
			le.PutUint32(data[o+4:], ins.K)
			o += 8
		}
	}
}
