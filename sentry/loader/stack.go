package loader

import (
	"encoding/binary"
	"strings"

	"golang.org/x/sys/unix"
)

// Auxiliary vector keys (include/uapi/linux/auxvec.h and
// arch/x86/include/uapi/asm/auxvec.h). golang.org/x/sys/unix does not
// define them.
const (
	AT_NULL              = 0
	AT_IGNORE            = 1
	AT_EXECFD            = 2
	AT_PHDR              = 3
	AT_PHENT             = 4
	AT_PHNUM             = 5
	AT_PAGESZ            = 6
	AT_BASE              = 7
	AT_FLAGS             = 8
	AT_ENTRY             = 9
	AT_NOTELF            = 10
	AT_UID               = 11
	AT_EUID              = 12
	AT_GID               = 13
	AT_EGID              = 14
	AT_PLATFORM          = 15
	AT_HWCAP             = 16
	AT_CLKTCK            = 17
	AT_SECURE            = 23
	AT_BASE_PLATFORM     = 24
	AT_RANDOM            = 25
	AT_HWCAP2            = 26
	AT_RSEQ_FEATURE_SIZE = 27
	AT_RSEQ_ALIGN        = 28
	AT_HWCAP3            = 29
	AT_HWCAP4            = 30
	AT_EXECFN            = 31
	AT_SYSINFO           = 32 // i386 only
	AT_SYSINFO_EHDR      = 33
	AT_MINSIGSTKSZ       = 51
)

// Argument limits of fs/exec.c.
const (
	// MaxArgStrlen is MAX_ARG_STRLEN: the longest argv/envp string,
	// including its NUL.
	MaxArgStrlen = 32 * PageSize
	// MaxArgStrings is MAX_ARG_STRINGS.
	MaxArgStrings = 0x7fffffff
	// DefaultStackRlimit is _STK_LIM, the default RLIMIT_STACK.
	DefaultStackRlimit = 8 << 20
	// DefaultArgLimit is ArgLimit(DefaultStackRlimit) = 2 MiB.
	DefaultArgLimit = DefaultStackRlimit / 4

	argMax = 32 * PageSize // ARG_MAX in pages, the smallest limit
)

// ArgLimit returns how many bytes of argument and environment strings and
// pointers execve accepts for a stack rlimit (rlim_cur), as
// bprm_stack_limits computes it: a quarter of the rlimit, at most 3/4 of
// _STK_LIM and at least 128 KiB.
func ArgLimit(stackRlimit uint64) uint64 {
	limit := uint64(DefaultStackRlimit / 4 * 3)
	limit = min(limit, stackRlimit/4)
	return max(limit, argMax)
}

// AuxEntry is one auxiliary vector entry.
type AuxEntry struct{ Key, Val uint64 }

// StackImage is the initial stack of a new process image.
type StackImage struct {
	SP   uint64 // address of argc; 16-byte aligned
	Data []byte // contents of [SP, top)
	// Addresses of the argument and environment strings, as mm->arg_start,
	// arg_end, env_start and env_end (for /proc/PID/cmdline and environ).
	// ArgvEnd == EnvvStart.
	ArgvStart, ArgvEnd, EnvvStart, EnvvEnd uint64
	// Auxv is the auxiliary vector as written, ending with AT_NULL, as
	// mm->saved_auxv (for /proc/PID/auxv).
	Auxv []AuxEntry
}

// StackConfig holds the settings of Stack that have defaults.
type StackConfig struct {
	// ArgLimit is the byte limit for strings and pointers. If it is 0,
	// DefaultArgLimit is used. Use ArgLimit(rlimit) to get Linux's value
	// for another RLIMIT_STACK.
	ArgLimit uint64
	// Platform, if not empty, is copied below the strings as
	// create_elf_tables copies ELF_PLATFORM, and an AT_PLATFORM entry
	// pointing at it is added. Linux on x86-64 uses "x86_64".
	Platform string
}

// Stack builds the initial user stack for execve with the default
// StackConfig (2 MiB argument limit, no AT_PLATFORM). See StackConfig.Stack.
func Stack(top uint64, argv, envv []string, execfn string, random [16]byte, auxv []AuxEntry) (*StackImage, error) {
	return StackConfig{}.Stack(top, argv, envv, execfn, random, auxv)
}

// Stack builds the initial user stack image for execve, laid out as Linux's
// copy_strings and create_elf_tables lay it out (see the package comment).
// The result goes at [SP, top). top should be page aligned, as the end of
// the stack VMA is on Linux.
//
// auxv must not contain AT_NULL, AT_RANDOM, AT_EXECFN, or AT_PLATFORM when
// c.Platform is set. Stack appends those after the caller's entries, with
// the addresses of the bytes it places. An empty argv is replaced with {""}.
//
// Errors: E2BIG for the argument limits (see the package comment), EINVAL for
// a string that contains a NUL byte, a reserved auxv key, or a top too low
// to hold the image.
func (c StackConfig) Stack(top uint64, argv, envv []string, execfn string, random [16]byte, auxv []AuxEntry) (*StackImage, error) {
	limit := c.ArgLimit
	if limit == 0 {
		limit = DefaultArgLimit
	}
	if len(argv) == 0 {
		// do_execveat_common: argv[0] = "" so argc is never 0.
		argv = []string{""}
	}
	if len(argv) > MaxArgStrings || len(envv) > MaxArgStrings {
		return nil, errorf(unix.E2BIG, "more than %d argv or envp strings", MaxArgStrings)
	}
	for _, a := range auxv {
		switch a.Key {
		case AT_NULL, AT_RANDOM, AT_EXECFN:
			return nil, errorf(unix.EINVAL, "caller auxv contains reserved key %d", a.Key)
		case AT_PLATFORM:
			if c.Platform != "" {
				return nil, errorf(unix.EINVAL, "caller auxv contains AT_PLATFORM while StackConfig.Platform is set")
			}
		}
	}

	// bprm_stack_limits: the pointers are charged up front.
	ptrBytes := uint64(len(argv)+len(envv)) * 8
	if limit <= ptrBytes {
		return nil, errorf(unix.E2BIG, "%d argv and envp pointers exceed the %d-byte limit", len(argv)+len(envv), limit)
	}
	room := limit - ptrBytes
	// copy_string_kernel/copy_strings: each string must pass valid_arg_len
	// and bprm->p must stay above bprm->argmin.
	var strBytes uint64
	var argBytes, envBytes uint64
	check := func(what string, s string) error {
		if strings.IndexByte(s, 0) >= 0 {
			return errorf(unix.EINVAL, "%s contains a NUL byte", what)
		}
		n := uint64(len(s)) + 1
		if n > MaxArgStrlen {
			return errorf(unix.E2BIG, "%s is %d bytes with its NUL, more than MAX_ARG_STRLEN (%d)", what, n, MaxArgStrlen)
		}
		strBytes += n
		if strBytes > room {
			return errorf(unix.E2BIG, "argument and environment strings and pointers exceed the %d-byte limit", limit)
		}
		return nil
	}
	// Same order as do_execveat_common, so the first failing string is the
	// one Linux would report.
	if err := check("execfn", execfn); err != nil {
		return nil, err
	}
	for i := len(envv) - 1; i >= 0; i-- {
		if err := check("envp string", envv[i]); err != nil {
			return nil, err
		}
		envBytes += uint64(len(envv[i])) + 1
	}
	for i := len(argv) - 1; i >= 0; i-- {
		if err := check("argv string", argv[i]); err != nil {
			return nil, err
		}
		argBytes += uint64(len(argv[i])) + 1
	}
	if strings.IndexByte(c.Platform, 0) >= 0 {
		return nil, errorf(unix.EINVAL, "platform string contains a NUL byte")
	}

	// Worst-case size, to reject a top too low before doing arithmetic.
	aux := len(auxv) + 3
	if c.Platform != "" {
		aux++
	}
	items := uint64(len(argv)+1) + uint64(len(envv)+1) + 1
	worst := 8 + strBytes + 15 + uint64(len(c.Platform)) + 1 + 16 + uint64(aux)*16 + items*8 + 15
	if top < worst {
		return nil, errorf(unix.EINVAL, "stack top %#x is too low for a %d-byte stack image", top, worst)
	}

	// fs/exec.c: bprm->p starts one word below the top, then the strings
	// are copied downwards: execfn, envp (last first), argv (last first).
	execfnAddr := top - 8 - (uint64(len(execfn)) + 1)
	envStart := execfnAddr - envBytes
	argStart := envStart - argBytes

	// create_elf_tables.
	p := argStart &^ 15 // arch_align_stack
	var platformAddr uint64
	if c.Platform != "" {
		p -= uint64(len(c.Platform)) + 1
		platformAddr = p
	}
	p -= 16
	randomAddr := p

	finalAux := make([]AuxEntry, 0, aux)
	finalAux = append(finalAux, auxv...)
	finalAux = append(finalAux, AuxEntry{AT_RANDOM, randomAddr}, AuxEntry{AT_EXECFN, execfnAddr})
	if c.Platform != "" {
		finalAux = append(finalAux, AuxEntry{AT_PLATFORM, platformAddr})
	}
	finalAux = append(finalAux, AuxEntry{AT_NULL, 0})

	sp := p - uint64(len(finalAux))*16 // STACK_ADD(p, ei_index)
	sp = (sp - items*8) &^ 15          // STACK_ROUND(sp, items)

	img := &StackImage{
		SP:        sp,
		Data:      make([]byte, top-sp),
		ArgvStart: argStart,
		ArgvEnd:   envStart,
		EnvvStart: envStart,
		EnvvEnd:   execfnAddr,
		Auxv:      finalAux,
	}
	le := binary.LittleEndian
	at := func(addr uint64) []byte { return img.Data[addr-sp:] }
	putString := func(addr uint64, s string) uint64 {
		copy(at(addr), s) // the NUL is already there
		return addr + uint64(len(s)) + 1
	}

	// Strings, in ascending address order.
	w := sp
	put64 := func(v uint64) {
		le.PutUint64(at(w), v)
		w += 8
	}
	put64(uint64(len(argv)))
	a := argStart
	for _, s := range argv {
		put64(a)
		a = putString(a, s)
	}
	put64(0)
	for _, s := range envv {
		put64(a)
		a = putString(a, s)
	}
	put64(0)
	putString(a, execfn)
	for _, e := range finalAux {
		put64(e.Key)
		put64(e.Val)
	}
	copy(at(randomAddr), random[:])
	if c.Platform != "" {
		putString(platformAddr, c.Platform)
	}
	return img, nil
}
