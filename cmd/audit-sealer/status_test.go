package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/internal/config"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
)

// runCommand runs audit-sealer with args in this process and returns its
// exit status (as main would set it) and what it printed.
func runCommand(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	root.SetArgs(args)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.Execute()
	if err == nil {
		return 0, out.String()
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			out.WriteString(ee.err.Error())
		}
		return ee.code, out.String()
	}
	return 1, out.String() + err.Error()
}

// startDevSealer runs a --dev sealer in this process until the test ends
// and returns its configuration.
// With withOpts, the sealer gets the options it returns for cfg.
func startDevSealer(t *testing.T, mutate func(*config.Config), withOpts ...func(config.Config) []sealer.Option) config.Config {
	t.Helper()
	cfg := config.Defaults()
	cfg.Dev = true
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	sockDir, err := os.MkdirTemp("", "as")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	cfg.Socket = filepath.Join(sockDir, "s.sock")
	if mutate != nil {
		mutate(&cfg)
	}
	s, err := devSigner(cfg, true)
	if err != nil {
		t.Fatal(err)
	}
	var opts []sealer.Option
	for _, f := range withOpts {
		opts = append(opts, f(cfg)...)
	}
	sl, err := sealer.New(cfg, s, hclog.NewNullLogger(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sl.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sealer: %v", err)
		}
	})
	for start := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(cfg.Socket); err == nil {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatal("the sealer never made its socket")
		}
	}
	return cfg
}

// TestStatusHealthy: status of a healthy sealer starts with "OK", shows
// that the log is not anchored, and exits 0.
func TestStatusHealthy(t *testing.T) {
	cfg := startDevSealer(t, nil)
	code, out := runCommand(t, "status", "--socket", cfg.Socket)
	if code != 0 || !strings.HasPrefix(out, "OK: ") || !strings.Contains(out, "anchoring:       off") || !strings.Contains(out, "log:             ") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	code, out = runCommand(t, "status", "--socket", cfg.Socket, "--json")
	if code != 0 || !strings.Contains(out, `"anchoring": false`) || !strings.Contains(out, `"version":`) {
		t.Fatalf("--json: exit %d:\n%s", code, out)
	}
	if code, out := runCommand(t, "status", "--socket", cfg.Socket+".absent"); code != 2 {
		t.Fatalf("no sealer: exit %d:\n%s", code, out)
	}
}

// TestStatusDegradedHeadline: the text status makes the most serious
// failure its first line and lists the others after it; TPM anchoring
// shows the last anchor, its age and the errors.
func TestStatusDegradedHeadline(t *testing.T) {
	now := time.Now()
	since := now.Add(-3 * time.Minute)
	last, age := uint64(41), 75.0
	st := sealer.Status{LogID: "abcd", Anchoring: true, LastAnchor: &last, LastAnchorAgeSeconds: &age, AnchorsMade: 3,
		AnchorError: "tpm: connection refused", AnchorErrors: 12, AnchorFailingSince: &since,
		Witnesses: []sealer.WitnessStatus{{Name: "w1", Error: "timeout", LagRecords: 900}}, WitnessQuorum: 1}
	var b bytes.Buffer
	printStatus(&b, &st, st.Degraded(now), now)
	lines := strings.Split(b.String(), "\n")
	if lines[0] != "DEGRADED: tpm anchoring failing for 3m0s (12 errors): tpm: connection refused" {
		t.Fatalf("headline %q:\n%s", lines[0], b.String())
	}
	if !strings.HasPrefix(lines[1], "  also:          witnessing below its quorum") {
		t.Fatalf("second line %q", lines[1])
	}
	for _, want := range []string{"anchoring:       counter 41, anchored 1m15s ago; 3 anchors by this run", "12 errors; FAILING: tpm: connection refused",
		"witness w1:  size 0, 900 records", "failing: timeout"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in:\n%s", want, b.String())
		}
	}
}
