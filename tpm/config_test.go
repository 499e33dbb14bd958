package tpm_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/audit-sealer/audit-sealer/tpm"
)

func TestAuthFromFile(t *testing.T) {
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
		{"plain", "8a6ef249e38a8e7e19ac315444de6c17", 0o600, "8a6ef249e38a8e7e19ac315444de6c17", nil},
		{"read-only", "secret", 0o400, "secret", nil},
		{"newline kept, as tpm2-tools does", "secret\n", 0o600, "secret\n", nil},
		{"group-readable", "secret", 0o640, "", tpm.ErrInsecureAuthFile},
		{"world-readable", "secret", 0o604, "", tpm.ErrInsecureAuthFile},
		{"group-writable", "secret", 0o620, "", tpm.ErrInsecureAuthFile},
		{"empty", "", 0o600, "", tpm.ErrNoAuth},
		{"too long", strings.Repeat("x", 33), 0o600, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tpm.AuthFromFile(write(tc.name, tc.content, tc.mode))
			wantErr := tc.want == ""
			if string(a) != tc.want || (err != nil) != wantErr || (tc.err != nil && !errors.Is(err, tc.err)) {
				t.Errorf("AuthFromFile = %q, %v; want %q, %v", a, err, tc.want, tc.err)
			}
			if err != nil && (strings.Contains(err.Error(), "secret") || !strings.HasPrefix(err.Error(), "tpm: ")) {
				t.Errorf("error %q shows the content or lacks the prefix", err)
			}
		})
	}
	if _, err := tpm.AuthFromFile(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, err := tpm.AuthFromFile(dir); err == nil {
		t.Error("a directory was accepted as an auth file")
	}
}

func TestAuthFromEnv(t *testing.T) {
	t.Setenv("TPM_TEST_AUTH", "secret")
	if a, err := tpm.AuthFromEnv("TPM_TEST_AUTH"); string(a) != "secret" || err != nil {
		t.Errorf("AuthFromEnv = %q, %v", a, err)
	}
	t.Setenv("TPM_TEST_AUTH", "")
	if _, err := tpm.AuthFromEnv("TPM_TEST_AUTH"); !errors.Is(err, tpm.ErrNoAuth) {
		t.Errorf("empty variable: %v", err)
	}
	if _, err := tpm.AuthFromEnv("TPM_TEST_NO_SUCH_VARIABLE"); !errors.Is(err, tpm.ErrNoAuth) {
		t.Errorf("unset variable: %v", err)
	}
	t.Setenv("TPM_TEST_AUTH", strings.Repeat("x", 33))
	if _, err := tpm.AuthFromEnv("TPM_TEST_AUTH"); err == nil {
		t.Error("a 33-byte auth was accepted")
	}
}

func TestConfigHidesSecrets(t *testing.T) {
	cfg := tpm.Config{Auth: []byte("index-secret"), OwnerAuth: []byte("owner-secret")}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg)} {
		if strings.Contains(s, "secret") {
			t.Errorf("%s shows a secret", s)
		}
		if !strings.Contains(s, `"device:/dev/tpmrm0"`) || !strings.Contains(s, "0x01500100") || !strings.Contains(s, "EndorsementAuth: empty") {
			t.Errorf("%s does not show the defaults", s)
		}
	}
}

func TestConfigChecked(t *testing.T) {
	for _, cfg := range []tpm.Config{
		{},
		{Auth: []byte("a"), Index: 0x81000001},
		{Auth: []byte("a"), Index: 0x02000000},
		{Auth: make([]byte, 33)},
		{Auth: []byte("a"), OwnerAuth: make([]byte, 33)},
	} {
		if _, err := tpm.Open(cfg); err == nil || !strings.HasPrefix(err.Error(), "tpm: ") {
			t.Errorf("Open(%v) = %v", cfg, err)
		}
		if _, err := tpm.ProvisionWithTransport(nil, cfg); err == nil {
			t.Errorf("Provision(%v) succeeded", cfg)
		}
	}
	if _, err := tpm.Open(tpm.Config{}); !errors.Is(err, tpm.ErrNoAuth) {
		t.Errorf("no auth: %v", err)
	}
}
