package kernel

import (
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/platform"
	"github.com/moat-sandbox/moat/sentry/arch"
	"github.com/moat-sandbox/moat/sentry/loader"
	"github.com/moat-sandbox/moat/sentry/mm"
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// Address-space layout of a new process, as Linux's x86-64 defaults (arch/x86/mm/mmap.c,
// fs/binfmt_elf.c), each randomized as ASLR does.
const (
	stackSize   = 8 << 20        // the stack VMA; RLIMIT_STACK's default
	stackGap    = 128 << 20      // least room between the stack and the mmap area
	etDynBase   = 0x555555554000 // ELF_ET_DYN_BASE: where a PIE is loaded
	mmapRnd     = 1 << 40        // arch_mmap_rnd: 28 bits of pages
	stackRndMax = 16 << 30       // randomize_stack_top: up to 16 GiB
	brkRndMax   = 32 << 20       // arch_randomize_brk: up to 32 MiB
)

// ProcessArgs is what NewProcess runs.
type ProcessArgs struct {
	File  *os.File // the executable, opened by the caller
	Path  string   // its path, for AT_EXECFN and /proc/self/exe
	Argv  []string
	Envv  []string
	FDs   *vfs.FDTable
	FS    *FSContext
	Creds *vfs.Credentials
}

// NewProcess creates a process running a's executable: a new address space with the
// ELF's segments, a stack laid out as execve does, and a task ready to Run.
func (k *Kernel) NewProcess(a ProcessArgs) (*Task, error) {
	fi, err := a.File.Stat()
	if err != nil {
		return nil, err
	}
	bin, err := loader.Parse(a.File, fi.Size())
	if err != nil {
		return nil, err
	}
	if bin.Interp != "" {
		return nil, fmt.Errorf("dynamically linked (interpreter %s): needs the VFS to load it: %w", bin.Interp, unix.ENOEXEC)
	}
	as, err := k.Platform.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	m := mm.New(k.MemFile, k.Platform, as)
	st, bounds, err := k.load(m, bin, a)
	if err != nil {
		m.Release()
		return nil, err
	}
	t := k.NewTask(m, a.FDs, a.FS, a.Creds, st)
	t.Exe = a.Path
	t.ArgvStart, t.ArgvEnd, t.EnvvStart, t.EnvvEnd = bounds[0], bounds[1], bounds[2], bounds[3]
	return t, nil
}

// random returns a random multiple of the page size below max.
func random(max uint64) uintptr {
	var b [8]byte
	rand.Read(b[:])
	return uintptr(binary.LittleEndian.Uint64(b[:])%(max/platform.PageSize)) * platform.PageSize
}

func (k *Kernel) load(m *mm.MemoryManager, bin *loader.Binary, a ProcessArgs) (*arch.State, [4]uintptr, error) {
	var bounds [4]uintptr
	var bias uintptr
	if bin.Type == elf.ET_DYN {
		bias = etDynBase + random(mmapRnd)
	}
	const page = platform.PageSize
	var end uintptr
	for _, s := range bin.Segments {
		va := uintptr(s.Vaddr) + bias
		start := va &^ (page - 1)
		skew := va - start
		addr, err := m.MMap(mm.MMapOpts{
			Addr: start, Length: skew + uintptr(s.Memsz), Fixed: true,
			Perms:  platform.AccessType{Read: s.Read, Write: s.Write, Execute: s.Exec},
			File:   a.File,
			Offset: s.Offset - uint64(skew), FileSize: uint64(skew) + s.Filesz,
			Name: a.Path,
		})
		if err != nil {
			return nil, bounds, fmt.Errorf("mapping segment at %#x: %w", va, err)
		}
		end = max(end, addr+skew+uintptr(s.Memsz))
	}
	brk := (end+page-1)&^(page-1) + random(brkRndMax)

	stackTop := (m.MaxAddress() - page - random(stackRndMax)) &^ 0xf
	stackBase := (stackTop - stackSize) &^ (page - 1)
	if _, err := m.MMap(mm.MMapOpts{Addr: stackBase, Length: stackTop - stackBase, Fixed: true,
		Perms: platform.ReadWrite, GrowsDown: true, Name: "[stack]"}); err != nil {
		return nil, bounds, fmt.Errorf("mapping the stack: %w", err)
	}
	m.SetLayout(stackBase-stackGap-random(mmapRnd), brk)

	var rnd [16]byte
	rand.Read(rnd[:])
	auxv := []loader.AuxEntry{
		{Key: loader.AT_PHDR, Val: bin.Phdr + uint64(bias)},
		{Key: loader.AT_PHENT, Val: bin.Phent},
		{Key: loader.AT_PHNUM, Val: bin.Phnum},
		{Key: loader.AT_PAGESZ, Val: page},
		{Key: loader.AT_BASE, Val: 0},
		{Key: loader.AT_FLAGS, Val: 0},
		{Key: loader.AT_ENTRY, Val: bin.Entry + uint64(bias)},
		{Key: loader.AT_UID, Val: 0},
		{Key: loader.AT_EUID, Val: 0},
		{Key: loader.AT_GID, Val: 0},
		{Key: loader.AT_EGID, Val: 0},
		{Key: loader.AT_SECURE, Val: 0},
		{Key: loader.AT_HWCAP, Val: arch.HWCap()},
		{Key: loader.AT_CLKTCK, Val: 100},
	}
	img, err := loader.Stack(uint64(stackTop), a.Argv, a.Envv, a.Path, rnd, auxv)
	if err != nil {
		return nil, bounds, err
	}
	if _, err := m.CopyOut(uintptr(img.SP), img.Data); err != nil {
		return nil, bounds, fmt.Errorf("writing the stack: %w", err)
	}
	st := arch.NewState()
	st.Regs.Rip = bin.Entry + uint64(bias)
	st.Regs.Rsp = img.SP
	bounds = [4]uintptr{uintptr(img.ArgvStart), uintptr(img.ArgvEnd), uintptr(img.EnvvStart), uintptr(img.EnvvEnd)}
	return st, bounds, nil
}
