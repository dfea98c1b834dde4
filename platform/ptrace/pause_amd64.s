#include "textflag.h"

// func pauseLoop(n uint32)
// Executes the PAUSE instruction n times, as the stub's handler spins (stub.go), so that
// the Sentry can time one.
TEXT ·pauseLoop(SB), NOSPLIT, $0-4
	MOVL n+0(FP), CX
	TESTL CX, CX
	JEQ done
loop:
	PAUSE
	DECL CX
	JNZ loop
done:
	RET
