#include "textflag.h"

// func pause()
// One PAUSE, as the guest's fast system call spins (ring0.go), for the Sentry's spin.
TEXT ·pause(SB), NOSPLIT, $0-0
	PAUSE
	RET

// func pauseLoop(n uint32)
// Executes PAUSE n times, so that the Sentry can time one.
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
