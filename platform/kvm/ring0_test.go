package kvm

import (
	"testing"

	"github.com/moat-sandbox/moat/platform/internal/asmcheck"
)

// TestRing0CodeMatchesSource assembles testdata/ring0.S and checks that ring0Code holds
// its bytes and that every offset ring0.go names is its label's.
func TestRing0CodeMatchesSource(t *testing.T) {
	asmcheck.Check(t, "testdata/ring0.S", ring0Code, "ring0Code", map[string]uint64{
		"vectors": vectorsOff, "unexpected": unexpectedOff, "syscallEntry": syscallEntryOff,
		"retUser": retUserOff, "retFlush": retFlushOff, "fastRing0": fastRing0Off,
		"fastSave": fastSaveOff, "fastSaved": fastSavedOff, "fastPosted": fastPostedOff,
		"fastExit": fastExitOff, "fastResume": fastResumeOff, "fastResumeEnd": fastResumeEndOff,
		"fastEntry": fastEntryOff, "end": codePageSize,
	})
}
