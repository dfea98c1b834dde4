#include "textflag.h"

// func cpuNumber() uint32
// Returns the CPU the calling thread runs on, as the stub's handler reads it and as the
// vDSO's getcpu does without RDPID: the low 12 bits of the limit of the per-CPU segment
// (__CPUNODE_SEG, GDT entry 15, 0x7b), which Linux sets up on every CPU. Nothing but a
// hint for spinning: the thread may move right after.
TEXT ·cpuNumber(SB), NOSPLIT, $0-4
	MOVL $0x7b, AX
	LSLL AX, AX
	ANDL $0xfff, AX
	MOVL AX, ret+0(FP)
	RET
