package loader

import (
	"bytes"

	"golang.org/x/sys/unix"
)

// BinprmBufSize is BINPRM_BUF_SIZE: how much of the file's start binfmt_script
// looks at.
const BinprmBufSize = 256

// ParseShebang parses a "#!" line as Linux's binfmt_script (load_script)
// does. head is the start of the file. Only the first BinprmBufSize bytes
// are used, zero-padded if head is shorter, as in bprm->buf.
//
// If head does not start with "#!", ok is false and err is nil: the file is
// not a script. Otherwise interp is the interpreter path and arg the one
// optional argument (the rest of the line, with leading and trailing
// spaces and tabs removed; "" if there is none). err wraps ENOEXEC if no
// interpreter is named, or if there is no newline in the buffer and the
// interpreter path may be cut off. It wraps EACCES if the buffer has no
// newline and the path is empty ("#!" at the end of the file, or "#!\0").
// load_script accepts that, and then open_exec("") fails with EACCES
// (observed on Linux 6.18).
//
// For a file that ends in "#!/interp " with no newline, Linux passes an
// empty argument. ParseShebang cannot show that, so use ShebangArgs when it
// matters.
func ParseShebang(head []byte) (interp string, arg string, ok bool, err error) {
	interp, arg, _, ok, err = loadScript(head)
	return interp, arg, ok, err
}

// ShebangArgs is ParseShebang returning the strings that load_script puts in
// place of argv[0]: {interp} or {interp, arg}. The caller then appends the
// script's path and argv[1:].
func ShebangArgs(head []byte) (args []string, ok bool, err error) {
	interp, arg, hasArg, ok, err := loadScript(head)
	if !ok || err != nil {
		return nil, ok, err
	}
	if hasArg {
		return []string{interp, arg}, true, nil
	}
	return []string{interp}, true, nil
}

func spacetab(c byte) bool { return c == ' ' || c == '\t' }

// loadScript runs load_script's algorithm on a copy of bprm->buf. Indices
// stand for its pointers, and -1 for NULL.
func loadScript(head []byte) (interp, arg string, hasArg, ok bool, err error) {
	var buf [BinprmBufSize]byte
	copy(buf[:], head)
	if buf[0] != '#' || buf[1] != '!' {
		return "", "", false, false, nil
	}
	// next_non_spacetab and next_terminator scan [first, last] inclusively.
	nextNonSpacetab := func(first, last int) int {
		for ; first <= last; first++ {
			if !spacetab(buf[first]) {
				return first
			}
		}
		return -1
	}
	nextTerminator := func(first, last int) int {
		for ; first <= last; first++ {
			if spacetab(buf[first]) || buf[first] == 0 {
				return first
			}
		}
		return -1
	}
	cstring := func(i int) string {
		s := buf[i:]
		if j := bytes.IndexByte(s, 0); j >= 0 {
			s = s[:j]
		}
		return string(s)
	}

	bufEnd := len(buf) - 1
	// strnchr stops at the first NUL.
	iEnd := -1
	for i, c := range buf {
		if c == 0 {
			break
		}
		if c == '\n' {
			iEnd = i
			break
		}
	}
	if iEnd < 0 {
		iEnd = nextNonSpacetab(2, bufEnd)
		if iEnd < 0 {
			return "", "", false, true, errorf(unix.ENOEXEC, "#! line is only spaces and tabs")
		}
		// No later space, tab or NUL: the interpreter path may be
		// truncated.
		if nextTerminator(iEnd, bufEnd) < 0 {
			return "", "", false, true, errorf(unix.ENOEXEC, "#! line has no newline in the first %d bytes and the interpreter path may be truncated", BinprmBufSize)
		}
		iEnd = bufEnd
	}
	// Trim trailing spaces and tabs. buf[1] is '!', so this stops.
	for spacetab(buf[iEnd-1]) {
		iEnd--
	}
	iName := nextNonSpacetab(2, iEnd)
	if iName < 0 || iName == iEnd {
		return "", "", false, true, errorf(unix.ENOEXEC, "#! line names no interpreter")
	}
	iArg := -1
	iSep := nextTerminator(iName, iEnd)
	if iSep >= 0 && buf[iSep] != 0 {
		iArg = nextNonSpacetab(iSep, iEnd)
	}
	buf[iEnd] = 0
	if iArg >= 0 {
		buf[iSep] = 0
		arg, hasArg = cstring(iArg), true
	}
	interp = cstring(iName)
	if interp == "" {
		// "#!" at the end of the file, or "#!\0...": load_script goes on
		// with an empty name and open_exec("") fails.
		return "", "", false, true, errorf(unix.EACCES, "#! line has an empty interpreter path")
	}
	return interp, arg, hasArg, true, nil
}
