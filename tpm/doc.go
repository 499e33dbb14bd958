// Package tpm anchors audit-sealer's log in a TPM 2.0 NV monotonic counter,
// and makes evidence of the counter's value for auditors. It is pure Go
// (github.com/google/go-tpm, package tpm2; no cgo).
//
// # The counter
//
// [Provision] defines one NV index (default handle [DefaultIndex]) under the
// owner hierarchy, of type TPM_NT_COUNTER, with the attributes AUTHWRITE,
// AUTHREAD, OWNERREAD and NO_DA, 8 bytes, name algorithm SHA-256, and not
// ORDERLY: an orderly counter jumps forward after an unclean stop, and can
// roll back after TPM2_Clear. It then increments it once, since a counter
// that was never incremented cannot be read. A TPM counter never goes down:
// a counter defined again after one was deleted starts above the highest
// value of every counter the TPM deleted. [Open] opens the index after
// checking its public area; [Counter.Read] and [Counter.Increment] use it.
// Every command authorized by the index auth ([Config.Auth]) runs in an
// unsalted HMAC session, so the auth value never crosses the bus in the
// clear; such a session covers the index's Name, which changes when the
// first increment sets TPMA_NV_WRITTEN, so the Name is read again then.
//
// Increment writes the TPM's NV memory, which wears, and TPMs rate-limit
// NV writes (TPM_RC_NV_RATE): increment per anchored checkpoint, never per
// event. Warnings that mean "not now" (TPM_RC_NV_RATE, TPM_RC_NV_UNAVAILABLE,
// TPM_RC_RETRY, TPM_RC_YIELDED, TPM_RC_TESTING) are retried with bounded
// exponential backoff (10 ms doubling to 2 s, about 30 s in all) within the
// caller's context.
//
// # Transports
//
// [OpenTransport] chooses the TPM from a string: "device:/dev/tpmrm0" in
// production, "unix:PATH" or "tcp:HOST:PORT" for swtpm. Package swtpmtest
// runs a real swtpm for tests, and scripts/swtpm starts one for
// development and demos.
//
// # Evidence
//
// [Certify] has the TPM certify the counter's value (TPM2_NV_Certify) with
// an attestation key of the endorsement hierarchy and an auditor's nonce,
// and returns an evidence file, whose format, and the offline check, are in
// package evidence (which does not import this package, nor go-tpm).
// [ReadIdentity] returns that attestation key's Name and public area and
// the counter's Name, which the sealer records in the log at every start,
// and [ReadEKCertificate] the endorsement key certificate the TPM's
// manufacturer stored in it. [CertifyChallenge] answers an auditor's
// credential challenge: TPM2_ActivateCredential with the endorsement key
// and the attestation key recovers the auditor's credential, which becomes
// the nonce of the evidence, proving that the attestation key lives in the
// TPM whose endorsement key the certificate certifies.
//
// # Errors
//
// Errors start with "tpm:" and wrap the TPM's response code (compare with
// errors.Is and the tpm2.TPMRC constants) and, where one applies, one of
// [ErrIndexMissing], [ErrIndexMismatch], [ErrAlreadyProvisioned],
// [ErrUninitialized], [ErrAuthFailed], [ErrNoAuth], [ErrInsecureAuthFile],
// [ErrClosed], [ErrWrongAK], [ErrEKMismatch], [ErrActivation] or
// [ErrNoEKCertificate].
package tpm
