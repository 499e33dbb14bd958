package hsm

import (
	"errors"
	"fmt"
)

// Errors that callers may branch on with errors.Is. The errors the package
// returns carry their own messages (with the PKCS#11 return code name, for
// example "pkcs11: 0xA0: CKR_PIN_INCORRECT") and wrap one or more of these.
var (
	// ErrNoCgo is wrapped by every constructor of a build without cgo.
	ErrNoCgo = errors.New("hsm: PKCS#11 needs a build with cgo")
	// ErrPINIncorrect means the token refused the PIN (CKR_PIN_INCORRECT).
	// The login is not retried until Reopen.
	ErrPINIncorrect = errors.New("hsm: PIN incorrect")
	// ErrLoginFailed means the token refused to log in for another reason
	// than a device failure (the PIN is locked, expired or malformed). The
	// login is not retried until Reopen.
	ErrLoginFailed = errors.New("hsm: login failed")
	// ErrNoPIN means no PIN was given, or the PIN source was empty.
	ErrNoPIN = errors.New("hsm: no PIN")
	// ErrInsecurePINFile means a PIN file is readable or writable by group
	// or others.
	ErrInsecurePINFile = errors.New("hsm: PIN file is accessible by group or others")
	// ErrModule means the PKCS#11 module could not be loaded or initialised.
	ErrModule = errors.New("hsm: cannot load PKCS#11 module")
	// ErrTokenNotFound means no initialised token has the configured label
	// or serial number.
	ErrTokenNotFound = errors.New("hsm: token not found")
	// ErrKeyNotFound means the token holds no private key with the
	// configured label and id.
	ErrKeyNotFound = errors.New("hsm: key not found")
	// ErrAmbiguousKey means several private keys match the configured label;
	// set Config.KeyID as well.
	ErrAmbiguousKey = errors.New("hsm: several keys match")
	// ErrKeyExists means GenerateKey found an object with the label already.
	ErrKeyExists = errors.New("hsm: key label already in use")
	// ErrMechanism means the token lacks a mechanism the key's algorithm needs.
	ErrMechanism = errors.New("hsm: token lacks a mechanism")
	// ErrUnsupportedKey means the key is not an Ed25519 or ECDSA P-256 key
	// with a public key object of the same CKA_ID, or may not sign.
	ErrUnsupportedKey = errors.New("hsm: unsupported key")
	// ErrWeakKey means the private key is extractable or not sensitive, so it
	// is not a hardware-held key and the signer refuses it.
	ErrWeakKey = errors.New("hsm: private key may leave the token")
	// ErrKeyChanged means that after a reconnect the key under the configured
	// label is not the key the Signer was opened with.
	ErrKeyChanged = errors.New("hsm: key on the token changed")
	// ErrBadSignature means the token returned a signature that does not
	// verify with the key's public half; it was not handed out.
	ErrBadSignature = errors.New("hsm: token returned an invalid signature")
	// ErrClosed is returned by a Signer after Close.
	ErrClosed = errors.New("hsm: signer closed")
	// ErrNotFIPS means Config.RequireFIPS is set and the token does not
	// report a FIPS 140 validation that the signing key meets (FIPSStatus);
	// SoftHSM2 never does.
	ErrNotFIPS = errors.New("hsm: token not FIPS 140 validated")
	// ErrConfig is wrapped by configuration errors.
	ErrConfig = errors.New("hsm: invalid configuration")
)

// kindError is an error with its own message that also matches a set of
// sentinels, so that the message does not repeat the sentinels' texts.
type kindError struct {
	err   error   // the message, and the cause it wraps (if any)
	kinds []error // sentinels matched by errors.Is
}

func (e *kindError) Error() string { return e.err.Error() }

func (e *kindError) Unwrap() []error { return append([]error{e.err}, e.kinds...) }

// errorf formats an error like fmt.Errorf (use %w for the cause) that also
// wraps each of kinds.
func errorf(kinds []error, format string, args ...any) error {
	return &kindError{err: fmt.Errorf(format, args...), kinds: kinds}
}

// kinds is shorthand for the sentinel list of errorf.
func kinds(errs ...error) []error { return errs }
