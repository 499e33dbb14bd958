package hsm_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/hsm"
)

const secretPIN = "s3cret-PIN-9876"

// TestConfigRedactsPIN: the PIN appears in no log or print form of a Config.
func TestConfigRedactsPIN(t *testing.T) {
	cfg := hsm.Config{TokenLabel: "audit-sealer", KeyLabel: "checkpoint", KeyID: []byte{1, 2}, PIN: secretPIN}
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	logger.Info("opening", "hsm", cfg)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("opening", "hsm", cfg)
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		fmt.Fprintf(&buf, f+"\n", cfg)
		fmt.Fprintf(&buf, f+"\n", &cfg)
	}
	if strings.Contains(buf.String(), secretPIN) || strings.Contains(buf.String(), fmt.Sprintf("%x", secretPIN)) {
		t.Fatalf("the PIN leaks:\n%s", buf.String())
	}
	for _, want := range []string{`"pin":"REDACTED"`, `"token_label":"audit-sealer"`, `"key_id":"0102"`, "PIN: REDACTED"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %s:\n%s", want, buf.String())
		}
	}
	if s := (hsm.Config{}).String(); !strings.Contains(s, "PIN: unset") {
		t.Errorf("Config{}.String() = %s, want PIN: unset", s)
	}
}

func TestPINFromFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, content string
		mode          os.FileMode
		want          string
		err           error
	}{
		{"newline", "1234\n", 0o600, "1234", nil},
		{"crlf", "1234\r\n", 0o400, "1234", nil},
		{"bare", "12 34", 0o600, "12 34", nil},
		{"two-newlines", "1234\n\n", 0o600, "1234\n", nil},
		{"group-readable", "1234\n", 0o640, "", hsm.ErrInsecurePINFile},
		{"world-readable", "1234\n", 0o604, "", hsm.ErrInsecurePINFile},
		{"empty", "", 0o600, "", hsm.ErrNoPIN},
		{"only-newline", "\n", 0o600, "", hsm.ErrNoPIN},
		{"huge", strings.Repeat("9", 5000), 0o600, "", hsm.ErrNoPIN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pin, err := hsm.PINFromFile(write(tc.name, tc.content, tc.mode))
			if pin != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Errorf("PINFromFile = %q, %v; want %q, %v", pin, err, tc.want, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "1234") {
				t.Errorf("error %q shows the file content", err)
			}
		})
	}
	if _, err := hsm.PINFromFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := hsm.PINFromFile(dir); err == nil {
		t.Error("a directory was accepted as a PIN file")
	}
}

func TestPINFromEnv(t *testing.T) {
	t.Setenv("HSM_TEST_PIN", "1234")
	if pin, err := hsm.PINFromEnv("HSM_TEST_PIN"); pin != "1234" || err != nil {
		t.Errorf("PINFromEnv = %q, %v", pin, err)
	}
	t.Setenv("HSM_TEST_PIN", "")
	if _, err := hsm.PINFromEnv("HSM_TEST_PIN"); !errors.Is(err, hsm.ErrNoPIN) {
		t.Errorf("empty variable: %v, want ErrNoPIN", err)
	}
	if _, err := hsm.PINFromEnv("HSM_TEST_NO_SUCH_VARIABLE"); !errors.Is(err, hsm.ErrNoPIN) {
		t.Errorf("unset variable: %v, want ErrNoPIN", err)
	}
}
