package hsm

import (
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/audit-sealer/audit-sealer/signer"
)

// DefaultModule is the PKCS#11 module used when Config.Module is empty:
// SoftHSM2 as Debian installs it.
const DefaultModule = "/usr/lib/softhsm/libsofthsm2.so"

// DefaultMaxSessions is the session pool size used when Config.MaxSessions
// is zero.
const DefaultMaxSessions = 4

// The environment variables that scripts/softhsm/setup.sh exports for the
// daemon. This package does not read them itself: the caller builds a Config.
const (
	EnvModule     = "AUDIT_SEALER_PKCS11_MODULE"
	EnvTokenLabel = "AUDIT_SEALER_PKCS11_TOKEN_LABEL"
	EnvKeyLabel   = "AUDIT_SEALER_PKCS11_KEY_LABEL"
	EnvPINFile    = "AUDIT_SEALER_PKCS11_PIN_FILE"
	// EnvRequireFIPS is "false" from setup.sh: SoftHSM2 reports no FIPS
	// 140 validation, so a sealer in FIPS 140-3 mode runs on it only when
	// told not to require one (Config.RequireFIPS).
	EnvRequireFIPS = "AUDIT_SEALER_REQUIRE_FIPS"
)

// Config says which PKCS#11 key signs. Zero values mean the defaults.
type Config struct {
	// Module is the path of the PKCS#11 module (default DefaultModule).
	Module string
	// TokenLabel or TokenSerial selects the token; set exactly one. Slot
	// numbers are not accepted: they are not stable (SoftHSM2 assigns random
	// ones).
	TokenLabel  string
	TokenSerial string
	// KeyLabel (CKA_LABEL) and KeyID (CKA_ID) select the key pair; set at
	// least one. GenerateKey and ListKeys ignore them.
	KeyLabel string
	KeyID    []byte
	// PIN is the token's user PIN. Read it with PINFromFile or PINFromEnv,
	// never from a command-line argument. It is never logged or encoded.
	PIN string `json:"-" toml:"-"`
	// MaxSessions bounds the PKCS#11 sessions one Signer keeps open, and
	// so the signatures it makes in parallel (default DefaultMaxSessions).
	MaxSessions int
	// KeyName is the signed-note key name of the key (default
	// signer.DefaultKeyName); it becomes PublicKey.Name.
	KeyName string
	// RequireFIPS refuses (ErrNotFIPS) a token that does not report a
	// FIPS 140 validation that the key meets (FIPSStatus): Open and every
	// reconnect check it, and GenerateKey checks the token before and the
	// new key after generating it. SoftHSM2 reports none.
	RequireFIPS bool
}

// withDefaults returns c with the zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.Module == "" {
		c.Module = DefaultModule
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.KeyName == "" {
		c.KeyName = signer.DefaultKeyName
	}
	return c
}

// keySelection says whether an operation works on the configured key
// (Open) or not (GenerateKey names its own label, ListKeys lists them all).
type keySelection bool

const (
	needKey keySelection = true
	anyKey  keySelection = false
)

// validate checks, once, the settings the operation needs: module, token,
// PIN, pool size, key name, and, with needKey, a key label or id. It
// expects withDefaults to have run.
func (c Config) validate(key keySelection) error {
	switch {
	case c.TokenLabel == "" && c.TokenSerial == "":
		return errorf(kinds(ErrConfig), "hsm: no token selected: set the token label or serial number")
	case c.TokenLabel != "" && c.TokenSerial != "":
		return errorf(kinds(ErrConfig), "hsm: both a token label and a serial number are set; set one")
	case c.MaxSessions < 1:
		return errorf(kinds(ErrConfig), "hsm: MaxSessions is %d, want at least 1", c.MaxSessions)
	case !signer.ValidKeyName(c.KeyName):
		return errorf(kinds(ErrConfig), "hsm: invalid note key name %q", c.KeyName)
	case c.PIN == "":
		return errorf(kinds(ErrNoPIN, ErrConfig), "hsm: no PIN for token %s", c.token())
	case key == needKey && c.KeyLabel == "" && len(c.KeyID) == 0:
		return errorf(kinds(ErrConfig), "hsm: no key selected: set the key label or id")
	}
	return nil
}

// token describes the selected token for messages.
func (c Config) token() string {
	if c.TokenLabel != "" {
		return fmt.Sprintf("%q", c.TokenLabel)
	}
	return fmt.Sprintf("with serial %q", c.TokenSerial)
}

// key describes the selected key for messages.
func (c Config) key() string {
	switch {
	case c.KeyLabel != "" && len(c.KeyID) > 0:
		return fmt.Sprintf("%q (id %x)", c.KeyLabel, c.KeyID)
	case len(c.KeyID) > 0:
		return fmt.Sprintf("with id %x", c.KeyID)
	}
	return fmt.Sprintf("%q", c.KeyLabel)
}

const redacted = "REDACTED"

func (c Config) pinState() string {
	if c.PIN == "" {
		return "unset"
	}
	return redacted
}

// LogValue implements slog.LogValuer. The PIN is replaced by "REDACTED"
// (or "unset").
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("module", c.Module),
		slog.String("token_label", c.TokenLabel),
		slog.String("token_serial", c.TokenSerial),
		slog.String("key_label", c.KeyLabel),
		slog.String("key_id", hex.EncodeToString(c.KeyID)),
		slog.Int("max_sessions", c.MaxSessions),
		slog.String("key_name", c.KeyName),
		slog.Bool("require_fips", c.RequireFIPS),
		slog.String("pin", c.pinState()),
	)
}

// String implements fmt.Stringer (and so %v and %+v) without the PIN.
func (c Config) String() string {
	return fmt.Sprintf("hsm.Config{Module: %q, TokenLabel: %q, TokenSerial: %q, KeyLabel: %q, KeyID: %x, MaxSessions: %d, KeyName: %q, RequireFIPS: %t, PIN: %s}",
		c.Module, c.TokenLabel, c.TokenSerial, c.KeyLabel, c.KeyID, c.MaxSessions, c.KeyName, c.RequireFIPS, c.pinState())
}

// GoString implements fmt.GoStringer (%#v) without the PIN.
func (c Config) GoString() string { return c.String() }

// PINFromFile reads a PIN from the file at path. The file must not be
// accessible by group or others (mode 0600 or 0400). One trailing newline
// ("\n" or "\r\n") is removed; other white space is part of the PIN.
func PINFromFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("hsm: PIN file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("hsm: PIN file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", errorf(kinds(ErrNoPIN), "hsm: PIN file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", errorf(kinds(ErrInsecurePINFile), "hsm: PIN file %s has mode %04o, want 0600 or 0400 (chmod 600 %s)", path, perm, path)
	}
	const max = 4096
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return "", fmt.Errorf("hsm: PIN file: %w", err)
	}
	if len(b) > max {
		return "", errorf(kinds(ErrNoPIN), "hsm: PIN file %s is larger than %d bytes", path, max)
	}
	pin := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if pin == "" {
		return "", errorf(kinds(ErrNoPIN), "hsm: PIN file %s is empty", path)
	}
	return pin, nil
}

// PINFromEnv returns the value of the environment variable name, which must
// be set and not empty. The caller may unset it afterwards.
func PINFromEnv(name string) (string, error) {
	pin, ok := os.LookupEnv(name)
	if !ok || pin == "" {
		return "", errorf(kinds(ErrNoPIN), "hsm: environment variable %s is not set or empty", name)
	}
	return pin, nil
}

// KeyInfo describes a private key on a token, as ListKeys finds it.
type KeyInfo struct {
	// Label is CKA_LABEL and ID is CKA_ID in lowercase hex.
	Label string
	ID    string
	// Algorithm is empty for keys this package cannot sign with.
	Algorithm signer.Algorithm
	// KeyID is signer.PublicKey.ID of the public half ("" when Algorithm is
	// empty or the public key object is missing).
	KeyID string
	// Public is the public half (zero when KeyID is "").
	Public signer.PublicKey
	// The private key's protection attributes: a key generated by
	// GenerateKey is sensitive, always sensitive, not extractable and never
	// extractable.
	Sensitive        bool
	AlwaysSensitive  bool
	Extractable      bool
	NeverExtractable bool
}
