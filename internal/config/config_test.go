package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestShippedExampleLoads keeps deploy/audit-sealer.toml true: it parses,
// has no unknown setting, and validates.
func TestShippedExampleLoads(t *testing.T) {
	c, err := Load("../../deploy/audit-sealer.toml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Policy) != 2 || c.Seal.Records != 100 || c.Seal.Interval.Duration != time.Second {
		t.Fatalf("unexpected values: %+v", c)
	}
	// The example says it shows the defaults; the memory bounds are the
	// ones the benchmarks measured (BENCHMARKS.md), so they must agree.
	if d := Defaults(); c.Queue != d.Queue || c.MemoryLimit != d.MemoryLimit {
		t.Errorf("example [queue] %+v memory_limit %d; defaults %+v, %d", c.Queue, c.MemoryLimit, d.Queue, d.MemoryLimit)
	}
	if d := Defaults(); c.Limits != d.Limits || d.Limits.BadLinesPerSecond != 1000 {
		t.Errorf("example [limits] %+v; defaults %+v (bad_lines_per_second 1000)", c.Limits, d.Limits)
	}
	if d := Defaults(); c.Query.Index != d.Query.Index || !c.Query.Index || c.TPM.Index != d.TPM.Index || c.TPM.Transport == "" {
		t.Errorf("example [query] %+v [tpm] %+v; defaults %+v %+v", c.Query, c.TPM, d.Query, d.TPM)
	}
}

func TestDefaultsValidate(t *testing.T) {
	c := Defaults()
	c.Dev = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Outside --dev the defaults name no HSM key: that must be said.
	c.Dev = false
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "token_label") {
		t.Fatalf("production defaults without a token: %v", err)
	}
}

// TestNegativeBadLineRateRefused: a negative bad_lines_per_second is an
// error that names the setting; 0 (no bound) is valid.
func TestNegativeBadLineRateRefused(t *testing.T) {
	c := Defaults()
	c.Dev = true
	c.Limits.BadLinesPerSecond = -1
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "bad_lines_per_second") {
		t.Fatalf("bad_lines_per_second -1: %v", err)
	}
	c.Limits.BadLinesPerSecond = 0
	if err := c.Validate(); err != nil {
		t.Fatalf("bad_lines_per_second 0: %v", err)
	}
}

func TestUnknownSettingRefused(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("data_dir = \"/x\"\nsegmant_size = 5\n"), 0o600)
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), "segmant_size") {
		t.Fatalf("misspelt setting: %v", err)
	}
}

func TestPrecedenceEnvOverFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.toml")
	os.WriteFile(p, []byte("data_dir = \"/from-file\"\nsocket = \"/from-file.sock\"\n"), 0o600)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"AUDIT_SEALER_DATA_DIR": "/from-env", "AUDIT_SEALER_SEAL_RECORDS": "7", "AUDIT_SEALER_DEV": "true"}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/from-env" || c.Socket != "/from-file.sock" || c.Seal.Records != 7 || !c.Dev {
		t.Fatalf("precedence: %+v", c)
	}
	bad := map[string]string{"AUDIT_SEALER_SEGMENT_SIZE": "big"}
	if err := c.ApplyEnv(func(k string) string { return bad[k] }); err == nil {
		t.Fatal("a non-numeric AUDIT_SEALER_SEGMENT_SIZE was accepted")
	}
}

func TestValidateRefuses(t *testing.T) {
	uid := uint32(1000)
	cases := map[string]func(c *Config){
		"token twice": func(c *Config) {
			c.Dev = false
			c.Signer.TokenLabel, c.Signer.TokenSerial, c.Signer.KeyLabel = "a", "b", "k"
		},
		"socket mode":       func(c *Config) { c.SocketMode = "rw-rw----" },
		"segment too small": func(c *Config) { c.SegmentSize = 10 },
		"zero records":      func(c *Config) { c.Seal.Records = 0 },
		"log level":         func(c *Config) { c.Log.Level = "loud" },
		"policy no peer":    func(c *Config) { c.Policy = []Policy{{Services: []string{"a"}}} },
		"policy no service": func(c *Config) { c.Policy = []Policy{{UID: &uid}} },
		"reserved service":  func(c *Config) { c.Policy = []Policy{{UID: &uid, Services: []string{"audit-sealer"}}} },
	}
	for name, mutate := range cases {
		c := Defaults()
		c.Dev = true
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
