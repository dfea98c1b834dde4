package kernel

import (
	"crypto/rand"
	"debug/elf"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"

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
	stackSize   = 128 << 10      // the stack VMA at exec; it grows down to RLIMIT_STACK
	stackMax    = 8 << 20        // the room left for it below the top (RLIMIT_STACK's default)
	stackGap    = 128 << 20      // least room between the stack and the mmap area
	etDynBase   = 0x555555554000 // ELF_ET_DYN_BASE: where a PIE is loaded
	mmapRnd     = 1 << 40        // arch_mmap_rnd: 28 bits of pages
	stackRndMax = 16 << 30       // randomize_stack_top: up to 16 GiB
	brkRndMax   = 32 << 20       // arch_randomize_brk: up to 32 MiB
	maxScripts  = 4              // nested #! interpreters before ELOOP (fs/exec.c)
)

// Executable is a file being exec'd: its bytes and size.
type Executable struct {
	io.ReaderAt
	Size int64
	Path string // as given to exec: AT_EXECFN and, for a script, its argument
	// Mode, UID and GID are the file's; SetIDAllowed says its mount honours set-ID
	// bits (not nosuid). An Executable not opened in the VFS has none of them.
	Mode         uint32
	UID, GID     uint32
	SetIDAllowed bool
	// Abs is the file's absolute path in the task's root, what /proc/[pid]/exe
	// shows; empty for one not opened in the VFS (Path is shown).
	Abs string
}

// ProcessArgs is what NewProcess runs.
type ProcessArgs struct {
	// Exe is the executable; nil means Path is resolved in the VFS.
	Exe   *Executable
	Path  string
	Argv  []string
	Envv  []string
	FDs   *vfs.FDTable
	FS    *FSContext
	Creds *vfs.Credentials
	// Container is the OCI container of the pod the process belongs to ("" for the
	// sandbox's own); its descendants inherit it.
	Container string
	// PIDNS is the PID namespace the process is made in (nil: the root); the first
	// process of a namespace is its init.
	PIDNS *PIDNamespace
}

// NewProcess creates a process running an executable: a new address space with its
// segments (and its interpreter's), a stack laid out as execve does, credentials as
// execve makes them from a.Creds, and a task ready to Run.
func (k *Kernel) NewProcess(a ProcessArgs) (*Task, error) {
	t, err := k.NewTask(nil, a.FDs, a.FS, a.Creds, nil, a.PIDNS)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	t.Proc.container = a.Container
	t.Proc.cgroup = k.cgroupRootLocked(a.Container)
	k.mu.Unlock()
	img, err := t.load(a.Exe, a.Path, a.Argv, a.Envv)
	if err != nil {
		k.forget(t.Proc)
		return nil, err
	}
	// a.Creds are those before the exec, as a runtime sets them up (runc's capset
	// then execve): the program runs with what exec makes of them.
	path := a.Path
	if a.Exe != nil {
		path = a.Exe.Path
	}
	img.comm = commOf(unix.AT_FDCWD, path)
	t.commitExecCreds(img.creds, img.secure)
	t.install(img)
	return t, nil
}

// image is a loaded program: its address space and first registers.
type image struct {
	mm     *mm.MemoryManager
	state  *arch.State
	exe    string
	bounds [4]uintptr // argv and envv string ranges
	// creds are the credentials the program runs with (execCreds); secure is
	// AT_SECURE: the exec raised privileges.
	creds  *vfs.Credentials
	secure bool
	// comm is the command name: the base name of the path exec was given (a
	// script's, not its interpreter's), as begin_new_exec.
	comm string
}

// commOf is the command name exec gives a program run by path (relative to dirfd): its
// base name, or for execveat's AT_EMPTY_PATH the descriptor's number ("/dev/fd/N").
func commOf(dirfd int32, path string) string {
	if path == "" {
		return strconv.Itoa(int(dirfd))
	}
	c := path[strings.LastIndex(path, "/")+1:]
	if len(c) > 15 {
		c = c[:15]
	}
	return c
}

// install makes img the task's program.
func (t *Task) install(img *image) {
	if t.MM != nil {
		rss := t.MM.MaxRSS() // the process's ru_maxrss outlives the old program
		t.k.mu.Lock()
		t.Proc.deadUsage.MaxRSS = max(t.Proc.deadUsage.MaxRSS, rss)
		t.k.mu.Unlock()
		// The context's host thread, if the platform has one, goes with the old
		// address space, before it is dropped (platform.Context.Release): systrap
		// hands it on to that address space's next user. The next Switch takes one
		// in the new address space.
		t.ctx.Release()
		t.MM.DecUsers()
	}
	t.MM, t.State, t.Exe, t.Comm = img.mm, img.state, img.exe, img.comm
	t.Proc.membarrier.Store(0) // registrations belong to the old address space
	t.ArgvStart, t.ArgvEnd, t.EnvvStart, t.EnvvEnd = img.bounds[0], img.bounds[1], img.bounds[2], img.bounds[3]
}

// Execve replaces the task's program with the one at path, as execve(2): on success the
// old address space is gone, close-on-exec descriptors are closed, and the task runs the
// new program from its entry point.
func (t *Task) Execve(dirfd int32, path string, argv, envv []string, flags int) error {
	exe, err := t.openExec(dirfd, path, flags)
	if err != nil {
		return err
	}
	img, err := t.load(exe, path, argv, envv)
	if err != nil {
		return err
	}
	img.comm = commOf(dirfd, path)
	t.endSiblings()
	if t.FDs.Shared() {
		// The table was shared with threads that are gone, or with another process
		// (CLONE_FILES without CLONE_THREAD): exec gets a table of its own.
		old := t.FDs
		t.FDs = old.Fork()
		old.DecUsers()
	}
	t.futexExit(false)
	t.commitExecCreds(img.creds, img.secure)
	t.install(img)
	// As begin_new_exec: the process counts as exec'd (setpgid's EACCES) and a vfork
	// parent goes on before the close-on-exec descriptors close, so whoever sees one
	// close sees the exec done.
	t.execDone()
	t.FDs.CloseExec()
	t.ClearChildTID, t.RobustList = 0, 0
	t.resetHandlers()
	t.Proc.deleteTimers()
	return nil
}

// readerAt reads a file through its implementation, as the kernel reads an executable:
// exec needs execute permission, not read permission.
type readerAt struct{ impl vfs.FileImpl }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := r.impl.Read(p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// openExec opens path (relative to dirfd) for execution, as do_open_execat: it must be
// a regular file with execute permission on a mount without noexec (EACCES otherwise).
// flags are execveat's: AT_SYMLINK_NOFOLLOW (a symlink is ELOOP) and AT_EMPTY_PATH (an
// empty path is dirfd's own file).
func (t *Task) openExec(dirfd int32, path string, flags int) (*Executable, error) {
	var vd vfs.VirtualDentry
	if path == "" && flags&unix.AT_EMPTY_PATH != 0 {
		f, err := t.FDs.Get(dirfd)
		if err != nil {
			return nil, err
		}
		vd = f.VirtualDentry()
		f.DecRef()
	} else {
		op, err := t.PathOp(dirfd, path)
		if err != nil {
			return nil, err
		}
		follow := flags&unix.AT_SYMLINK_NOFOLLOW == 0
		if vd, err = t.k.VFS.Resolve(t.Creds, op.Root, op.Start, op.Path, follow); err != nil {
			return nil, err
		}
		if !follow && vd.Dentry.IsSymlink() {
			return nil, unix.ELOOP
		}
	}
	st, err := vd.Dentry.Inode().Stat()
	if err != nil {
		return nil, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || vd.Mount.Flags.NoExec {
		return nil, unix.EACCES
	}
	if err := t.Creds.MayAccess(unix.X_OK, &st); err != nil {
		return nil, err
	}
	impl, err := vd.Dentry.Inode().Open(unix.O_RDONLY)
	if err != nil {
		return nil, err
	}
	abs, err := t.k.VFS.PathOf(t.FS.Root(), vd)
	if err != nil {
		abs = ""
	}
	return &Executable{ReaderAt: readerAt{impl}, Size: int64(st.Size), Path: path,
		Mode: st.Mode, UID: st.UID, GID: st.GID, SetIDAllowed: !vd.Mount.Flags.NoSuid, Abs: abs}, nil
}

// load builds the image of exe (or of path, opened in the VFS), following #! scripts.
func (t *Task) load(exe *Executable, path string, argv, envv []string) (*image, error) {
	for depth := 0; ; depth++ {
		if exe == nil {
			var err error
			if exe, err = t.openExec(unix.AT_FDCWD, path, 0); err != nil {
				return nil, err
			}
		}
		head := make([]byte, loader.BinprmBufSize)
		n, err := exe.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			return nil, err
		}
		args, isScript, err := loader.ShebangArgs(head[:n])
		if err != nil {
			return nil, err
		}
		if !isScript {
			return t.loadELF(exe, argv, envv)
		}
		if depth == maxScripts {
			return nil, unix.ELOOP
		}
		// The interpreter gets its argument, then the script's path, then the
		// script's arguments without argv[0].
		rest := argv
		if len(rest) > 0 {
			rest = rest[1:]
		}
		argv = append(append(args, exe.Path), rest...)
		path, exe = args[0], nil
	}
}

// loadELF maps an ELF executable and its interpreter into a new address space.
func (t *Task) loadELF(exe *Executable, argv, envv []string) (*image, error) {
	k := t.k
	bin, err := loader.Parse(exe, exe.Size)
	if err != nil {
		return nil, err
	}
	var interp *Executable
	var ibin *loader.Binary
	if bin.Interp != "" {
		if interp, err = t.openExec(unix.AT_FDCWD, bin.Interp, 0); err != nil {
			return nil, err
		}
		if ibin, err = loader.ParseInterp(interp, interp.Size); err != nil {
			return nil, err
		}
	}
	as, err := k.Platform.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	m := mm.New(k.MemFile, k.Platform, as)
	// The credentials come from the program itself, not a script naming it: as
	// Linux, set-ID bits of a #! script are ignored, its interpreter's count.
	creds, secure := t.execCreds(exe)
	img, err := t.layout(m, bin, exe, ibin, interp, argv, envv, creds, secure)
	if err != nil {
		m.Release()
		return nil, err
	}
	img.creds, img.secure = creds, secure
	return img, nil
}

// random returns a random multiple of the page size below max.
func random(max uint64) uintptr {
	var b [8]byte
	rand.Read(b[:])
	return uintptr(binary.LittleEndian.Uint64(b[:])%(max/platform.PageSize)) * platform.PageSize
}

// mapELF maps bin's segments at bias and returns the end of the highest.
func mapELF(m *mm.MemoryManager, bin *loader.Binary, exe *Executable, bias uintptr) (uintptr, error) {
	const page = platform.PageSize
	var end uintptr
	for _, s := range bin.Segments {
		va := uintptr(s.Vaddr) + bias
		start := va &^ (page - 1)
		skew := va - start
		addr, err := m.MMap(mm.MMapOpts{
			Addr: start, Length: skew + uintptr(s.Memsz), Fixed: true,
			Perms:  platform.AccessType{Read: s.Read, Write: s.Write, Execute: s.Exec},
			File:   exe,
			Offset: s.Offset - uint64(skew), FileSize: uint64(skew) + s.Filesz,
			Name: exe.Path,
		})
		if err != nil {
			return 0, fmt.Errorf("mapping segment at %#x: %w", va, err)
		}
		end = max(end, addr+skew+uintptr(s.Memsz))
	}
	return end, nil
}

func (t *Task) layout(m *mm.MemoryManager, bin *loader.Binary, exe *Executable, ibin *loader.Binary, interp *Executable, argv, envv []string, creds *vfs.Credentials, secure bool) (*image, error) {
	const page = platform.PageSize
	var bias uintptr
	if bin.Type == elf.ET_DYN {
		bias = etDynBase + random(mmapRnd)
	}
	end, err := mapELF(m, bin, exe, bias)
	if err != nil {
		return nil, err
	}
	brk := (end+page-1)&^(page-1) + random(brkRndMax)

	stackTop := (m.MaxAddress() - page - random(stackRndMax)) &^ 0xf
	stackVMATop := (stackTop + page - 1) &^ (page - 1)
	stackBase := (stackTop - stackSize) &^ (page - 1)
	if _, err := m.MMap(mm.MMapOpts{Addr: stackBase, Length: stackVMATop - stackBase, Fixed: true,
		Perms: platform.ReadWrite, GrowsDown: true, Name: "[stack]"}); err != nil {
		return nil, fmt.Errorf("mapping the stack: %w", err)
	}
	m.SetStackLimit(t.Limits[unix.RLIMIT_STACK].Cur)
	m.SetLayout(stackVMATop-stackMax-stackGap-random(mmapRnd), brk)

	entry := bin.Entry + uint64(bias)
	var interpBase uint64
	if ibin != nil {
		// The interpreter goes where mmap would put it: reserve its span, then map
		// its segments over the reservation.
		lo, hi := ibin.Span()
		addr, err := m.MMap(mm.MMapOpts{Length: uintptr(hi - lo), Name: interp.Path})
		if err != nil {
			return nil, fmt.Errorf("placing the interpreter: %w", err)
		}
		ibias := addr - uintptr(lo)
		if _, err := mapELF(m, ibin, interp, ibias); err != nil {
			return nil, err
		}
		interpBase, entry = uint64(ibias), ibin.Entry+uint64(ibias)
	}
	phdr := bin.Phdr
	if phdr != 0 {
		phdr += uint64(bias)
	}
	var rnd [16]byte
	rand.Read(rnd[:])
	auxv := []loader.AuxEntry{
		{Key: loader.AT_PHDR, Val: phdr},
		{Key: loader.AT_PHENT, Val: bin.Phent},
		{Key: loader.AT_PHNUM, Val: bin.Phnum},
		{Key: loader.AT_PAGESZ, Val: page},
		{Key: loader.AT_BASE, Val: interpBase},
		{Key: loader.AT_FLAGS, Val: 0},
		{Key: loader.AT_ENTRY, Val: bin.Entry + uint64(bias)},
		{Key: loader.AT_UID, Val: uint64(creds.RealUID)},
		{Key: loader.AT_EUID, Val: uint64(creds.EffectiveUID)},
		{Key: loader.AT_GID, Val: uint64(creds.RealGID)},
		{Key: loader.AT_EGID, Val: uint64(creds.EffectiveGID)},
		{Key: loader.AT_SECURE, Val: map[bool]uint64{true: 1}[secure]},
		{Key: loader.AT_HWCAP, Val: arch.HWCap()},
		{Key: loader.AT_CLKTCK, Val: 100},
	}
	img, err := loader.StackConfig{Platform: "x86_64"}.Stack(uint64(stackTop), argv, envv, exe.Path, rnd, auxv)
	if err != nil {
		return nil, err
	}
	if _, err := m.CopyOut(uintptr(img.SP), img.Data); err != nil {
		return nil, fmt.Errorf("writing the stack: %w", err)
	}
	st := arch.NewState()
	st.Regs.Rip = entry
	st.Regs.Rsp = img.SP
	shown := exe.Abs
	if shown == "" {
		shown = exe.Path
	}
	return &image{mm: m, state: st, exe: shown,
		bounds: [4]uintptr{uintptr(img.ArgvStart), uintptr(img.ArgvEnd), uintptr(img.EnvvStart), uintptr(img.EnvvEnd)}}, nil
}
