// Command goprog is a Go program run natively and sandboxed by the conformance tests:
// goroutines, channels, a timer (epoll in the runtime) and os/exec (clone, pipes, wait).
package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"time"
)

func main() {
	var wg sync.WaitGroup
	results := make(chan int, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			sum := 0
			for j := 0; j < 100000; j++ {
				sum += j % (i + 1)
			}
			results <- sum
		}(i)
	}
	wg.Wait()
	close(results)
	total := 0
	for r := range results {
		total += r
	}
	timer := time.NewTimer(20 * time.Millisecond)
	<-timer.C
	out, err := exec.Command("/bin/echo", "from a child").Output()
	fmt.Printf("total %d, procs>0 %v, child %q %v\n", total, runtime.NumGoroutine() > 0, string(out), err)
}
