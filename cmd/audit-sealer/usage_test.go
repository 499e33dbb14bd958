package main

import (
	"bytes"
	"errors"
	"testing"
)

// TestUsageErrorsExit2: every kind of usage error, of every command, exits
// with status 2 (an unknown flag, a bad flag value, the wrong number of
// arguments, an unknown command or subcommand); a command that groups
// others prints its help when given none, and exits 0.
func TestUsageErrorsExit2(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"nosuch"},
		{"report"},
		{"report", "soc2", "--bogus"},
		{"report", "soc2", "pci"},
		{"query", "extra"},
		{"query", "--limit", "x"},
		{"export", "--follow=maybe"},
		{"status", "--bogus"},
		{"emit", "extra"},
		{"prove", "--seq", "-1"},
		{"keys", "bogus"},
		{"keys", "export-public", "--format", "xml", "--dev", "--data-dir", dir},
		{"tpm", "read", "--bogus"},
		{"index", "build", "extra"},
		{"schema", "a", "b"},
		{"config", "check", "--bogus"},
		{"serve", "--queue-events", "many"},
	} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		err := root.Execute()
		var ee *exitError
		if !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("%q: %v (%T), want exit 2\n%s", args, err, err, out.String())
		}
	}
	for _, args := range [][]string{{}, {"keys"}, {"tpm"}, {"index"}} {
		root := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil || !bytes.Contains(out.Bytes(), []byte("Usage:")) {
			t.Errorf("%q: %v, want its help\n%s", args, err, out.String())
		}
	}
}
