package sealer_test

import (
	"bytes"
	"crypto/fips140"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/go-hclog"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/internal/buildinfo"
	"github.com/audit-sealer/audit-sealer/internal/sealer"
	"github.com/audit-sealer/audit-sealer/internal/testkit"
)

// syncBuffer is a log sink safe for the sealer's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStartRecordStatesFIPS: audit.sealer_started states the Go
// Cryptographic Module's mode and version, and, for a PKCS#11 signer, what
// the token reported; a software key's record names no HSM. A sealer in
// FIPS mode on a token that reports no validation warns at start. The test
// runs itself again under GODEBUG=fips140=on, so that both modes are
// checked whatever mode go test runs in.
func TestStartRecordStatesFIPS(t *testing.T) {
	if !fips140.Enabled() {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStartRecordStatesFIPS$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "GODEBUG=fips140=on")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestStartRecordStatesFIPS") {
			t.Errorf("under GODEBUG=fips140=on: %v\n%s", err, out)
		}
	}
	cfg := testConfig(t)
	hsmFIPS := sealer.HSMFIPS{State: event.HSMUnreported, Detail: `token "t" reports no FIPS 140 validation`}
	var logs []string
	for _, opts := range [][]sealer.Option{nil, {sealer.WithHSMFIPS(hsmFIPS)}} {
		var out syncBuffer
		sl, err := sealer.New(cfg, testkit.Key("main"), hclog.New(&hclog.LoggerOptions{Output: &out, Level: hclog.Info}), opts...)
		if err != nil {
			t.Fatal(err)
		}
		h := &harness{t: t, cfg: cfg, sl: sl}
		h.run()
		h.stopAndVerify()
		logs = append(logs, out.String())
	}
	b := buildinfo.Read()
	starts := sealerEvents(t, readRecords(t, cfg.DataDir), event.TypeSealerStarted)
	if len(starts) != 2 {
		t.Fatalf("%d starts", len(starts))
	}
	for i, ev := range starts {
		st := ev.(*event.SealerStarted)
		if string(st.FIPS140) != buildinfo.FIPSMode() || st.FIPS140Module != b.FIPS140Module || st.FIPS140Module == "" {
			t.Errorf("start %d: fips140 %q module %q, want %q %q", i, st.FIPS140, st.FIPS140Module, buildinfo.FIPSMode(), b.FIPS140Module)
		}
		if st.Settings["require_fips"] != cfg.Settings()["require_fips"] {
			t.Errorf("start %d: settings require_fips %q", i, st.Settings["require_fips"])
		}
		wantHSM := event.HSMFIPS("")
		if i == 1 {
			wantHSM = event.HSMUnreported
		}
		if st.HSMFIPS != wantHSM || st.HSMValidation != "" {
			t.Errorf("start %d: hsm_fips %q validation %q, want %q", i, st.HSMFIPS, st.HSMValidation, wantHSM)
		}
	}
	const warning = "FIPS 140-3 mode WITHOUT A VALIDATED HSM"
	if fips140.Enabled() {
		if strings.Contains(logs[0], warning) || !strings.Contains(logs[1], warning) || !strings.Contains(logs[1], "reports no FIPS 140 validation") {
			t.Errorf("in FIPS mode, want the warning with the token's detail on the second start only:\n%s\n---\n%s", logs[0], logs[1])
		}
	} else if !strings.Contains(logs[0], "FIPS 140-3 mode is off") || strings.Contains(logs[1], warning) {
		t.Errorf("outside FIPS mode, want the mode said to be off and no warning:\n%s\n---\n%s", logs[0], logs[1])
	}
}
