// Package strace formats system calls the way strace(1) prints them, for
// runsc --strace.
//
// The task goroutine calls [Enter] before it runs a system call and [Exit]
// after, each with the call's number, its six raw argument registers and a
// [Memory] that reads the task's address space. Both return one line without
// a newline: Enter the call with its arguments, "openat(AT_FDCWD,
// \"/etc/passwd\", O_RDONLY|O_CLOEXEC)"; Exit the same followed by
// " = RESULT". Neither keeps any state between the two.
//
// Each system call has a signature in table.go: one formatter per argument
// and, optionally, one for the result. A formatter sees the whole call (all
// six arguments, whether the call has returned, its result), because the
// meaning of an argument often depends on another one (write's buffer on its
// count, fcntl's third argument on its command, read's buffer on the number
// of bytes read). Arguments the call reads ("in") are decoded both at entry
// and at exit; arguments it writes ("out", wrapped in [out]) are decoded only
// at the exit of a successful call, and print as their address otherwise. A
// formatter may return "" to leave its argument out, as strace does for
// fcntl(fd, F_GETFD) or open without O_CREAT. A call without a signature
// prints its name from abi/linux and six hexadecimal arguments.
//
// The format follows strace's defaults: strings and buffers are cut after 32
// bytes (strace -s 32) with "..." after the closing quote, arrays after 32
// elements, structures show their interesting fields followed by "...",
// null pointers print as NULL and pointers that cannot be read print as
// their address. Strings are quoted with Go's escapes (\n, \t, \x00)
// byte by byte, so the output is valid ASCII whatever the memory holds.
//
// Everything is read through Memory with bounded sizes: a hostile or
// corrupted argument can make a line say little, but never makes Enter or
// Exit fail, panic or read more than 64 KiB at once.
package strace

import (
	"strconv"
	"strings"

	"github.com/moat-sandbox/moat/sentry/abi/linux"
)

// Memory reads the traced task's memory (the Sentry's copy-in); errors mean
// the address is bad.
type Memory interface {
	// CopyIn copies len(dst) bytes at addr into dst and returns how many it
	// copied.
	CopyIn(addr uintptr, dst []byte) (int, error)
	// CopyInString reads the NUL-terminated string at addr, failing if it is
	// longer than max bytes.
	CopyInString(addr uintptr, max int) (string, error)
}

// Enter formats a call at entry: "openat(AT_FDCWD, \"/etc/passwd\",
// O_RDONLY|O_CLOEXEC)". Only "in" arguments are decoded; out arguments print
// as addresses.
func Enter(mem Memory, nr uintptr, args [6]uintptr) string {
	c := &call{mem: mem, nr: nr, args: args}
	return c.format()
}

// Exit formats the whole line after the call returned: the same as Enter but
// with "out" arguments decoded (read's buffer, stat's struct, pipe's fds,
// getcwd's string) and " = RESULT", where RESULT is decimal (hexadecimal for
// addresses such as mmap's and brk's), or "-1 ENOENT (No such file or
// directory)" when ret is a negated errno in [-4095, -1].
//
// In arguments are read again from memory. After a successful execve the
// old memory is gone, so Exit prints execve's arguments as addresses: log
// the Enter line to see them decoded, as strace does.
func Exit(mem Memory, nr uintptr, args [6]uintptr, ret uintptr) string {
	c := &call{mem: mem, nr: nr, args: args, ret: ret, exit: true}
	return c.format() + " = " + c.result()
}

// call is one system call being formatted.
type call struct {
	mem  Memory
	nr   uintptr
	args [6]uintptr
	ret  uintptr
	exit bool // the call has returned and ret is its result
}

// ok reports whether the call has returned successfully, so that its out
// arguments hold what it wrote.
func (c *call) ok() bool {
	_, failed := errnoOf(c.ret)
	return c.exit && !failed
}

// sig returns the call's signature.
func (c *call) sig() signature {
	if c.nr < uintptr(len(signatures)) && signatures[c.nr].args != nil {
		return signatures[c.nr]
	}
	return unknown
}

// format returns "name(arg, arg, ...)".
func (c *call) format() string {
	var b strings.Builder
	b.WriteString(linux.SyscallName(c.nr))
	b.WriteByte('(')
	n := 0
	for i, a := range c.sig().args {
		s := a(c, i)
		if s == "" {
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
		n++
	}
	b.WriteByte(')')
	return b.String()
}

// result formats the call's return value.
func (c *call) result() string {
	if e, ok := errnoOf(c.ret); ok {
		return errnoText(e)
	}
	if r := c.sig().result; r != nil {
		return r(c)
	}
	return strconv.FormatInt(int64(c.ret), 10)
}
