package config

import (
	"crypto/fips140"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
)

// shippedFile is the configuration the package installs as DefaultFile.
const shippedFile = "../../deploy/audit-sealer.toml"

// TestShippedExampleLoads keeps deploy/audit-sealer.toml usable as it is
// installed: it parses, has no unknown setting, validates, and gives the
// built-in defaults (its settings lines all show them).
func TestShippedExampleLoads(t *testing.T) {
	c, err := Load(shippedFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got, want := c.Flat(), Defaults(); !reflect.DeepEqual(got, want.Flat()) {
		for _, k := range Changed(&c, &want) {
			t.Errorf("%s: the file gives %q, the default is %q", k, got[k], want.Flat()[k])
		}
	}
}

// commentedSetting is a setting line commented out in the shipped file:
// "#key = value" or "#[section]", with no space after the '#' (prose
// comments have one).
var commentedSetting = regexp.MustCompile(`^#(\[\[?[a-z_]+\]\]?|[a-z_]+ = .*)$`)

// TestShippedFileListsEveryDefault keeps deploy/audit-sealer.toml in sync
// with the code: with its commented-out setting lines uncommented it must
// define every setting of Config exactly once (TOML refuses a key defined
// twice), hold no other key, and give each the value of Defaults. A line
// is commented exactly when its setting is optional (a string whose
// default is empty). The [[policy]] and [[witness]] examples must name
// every field of their tables; their values are examples, not defaults.
func TestShippedFileListsEveryDefault(t *testing.T) {
	data, err := os.ReadFile(shippedFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	commented := map[string]bool{} // keys (section.key) of commented setting lines
	section := ""
	for _, line := range strings.Split(string(data), "\n") {
		isComment := commentedSetting.MatchString(line)
		if isComment {
			line = line[1:]
		}
		switch trimmed := strings.TrimSpace(line); {
		case strings.HasPrefix(trimmed, "[["):
			section = strings.Trim(trimmed, "[]") + "."
		case strings.HasPrefix(trimmed, "["):
			section = strings.Trim(trimmed, "[]") + "."
		case isComment:
			commented[section+strings.TrimSpace(strings.SplitN(line, "=", 2)[0])] = true
		}
		lines = append(lines, line)
	}
	var c Config
	md, err := toml.Decode(strings.Join(lines, "\n"), &c)
	if err != nil {
		t.Fatalf("the file with its settings uncommented: %v", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("keys that are no setting: %v", und)
	}
	defaults := Defaults()
	want := defaults.Flat()
	keys := map[string]bool{} // every key the file defines, arrays of tables' fields included
	for _, k := range md.Keys() {
		keys[k.String()] = true
	}
	// The examples of the arrays of tables name every field.
	for _, table := range []struct {
		key string
		typ reflect.Type
	}{{"policy", reflect.TypeOf(Policy{})}, {"witness", reflect.TypeOf(Witness{})}} {
		if !keys[table.key] {
			t.Errorf("no [[%s]] example", table.key)
			continue
		}
		for i := 0; i < table.typ.NumField(); i++ {
			name := table.typ.Field(i).Tag.Get("toml")
			if !keys[table.key+"."+name] {
				t.Errorf("the [[%s]] example does not show %s", table.key, name)
			}
		}
		if want[table.key] != "[]" {
			t.Errorf("%s has a default: %s", table.key, want[table.key])
		}
	}
	c.Policy, c.Witnesses = nil, nil
	got := c.Flat()
	for key, def := range want {
		if key == "policy" || key == "witness" {
			continue
		}
		parts := strings.Split(key, ".")
		kind := reflect.ValueOf(defaults).FieldByIndex(fieldIndex(t, key)).Kind()
		// An unset pointer (a setting that is off unless given) has no
		// TOML value: its commented example shows one it may take.
		unsetPointer := kind == reflect.Pointer && def == ""
		switch {
		case !md.IsDefined(parts...):
			t.Errorf("%s is not in the file (default %s)", key, def)
		case got[key] != def && !unsetPointer:
			t.Errorf("%s: the file says %s, the default is %s", key, got[key], def)
		}
		optional := (kind == reflect.String && def == "") || unsetPointer
		if optional != commented[key] {
			t.Errorf("%s: commented out %v, but optional (a string whose default is empty, or an unset pointer) %v", key, commented[key], optional)
		}
	}
	if len(want) < 45 {
		t.Fatalf("Flat lists only %d settings", len(want))
	}
}

// fieldIndex returns the index path of the field of Config whose TOML key
// is key.
func fieldIndex(t *testing.T, key string) []int {
	t.Helper()
	typ := reflect.TypeOf(Config{})
	var index []int
next:
	for _, part := range strings.Split(key, ".") {
		for i := 0; i < typ.NumField(); i++ {
			if typ.Field(i).Tag.Get("toml") == part {
				index = append(index, i)
				typ = typ.Field(i).Type
				continue next
			}
		}
		t.Fatalf("no field for %s", key)
	}
	return index
}

// TestFindFile: --config wins, then AUDIT_SEALER_CONFIG; without either
// the default file is read when it exists (as sshd reads its /etc file).
func TestFindFile(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvFile {
				return v
			}
			return ""
		}
	}
	if s := FindFile("/flag.toml", env("/env.toml")); s.Path != "/flag.toml" || s.Default {
		t.Errorf("flag: %+v", s)
	}
	if s := FindFile("", env("/env.toml")); s.Path != "/env.toml" || s.Default {
		t.Errorf("env: %+v", s)
	}
	_, statErr := os.Stat(DefaultFile)
	s := FindFile("", env(""))
	switch {
	case statErr == nil && (s.Path != DefaultFile || !s.Default):
		t.Errorf("%s exists: %+v", DefaultFile, s)
	case statErr != nil && s.Path != "":
		t.Errorf("%s does not exist: %+v", DefaultFile, s)
	}
	// /dev/null, as tests set it, is the built-in defaults.
	c, err := Load("/dev/null")
	if d := Defaults(); err != nil || !reflect.DeepEqual(c.Flat(), d.Flat()) {
		t.Errorf("Load(/dev/null): %v", err)
	}
}

// TestChanged names exactly the settings that differ, arrays of tables as
// one setting.
func TestChanged(t *testing.T) {
	a, b := Defaults(), Defaults()
	uid := uint32(7)
	b.Limits.MaxConnections = 10
	b.Log.Level = "debug"
	b.Policy = []Policy{{UID: &uid, Services: []string{"x"}}}
	b.Query.GIDs = []uint32{} // empty is the same as none
	if got := Changed(&a, &b); !reflect.DeepEqual(got, []string{"limits.max_connections", "log.level", "policy"}) {
		t.Errorf("Changed: %q", got)
	}
	if got := Changed(&a, &a); len(got) != 0 {
		t.Errorf("Changed(a, a): %q", got)
	}
}

// TestTokenSerialWins: token_serial, when set, chooses the token instead
// of the default token_label.
func TestTokenSerialWins(t *testing.T) {
	c := Defaults()
	if l, s := c.Signer.Token(); l != "audit-sealer" || s != "" {
		t.Errorf("default token: %q %q", l, s)
	}
	c.Signer.TokenSerial = "1234"
	if l, s := c.Signer.Token(); l != "" || s != "1234" {
		t.Errorf("with a serial: %q %q", l, s)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("serial with the default label: %v", err)
	}
}

func TestDefaultsValidate(t *testing.T) {
	c := Defaults()
	c.Dev = true
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	// Outside --dev the defaults name the production layout's token and
	// key; without them that must be said.
	c.Dev = false
	if err := c.Validate(); err != nil {
		t.Fatalf("production defaults: %v", err)
	}
	c.Signer.TokenLabel, c.Signer.KeyLabel = "", ""
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "token_label") || !strings.Contains(err.Error(), "key_label") {
		t.Fatalf("production without a token or key: %v", err)
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
		"admin group":       func(c *Config) { c.Admin.Groups = []string{"no-such-group-for-audit-sealer"} },
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
