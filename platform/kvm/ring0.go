package kvm

// The guest's ring-0 code (testdata/ring0.S, which ring0_test.go checks this against):
// one page, mapped read-only and executable at kernelBase.
//
// The page is executable from ring 3 too, for one reason: on some nested hosts
// (measured: AMD EPYC under a cloud hypervisor) the syscall instruction of a ring-3
// guest jumps to LSTAR with rcx, r11 and the flags mask done but without the switch to
// ring 0. Its hlt then raises #GP in ring 3 at syscallEntry instead of exiting, which
// Switch takes as the system call it is. Nothing on the page is worth more to the
// application than the instructions it could write itself: a hlt or a move to cr3 is
// a #GP in ring 3, an iretq returns to ring 3 from its own stack, a jump to
// syscallEntry is a system call with registers of its own choosing, and the fast
// system call's code (fast.go) only moves registers to and from the slot of the
// address space it runs in, which the application can write anyway.
const (
	vectorsOff      = 0x000 // exception v's gate: vectorsOff + 16*v
	vectorStride    = 16
	unexpectedOff   = 0x200 // vectors 32-255
	syscallEntryOff = 0x210 // LSTAR
	retUserOff      = 0x220 // iretq with the frame at rsp
	retFlushOff     = 0x230 // reload cr3, then iretq
	ring0CodeSize   = 0x240 // the ring-0 part; the fast system call follows

	// The fast system call (fast.go).
	fastRing0Off     = 0x240 // a fast entry reached in ring 0: fatal
	fastSaveOff      = 0x250 // the registers go to the slot (%rax)
	fastSavedOff     = 0x2a4 // every general register is in the slot
	fastRdfsbaseOff  = 0x2a7 // the entry's first instruction the host may refuse
	fastPostedOff    = 0x2d8 // the call is posted: spinning for the answer
	fastExitOff      = 0x2fc // hlt: the Sentry did not answer in time
	fastResumeOff    = 0x2ff // load the answer from the slot (%rbx) and return
	fastResumeEndOff = 0x391
	fastEntryOff     = 0x400 // vCPU i's LSTAR: fastEntryOff + i*fastEntryStride
	fastEntryStride  = 48
	maxFastVCPUs     = (pageSize - fastEntryOff) / fastEntryStride
	codePageSize     = pageSize
)

var ring0Code = buildRing0Code()

func buildRing0Code() []byte {
	code := make([]byte, codePageSize)
	for i := range code {
		code[i] = 0xcc // int3
	}
	hltUd2 := []byte{0xf4, 0x0f, 0x0b}
	for v := 0; v < 32; v++ {
		copy(code[vectorsOff+vectorStride*v:], hltUd2)
	}
	copy(code[unexpectedOff:], hltUd2)
	copy(code[syscallEntryOff:], hltUd2)
	copy(code[retUserOff:], []byte{0x48, 0xcf}) // iretq
	copy(code[retFlushOff:], []byte{
		0x50,             // push %rax
		0x0f, 0x20, 0xd8, // mov %cr3,%rax
		0x0f, 0x22, 0xd8, // mov %rax,%cr3
		0x58,       // pop %rax
		0x48, 0xcf, // iretq
	})
	copy(code[fastRing0Off:], hltUd2)
	at := fastSaveOff
	for _, insn := range fastCode {
		at += copy(code[at:], insn)
	}
	for i := 0; i < maxFastVCPUs; i++ {
		copy(code[fastEntryOff+fastEntryStride*i:], fastEntry(i))
	}
	return code
}

// fastEntry is vCPU i's LSTAR for the fast system call: the application's %rax goes
// to the slot, a ring-0 arrival exits, and fastSave runs with %rax at the slot.
func fastEntry(i int) []byte {
	slot := slotVA(i)
	at := fastEntryOff + fastEntryStride*i
	return cat(
		[]byte{0x48, 0xa3}, le64(slot+slotRegs), // movabs %rax,slot+slotRegs
		[]byte{0x8c, 0xc8},                               // mov %cs,%eax
		[]byte{0xa8, 0x03},                               // test $3,%al
		[]byte{0x0f, 0x84}, le32(fastRing0Off-(at+0x14)), // jz fastRing0
		[]byte{0x48, 0xb8}, le64(slot), // movabs $slot,%rax
		[]byte{0xe9}, le32(fastSaveOff-(at+0x23)), // jmp fastSave
	)
}

// fastCode is fastSave to fastResumeEnd, one instruction a line (offsets in the page;
// the slot offsets are fast.go's slot* constants).
var fastCode = [][]byte{
	// fastSave:
	{0x48, 0x89, 0x58, 0x48},                   // 250: mov %rbx,0x48(%rax)
	{0x48, 0x89, 0x48, 0x50},                   // 254: mov %rcx,0x50(%rax)
	{0x48, 0x89, 0x50, 0x58},                   // 258: mov %rdx,0x58(%rax)
	{0x48, 0x89, 0x70, 0x60},                   // 25c: mov %rsi,0x60(%rax)
	{0x48, 0x89, 0x78, 0x68},                   // 260: mov %rdi,0x68(%rax)
	{0x48, 0x89, 0x60, 0x70},                   // 264: mov %rsp,0x70(%rax)
	{0x48, 0x89, 0x68, 0x78},                   // 268: mov %rbp,0x78(%rax)
	{0x4c, 0x89, 0x80, 0x80, 0x00, 0x00, 0x00}, // 26c: mov %r8,0x80(%rax)
	{0x4c, 0x89, 0x88, 0x88, 0x00, 0x00, 0x00}, // 273: mov %r9,0x88(%rax)
	{0x4c, 0x89, 0x90, 0x90, 0x00, 0x00, 0x00}, // 27a: mov %r10,0x90(%rax)
	{0x4c, 0x89, 0x98, 0x98, 0x00, 0x00, 0x00}, // 281: mov %r11,0x98(%rax)
	{0x4c, 0x89, 0xa0, 0xa0, 0x00, 0x00, 0x00}, // 288: mov %r12,0xa0(%rax)
	{0x4c, 0x89, 0xa8, 0xa8, 0x00, 0x00, 0x00}, // 28f: mov %r13,0xa8(%rax)
	{0x4c, 0x89, 0xb0, 0xb0, 0x00, 0x00, 0x00}, // 296: mov %r14,0xb0(%rax)
	{0x4c, 0x89, 0xb8, 0xb8, 0x00, 0x00, 0x00}, // 29d: mov %r15,0xb8(%rax)
	// fastSaved:
	{0x48, 0x89, 0xc3},                               // 2a4: mov %rax,%rbx
	{0xf3, 0x48, 0x0f, 0xae, 0xc0},                   // 2a7: rdfsbase %rax
	{0x48, 0x89, 0x83, 0xc8, 0x00, 0x00, 0x00},       // 2ac: mov %rax,0xc8(%rbx)
	{0xf3, 0x48, 0x0f, 0xae, 0xc8},                   // 2b3: rdgsbase %rax
	{0x48, 0x89, 0x83, 0xd0, 0x00, 0x00, 0x00},       // 2b8: mov %rax,0xd0(%rbx)
	{0xb8, 0xff, 0xff, 0xff, 0xff},                   // 2bf: mov $0xffffffff,%eax
	{0xba, 0xff, 0xff, 0xff, 0xff},                   // 2c4: mov $0xffffffff,%edx
	{0x48, 0x0f, 0xae, 0xa3, 0x00, 0x04, 0x00, 0x00}, // 2c9: xsave64 0x400(%rbx)
	{0xb8, 0x02, 0x00, 0x00, 0x00},                   // 2d1: mov $0x2,%eax
	{0x87, 0x03},                                     // 2d6: xchg %eax,(%rbx)
	// fastPosted:
	{0x83, 0xf8, 0x01}, // 2d8: cmp $0x1,%eax
	{0x75, 0x1f},       // 2db: jne 2fc
	{0x8b, 0x4b, 0x04}, // 2dd: mov 0x4(%rbx),%ecx
	// fastSpin:
	{0xf6, 0x03, 0x01},             // 2e0: testb $0x1,(%rbx)
	{0x75, 0x1a},                   // 2e3: jne 2ff
	{0xf3, 0x90},                   // 2e5: pause
	{0x83, 0xe9, 0x01},             // 2e7: sub $0x1,%ecx
	{0x73, 0xf4},                   // 2ea: jae 2e0
	{0xb8, 0x02, 0x00, 0x00, 0x00}, // 2ec: mov $0x2,%eax
	{0xb9, 0x04, 0x00, 0x00, 0x00}, // 2f1: mov $0x4,%ecx
	{0xf0, 0x0f, 0xb1, 0x0b},       // 2f6: lock cmpxchg %ecx,(%rbx)
	{0x75, 0x03},                   // 2fa: jne 2ff
	// fastExit:
	{0xf4},       // 2fc: hlt
	{0x0f, 0x0b}, // 2fd: ud2
	// fastResume:
	{0xb8, 0xff, 0xff, 0xff, 0xff},                   // 2ff: mov $0xffffffff,%eax
	{0xba, 0xff, 0xff, 0xff, 0xff},                   // 304: mov $0xffffffff,%edx
	{0x48, 0x0f, 0xae, 0xab, 0x00, 0x04, 0x00, 0x00}, // 309: xrstor64 0x400(%rbx)
	{0x48, 0x8b, 0x83, 0xc8, 0x00, 0x00, 0x00},       // 311: mov 0xc8(%rbx),%rax
	{0xf3, 0x48, 0x0f, 0xae, 0xd0},                   // 318: wrfsbase %rax
	{0x48, 0x8b, 0x83, 0xd0, 0x00, 0x00, 0x00},       // 31d: mov 0xd0(%rbx),%rax
	{0xf3, 0x48, 0x0f, 0xae, 0xd8},                   // 324: wrgsbase %rax
	{0x48, 0x8d, 0xa3, 0x40, 0x01, 0x00, 0x00},       // 329: lea 0x140(%rbx),%rsp
	{0xff, 0xb3, 0xc0, 0x00, 0x00, 0x00},             // 330: push 0xc0(%rbx)
	{0x9d},                                           // 336: popf
	{0x48, 0x8b, 0x43, 0x40},                         // 337: mov 0x40(%rbx),%rax
	{0x48, 0x8b, 0x4b, 0x50},                         // 33b: mov 0x50(%rbx),%rcx
	{0x48, 0x8b, 0x53, 0x58},                         // 33f: mov 0x58(%rbx),%rdx
	{0x48, 0x8b, 0x73, 0x60},                         // 343: mov 0x60(%rbx),%rsi
	{0x48, 0x8b, 0x7b, 0x68},                         // 347: mov 0x68(%rbx),%rdi
	{0x48, 0x8b, 0x6b, 0x78},                         // 34b: mov 0x78(%rbx),%rbp
	{0x4c, 0x8b, 0x83, 0x80, 0x00, 0x00, 0x00},       // 34f: mov 0x80(%rbx),%r8
	{0x4c, 0x8b, 0x8b, 0x88, 0x00, 0x00, 0x00},       // 356: mov 0x88(%rbx),%r9
	{0x4c, 0x8b, 0x93, 0x90, 0x00, 0x00, 0x00},       // 35d: mov 0x90(%rbx),%r10
	{0x4c, 0x8b, 0x9b, 0x98, 0x00, 0x00, 0x00},       // 364: mov 0x98(%rbx),%r11
	{0x4c, 0x8b, 0xa3, 0xa0, 0x00, 0x00, 0x00},       // 36b: mov 0xa0(%rbx),%r12
	{0x4c, 0x8b, 0xab, 0xa8, 0x00, 0x00, 0x00},       // 372: mov 0xa8(%rbx),%r13
	{0x4c, 0x8b, 0xb3, 0xb0, 0x00, 0x00, 0x00},       // 379: mov 0xb0(%rbx),%r14
	{0x4c, 0x8b, 0xbb, 0xb8, 0x00, 0x00, 0x00},       // 380: mov 0xb8(%rbx),%r15
	{0x48, 0x8b, 0x63, 0x70},                         // 387: mov 0x70(%rbx),%rsp
	{0x48, 0x8b, 0x5b, 0x48},                         // 38b: mov 0x48(%rbx),%rbx
	{0xff, 0xe1},                                     // 38f: jmp *%rcx
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

func le64(x uint64) []byte { return le.AppendUint64(nil, x) }
func le32(x int) []byte    { return le.AppendUint32(nil, uint32(int32(x))) }
