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
//	0x97 spin:         state stateApp: done; not stateEvent (the Sentry moved it to
//	                   stateStubWait: it wants the CPU): stop spinning
//	0xa3               pause; dec %ecx; jg spin
//	0xa9 trysleep:     cmpxchg stateEvent -> stateStubWait on ctxState
//	0xb7               je sleep; cmp $4,%eax; jne wait
//	0xbe sleep:        futex(&ctxState, FUTEX_WAIT, stateStubWait, NULL)
//	0xd0 siteFutexWait: syscall
//	0xd2               jmp    wait
//	0xd4 done:         movl   $5,(%rbx)        ; stateRunning: the Sentry's go is taken
//	0xda               mov    24(%rbx),%rax
//	0xde               wrfsbase %rax
//	0xe3               mov    32(%rbx),%rax
//	0xe7               wrgsbase %rax
//	0xec               ret                     ; to restorer, with the Sentry's registers
//
// The mapping thread of a systrap address space (one per address space) makes the
// address space's mmap, munmap and mprotect calls for the Sentry. It starts at sysStart
// with rbx at its slot's first page (read-write: ctxSpin, and the last batch done as a
// hint), r12 at the second, the batch page, which the stub maps read-only (the Sentry
// writes it through its own mapping; the application can't), and r15 0, the last batch
// sequence number it ran, which lives only in its register:
//
//	0xf0  sysStart:    spin ctxSpin rounds until the batch page's sequence number
//	                   (+0, u32) is not r15, then FUTEX_WAIT on it for r15
//	0x112 siteSysWait: syscall
//	0x116 run:         r15 = the sequence number (read once); the count at +8 and the
//	                   calls from +64 (64 bytes each: the number and six arguments)
//	0x148 siteSysOp:   syscall                 ; each call in turn, stopping at an error
//	                   write(the eventfd at +16, &one (+24) or &two (+32) on an error, 8)
//	0x172 siteSysDone: syscall
//	0x174              the sequence number into the hint (+4 of the first page); loop
//
// What the Sentry trusts is only the eventfd (which no application thread can write:
// their filter traps write) and the thread's death; the hint in the writable page only
// tells it when to look. A batch is run once per new sequence number, which only the
// Sentry writes.
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
	0x48, 0x81, 0xe3, 0x00, 0x80, 0xff, 0xff, // 0x53 and $0xffffffffffff8000,%rbx
	0x48, 0x89, 0x73, 0x08, // 0x5a mov %rsi,0x8(%rbx)
	0x48, 0x89, 0x53, 0x10, // 0x5e mov %rdx,0x10(%rbx)
	0xf3, 0x48, 0x0f, 0xae, 0xc0, // 0x62 rdfsbase %rax
	0x48, 0x89, 0x43, 0x18, // 0x67 mov %rax,0x18(%rbx)
	0xf3, 0x48, 0x0f, 0xae, 0xc8, // 0x6b rdgsbase %rax
	0x48, 0x89, 0x43, 0x20, // 0x70 mov %rax,0x20(%rbx)
	0xb8, 0x02, 0x00, 0x00, 0x00, // 0x74 mov $0x2,%eax
	0x87, 0x03, // 0x79 xchg %eax,(%rbx)
	0x83, 0xf8, 0x03, // 0x7b cmp $0x3,%eax
	0x75, 0x14, // 0x7e jne 94 <wait>
	0x48, 0x89, 0xdf, // 0x80 mov %rbx,%rdi
	0xbe, 0x01, 0x00, 0x00, 0x00, // 0x83 mov $0x1,%esi
	0xba, 0x01, 0x00, 0x00, 0x00, // 0x88 mov $0x1,%edx
	0xb8, 0xca, 0x00, 0x00, 0x00, // 0x8d mov $0xca,%eax
	0x0f, 0x05, // 0x92 syscall
	0x8b, 0x4b, 0x28, // 0x94 mov 0x28(%rbx),%ecx
	0x8b, 0x03, // 0x97 mov (%rbx),%eax
	0x83, 0xf8, 0x01, // 0x99 cmp $0x1,%eax
	0x74, 0x36, // 0x9c je d4 <done>
	0x83, 0xf8, 0x02, // 0x9e cmp $0x2,%eax
	0x75, 0x06, // 0xa1 jne a9 <trysleep>
	0xf3, 0x90, // 0xa3 pause
	0xff, 0xc9, // 0xa5 dec %ecx
	0x7f, 0xee, // 0xa7 jg 97 <spin>
	0xb8, 0x02, 0x00, 0x00, 0x00, // 0xa9 mov $0x2,%eax
	0xba, 0x04, 0x00, 0x00, 0x00, // 0xae mov $0x4,%edx
	0xf0, 0x0f, 0xb1, 0x13, // 0xb3 lock cmpxchg %edx,(%rbx)
	0x74, 0x05, // 0xb7 je be <sleep>
	0x83, 0xf8, 0x04, // 0xb9 cmp $0x4,%eax
	0x75, 0xd6, // 0xbc jne 94 <wait>
	0x48, 0x89, 0xdf, // 0xbe mov %rbx,%rdi
	0x31, 0xf6, // 0xc1 xor %esi,%esi
	0xba, 0x04, 0x00, 0x00, 0x00, // 0xc3 mov $0x4,%edx
	0x45, 0x31, 0xd2, // 0xc8 xor %r10d,%r10d
	0xb8, 0xca, 0x00, 0x00, 0x00, // 0xcb mov $0xca,%eax
	0x0f, 0x05, // 0xd0 syscall
	0xeb, 0xc0, // 0xd2 jmp 94 <wait>
	0xc7, 0x03, 0x05, 0x00, 0x00, 0x00, // 0xd4 movl $0x5,(%rbx)
	0x48, 0x8b, 0x43, 0x18, // 0xda mov 0x18(%rbx),%rax
	0xf3, 0x48, 0x0f, 0xae, 0xd0, // 0xde wrfsbase %rax
	0x48, 0x8b, 0x43, 0x20, // 0xe3 mov 0x20(%rbx),%rax
	0xf3, 0x48, 0x0f, 0xae, 0xd8, // 0xe7 wrgsbase %rax
	0xc3, // 0xec ret

	0xcc, 0xcc, 0xcc, // 0xed: padding
	0x8b, 0x4b, 0x28, // 0xf0 mov 0x28(%rbx),%ecx
	0x41, 0x8b, 0x04, 0x24, // 0xf3 mov (%r12),%eax
	0x44, 0x39, 0xf8, // 0xf7 cmp %r15d,%eax
	0x75, 0x1a, // 0xfa jne 116 <run>
	0xf3, 0x90, // 0xfc pause
	0xff, 0xc9, // 0xfe dec %ecx
	0x7f, 0xf1, // 0x100 jg f3 <sysStart+0x3>
	0x4c, 0x89, 0xe7, // 0x102 mov %r12,%rdi
	0x31, 0xf6, // 0x105 xor %esi,%esi
	0x44, 0x89, 0xfa, // 0x107 mov %r15d,%edx
	0x45, 0x31, 0xd2, // 0x10a xor %r10d,%r10d
	0xb8, 0xca, 0x00, 0x00, 0x00, // 0x10d mov $0xca,%eax
	0x0f, 0x05, // 0x112 syscall
	0xeb, 0xda, // 0x114 jmp f0 <sysStart>
	0x41, 0x89, 0xc7, // 0x116 mov %eax,%r15d
	0x4d, 0x8b, 0x6c, 0x24, 0x08, // 0x119 mov 0x8(%r12),%r13
	0x4d, 0x8d, 0x74, 0x24, 0x40, // 0x11e lea 0x40(%r12),%r14
	0x49, 0x8d, 0x6c, 0x24, 0x18, // 0x123 lea 0x18(%r12),%rbp
	0x4d, 0x85, 0xed, // 0x128 test %r13,%r13
	0x74, 0x33, // 0x12b je 160 <run+0x4a>
	0x49, 0x8b, 0x06, // 0x12d mov (%r14),%rax
	0x49, 0x8b, 0x7e, 0x08, // 0x130 mov 0x8(%r14),%rdi
	0x49, 0x8b, 0x76, 0x10, // 0x134 mov 0x10(%r14),%rsi
	0x49, 0x8b, 0x56, 0x18, // 0x138 mov 0x18(%r14),%rdx
	0x4d, 0x8b, 0x56, 0x20, // 0x13c mov 0x20(%r14),%r10
	0x4d, 0x8b, 0x46, 0x28, // 0x140 mov 0x28(%r14),%r8
	0x4d, 0x8b, 0x4e, 0x30, // 0x144 mov 0x30(%r14),%r9
	0x0f, 0x05, // 0x148 syscall
	0x48, 0x3d, 0x01, 0xf0, 0xff, 0xff, // 0x14a cmp $0xfffffffffffff001,%rax
	0x73, 0x09, // 0x150 jae 15b <run+0x45>
	0x49, 0xff, 0xcd, // 0x152 dec %r13
	0x49, 0x83, 0xc6, 0x40, // 0x155 add $0x40,%r14
	0xeb, 0xcd, // 0x159 jmp 128 <run+0x12>
	0x49, 0x8d, 0x6c, 0x24, 0x20, // 0x15b lea 0x20(%r12),%rbp
	0x49, 0x8b, 0x7c, 0x24, 0x10, // 0x160 mov 0x10(%r12),%rdi
	0x48, 0x89, 0xee, // 0x165 mov %rbp,%rsi
	0xba, 0x08, 0x00, 0x00, 0x00, // 0x168 mov $0x8,%edx
	0xb8, 0x01, 0x00, 0x00, 0x00, // 0x16d mov $0x1,%eax
	0x0f, 0x05, // 0x172 syscall
	0x44, 0x89, 0x7b, 0x04, // 0x174 mov %r15d,0x4(%rbx)
	0xe9, 0x73, 0xff, 0xff, 0xff, // 0x178 jmp f0 <sysStart>

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
	siteFutexWait = 0xd0
	sysStart      = 0xf0
	siteSysWait   = 0x112
	siteSysOp     = 0x148
	siteSysDone   = 0x172
)

// Offsets in the data page. It is made read-only before any application code runs in
// a stub, so nothing there can be changed by the application.
const (
	dataSigaction  = 0   // struct kernel_sigaction {handler, flags, restorer, mask}: SIG_IGN
	dataHandler    = 32  // struct kernel_sigaction: systrap's handler
	dataFprog      = 64  // struct sock_fprog {len u16, filter *sock_filter}: the stub's
	dataThreadProg = 80  // struct sock_fprog: systrap's per-thread filter
	dataSysProg    = 96  // struct sock_fprog: systrap's mapping thread's filter
	dataFilter     = 128 // the filters' instructions, the stub's, the thread's, the mapping thread's
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
func layoutData(data []byte, base uintptr, prog, threadProg, sysProg []unix.SockFilter) {
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
	}{{dataFprog, prog}, {dataThreadProg, threadProg}, {dataSysProg, sysProg}} {
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
