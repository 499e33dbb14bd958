// Package hsm signs audit-sealer checkpoints with a key that never leaves a
// PKCS#11 token (an HSM, or SoftHSM2 in tests and demos). Its [Signer]
// implements signer.Signer with Kind signer.PKCS11.
//
// It talks to the token through github.com/miekg/pkcs11 directly (not
// crypto11, which has no Ed25519) and therefore needs cgo. A build without cgo
// compiles the same API, and every constructor returns an error wrapping
// [ErrNoCgo]; the offline verifier never imports this package.
//
// # Algorithms
//
//   - Ed25519: the token signs the message itself with CKM_EDDSA and no
//     parameters (pure Ed25519, RFC 8032); the signature is 64 bytes.
//   - ECDSA P-256: the message is hashed with SHA-256 in Go and the token signs
//     the 32-byte digest with CKM_ECDSA (SoftHSM2 has no CKM_ECDSA_SHA256). The
//     raw r||s it returns is converted to ASN.1 DER, which is what
//     signer.PublicKey.Verify and the C2SP signed-note type 0x02 expect.
//
// Every signature is verified in Go with the public key before Sign returns
// it, so a faulty token cannot hand out a bad (or key-leaking) signature.
//
// These are the only schemes the package signs with, in every mode, and
// both are approved by FIPS 186-5; a key of any other type or curve is
// refused (ErrUnsupportedKey). The SHA-256 of ECDSA and the verification of
// every signature run in Go, in the Go Cryptographic Module (docs/fips.md).
//
// # FIPS 140
//
// At each connection the Signer reads what the token itself reports about
// FIPS 140 ([Signer.FIPS]): the CKF_ERROR_STATE flag of CK_TOKEN_INFO (a
// failed self-test), the PKCS#11 3.2 validation objects (CKO_VALIDATION) of
// authority NIST CMVP, and the signing key's CKA_OBJECT_VALIDATION_FLAGS,
// which say whether the key meets such a validation. PKCS#11 before 3.2 has
// no standard FIPS indicator in CK_TOKEN_INFO; vendor-specific indicators
// (a vendor tool, a vendor function) are not read, and nothing is inferred
// from a token's manufacturer or model. A token that reports nothing is
// [FIPSUnreported]; SoftHSM2, which is not validated, is always that.
// [Config.RequireFIPS] refuses anything but [FIPSValidated] with
// [ErrNotFIPS].
//
// # Configuration
//
// A [Config] names the module, the token (by label or serial number, never by
// slot number: SoftHSM2 gives tokens random slot ids), the key (by label, by
// CKA_ID or both) and carries the user PIN. The caller reads the PIN from a
// file ([PINFromFile]) or the environment ([PINFromEnv]); it is never logged:
// Config implements slog.LogValuer and fmt.Stringer without it.
//
// Open refuses a private key that is not sensitive or that is extractable,
// and probes the token's mechanisms up front, so that a missing CKM_EDDSA is
// reported at start ("hsm: token "x" lacks CKM_EDDSA") rather than at the first
// checkpoint.
//
// # Sessions and concurrency
//
// A Signer is safe for concurrent use. PKCS#11 sessions are not (two
// goroutines on one SoftHSM session crash the process), so each Sign borrows
// one session from a pool of at most Config.MaxSessions and gives it back.
//
// The PKCS#11 module is loaded and initialised once per process and shared by
// every Signer, GenerateKey and ListKeys call that names the same module path
// (a second C_Initialize would fail with CKR_CRYPTOKI_ALREADY_INITIALIZED).
// It is never finalised, except by Reopen.
//
// # Login
//
// PKCS#11 login state belongs to the application, not to a session: a Signer
// logs in once, when it connects, and treats CKR_USER_ALREADY_LOGGED_IN as
// success. A failed login is never retried automatically: after
// CKR_PIN_INCORRECT (or any other refusal of the PIN) the Signer returns an
// error wrapping [ErrPINIncorrect] or [ErrLoginFailed] from every Sign, without
// touching the token, until [Signer.Reopen] is called. Real HSMs lock the PIN
// after a few failures; SoftHSM2 does not, which is why this matters.
//
// # Losing the token
//
// When the token or a session goes away (CKR_SESSION_HANDLE_INVALID,
// CKR_SESSION_CLOSED, CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT,
// CKR_DEVICE_ERROR, CKR_USER_NOT_LOGGED_IN, a key or object handle that became
// invalid), Sign drops the session and returns an error wrapping
// signer.ErrUnavailable. The next Sign reconnects: it finds the token again by
// label or serial, opens a session, logs in if the token forgot the login
// (once), finds the key again and checks that it is still the same public key.
//
// Some modules, SoftHSM2 among them, do not notice a token that comes back
// until the module is initialised again. [Signer.Reopen] does that: it closes
// the Signer's sessions, finalises and re-initialises the module (which also
// re-reads SOFTHSM2_CONF), and reconnects. Reopen invalidates the sessions of
// other Signers on the same module in the process; they reconnect on their
// next Sign. Callers that reopen automatically must stop doing so once
// Reopen returns an error wrapping ErrPINIncorrect or ErrLoginFailed.
package hsm
