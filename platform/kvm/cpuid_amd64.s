#include "textflag.h"

// func cpuid(eax, ecx uint32) (a, b, c, d uint32)
//
// Safe: CPUID reads identification registers and writes only its four outputs.
TEXT ·cpuid(SB),NOSPLIT,$0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
//
// Safe: XGETBV with ECX=0 reads XCR0, the enabled XSAVE features; callers check
// OSXSAVE first.
TEXT ·xgetbv(SB),NOSPLIT,$0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET
