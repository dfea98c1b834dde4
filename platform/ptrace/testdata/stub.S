/* The stub's code page (stub.go's stubCode), in GNU assembler syntax. stub_test.go
   assembles this file with gcc where it can and checks that stubCode holds exactly
   these bytes, and that the sites and entry points stub.go names are where the labels
   are. Offsets are fixed with .org: the seccomp filters pin system calls to them. */
	.text
	.globl _start
_start:
	.org 0x00, 0xcc
siteSyscall:                    /* mmap, munmap, mprotect, eventfd2 for the tracer */
	syscall
	int3

	.org 0x10, 0xcc
siteClone:                      /* clone: a new stub process or thread */
	syscall
	test %rax,%rax
	je child
	int3                        /* the parent: back to the tracer */
child:
	test %r12,%r12              /* a systrap thread: set itself up */
	jne setup
selfStop:
	mov $39,%eax                /* kill(getpid(), SIGSTOP), until seized */
siteGetpid:
	syscall
	mov %rax,%rdi
	mov $19,%esi
	mov $62,%eax
siteKill:
	syscall
	jmp selfStop

	.org 0x40, 0xcc
siteStart:                      /* a new systrap thread: into the handler at once */
	int3

	.org 0x48, 0xcc
restorer:                       /* the handler's sa_restorer */
	mov $15,%eax
siteSigreturn:
	syscall

	.org 0x50, 0xcc
/* systrap's handler for SIGSYS, the fault signals and the interrupt, on the thread's
   alternate stack in its slot; rdi = signal, rsi = &siginfo, rdx = &ucontext. */
handler:
	mov %rsp,%rbx
	and $-0x8000,%rbx           /* the slot's context page: rsp rounded down to slotSize */
	mov %rsi,8(%rbx)            /* ctxInfo */
	mov %rdx,16(%rbx)           /* ctxUcontext */
	rdfsbase %rax
	mov %rax,24(%rbx)           /* ctxFSBase */
	rdgsbase %rax
	mov %rax,32(%rbx)           /* ctxGSBase */
	mov $0x7b,%r13d             /* this CPU, as the vDSO's getcpu reads it: the limit of */
	lsl %r13d,%r13d             /* the per-CPU segment (__CPUNODE_SEG), low 12 bits */
	and $0xfff,%r13d
	mov %r13d,60(%rbx)          /* ctxStubCPU: a hint for the Sentry's spinning */
	mov $2,%eax
	xchg %eax,(%rbx)            /* ctxState = stateEvent */
	cmp $3,%eax                 /* was the Sentry asleep (stateSentryWait)? */
	jne wait
	mov %rbx,%rdi               /* futex(&ctxState, FUTEX_WAKE, 1) */
	mov $1,%esi
	mov $1,%edx
	mov $202,%eax
siteFutexWake:
	syscall
	jmp nospin                  /* it takes a while to wake: don't spin for it */
wait:
	mov 40(%rbx),%ecx           /* ctxSpin: PAUSEs */
	mov 44(%rbx),%r12d          /* ctxYield: sched_yields after them */
	cmp 4(%rbx),%r13d           /* ctxSentryCPU: the Sentry on this CPU? */
	jne spin
nospin:
	xor %ecx,%ecx               /* then spinning would only keep it off: sleep */
	xor %r12d,%r12d
spin:
	mov (%rbx),%eax
	cmp $1,%eax                 /* stateApp: the Sentry says go */
	je done
	cmp $6,%eax                 /* stateAppSentryWait: go, and the Sentry sleeps */
	je done
	cmp $2,%eax                 /* not stateEvent: the Sentry wants us asleep */
	jne trysleep
	dec %ecx
	js yield
	pause
	jmp spin
yield:
	dec %r12d
	js trysleep
	mov $24,%eax                /* sched_yield: give the CPU to whoever waits for it */
siteYield:
	syscall
	jmp spin
trysleep:
	mov $2,%eax                 /* stateEvent -> stateStubWait */
	mov $4,%edx
	lock cmpxchg %edx,(%rbx)
	je sleep
	cmp $4,%eax
	jne wait
sleep:
	mov %rbx,%rdi               /* futex(&ctxState, FUTEX_WAIT, stateStubWait, NULL) */
	xor %esi,%esi
	mov $4,%edx
	xor %r10d,%r10d
	mov $202,%eax
siteFutexWait:
	syscall
	jmp wait
done:                           /* eax: the go seen */
	mov $5,%edx                 /* stateApp -> stateRunning: the go is taken */
	cmp $1,%eax
	je 1f
	mov $3,%edx                 /* stateAppSentryWait -> stateSentryWait: still asleep, */
1:	lock cmpxchg %edx,(%rbx)    /* so the next event wakes it */
	jne spin                    /* changed meanwhile: look again */
	mov 24(%rbx),%rax
	wrfsbase %rax
	mov 32(%rbx),%rax
	wrgsbase %rax
	ret                         /* to restorer, with the Sentry's registers */

	.org 0x140, 0xcc
/* The mapping thread: rbx = its slot (the first page read-write), r12 = the batch page
   (read-only in the stub), r15 = the last batch's sequence number. */
sysStart:
	mov 40(%rbx),%ecx           /* ctxSpin */
sysSpin:
	mov (%r12),%eax             /* the batch's sequence number */
	cmp %r15d,%eax
	jne sysRun
	pause
	dec %ecx
	jg sysSpin
	mov %r12,%rdi               /* futex(&seq, FUTEX_WAIT, r15, NULL) */
	xor %esi,%esi
	mov %r15d,%edx
	xor %r10d,%r10d
	mov $202,%eax
siteSysWait:
	syscall
	jmp sysStart
sysRun:
	mov %eax,%r15d              /* read once */
	mov 8(%r12),%r13            /* the count */
	lea 64(%r12),%r14           /* the first call */
	lea 24(%r12),%rbp           /* &one */
sysNext:
	test %r13,%r13
	jz sysEnd
	mov (%r14),%rax
	mov 8(%r14),%rdi
	mov 16(%r14),%rsi
	mov 24(%r14),%rdx
	mov 32(%r14),%r10
	mov 40(%r14),%r8
	mov 48(%r14),%r9
siteSysOp:
	syscall
	cmp $-4095,%rax
	jae sysFailed
	dec %r13
	add $64,%r14
	jmp sysNext
sysFailed:
	lea 32(%r12),%rbp           /* &two */
sysEnd:
	mov 16(%r12),%rdi           /* write(eventfd, &one or &two, 8) */
	mov %rbp,%rsi
	mov $8,%edx
	mov $1,%eax
siteSysDone:
	syscall
	mov %r15d,4(%rbx)           /* the hint: this batch is done */
	jmp sysStart

	.org 0x1d0, 0xcc
/* A new systrap thread sets itself up. r12 = 1 (an application thread) or 2 (the
   mapping thread), r13 = its slot, r14 = the context file, r15 = the slot's offset in
   it, rbx = the data page: all inherited from the registers of the clone. */
setup:
	mov %r13,%rdi               /* mmap(slot, size, RW, MAP_SHARED|MAP_FIXED, ctx, off) */
	mov $0x8000,%esi
	cmp $2,%r12
	jne 1f
	mov $0x1000,%esi            /* the mapping thread: the first page only */
1:	mov $3,%edx
	mov $0x11,%r10d
	mov %r14,%r8
	mov %r15,%r9
	mov $9,%eax
siteSetMap:
	syscall
	cmp $-4095,%rax
	jae fail
	cmp $2,%r12
	jne app
	lea 0x1000(%r13),%rdi       /* the batch pages, read-only */
	mov $0x7000,%esi
	mov $1,%edx
	mov $0x11,%r10d
	mov %r14,%r8
	lea 0x1000(%r15),%r9
	mov $9,%eax
siteSetMapBatch:
	syscall
	cmp $-4095,%rax
	jae fail
	jmp common
app:
	lea 48(%r13),%rdi           /* sigaltstack(&ctxStack, NULL) */
	xor %esi,%esi
	mov $131,%eax
siteSetAltstack:
	syscall
	cmp $-4095,%rax
	jae fail
	mov $2,%edi                 /* rt_sigprocmask(SIG_SETMASK, &ctxNoMask, NULL, 8) */
	lea 72(%r13),%rsi
	xor %edx,%edx
	mov $8,%r10d
	mov $14,%eax
siteSetMask:
	syscall
	cmp $-4095,%rax
	jae fail
common:
	mov %r13,%rdi               /* set_tid_address(&ctxState) */
	mov $218,%eax
siteSetTid:
	syscall
	mov $1,%edi                 /* prctl(PR_SET_PDEATHSIG, SIGKILL) */
	mov $9,%esi
	mov $157,%eax
siteSetPdeath:
	syscall
	cmp $-4095,%rax
	jae fail
	mov $1,%edi                 /* seccomp(SECCOMP_SET_MODE_FILTER, 0, the filter) */
	xor %esi,%esi
	lea 80(%rbx),%rdx           /* dataThreadProg */
	cmp $2,%r12
	jne 2f
	lea 96(%rbx),%rdx           /* dataSysProg */
2:	mov $317,%eax
siteSetFilter:
	syscall
	cmp $-4095,%rax
	jae fail
	cmp $2,%r12
	je 3f
	jmp siteStart
3:	mov %r13,%rbx
	lea 0x1000(%r13),%r12
	xor %r15d,%r15d
	jmp sysStart
fail:
	hlt                         /* SIGSEGV: the thread dies */
end:
