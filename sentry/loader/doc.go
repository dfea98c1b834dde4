// Package loader parses executables for execve and lays out the initial
// user stack, following Linux's fs/binfmt_elf.c, fs/binfmt_script.c and
// fs/exec.c.
//
// Everything here is a pure function. Nothing is mapped and no memory is
// allocated in any address space. The memory manager of the Sentry calls
// Parse/ParseInterp, chooses load biases, maps the segments (file-backed
// pages plus anonymous zero fill up to Memsz), maps the stack, and copies
// StackImage.Data to [StackImage.SP, top). The package does not randomize
// anything either: the caller picks the stack top, the load biases and the
// AT_RANDOM bytes.
//
// # What is parsed
//
// Parse accepts only ELF64 little-endian EM_X86_64 ET_EXEC or ET_DYN files.
// Section headers are ignored, as the kernel ignores them. Binary.ExecStack
// is true only if a PT_GNU_STACK header has PF_X. With no PT_GNU_STACK it is
// false: since Linux 5.8 a 64-bit x86 binary without PT_GNU_STACK no longer
// gets READ_IMPLIES_EXEC or an executable stack (elf_read_implies_exec is
// false for 64-bit tasks). If there are several PT_GNU_STACK headers, the last
// one wins, as in load_elf_binary.
//
// Binary.Phdr is PT_PHDR's p_vaddr if there is one. Otherwise it is the address
// of e_phoff inside the PT_LOAD whose file bytes contain it. Linux 5.18+ uses
// only that second rule for AT_PHDR; for linker output the two give the same
// address. It is 0 if the headers are not loaded. The caller adds the load
// bias only when Phdr != 0.
//
// # Errors
//
// Every error wraps a unix.Errno, so errors.Is(err, unix.ENOEXEC) works. The
// errno is the one execve(2) returns on Linux. Several PT_LOAD problems are
// detected by Linux only after the point of no return (begin_new_exec): there
// the task is killed with SIGSEGV (or SIGBUS on a later fault) and no errno
// reaches user space. For those this package reports the errno that the kernel
// code uses internally, so that the Sentry can refuse the exec before tearing
// down the old image, or kill the task as Linux does.
//
//	condition                                  errno        Linux source
//	-----------------------------------------  -----------  ---------------------------------------------
//	no ELF magic (and not "#!")                ENOEXEC      load_elf_binary, search_binary_handler
//	ELFCLASS32 / big-endian                    ENOEXEC      choice: Linux does not check EI_CLASS/EI_DATA
//	                                                        (6.18 runs a 64-bit file with them changed); real
//	                                                        32-bit files fail e_machine/e_phentsize anyway
//	e_type not ET_EXEC/ET_DYN                  ENOEXEC      load_elf_binary
//	e_machine != EM_X86_64                     ENOEXEC      elf_check_arch
//	header shorter than 64 bytes               ENOEXEC      bprm->buf is zero-padded, some check fails
//	e_phentsize != 56                          ENOEXEC      load_elf_phdrs
//	e_phnum == 0 or phdrs > 64 KiB             ENOEXEC      load_elf_phdrs (kernels before mid-2025 also
//	                                                        capped them at one page, 73 headers; 6.18
//	                                                        takes 100)
//	program headers past EOF                   ENOEXEC      load_elf_phdrs -> NULL
//	PT_INTERP p_filesz < 2 or > PATH_MAX       ENOEXEC      load_elf_binary
//	PT_INTERP bytes past EOF                   EIO          elf_read short read
//	PT_INTERP not NUL-terminated               ENOEXEC      load_elf_binary
//	PT_INTERP path empty ("\0...")             EACCES       open_exec("") on Linux 6.18 (observed)
//	second PT_INTERP                           EINVAL       choice: Linux silently uses the first one
//	no PT_LOAD                                 ENOEXEC      choice: Linux execs it and the task crashes
//	PT_LOAD p_filesz > p_memsz                 EINVAL       load_elf_binary, after the point of no return
//	PT_LOAD p_vaddr%4096 != p_offset%4096      EINVAL       elf_map -> vm_mmap, after the point of no return
//	PT_LOAD file bytes past EOF                EINVAL       choice: Linux maps the bytes, then the fault is SIGBUS
//	PT_LOAD overlapping / not ascending        EINVAL       choice: total_mapping_size assumes sorted
//	                                                        headers and fails with -EINVAL when the span is 0
//	vaddr+memsz wraps, or > TaskSize (ET_EXEC) EINVAL       load_elf_binary (TASK_SIZE check)
//	ET_DYN span larger than TaskSize           EINVAL       choice (Linux: the mmap fails)
//	ET_EXEC e_entry >= TaskSize                EINVAL       load_elf_binary BAD_ADDR(elf_entry)
//	I/O error from the ReaderAt                its errno, else EIO
//
// ParseInterp applies the same checks to the interpreter named by PT_INTERP,
// with these differences (load_elf_binary's interpreter checks and
// load_elf_interp):
//
//	interpreter file shorter than 64 bytes     EIO          elf_read of the interpreter's ELF header
//	every header-level ENOEXEC above           ELIBBAD      "Not an ELF interpreter" checks
//	e_type not ET_EXEC/ET_DYN                  ELIBBAD      choice: load_elf_interp returns ~0UL after
//	                                                        the point of no return (the task gets SIGSEGV)
//	interpreter has its own PT_INTERP          ELIBBAD      choice: Linux ignores it
//	PT_LOAD problems                           EINVAL       load_elf_interp uses ENOMEM/EINVAL after the
//	                                                        point of no return (the task gets SIGSEGV)
//
// Open the interpreter itself (ENOENT, EACCES and so on) in the caller.
//
// # Scripts
//
// ParseShebang runs binfmt_script's load_script on the first BinprmBufSize
// (256) bytes of the file, zero-padded as in bprm->buf. It returns ENOEXEC if
// there is no newline and the interpreter path could be cut off, and ENOEXEC
// if no interpreter is named. It returns EACCES if there is no newline and
// the path is empty ("#!" at the end of the file): load_script accepts that,
// and then open_exec("") fails. The argument after the interpreter is one
// string: the rest of the line with leading and trailing spaces and tabs
// removed. It may be cut off at the buffer end. Linux has one quirk: a file
// that is shorter than the buffer, has no newline, and ends in
// "#!/interp " passes an empty argument. ShebangArgs reports that case, and
// ParseShebang cannot, because for it arg "" means no argument.
//
// # Initial stack
//
// Stack copies the layout of fs/exec.c (copy_strings) and create_elf_tables.
// Addresses increase upwards:
//
//	top        +---------------------------+  (normally page aligned)
//	           | 8 zero bytes              |  bprm->p = vma end - sizeof(void *)
//	           | execfn "\0"               |  AT_EXECFN; EnvvEnd
//	           | envp[envc-1] "\0"         |
//	           | ...                       |
//	           | envp[0] "\0"              |  EnvvStart == ArgvEnd
//	           | argv[argc-1] "\0"         |
//	           | ...                       |
//	           | argv[0] "\0"              |  ArgvStart
//	           | 0..15 bytes padding       |  arch_align_stack: round down to 16
//	           | platform "\0" (optional)  |  AT_PLATFORM ("x86_64" on Linux)
//	           | 16 random bytes           |  AT_RANDOM
//	           | 0..15 bytes padding       |
//	           | AT_NULL, 0                |
//	           | auxv pairs (Key, Val)     |  caller's entries, then AT_RANDOM,
//	           |                           |  AT_EXECFN, AT_PLATFORM
//	           | NULL                      |
//	           | envp pointers             |
//	           | NULL                      |
//	           | argv pointers             |
//	SP (%16=0) | argc                      |
//	           +---------------------------+
//
// Linux also subtracts a random 0..8 KiB in arch_align_stack when stack
// randomization is on. That gap is not reproduced here. To get it, lower
// top. Like fs/exec.c since Linux 5.18, an empty argv is replaced with {""}.
// The argument limits are those of bprm_stack_limits, copy_strings and
// valid_arg_len: E2BIG if one string (with its NUL) is longer than
// MaxArgStrlen, or if all strings (execfn, envp, argv) plus one pointer per
// argv/envp entry do not fit in the limit (ArgLimit of the stack rlimit, 2 MiB
// for the default 8 MiB).
package loader
