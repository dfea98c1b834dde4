package seccompfilters

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// label names a position in the program being assembled. Labels are bound
// to the next instruction emitted; all jumps are forward (classic BPF has no
// backward jumps).
type label int

// next is the label of the instruction following the current one.
const next label = -1

// asmInsn is one instruction of the label-based program: either a plain
// instruction (ins != nil) or a conditional jump
// "if A <cond> k goto jt else goto jf".
type asmInsn struct {
	ins bpf.Instruction

	isCond bool
	cond   bpf.JumpTest
	k      uint32
	jt, jf label
}

// assembler collects asmInsns and resolves labels into classic BPF with
// 8-bit conditional offsets.
type assembler struct {
	insns  []asmInsn
	labels []int // label -> index into insns, or -1 while unbound
}

func (a *assembler) newLabel() label {
	a.labels = append(a.labels, -1)
	return label(len(a.labels) - 1)
}

func (a *assembler) bind(l label) {
	if a.labels[l] != -1 {
		panic(fmt.Sprintf("seccompfilters: label %d bound twice", l))
	}
	a.labels[l] = len(a.insns)
}

func (a *assembler) emit(ins bpf.Instruction) {
	a.insns = append(a.insns, asmInsn{ins: ins})
}

func (a *assembler) load(off uint32) {
	a.emit(bpf.LoadAbsolute{Off: off, Size: 4})
}

func (a *assembler) ret(act Action) {
	a.emit(bpf.RetConstant{Val: uint32(act)})
}

func (a *assembler) jumpIf(cond bpf.JumpTest, k uint32, jt, jf label) {
	a.insns = append(a.insns, asmInsn{isCond: true, cond: cond, k: k, jt: jt, jf: jf})
}

// resolve returns the insns index that label l refers to from insns[i].
func (a *assembler) resolve(i int, l label) (int, error) {
	t := i + 1
	if l != next {
		t = a.labels[l]
	}
	if t <= i || t >= len(a.insns) {
		return 0, fmt.Errorf("seccompfilters: internal error: jump from %d to %d (label %d) out of range", i, t, l)
	}
	return t, nil
}

// assemble lays out the program. Each conditional jump side whose target is
// more than 255 instructions away is marked "far": it then points at a
// "ja" trampoline emitted right after the conditional jump (true side
// first), and the ja carries the full distance. Marking a side far only
// grows the program, so distances only grow and the loop terminates.
func (a *assembler) assemble() ([]bpf.Instruction, error) {
	n := len(a.insns)
	far := make([][2]bool, n)
	targets := make([][2]int, n)
	for i, in := range a.insns {
		if !in.isCond {
			continue
		}
		var err error
		if targets[i][0], err = a.resolve(i, in.jt); err == nil {
			targets[i][1], err = a.resolve(i, in.jf)
		}
		if err != nil {
			return nil, err
		}
	}

	pos := make([]int, n)
	for {
		p := 0
		for i := range a.insns {
			pos[i] = p
			p++
			for _, f := range far[i] {
				if f {
					p++
				}
			}
		}
		changed := false
		for i, in := range a.insns {
			if !in.isCond {
				continue
			}
			for side := range 2 {
				if !far[i][side] && pos[targets[i][side]]-(pos[i]+1) > 255 {
					far[i][side] = true
					changed = true
				}
			}
		}
		if !changed {
			break
		}
	}

	var out []bpf.Instruction
	for i, in := range a.insns {
		switch {
		case in.isCond:
			var skip [2]uint8
			tramp := 0 // index of the next trampoline after the jump
			for side := range 2 {
				if far[i][side] {
					skip[side] = uint8(tramp)
					tramp++
				} else {
					skip[side] = uint8(pos[targets[i][side]] - (pos[i] + 1))
				}
			}
			out = append(out, bpf.JumpIf{Cond: in.cond, Val: in.k, SkipTrue: skip[0], SkipFalse: skip[1]})
			for side := range 2 {
				if far[i][side] {
					from := len(out) // the ja's own index; it skips relative to from+1
					out = append(out, bpf.Jump{Skip: uint32(pos[targets[i][side]] - (from + 1))})
				}
			}
		default:
			out = append(out, in.ins)
		}
	}
	return out, nil
}
