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
// a #GP in ring 3, an iretq returns to ring 3 from its own stack, and a jump to
// syscallEntry is a system call with registers of its own choosing.
const (
	vectorsOff      = 0x000 // exception v's gate: vectorsOff + 16*v
	vectorStride    = 16
	unexpectedOff   = 0x200 // vectors 32-255
	syscallEntryOff = 0x210 // LSTAR
	retUserOff      = 0x220 // iretq with the frame at rsp
	retFlushOff     = 0x230 // reload cr3, then iretq
	ring0CodeSize   = 0x240
)

var ring0Code = buildRing0Code()

func buildRing0Code() []byte {
	code := make([]byte, ring0CodeSize)
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
	return code
}
