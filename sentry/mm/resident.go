package mm

import (
	"slices"

	"github.com/moat-sandbox/moat/platform"
)

// ResidentBytes returns the bytes of the address space's pages that hold data (as
// mincore counts them: populated, and not holes of the memory file that fault-around
// mapped but nothing touched), by kind, as a memory cgroup's memory.stat splits them:
// anon is the pages of private mappings with no file (heap, stacks,
// MAP_ANONYMOUS|MAP_PRIVATE); file the pages of private file mappings (each a private
// copy of the file's bytes, or the one cached copy of read-only text) and of shared
// mappings (tmpfs, memfd, POSIX and System V shared memory, shared anonymous memory:
// what Linux counts as shmem, part of file). A page shared copy-on-write after fork
// counts in each address space holding it, as RSS does. It only reads.
func (m *MemoryManager) ResidentBytes() (anon, file uint64) {
	m.mu.Lock()
	var anonPages, filePages []uint64
	for addr, fr := range m.pages {
		v, ok := m.lookup(addr)
		if !ok {
			continue
		}
		if v.shared == nil && v.file == nil {
			anonPages = append(anonPages, fr.Start)
		} else {
			filePages = append(filePages, fr.Start)
		}
	}
	m.unlock()
	return m.dataBytes(anonPages), m.dataBytes(filePages)
}

// dataBytes counts the bytes of the memory-file pages at offsets that hold data,
// asking the memory file once per run of contiguous pages.
func (m *MemoryManager) dataBytes(offs []uint64) uint64 {
	slices.Sort(offs)
	var n uint64
	for i := 0; i < len(offs); {
		j := i + 1
		for j < len(offs) && offs[j] == offs[j-1]+pageSize {
			j++
		}
		for _, d := range m.mf.Data(platform.FileRange{Start: offs[i], End: offs[j-1] + pageSize}) {
			n += d.Length()
		}
		i = j
	}
	return n
}
