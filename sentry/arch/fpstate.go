package arch

import "sync"

// FPState is an XSAVE area in the standard format: the 512-byte legacy FXSAVE region
// (x87, MXCSR, XMM registers), the 64-byte XSAVE header, then the extended components
// (AVX and later) at the offsets CPUID leaf 0xD gives. Its length is FPStateSize().
type FPState []byte

// Offsets in the legacy region and the header (Intel SDM vol. 1, 13.4).
const (
	fxsaveFCW       = 0   // x87 control word
	fxsaveMXCSR     = 24  // SSE control and status
	fxsaveMXCSRMask = 28  //
	xsaveHeader     = 512 // XSTATE_BV at +0, XCOMP_BV at +8
	xsaveHeaderSize = 64
	legacySize      = 512 + xsaveHeaderSize

	// Values at reset, as the kernel gives a new process (fpu__init_cpu, fpstate_init_fx).
	fcwDefault   = 0x037f
	mxcsrDefault = 0x1f80

	// XSTATE_BV bits of the x87 and SSE components.
	xfeatureMaskFPSSE = 0x3
)

var (
	sizeOnce sync.Once
	fpSize   int
)

// FPStateSize is the size of the XSAVE area for the features the host kernel has
// enabled (CPUID.(EAX=0DH,ECX=0):EBX), never less than the legacy region and header.
func FPStateSize() int {
	sizeOnce.Do(func() {
		maxLeaf, _, _, _ := cpuid(0, 0)
		_, _, ecx1, _ := cpuid(1, 0)
		const osxsave = 1 << 27
		if maxLeaf >= 0xd && ecx1&osxsave != 0 {
			_, ebx, _, _ := cpuid(0xd, 0)
			fpSize = int(ebx)
		}
		if fpSize < legacySize {
			fpSize = legacySize
		}
	})
	return fpSize
}

// NewFPState returns the FP state of a new process: x87 and SSE in their reset
// configuration, every other component in its init state.
func NewFPState() FPState {
	return NewFPStateSized(FPStateSize())
}

// NewFPStateSized is NewFPState for an XSAVE area of the given size, for a platform
// whose kernel interface reports a size other than CPUID's.
func NewFPStateSized(size int) FPState {
	if size < legacySize {
		size = legacySize
	}
	f := make(FPState, size)
	le.PutUint16(f[fxsaveFCW:], fcwDefault)
	le.PutUint32(f[fxsaveMXCSR:], mxcsrDefault)
	le.PutUint32(f[fxsaveMXCSRMask:], 0xffff)
	le.PutUint64(f[xsaveHeader:], xfeatureMaskFPSSE)
	return f
}

// Fork returns a copy of f.
func (f FPState) Fork() FPState {
	return append(FPState(nil), f...)
}

// MXCSR returns the SSE control and status register.
func (f FPState) MXCSR() uint32 { return le.Uint32(f[fxsaveMXCSR:]) }

// XMM returns the 16 bytes of register xmm[i] (0 ≤ i < 16).
func (f FPState) XMM(i int) []byte {
	const xmmOffset = 160
	return f[xmmOffset+16*i : xmmOffset+16*(i+1)]
}

// Sanitize makes an FP state the application wrote (in a signal frame) safe to load:
// MXCSR's reserved bits cleared, only enabled features in XSTATE_BV, a standard
// (non-compacted) header with its reserved bytes zero. Loading it can then not fail.
func (f FPState) Sanitize() {
	le.PutUint32(f[fxsaveMXCSR:], f.MXCSR()&0xffff)
	if len(f) < legacySize {
		return
	}
	le.PutUint64(f[xsaveHeader:], le.Uint64(f[xsaveHeader:])&xcr0())
	clear(f[xsaveHeader+8 : xsaveHeader+xsaveHeaderSize])
}
