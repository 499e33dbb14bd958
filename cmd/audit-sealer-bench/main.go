// Command audit-sealer-bench is the project's benchmark: it starts
// `audit-sealer serve` as a separate process on a temporary data
// directory, drives it over the socket, verifies and reads back the log,
// and prints figures (BENCHMARKS.md). It asserts none.
//
//	audit-sealer-bench [--sealer PATH] [--mode dev|softhsm|softhsm+swtpm] --clients K --events N [--durable] [--json]
//
// It is its own binary so that the product ships no benchmark code.
package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// exitError carries an exit status out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	if err := benchCommand().Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintf(os.Stderr, "audit-sealer-bench: error: %v\n", err)
		os.Exit(code)
	}
}

// sealerBinary is the audit-sealer binary the benchmark runs (serve, keys
// generate, tpm provision), set from --sealer before anything starts.
var sealerBinary string

// findSealer resolves --sealer: a path given, else audit-sealer beside
// this binary, else audit-sealer on PATH.
func findSealer(given string) (string, error) {
	if given != "" {
		p, err := exec.LookPath(given)
		if err != nil {
			return "", fmt.Errorf("--sealer %s: %w", given, err)
		}
		return filepath.Abs(p)
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "audit-sealer")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	p, err := exec.LookPath("audit-sealer")
	if err != nil {
		return "", errors.New("no audit-sealer binary beside this one or on PATH: build it (go build ./cmd/audit-sealer) and give it with --sealer")
	}
	return filepath.Abs(p)
}
