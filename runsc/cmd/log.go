package cmd

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/moat-sandbox/moat/runsc/config"
)

// runsc's log, as runc's (logrus): --log names the file (stderr by default) and
// --log-format how each entry is written: text (time="…" level=error msg="…") or json
// ({"level":"error","msg":"…","time":"…"}, one object a line, which containerd reads
// back to report why a command failed). As runc's, an error that ends a command goes
// to the log and, when the log is not stderr, to stderr as well, as a plain line; on
// stderr with the text format it is that plain line alone ("runsc: …"). Debug entries
// (--debug) and the Sentry's messages (unimplemented system calls, --strace) are
// entries too, so a json log holds nothing but JSON. --debug-log names a second file
// that receives every entry, debug ones included whatever --debug says, in text.

// logger is the process's log, set up by SetupLog.
var logger = &runtimeLog{out: os.Stderr, toStderr: true, format: "text"}

type runtimeLog struct {
	mu       sync.Mutex
	out      io.Writer // --log, or stderr
	toStderr bool      // out is stderr
	format   string
	debug    bool
	debugOut io.Writer // --debug-log, or nil
}

// SetupLog opens the log files the flags name, before any command runs (the sandbox
// leaves the host's filesystem soon after it starts). An error is returned as is.
func SetupLog(conf *config.Config) error {
	l := &runtimeLog{out: os.Stderr, toStderr: true, format: conf.LogFormat, debug: conf.Debug}
	open := func(path string) (io.Writer, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return nil, fmt.Errorf("opening the log %s: %w", path, err)
		}
		return f, nil
	}
	if conf.Log != "" && conf.Log != "/dev/stderr" {
		f, err := open(conf.Log)
		if err != nil {
			return err
		}
		l.out, l.toStderr = f, false
	}
	if conf.DebugLog != "" {
		f, err := open(conf.DebugLog)
		if err != nil {
			return err
		}
		l.debugOut = f
	}
	logger = l
	return nil
}

// entry writes one entry at level.
func (l *runtimeLog) entry(level, msg string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now().UTC()
	if l.debugOut != nil {
		fmt.Fprint(l.debugOut, textEntry(now, level, msg))
	}
	if level == "debug" && !l.debug {
		return
	}
	if l.format == "json" {
		line, _ := json.Marshal(struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
			Time  string `json:"time"`
		}{level, msg, now.Format(time.RFC3339)})
		fmt.Fprintf(l.out, "%s\n", line)
		return
	}
	if l.toStderr && level == "error" {
		fmt.Fprintf(l.out, "runsc: %s\n", msg)
		return
	}
	fmt.Fprint(l.out, textEntry(now, level, msg))
}

func textEntry(now time.Time, level, msg string) string {
	return fmt.Sprintf("time=%q level=%s msg=%q\n", now.Format(time.RFC3339), level, msg)
}

// logError logs the error that ends the command; see the top of the file.
func logError(msg string) {
	logger.entry("error", msg)
	if !logger.toStderr {
		fmt.Fprintf(os.Stderr, "runsc: %s\n", msg)
	}
}

// Warnf logs a warning (a failed poststart or poststop hook), also on stderr when the
// log is elsewhere.
func Warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	logger.entry("warning", msg)
	if !logger.toStderr {
		fmt.Fprintf(os.Stderr, "runsc: warning: %s\n", msg)
	}
}

// Debugf logs a debug entry (written with --debug, and always to --debug-log).
func Debugf(format string, args ...any) { logger.entry("debug", fmt.Sprintf(format, args...)) }

// sentryLog is where the Sentry's own messages go: with the text format and no
// --debug-log, the log itself, line for line; otherwise each line is an entry of the
// log (warning level), so that a json log stays JSON.
func sentryLog() io.Writer {
	if logger.format == "text" && logger.debugOut == nil {
		return logger.out
	}
	pr, pw := io.Pipe()
	go func() {
		s := bufio.NewScanner(pr)
		s.Buffer(make([]byte, 64<<10), 1<<20)
		for s.Scan() {
			logger.entry("warning", strings.TrimRight(s.Text(), "\r"))
		}
	}()
	return pw
}

// crashFile is the file a crash report of the Go runtime should also go to: the
// --debug-log file if there is one, else the --log file; nil when the log is stderr.
func crashFile() *os.File {
	for _, w := range []io.Writer{logger.debugOut, logger.out} {
		if f, ok := w.(*os.File); ok && f != os.Stderr {
			return f
		}
	}
	return nil
}
