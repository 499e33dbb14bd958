// Package evidence reads and checks TPM counter evidence: a TPM2_NV_Certify
// quote of audit-sealer's NV monotonic counter, signed by an attestation key
// (AK) of the TPM, together with everything needed to check it offline.
//
// The package is pure Go and uses the standard library only (with the
// module's internal/strictjson, itself standard library only). It parses the
// few TPM 2.0 structures it needs by hand, so that the offline verifier
// (audit-verify) links no TPM library. Package tpm writes the files; this
// package only reads them.
//
// # Evidence file format
//
// An evidence file is one JSON object (UTF-8, optionally followed by
// white space) with exactly these seven members, each required, no others:
// member names are matched exactly, case-sensitively, and a file with an
// unknown member (a case variant such as "NONCE" is one) or a repeated
// member is refused:
//
//	{
//	  "format":     "audit-sealer tpm evidence v1",
//	  "nonce":      base64,
//	  "ak_public":  base64,
//	  "nv_public":  base64,
//	  "attest":     base64,
//	  "signature":  base64,
//	  "created_at": RFC 3339 time
//	}
//
// Every base64 value uses the standard alphabet with padding (RFC 4648 §4).
// Integers inside the TPM structures are big-endian, as TPM 2.0 Part 1
// requires. A "TPM2B" is a 2-byte size followed by that many bytes.
//
//   - format is the exact string "audit-sealer tpm evidence v1". An
//     incompatible change will use a different string.
//   - nonce is the qualifying data the quote was made with, 0 to 64 bytes
//     (an auditor's fresh nonce proves the quote is recent). It must equal
//     extraData in attest; it is a copy for convenience, and a verifier
//     compares attest with the nonce it chose itself, not with this member.
//   - ak_public is the AK's public area, a marshalled TPMT_PUBLIC (TPM 2.0
//     Part 2 §12.2.4) without a TPM2B size prefix, exactly as the TPM
//     returned it from TPM2_CreatePrimary: type TPM_ALG_ECC (0x0023);
//     nameAlg (2 bytes); objectAttributes (4 bytes), which must include
//     fixedTPM (bit 1), restricted (bit 16) and sign (bit 18), and not
//     decrypt (bit 17); authPolicy (TPM2B); parameters TPMS_ECC_PARMS:
//     symmetric TPM_ALG_NULL (0x0010), scheme TPM_ALG_ECDSA (0x0018)
//     followed by its hash TPM_ALG_SHA256 (0x000B) or scheme TPM_ALG_NULL,
//     curveID TPM_ECC_NIST_P256 (0x0003), kdf TPM_ALG_NULL; unique
//     TPMS_ECC_POINT: x (TPM2B, at most 32 bytes), y (TPM2B, at most 32
//     bytes). The AK's Name is nameAlg || H_nameAlg(ak_public).
//     audit-sealer creates the AK as a primary key of the endorsement
//     hierarchy (fixedTPM, fixedParent, sensitiveDataOrigin, userWithAuth,
//     noDA, restricted, sign; ECDSA with SHA-256 on P-256), so the same TPM
//     gives the same AK, and the same Name, every time.
//   - nv_public is the counter index's public area, a marshalled
//     TPMS_NV_PUBLIC (Part 2 §13.5) without a size prefix, as
//     TPM2_NV_ReadPublic returned it: nvIndex (4 bytes, 0x01000000 to
//     0x01FFFFFF); nameAlg (2 bytes); attributes TPMA_NV (4 bytes); authPolicy
//     (TPM2B); dataSize (2 bytes). The index is the one package tpm
//     provisions: TPM_NT_COUNTER (bits 7:4 = 1), AUTHWRITE, OWNERREAD,
//     AUTHREAD, NO_DA, and TPMA_NV_WRITTEN (bit 29) since it has been
//     incremented: attributes 0x22060014, nameAlg SHA-256, empty authPolicy,
//     dataSize 8. A verifier requires TPM_NT_COUNTER, WRITTEN, not ORDERLY
//     (bit 26) and dataSize 8. The index Name is nameAlg ||
//     H_nameAlg(nv_public).
//   - attest is the TPMS_ATTEST structure (Part 2 §10.12.12) that the TPM
//     signed, byte for byte as TPM2_NV_Certify returned it in certifyInfo
//     (without the TPM2B size): magic 0xFF544347 (TPM_GENERATED_VALUE);
//     type 0x8014 (TPM_ST_ATTEST_NV); qualifiedSigner (TPM2B_NAME: the
//     AK's Qualified Name, which for a primary key of the endorsement
//     hierarchy is nameAlg || H_nameAlg(0x4000000B || AK Name), 0x4000000B
//     being TPM_RH_ENDORSEMENT as 4 bytes); extraData (TPM2B_DATA, the nonce); clockInfo: clock (8 bytes,
//     milliseconds), resetCount (4), restartCount (4), safe (1 byte, 0 or 1);
//     firmwareVersion (8); then TPMS_NV_CERTIFY_INFO: indexName (TPM2B_NAME),
//     offset (2 bytes, must be 0), nvContents (TPM2B, must be 8 bytes: the
//     counter, big-endian). Nothing may follow.
//   - signature is the TPMT_SIGNATURE (Part 2 §11.3.4) over attest:
//     sigAlg TPM_ALG_ECDSA (0x0018); hash TPM_ALG_SHA256 (0x000B);
//     signatureR (TPM2B, at most 32 bytes); signatureS (TPM2B, at most 32
//     bytes). It is an ECDSA P-256 signature of SHA-256(attest).
//   - created_at is the host's wall-clock time when the file was written
//     (RFC 3339, written in UTC with whole seconds; a reader accepts any
//     RFC 3339 time, fractional seconds too). It is not signed and is informational only; the
//     signed clockInfo counts TPM time since the TPM was last cleared, not
//     wall-clock time.
//
// # Verification
//
// [Evidence.Verify] checks, in this order, and stops at the first failure:
// that ak_public is a restricted, signing-only, fixedTPM ECC P-256 key as
// above; that signature is a valid ECDSA P-256/SHA-256 signature of
// SHA-256(attest) by that key ([ErrBadSignature] otherwise); that attest has
// the magic and type above (a restricted key signs only digests that the TPM
// itself produced, so the magic shows the TPM made attest); that
// qualifiedSigner is the Qualified Name of ak_public as a primary key of the
// endorsement hierarchy (this ties every byte of ak_public to the signed
// data, and shows that the TPM did not obfuscate clockInfo and
// firmwareVersion, as it does for keys of other hierarchies); that
// nv_public describes a non-orderly 8-byte counter that has been written;
// that indexName in attest equals the Name computed from nv_public; that
// offset is 0 and nvContents is 8 bytes; that extraData equals the nonce
// member; and, when the verifier passes a nonce, that extraData equals it
// ([ErrNonceMismatch] otherwise). Any other failure wraps [ErrBadEvidence].
//
// What a valid file proves: the key whose public area is ak_public signed
// that the NV index with this public area held this counter value when the
// quote was made (after the nonce was chosen, when the nonce is the
// verifier's). What it does not prove by itself: that ak_public is a TPM's
// key at all. A restricted, fixedTPM key signs only what its TPM produced,
// but the attributes are only claimed: a software ECDSA key with a public
// area that claims them makes a file that verifies. Two things tie the AK
// to a TPM. The log: the sealer records the AK's Name and public area
// (audit.tpm_identity) at every start, authenticated by its keys, and a
// verifier accepts evidence only by the AK the log last recorded, or one
// the auditor pinned ([Result.AKName]). And the endorsement key: a
// credential challenge (below) proves that the AK is in the TPM whose
// endorsement key a CA the auditor pins certified.
//
// # Credential challenge
//
// A TPM's endorsement key (EK) is a decryption key created from the TPM's
// endorsement seed, and its manufacturer certifies it (an EK certificate in
// an NV index of the TPM, [EKCertIndexRSA] or [EKCertIndexECC]). The
// auditor, with [NewChallenge], encrypts a credential to the EK with
// [MakeCredential] for the AK's Name, and keeps a 32-byte secret; the
// operator's TPM recovers the credential with TPM2_ActivateCredential and
// certifies the counter with it as the nonce (package tpm,
// CertifyChallenge); the auditor computes the credential from the
// challenge file and the secret ([Challenge.Nonce]) and passes it to
// [Evidence.Verify]. A challenge file is one JSON object, parsed as
// strictly as an evidence file ([ParseChallenge]), with exactly these six
// members:
//
//	{
//	  "format":           "audit-sealer tpm credential challenge v1",
//	  "ak_name":          hex,
//	  "ek_certificate":   base64,
//	  "credential_blob":  base64,
//	  "encrypted_secret": base64,
//	  "created_at":       RFC 3339 time
//	}
//
// Base64 is canonical standard encoding with padding, as in an evidence
// file.
//
//   - ak_name is the Name of the AK the credential is for, lowercase hex:
//     nameAlg (2 bytes: SHA-256, SHA-384 or SHA-512) and a digest of that
//     algorithm's size.
//   - ek_certificate is the EK's X.509 certificate, DER, nothing after it.
//     It certifies an RSA 2048 or ECC NIST P-256 key: the EK of the TCG
//     default template L-1 or L-2 (TCG EK Credential Profile), which name
//     with SHA-256 and protect with AES-128-CFB.
//   - credential_blob and encrypted_secret are TPM2_MakeCredential's
//     outputs, the contents (without size) of a TPM2B_ID_OBJECT and a
//     TPM2B_ENCRYPTED_SECRET, for the EK, the AK Name and the credential
//     HMAC-SHA256(secret, "audit-sealer tpm credential v1" || 0x00 ||
//     uint16(len(ak_name)) || ak_name || ek_certificate).
//   - created_at is when the auditor made the challenge (informational).
//
// A verifier with the secret checks: that the evidence verifies with the
// credential as the nonce (so a file altered on its way, naming another AK
// or EK certificate, gives another credential than the one the TPM
// recovered); that the evidence's AK Name is ak_name; and that the EK
// certificate chains to a CA it pins ([VerifyEKCertificate]).
//
// What it proves: TPM2_ActivateCredential releases the credential only
// inside the TPM that holds the EK's private key, and only while an object
// whose Name is ak_name is loaded there with its private part (a TPM does
// not authorize a public-only object for it). The Name covers the public
// area, and a TPM never holds a fixedTPM key it did not create itself from
// its own seed or randomness (it refuses to import or load one). So the
// AK that signed the evidence lives in the TPM whose EK the pinned CA
// certified, and the quote was made after the challenge. With a TPM
// vendor's root CA pinned, that is a genuine TPM of that vendor; with
// swtpm's local CA, only the swtpm instance that CA set up.
package evidence
