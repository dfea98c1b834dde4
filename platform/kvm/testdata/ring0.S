/* The guest's ring-0 code page (ring0.go's ring0Code), in GNU assembler syntax.
   ring0_test.go assembles this file with gcc where it can and checks that ring0Code
   holds exactly these bytes and that every offset ring0.go names is its label's.

   Nothing here reads or writes application memory, and nothing here decides anything:
   each entry halts, which exits to the host (KVM_EXIT_HLT) with the application's
   general registers untouched; the host tells the entries apart by the address after
   the hlt. The return stubs run on the vCPU's own ring-0 stack, where the host wrote
   an iretq frame. The padding is int3, and a ud2 follows each hlt, so a vCPU that
   resumes anywhere unexpected traps at once (which the host treats as fatal). */
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

	.org 0x240, 0xcc
end:
