package tpm

import (
	"bytes"
	"crypto/fips140"
	"errors"
	"fmt"
	"io"
	"os"
)

// DefaultIndex is the NV index handle of the anchor counter when
// Config.Index is 0. It is the handle used in the feasibility experiments.
//
// Caveat: the TCG "Registry of Reserved TPM 2.0 Handles and Localities"
// assigns parts of the NV index range 0x01000000-0x01FFFFFF to TPM
// manufacturers, platform manufacturers, endorsement and platform
// certificates and platform-specific specifications; a TPM does not enforce
// those assignments, and a collision only shows as TPM_RC_NV_DEFINED (or,
// worse, as another tool's index with a different public area, which
// Provision and Open refuse with ErrIndexMismatch). This default has not
// been checked against the registry: check it, and the indexes already
// defined on the machine (tpm2_getcap handles-nv-index), before using it in
// production, and configure another owner-range handle if needed.
const DefaultIndex uint32 = 0x01500100

// MaxAuthSize is the largest index auth value: an authValue may not be
// longer than the digest of the index's name algorithm (SHA-256).
const MaxAuthSize = 32

// Config names a counter index and the secrets to use it.
type Config struct {
	// Transport selects the TPM (see OpenTransport); "" means
	// DefaultTransport. OpenWithTransport and ProvisionWithTransport ignore
	// it.
	Transport string
	// Index is the NV index handle, 0x01000000 to 0x01FFFFFF; 0 means
	// DefaultIndex.
	Index uint32
	// Auth is the index's authorization value (1 to MaxAuthSize bytes),
	// from AuthFromFile or AuthFromEnv. It authorizes reading and
	// incrementing the counter, and certifying it.
	Auth []byte
	// OwnerAuth is the owner hierarchy's authorization value, used only by
	// Provision to define the index; empty on a TPM whose owner auth was
	// never set.
	OwnerAuth []byte
	// EndorsementAuth is the endorsement hierarchy's authorization value,
	// used only by Certify to create the attestation key; empty on a TPM
	// whose endorsement auth was never set.
	EndorsementAuth []byte
}

// String implements fmt.Stringer (and so %v and %+v) without the secrets.
func (c Config) String() string {
	set := func(b []byte) string {
		if len(b) == 0 {
			return "empty"
		}
		return "set"
	}
	return fmt.Sprintf("tpm.Config{Transport: %q, Index: 0x%08x, Auth: %s, OwnerAuth: %s, EndorsementAuth: %s}",
		c.transport(), c.index(), set(c.Auth), set(c.OwnerAuth), set(c.EndorsementAuth))
}

// GoString implements fmt.GoStringer (%#v) without the secrets.
func (c Config) GoString() string { return c.String() }

func (c Config) transport() string {
	if c.Transport == "" {
		return DefaultTransport
	}
	return c.Transport
}

func (c Config) index() uint32 {
	if c.Index == 0 {
		return DefaultIndex
	}
	return c.Index
}

// check validates everything but the transport.
func (c Config) check() error {
	if i := c.index(); i < 0x01000000 || i > 0x01FFFFFF {
		return fmt.Errorf("tpm: index 0x%08x is not an NV index handle (0x01000000 to 0x01FFFFFF)", i)
	}
	if len(c.Auth) == 0 {
		return fmt.Errorf("tpm: %w: the index auth is empty", ErrNoAuth)
	}
	for name, a := range map[string][]byte{"index auth": c.Auth, "owner auth": c.OwnerAuth, "endorsement auth": c.EndorsementAuth} {
		if len(a) > MaxAuthSize {
			return fmt.Errorf("tpm: the %s is %d bytes, at most %d allowed", name, len(a), MaxAuthSize)
		}
		if err := checkFIPSAuth(name, a); err != nil {
			return err
		}
	}
	return nil
}

// minFIPSAuth is the shortest auth value that keys the HMAC of an
// authorization session in FIPS 140-only mode: crypto/hmac refuses (by
// panicking) keys shorter than 112 bits there (NIST SP 800-131A), and the
// HMAC key of an unsalted, unbound session is the auth value with its
// trailing zero bytes removed (TPM 2.0 Part 1, 19.6.8).
const minFIPSAuth = 112 / 8

// checkFIPSAuth refuses, in FIPS 140-only mode (GODEBUG=fips140=only), a
// non-empty auth value that would key a session HMAC with fewer than 112
// bits; an empty one is sent in a password session (session).
func checkFIPSAuth(name string, a []byte) error {
	if !fips140.Enforced() || len(a) == 0 {
		return nil
	}
	if n := len(bytes.TrimRight(a, "\x00")); n < minFIPSAuth {
		return fmt.Errorf("tpm: %w: the %s keys the session HMAC with %d bytes, and FIPS 140-only mode (GODEBUG=fips140=only) needs at least %d (112 bits): use a longer auth value (scripts/swtpm/start.sh writes 32 bytes)",
			ErrShortAuth, name, n, minFIPSAuth)
	}
	return nil
}

// AuthFromFile reads an auth value from the file at path. The file must be
// a regular file not accessible by group or others (mode 0600 or 0400).
// Every byte of the file is part of the value, a trailing newline too,
// exactly as tpm2-tools reads "-P file:PATH", so that the same file serves
// both; the value must be 1 to MaxAuthSize bytes. (scripts/swtpm/start.sh
// writes 32 random hexadecimal digits and no newline.)
func AuthFromFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tpm: auth file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("tpm: auth file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("tpm: %w: auth file %s is not a regular file", ErrNoAuth, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("tpm: %w: auth file %s has mode %04o, want 0600 or 0400 (chmod 600 %s)", ErrInsecureAuthFile, path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxAuthSize+1))
	if err != nil {
		return nil, fmt.Errorf("tpm: auth file: %w", err)
	}
	switch {
	case len(b) == 0:
		return nil, fmt.Errorf("tpm: %w: auth file %s is empty", ErrNoAuth, path)
	case len(b) > MaxAuthSize:
		return nil, fmt.Errorf("tpm: auth file %s holds more than %d bytes", path, MaxAuthSize)
	}
	return b, nil
}

// AuthFromEnv returns the value of the environment variable name as an auth
// value; it must be set, not empty and at most MaxAuthSize bytes. The
// caller may unset it afterwards.
func AuthFromEnv(name string) ([]byte, error) {
	v, ok := os.LookupEnv(name)
	if !ok || v == "" {
		return nil, fmt.Errorf("tpm: %w: environment variable %s is not set or empty", ErrNoAuth, name)
	}
	if len(v) > MaxAuthSize {
		return nil, fmt.Errorf("tpm: environment variable %s holds more than %d bytes", name, MaxAuthSize)
	}
	return []byte(v), nil
}

var (
	// ErrIndexMissing is wrapped when no NV index is defined at the
	// configured handle (TPM_RC_HANDLE): never provisioned, undefined, or
	// lost to TPM2_Clear. For a sealer that anchored on it before, this is
	// an anchor reset, never a continuation.
	ErrIndexMissing = errors.New("counter index is missing")
	// ErrIndexMismatch is wrapped when the index exists but its public
	// area is not the one Provision defines (not a counter, ORDERLY, not 8
	// bytes, other attributes, a policy or another name algorithm).
	ErrIndexMismatch = errors.New("counter index has an unexpected public area")
	// ErrAlreadyProvisioned is wrapped by Provision when the index was
	// already defined and initialised with the expected public area; the
	// counter's value is returned with it.
	ErrAlreadyProvisioned = errors.New("counter index is already provisioned")
	// ErrUninitialized is wrapped when the index is defined but was never
	// incremented (TPM_RC_NV_UNINITIALIZED), so it has no value yet.
	// Provision (or one Increment) initialises it.
	ErrUninitialized = errors.New("counter index was never incremented")
	// ErrAuthFailed is wrapped when the TPM rejects an auth value (the
	// index auth, or the owner or endorsement auth).
	ErrAuthFailed = errors.New("authorization failed")
	// ErrNoAuth is wrapped when an auth value is missing or empty.
	ErrNoAuth = errors.New("no auth value")
	// ErrInsecureAuthFile is wrapped by AuthFromFile when the file is
	// accessible by group or others.
	ErrInsecureAuthFile = errors.New("auth file is accessible by others")
	// ErrShortAuth means an auth value is too short to key a session HMAC
	// in FIPS 140-only mode (GODEBUG=fips140=only).
	ErrShortAuth = errors.New("auth value too short for FIPS 140-only mode")
	// ErrClosed is wrapped when a Counter is used after Close.
	ErrClosed = errors.New("counter is closed")
	// ErrWrongAK is wrapped by CertifyChallenge when the challenge was made
	// for an attestation key other than this TPM's.
	ErrWrongAK = errors.New("the challenge is for another attestation key")
	// ErrEKMismatch is wrapped by CertifyChallenge when the TPM's
	// endorsement key is not the one the challenge's EK certificate
	// certifies (another TPM's certificate).
	ErrEKMismatch = errors.New("the EK certificate is not this TPM's")
	// ErrActivation is wrapped when the TPM refuses to recover a
	// credential (TPM2_ActivateCredential): it was not made for this TPM's
	// endorsement key and attestation key, or it was altered.
	ErrActivation = errors.New("credential activation failed")
	// ErrNoEKCertificate is wrapped by ReadEKCertificate when the TPM
	// holds no endorsement key certificate at the TCG indexes.
	ErrNoEKCertificate = errors.New("no endorsement key certificate")
)
