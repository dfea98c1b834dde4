package arch

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// HWCap is AT_HWCAP on x86-64: CPUID.1:EDX, the feature bits Linux passes to every
// process (arch/x86/include/asm/elf.h, ELF_HWCAP).
func HWCap() uint64 {
	_, _, _, edx := cpuid(1, 0)
	return uint64(edx)
}

// xgetbv reads XCR0 (cpuid_amd64.s).
func xgetbv() (eax, edx uint32)

// CPUID executes the CPUID instruction on the host CPU (the KVM platform builds its
// guest's CPUID from it).
func CPUID(eax, ecx uint32) (a, b, c, d uint32) { return cpuid(eax, ecx) }

// XGETBV reads the host's XCR0. Only where CPUID.1:ECX.OSXSAVE is set.
func XGETBV() (eax, edx uint32) { return xgetbv() }

// xcr0 is the set of XSAVE features the host enabled.
func xcr0() uint64 {
	_, _, ecx, _ := cpuid(1, 0)
	if ecx&(1<<27) == 0 { // OSXSAVE
		return 0x3
	}
	a, d := xgetbv()
	return uint64(d)<<32 | uint64(a)
}
