#include "textflag.h"

// func Pause()
TEXT ·Pause(SB), NOSPLIT, $0-0
	PAUSE
	RET

// func PauseLoop(n uint32)
TEXT ·PauseLoop(SB), NOSPLIT, $0-4
	MOVL n+0(FP), CX
	TESTL CX, CX
	JEQ done
loop:
	PAUSE
	DECL CX
	JNZ loop
done:
	RET
