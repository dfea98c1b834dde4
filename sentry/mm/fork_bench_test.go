package mm

import (
	"runtime"
	"testing"
	"time"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/platform/ptrace"
	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/pgalloc"
)

// BenchmarkFork measures one fork and exit as the kernel makes them, phase by phase,
// on each platform: a new platform address space, mm.Fork of a parent with a few
// populated mappings, the child's first run (its stub thread made, a copy-on-write
// write fault, a system call), the child's release, and the parent's next write (its
// page was write-protected by the fork). Each phase is reported in ns/fork.
func BenchmarkFork(b *testing.B) {
	for _, pl := range []struct {
		name string
		make func(int) (*ptrace.Platform, error)
	}{{"systrap", ptrace.NewSystrap}, {"ptrace", ptrace.New}} {
		b.Run(pl.name, func(b *testing.B) {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			mf, err := pgalloc.New("mm-bench", 256<<20)
			if err != nil {
				b.Fatal(err)
			}
			defer mf.Close()
			p, err := pl.make(mf.FD())
			if err != nil {
				b.Skip(err)
			}
			defer p.Close()
			as, err := p.NewAddressSpace()
			if err != nil {
				b.Fatal(err)
			}
			m := New(mf, p, as)
			defer m.Release()
			m.SetLayout(0x7f0000000000, 0x600000)
			// movb $1,(%rdi); syscall
			code := []byte{0xc6, 0x07, 0x01, 0x0f, 0x05}
			text, _ := m.MMap(MMapOpts{Length: pageSize, Perms: platform.ReadWrite})
			m.CopyOut(text, code)
			m.MProtect(text, pageSize, platform.ReadExec)
			// A small process: ten writable mappings of 16 pages, each written.
			var data []uintptr
			for i := 0; i < 10; i++ {
				a, _ := m.MMap(MMapOpts{Length: 16 * pageSize, Perms: platform.ReadWrite})
				for j := uintptr(0); j < 16; j++ {
					m.CopyOut(a+j*pageSize, []byte{1})
				}
				data = append(data, a)
			}
			run := func(mm *MemoryManager, ctx platform.Context) {
				st := arch.NewState()
				st.Regs.Rip, st.Regs.Rdi = uint64(text), uint64(data[3]+5*pageSize)
				for {
					ev, err := ctx.Switch(mm.AddressSpace(), st)
					if err != nil {
						b.Fatal(err)
					}
					if ev.Kind == platform.EventSyscall {
						return
					}
					if err := mm.HandleFault(ev.Addr, ev.Access); err != nil {
						b.Fatal(err)
					}
				}
			}
			pctx := p.NewContext()
			defer pctx.Release()
			run(m, pctx)
			var tAS, tFork, tChild, tRelease, tParent time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				cas, err := p.NewAddressSpace()
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				c, err := m.Fork(cas, 0)
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				cctx := p.NewContext()
				run(c, cctx)
				t3 := time.Now()
				cctx.Release()
				c.Release()
				t4 := time.Now()
				run(m, pctx)
				t5 := time.Now()
				tAS += t1.Sub(t0)
				tFork += t2.Sub(t1)
				tChild += t3.Sub(t2)
				tRelease += t4.Sub(t3)
				tParent += t5.Sub(t4)
			}
			n := float64(b.N)
			b.ReportMetric(float64(tAS.Nanoseconds())/n, "ns-newas/op")
			b.ReportMetric(float64(tFork.Nanoseconds())/n, "ns-mmfork/op")
			b.ReportMetric(float64(tChild.Nanoseconds())/n, "ns-childrun/op")
			b.ReportMetric(float64(tRelease.Nanoseconds())/n, "ns-release/op")
			b.ReportMetric(float64(tParent.Nanoseconds())/n, "ns-parentwrite/op")
		})
	}
}
