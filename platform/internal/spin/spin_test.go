package spin

import (
	"testing"
	"time"
)

func TestPauseTime(t *testing.T) {
	if PauseTime <= 0 || PauseTime > time.Microsecond {
		t.Errorf("PAUSE measured at %v", PauseTime)
	}
	t.Logf("PAUSE takes %v", PauseTime)
}

func TestFor(t *testing.T) {
	if !MultiCPU {
		t.Skip("one CPU: nobody spins")
	}
	for _, c := range []struct{ avg, limit, want time.Duration }{
		{time.Microsecond, 50 * time.Microsecond, 5 * time.Microsecond},
		{20 * time.Microsecond, 50 * time.Microsecond, 50 * time.Microsecond},
		{60 * time.Microsecond, 50 * time.Microsecond, 0},
	} {
		if got := For(c.avg, c.limit); got != c.want {
			t.Errorf("For(%v, %v) = %v, want %v", c.avg, c.limit, got, c.want)
		}
	}
}

func TestUntil(t *testing.T) {
	start := Now()
	Until(start, 200*time.Microsecond, func() bool { return false })
	if d := time.Duration(Now() - start); d < 200*time.Microsecond {
		t.Errorf("Until gave up after %v, want at least 200µs", d)
	}
	n := 0
	Until(Now(), time.Hour, func() bool { n++; return n == 3 })
	if n != 3 {
		t.Errorf("done called %d times, want 3", n)
	}
}

func TestAverage(t *testing.T) {
	if got := Average(8, 16, 100); got != 9 {
		t.Errorf("Average(8, 16, 100) = %v, want 9", got)
	}
	if got := Average(0, time.Second, 80); got != 10 {
		t.Errorf("a sample past maxSample counts as maxSample: got %v, want 10", got)
	}
}
