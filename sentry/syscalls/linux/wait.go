package linux

import (
	"errors"
	"reflect"
	"time"

	"golang.org/x/sys/unix"

	"github.com/moat-sandbox/moat/sentry/kernel"
)

var errTimeout = errors.New("timeout")

// waitAny waits until one of changes is closed (nil), timer fires (errTimeout) or the
// task is interrupted (EINTR: poll and epoll are never restarted).
func waitAny(t *kernel.Task, changes []<-chan struct{}, timer <-chan time.Time) error {
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(t.Interrupted())}}
	if timer != nil {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(timer)})
	}
	for _, ch := range changes {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ch)})
	}
	t.SleepStart()
	chosen, _, _ := reflect.Select(cases)
	t.SleepFinish()
	switch {
	case chosen == 0:
		return unix.EINTR
	case timer != nil && chosen == 1:
		return errTimeout
	}
	return nil
}
