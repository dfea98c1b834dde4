package mm

import (
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
	var anonRuns, fileRuns []platform.FileRange
	for _, v := range m.vmas {
		for r := range m.pages.within(v.start, v.end) {
			if v.shared == nil && v.file == nil {
				anonRuns = append(anonRuns, r.file())
			} else {
				fileRuns = append(fileRuns, r.file())
			}
		}
	}
	m.unlock()
	return m.dataBytes(anonRuns), m.dataBytes(fileRuns)
}

// dataBytes counts the bytes of the memory-file ranges frs that hold data.
func (m *MemoryManager) dataBytes(frs []platform.FileRange) uint64 {
	var n uint64
	for _, fr := range frs {
		for _, d := range m.mf.Data(fr) {
			n += d.Length()
		}
	}
	return n
}
