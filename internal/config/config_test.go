package config

import (
	"crypto/fips140"
	"os"
	"path/filepath"
	"strconv"
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
	if d := Defaults(); c.Witnessing != d.Witnessing || len(c.Witnesses) != 0 {
		t.Errorf("example [witnessing] %+v, %d witnesses; defaults %+v", c.Witnessing, len(c.Witnesses), d.Witnessing)
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

// TestWitnessSettings: [[witness]] entries and [witnessing] load and are
// checked once, each fault with a message that names it.
func TestWitnessSettings(t *testing.T) {
	const vkey = "witness.test/w1+90ad70a9+BCgjCL8bPW/ScoSYRWn6RuiU2N6pzS7JmAAQyeXhpiIw"
	path := filepath.Join(t.TempDir(), "c.toml")
	good := `dev = true
[[witness]]
name = "w1"
url = "http://127.0.0.1:7380"
vkey = "` + vkey + `"
[[witness]]
name = "w2"
url = "https://w2.example.net/prefix"
vkey = "` + vkey + `"
[witnessing]
quorum = 1
interval = "30s"
max_requests_per_second = 2
timeout = "5s"
`
	if err := os.WriteFile(path, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(c.Witnesses) != 2 || c.Witnesses[1].URL != "https://w2.example.net/prefix" || c.WitnessQuorum() != 1 ||
		c.Witnessing.Interval.Duration != 30*time.Second || c.Witnessing.MaxRequestsPerSecond != 2 || c.Witnessing.Timeout.Duration != 5*time.Second {
		t.Fatalf("loaded %+v %+v", c.Witnesses, c.Witnessing)
	}
	if c.Settings()["witnesses"] != "2" || c.Settings()["witness_quorum"] != "1" {
		t.Errorf("settings %v", c.Settings())
	}
	c.Witnessing.Quorum = 0
	if c.WitnessQuorum() != 2 {
		t.Errorf("quorum 0 means all: %d", c.WitnessQuorum())
	}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"bad key", func(c *Config) { c.Witnesses[0].VKey = "w1+00000000+AQ==" }, `witness "w1": vkey`},
		{"log key type", func(c *Config) {
			c.Witnesses[0].VKey = "audit-sealer+4d1ee0dc+AaB6a3ZpxQp9Z1+7v3YUG2lJz7kqpnhaW7CVK2t8r3UK"
		}, `witness "w1": vkey`},
		{"no scheme", func(c *Config) { c.Witnesses[0].URL = "127.0.0.1:7380" }, "not an http or https URL"},
		{"duplicate", func(c *Config) { c.Witnesses[1].Name = "w1" }, "listed twice"},
		{"no name", func(c *Config) { c.Witnesses[0].Name = "" }, "want 1 to 64 letters"},
		{"slash", func(c *Config) { c.Witnesses[0].Name = "a/b" }, "want 1 to 64 letters"},
		{"quorum", func(c *Config) { c.Witnessing.Quorum = 3 }, "quorum 3"},
		{"interval", func(c *Config) { c.Witnessing.Interval.Duration = 2 * time.Minute }, "above the anchor interval"},
		{"rate", func(c *Config) { c.Witnessing.MaxRequestsPerSecond = 0 }, "max_requests_per_second must be positive"},
	} {
		c, _ := Load(path)
		tc.mod(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if d := Defaults(); len(d.Witnesses) != 0 {
		t.Fatal("the defaults list a witness")
	}
}

// TestRequireFIPS: require_fips unset follows the Go Cryptographic Module's
// mode; set, it is what it says (from the file or AUDIT_SEALER_REQUIRE_FIPS,
// which overrides the file); the settings record what is in force; and
// requiring FIPS when the Go module is not in FIPS 140-3 mode is an error
// that says how to build or run it.
func TestRequireFIPS(t *testing.T) {
	c := Defaults()
	c.Dev = true
	if c.RequireFIPSInForce() != fips140.Enabled() || c.Settings()["require_fips"] != strconv.FormatBool(fips140.Enabled()) {
		t.Errorf("unset: %v (settings %q), want the Go module's mode %v", c.RequireFIPSInForce(), c.Settings()["require_fips"], fips140.Enabled())
	}
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte("dev = true\n[signer]\nrequire_fips = false\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.RequireFIPSInForce() || c.Settings()["require_fips"] != "false" {
		t.Errorf("require_fips = false: in force %v, settings %q", c.RequireFIPSInForce(), c.Settings()["require_fips"])
	}
	if err := c.Validate(); err != nil {
		t.Errorf("require_fips = false: %v", err)
	}
	if err := c.ApplyEnv(func(k string) string { return map[string]string{"AUDIT_SEALER_REQUIRE_FIPS": "true"}[k] }); err != nil {
		t.Fatal(err)
	}
	if !c.RequireFIPSInForce() || c.Settings()["require_fips"] != "true" {
		t.Errorf("AUDIT_SEALER_REQUIRE_FIPS=true over the file: in force %v", c.RequireFIPSInForce())
	}
	err = c.Validate()
	if fips140.Enabled() {
		if err != nil {
			t.Errorf("require_fips in FIPS 140-3 mode: %v", err)
		}
	} else if err == nil || !strings.Contains(err.Error(), "require_fips") || !strings.Contains(err.Error(), "GOFIPS140") {
		t.Errorf("require_fips without FIPS 140-3 mode: %v, want an error naming require_fips and GOFIPS140", err)
	}
	if err := c.ApplyEnv(func(k string) string { return map[string]string{"AUDIT_SEALER_REQUIRE_FIPS": "maybe"}[k] }); err == nil || !strings.Contains(err.Error(), "AUDIT_SEALER_REQUIRE_FIPS") {
		t.Errorf("AUDIT_SEALER_REQUIRE_FIPS=maybe: %v", err)
	}
}
