package ptrace

import (
	"testing"

	"github.com/moat-sandbox/moat/platform/internal/asmcheck"
)

// TestStubCodeMatchesSource assembles testdata/stub.S and checks that stubCode holds its
// bytes and that every offset stub.go names is its label's.
func TestStubCodeMatchesSource(t *testing.T) {
	asmcheck.Check(t, "testdata/stub.S", stubCode, "stubCode", map[string]uint64{
		"siteSyscall": siteSyscall, "siteClone": siteClone, "siteGetpid": siteGetpid, "siteKill": siteKill,
		"siteStart": siteStart, "restorer": restorer, "siteSigreturn": siteSigreturn, "handler": siteHandler,
		"siteFutexWake": siteFutexWake, "siteYield": siteYield, "siteFutexWait": siteFutexWait,
		"sysStart": sysStart, "siteSysWait": siteSysWait, "siteSysOp": siteSysOp, "siteSysDone": siteSysDone,
		"setup": setup, "siteSetMap": siteSetMap, "siteSetMapBatch": siteSetMapBatch,
		"siteSetAltstack": siteSetAltstack, "siteSetMask": siteSetMask, "siteSetTid": siteSetTid,
		"siteSetPdeath": siteSetPdeath, "siteSetFilter": siteSetFilter,
	})
}
