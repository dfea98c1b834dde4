package arch

// cpuid executes the CPUID instruction (cpuid_amd64.s).
func cpuid(eax, ecx uint32) (a, b, c, d uint32)
