package loader

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseShebang(t *testing.T) {
	tests := []struct {
		name     string
		head     string
		wantOK   bool
		wantErr  unix.Errno
		wantArgs []string // ShebangArgs
	}{
		{"plain interpreter", "#!/bin/sh\necho hi\n", true, 0, []string{"/bin/sh"}},
		{"spaces around interpreter and argument are trimmed", "#! /bin/sh -x \n", true, 0, []string{"/bin/sh", "-x"}},
		{"rest of line is one argument", "#!/usr/bin/env  python3 -u\n", true, 0, []string{"/usr/bin/env", "python3 -u"}},
		{"tabs separate like spaces", "#!\t/bin/sh\t-e\t\t\n", true, 0, []string{"/bin/sh", "-e"}},
		{"carriage return belongs to the argument", "#!/bin/sh -e\r\n", true, 0, []string{"/bin/sh", "-e\r"}},
		{"file ending without newline", "#!/bin/sh", true, 0, []string{"/bin/sh"}},
		{"trailing space at EOF gives an empty argument", "#!/bin/sh ", true, 0, []string{"/bin/sh", ""}},
		{"NUL ends the interpreter", "#!/bin/sh\x00 -x\n", true, 0, []string{"/bin/sh"}},
		{"NUL ends the argument", "#!/bin/sh -x\x00y\n", true, 0, []string{"/bin/sh", "-x"}},
		{"long argument is cut at the buffer end", "#!/bin/sh " + strings.Repeat("a", 300), true, 0,
			[]string{"/bin/sh", strings.Repeat("a", BinprmBufSize-1-len("#!/bin/sh "))}},
		{"newline at the last buffer byte", "#!/bin/sh " + strings.Repeat("b", BinprmBufSize-11) + "\n", true, 0,
			[]string{"/bin/sh", strings.Repeat("b", BinprmBufSize-11)}},
		{"no newline and no separator in 256 bytes is ENOEXEC", "#!" + strings.Repeat("a", 300), true, unix.ENOEXEC, nil},
		{"only spaces in 256 bytes is ENOEXEC", "#!" + strings.Repeat(" ", 300), true, unix.ENOEXEC, nil},
		{"empty line is ENOEXEC", "#!\n", true, unix.ENOEXEC, nil},
		{"blank line is ENOEXEC", "#!  \t \n/bin/sh\n", true, unix.ENOEXEC, nil},
		{"#! at EOF is EACCES", "#!", true, unix.EACCES, nil},
		{"#! NUL is EACCES", "#!\x00/bin/sh\n", true, unix.EACCES, nil},
		{"ELF file is not a script", "\x7fELF\x02\x01\x01", false, 0, nil},
		{"single # is not a script", "#", false, 0, nil},
		{"empty file is not a script", "", false, 0, nil},
		{"space before #! is not a script", " #!/bin/sh\n", false, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			interp, arg, ok, err := ParseShebang([]byte(tc.head))
			args, ok2, err2 := ShebangArgs([]byte(tc.head))
			if ok != tc.wantOK || ok2 != tc.wantOK {
				t.Fatalf("ok = %v, %v; want %v", ok, ok2, tc.wantOK)
			}
			if tc.wantErr != 0 {
				if !errors.Is(err, tc.wantErr) || !errors.Is(err2, tc.wantErr) {
					t.Fatalf("err = %v, %v; want %s", err, err2, unix.ErrnoName(tc.wantErr))
				}
				return
			}
			if err != nil || err2 != nil {
				t.Fatalf("err = %v, %v", err, err2)
			}
			if !slices.Equal(args, tc.wantArgs) {
				t.Errorf("ShebangArgs = %q, want %q", args, tc.wantArgs)
			}
			wantInterp, wantArg := "", ""
			if len(tc.wantArgs) > 0 {
				wantInterp = tc.wantArgs[0]
			}
			if len(tc.wantArgs) > 1 {
				wantArg = tc.wantArgs[1]
			}
			if interp != wantInterp || arg != wantArg {
				t.Errorf("ParseShebang = %q, %q; want %q, %q", interp, arg, wantInterp, wantArg)
			}
		})
	}
}
