package arch

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(eax, ecx uint32) (a, b, c, d uint32)

// HWCap is AT_HWCAP on x86-64: CPUID.1:EDX, the feature bits Linux passes to every
// process (arch/x86/include/asm/elf.h, ELF_HWCAP).
func HWCap() uint64 {
	_, _, _, edx := cpuid(1, 0)
	return uint64(edx)
}
