package unix

import (
	"github.com/moat-sandbox/moat/sentry/vfs"
)

// detachLocked takes m's files off it, for a receiver or to be released.
func (ns *namespace) detachLocked(m *message) []*vfs.FileDescription {
	for _, f := range m.files {
		if Of(f) != nil {
			ns.inflight--
		}
	}
	files := m.files
	m.files = nil
	return files
}

// collectLocked finds the sockets that only messages in flight keep, and that no
// socket the application can still reach holds in its queue, as net/unix/garbage.c:
// a candidate is a socket whose description's every reference is in a queue; a
// candidate whose description sits in the queue of a live socket (or of a live
// socket's pending connection) is live too. The dead candidates' queues are purged;
// the files they held are returned, to be released once ns.mu is unlocked, and with
// them the candidates' last references go.
func (ns *namespace) collectLocked() []*vfs.FileDescription {
	if ns.inflight == 0 {
		return nil
	}
	// How many times each socket description is held by a message.
	held := map[*vfs.FileDescription]int64{}
	queues := func(s *sock, fn func(*vfs.FileDescription)) {
		for _, q := range append([]*sock{s}, s.pending...) {
			for _, m := range q.queue {
				for _, f := range m.files {
					if Of(f) != nil {
						fn(f)
					}
				}
			}
		}
	}
	for s := range ns.socks {
		queues(s, func(f *vfs.FileDescription) { held[f]++ })
	}
	candidate := map[*sock]bool{}
	for s := range ns.socks {
		if s.fd != nil && held[s.fd] > 0 && s.fd.Refs() == held[s.fd] {
			candidate[s] = true
		}
	}
	if len(candidate) == 0 {
		return nil
	}
	// Whatever a live socket's queue holds is live. A pending connection has no
	// description yet: it lives by its listener.
	var live []*sock
	for s := range ns.socks {
		if !candidate[s] && s.fd != nil {
			live = append(live, s)
		}
	}
	for len(live) > 0 {
		s := live[len(live)-1]
		live = live[:len(live)-1]
		queues(s, func(f *vfs.FileDescription) {
			if o := Of(f).s; candidate[o] {
				delete(candidate, o)
				live = append(live, o)
			}
		})
	}
	var files []*vfs.FileDescription
	for s := range candidate {
		for _, p := range s.pending {
			files = append(files, p.purgeLocked()...)
		}
		files = append(files, s.purgeLocked()...)
	}
	return files
}
