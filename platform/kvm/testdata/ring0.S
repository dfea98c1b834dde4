/* The guest's ring-0 code page (ring0.go's ring0Code), in GNU assembler syntax.
   ring0_test.go assembles this file with gcc where it can and checks that ring0Code
   holds exactly these bytes and that every offset ring0.go names is its label's.

   Nothing in the ring-0 part (up to retFlush) reads or writes application memory,
   and nothing there decides anything: each entry halts, which exits to the host (KVM_EXIT_HLT) with the application's
   general registers untouched; the host tells the entries apart by the address after
   the hlt. The return stubs run on the vCPU's own ring-0 stack, where the host wrote
   an iretq frame. The padding is int3, and a ud2 follows each hlt, so a vCPU that
   resumes anywhere unexpected traps at once (which the host treats as fatal). The fast
   system call's code after it runs in ring 3 only (see below). */
	.text
	.globl _start
_start:

/* Exceptions 0-31: the IDT gate of vector v points at vectors + 16*v. Every gate
   switches to IST1, the vCPU's ring-0 stack, where the CPU has pushed the frame
   (and the error code, for the vectors that have one). */
vectors:
	.irp v, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.org vectors + 16 * \v, 0xcc
	hlt
	ud2
	.endr

/* Vectors 32-255: never raised (no interrupt is ever injected; int $n from ring 3 is
   a #GP since those gates have DPL 0). */
	.org 0x200, 0xcc
unexpected:
	hlt
	ud2

/* LSTAR: the syscall instruction lands here with the user rip in rcx and rflags in
   r11, and every other register as the application left it (rsp included). */
	.org 0x210, 0xcc
syscallEntry:
	hlt
	ud2

/* Return to ring 3: the host loaded every general register and pointed rsp at an
   iretq frame (rip, cs, rflags, rsp, ss) on the vCPU's stack. */
	.org 0x220, 0xcc
retUser:
	iretq

/* The same after reloading cr3, which drops every TLB entry of the address space
   (no PCID, no global user pages): the host enters here when the page tables changed
   since the vCPU last ran them. */
	.org 0x230, 0xcc
retFlush:
	push %rax
	mov %cr3, %rax
	mov %rax, %cr3
	pop %rax
	iretq

/* The fast system call (fast.go). Under PVM the syscall instruction reaches LSTAR in
   ring 3, and a vCPU that was seen to do so (its first system call) gets its own
   fastEntry as LSTAR. All of what follows runs in ring 3 there, with no more
   privilege than the application's own code: it saves the registers, the fs and gs
   bases and the XSAVE state in the vCPU's slot (a few pages of the address space at
   slotBase + id*slotSize, user-writable, private to the address space), posts the
   call in the slot's state word and spins for the answer, then loads the answer
   from the slot and jumps back. When the Sentry sleeps or does not answer within the
   budget, hlt (a #GP in ring 3) exits to the host, which re-enters at fastResume
   once it has answered. Everything is reached through %rax or %rbx, loaded from the
   entry's immediate, never through a pointer the application could choose (except
   by jumping here itself, which gives it nothing it could not do with its own code). */
	.set slotBase, 0xffffff0000000000
	.set slotSize, 0x4000
	.set stState, 0x00
	.set stBudget, 0x04
	.set stRegs, 0x40	/* rax rbx rcx rdx rsi rdi rsp rbp r8-r15 */
	.set stRflags, 0xc0
	.set stFS, 0xc8
	.set stGS, 0xd0
	.set stStack, 0x140
	.set stXsave, 0x400
	.set stateApp, 1	/* the Sentry gave the go and spins for the next call */
	.set stateSyscall, 2	/* posted: the registers are in the slot */
	.set stateSleep, 3	/* the Sentry gave the go and sleeps: the next call exits */
	.set stateExiting, 4	/* the entry stopped spinning and exits */

/* A fast entry reached in ring 0 (hardware virtualization: never configured there,
   see fast.go): exit, which the host treats as fatal. */
	.org 0x240, 0xcc
fastRing0:
	hlt
	ud2

/* %rax: the slot; the application's %rax is saved, every other register is its own. */
	.org 0x250, 0xcc
fastSave:
	mov %rbx, stRegs+0x08(%rax)
	mov %rcx, stRegs+0x10(%rax)
	mov %rdx, stRegs+0x18(%rax)
	mov %rsi, stRegs+0x20(%rax)
	mov %rdi, stRegs+0x28(%rax)
	mov %rsp, stRegs+0x30(%rax)
	mov %rbp, stRegs+0x38(%rax)
	mov %r8, stRegs+0x40(%rax)
	mov %r9, stRegs+0x48(%rax)
	mov %r10, stRegs+0x50(%rax)
	mov %r11, stRegs+0x58(%rax)
	mov %r12, stRegs+0x60(%rax)
	mov %r13, stRegs+0x68(%rax)
	mov %r14, stRegs+0x70(%rax)
	mov %r15, stRegs+0x78(%rax)
fastSaved:	/* every general register is in the slot */
	mov %rax, %rbx
	rdfsbase %rax
	mov %rax, stFS(%rbx)
	rdgsbase %rax
	mov %rax, stGS(%rbx)
	mov $-1, %eax
	mov $-1, %edx
	xsave64 stXsave(%rbx)
	mov $stateSyscall, %eax
	xchg %eax, stState(%rbx)
fastPosted:	/* the call is posted */
	cmp $stateApp, %eax
	jne fastExit
	mov stBudget(%rbx), %ecx
fastSpin:
	testb $1, stState(%rbx)	/* stateApp or stateSleep: the answer is there */
	jnz fastResume
	pause
	sub $1, %ecx
	jae fastSpin
	mov $stateSyscall, %eax
	mov $stateExiting, %ecx
	lock cmpxchg %ecx, stState(%rbx)
	jne fastResume
fastExit:
	hlt
	ud2

/* %rbx: the slot, which holds the answer (also where the host re-enters). */
fastResume:
	mov $-1, %eax
	mov $-1, %edx
	xrstor64 stXsave(%rbx)
	mov stFS(%rbx), %rax
	wrfsbase %rax
	mov stGS(%rbx), %rax
	wrgsbase %rax
	lea stStack(%rbx), %rsp
	pushq stRflags(%rbx)
	popfq
	mov stRegs+0x00(%rbx), %rax
	mov stRegs+0x10(%rbx), %rcx
	mov stRegs+0x18(%rbx), %rdx
	mov stRegs+0x20(%rbx), %rsi
	mov stRegs+0x28(%rbx), %rdi
	mov stRegs+0x38(%rbx), %rbp
	mov stRegs+0x40(%rbx), %r8
	mov stRegs+0x48(%rbx), %r9
	mov stRegs+0x50(%rbx), %r10
	mov stRegs+0x58(%rbx), %r11
	mov stRegs+0x60(%rbx), %r12
	mov stRegs+0x68(%rbx), %r13
	mov stRegs+0x70(%rbx), %r14
	mov stRegs+0x78(%rbx), %r15
	mov stRegs+0x30(%rbx), %rsp
	mov stRegs+0x08(%rbx), %rbx
	jmp *%rcx
fastResumeEnd:

/* fastEntry + i*fastStride: vCPU i's LSTAR. */
	.org 0x400, 0xcc
fastEntry:
	.set i, 0
	.rept 64
	.org fastEntry + 48 * i, 0xcc
	movabs %rax, slotBase + slotSize * i + stRegs
	mov %cs, %eax
	test $3, %al
	jz fastRing0
	movabs $(slotBase + slotSize * i), %rax
	jmp fastSave
	.set i, i + 1
	.endr

	.org 0x1000, 0xcc
end:
