package linux

import "strconv"

var (
	// syscallNamesByNumber is SyscallNames as a dense array, for fast
	// lookups by number; unassigned numbers hold "".
	syscallNamesByNumber [MaxSyscall]string

	// syscallNumbers is the inverse of SyscallNames.
	syscallNumbers = make(map[string]uintptr, len(SyscallNames))
)

func init() {
	for nr, name := range SyscallNames {
		syscallNamesByNumber[nr] = name // Panics if MaxSyscall is too small.
		syscallNumbers[name] = nr
	}
}

// SyscallName returns the name of x86-64 system call nr as syscall_64.tbl
// spells it (for example "newfstatat" for 262), or "syscall_<nr>" (for
// example "syscall_400") for a number with no name.
func SyscallName(nr uintptr) string {
	if nr < MaxSyscall {
		if name := syscallNamesByNumber[nr]; name != "" {
			return name
		}
	}
	return "syscall_" + strconv.FormatUint(uint64(nr), 10)
}

// IsSyscall reports whether nr is the number of an x86-64 system call.
func IsSyscall(nr uintptr) bool {
	return nr < MaxSyscall && syscallNamesByNumber[nr] != ""
}

// SyscallNumber returns the number of the x86-64 system call with the given
// name as syscall_64.tbl spells it, and whether there is one.
func SyscallNumber(name string) (uintptr, bool) {
	nr, ok := syscallNumbers[name]
	return nr, ok
}
