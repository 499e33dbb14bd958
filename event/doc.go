// Package event defines the audit events that services send to
// audit-sealer, decodes them strictly, validates every rule of EVENTS.md,
// and produces the one canonical JSON encoding that is stored in the log
// and hashed. The offline verifier re-checks stored bytes with
// CheckCanonical.
//
// # Wire form
//
// An event is one JSON object: {"type":"auth.success","timestamp":"…",…}.
// "type" is the dotted name from EVENTS.md and the only discriminator;
// "timestamp" is the emitter's time. Field names are exactly those of
// EVENTS.md (snake_case). The shared shapes are
//
//	actor     {"user_id":…, "ip":…?, "auth_method":…, "session_id":…?}
//	resource  {"resource_type":…, "resource_id":…, "parent_id":…?}
//	result    {"status":"success"} | {"status":"failure","reason":…} |
//	          {"status":"partial_success","details":…}
//
// An absent optional field is omitted or null; both mean none. There is one
// Go struct per type (AuthSuccess, …, GDPRRightToErasure, and the sealer's
// own SealerStarted, …, LogRead); Decode returns a pointer to it. The
// sealer's audit.* types are accepted only with
// DecodeOptions.AllowSealerEvents: clients may never send them.
//
// # Rules
//
// Validation rejects, it never rewrites. Every refusal is a
// *ValidationError that wraps ErrInvalid, names the field (a JSON path such
// as "actor.user_id" or "scope[2]") and a stable rule code, and never
// contains any part of the refused value. Error messages are lower case
// and start with "event:".
//
//   - Strict JSON: no unknown fields (rule unknown_field), no missing,
//     null or empty required field (required, empty; an optional field is
//     absent, never ""), no wrong JSON type (wrong_type), no invalid UTF-8
//     anywhere, including through unpaired \u surrogate escapes
//     (invalid_utf8), no duplicate key at any depth, also when spelled with
//     escapes (duplicate_key), nothing but whitespace after the object
//     (trailing_data), at most 64 KiB in and out (too_large), nesting at
//     most 16 (too_deep), malformed JSON (invalid_json).
//   - Integers are plain digits: a sign, a fraction, an exponent or a
//     value above the type's range (u32 or u64 per EVENTS.md; risk_score
//     0..100) is out_of_range.
//   - Every string: no control character other than tab (C0, DEL and C1:
//     control_character; CR: cr_not_allowed; LF: lf_not_allowed except in
//     the free-text "details" fields), no bidirectional control (U+202A–
//     U+202E, U+2066–U+2069, U+200E, U+200F, U+061C) and no U+FEFF
//     (bidi_control), at most 1024 bytes (too_long).
//   - Identifiers (*_id, subject, requester; entries of pools_affected): at
//     most 256 bytes, no "..", "/" or "\" (path_separator). attempted_path
//     is free text. File names (torn_tail_kept_as, segments) may hold dots
//     but no "/" or "\" and may not be "." or "..".
//   - Hashes and digests: exactly 64 lower-case hex digits (not_hex64).
//     token_fingerprint: "token:" + 6..64 lower-case hex (not_fingerprint);
//     actor.user_id, attempted_user and subject that start with "token:"
//     must be fingerprints too. A string that contains a credential-shaped
//     word ("Bearer <token>", a JWT "eyJ….", "sk-…", "ghp_…", "github_pat_…",
//     "glpat-…", "xox?-…", an AWS key id, a "-----BEGIN" block) is refused
//     (looks_like_credential). audit.key_introduced key_id is 8..128
//     lower-case hex (not_hex); public_key is canonical standard base64
//     (not_base64).
//   - IP addresses parse with net/netip and carry no zone (invalid_ip).
//   - Timestamps are RFC 3339 in UTC ("Z" or "+00:00"), at most nine
//     fraction digits, no leap second (invalid_timestamp); not before
//     2000-01-01 (timestamp_too_old) and not more than 24 hours after the
//     reference clock (timestamp_in_future); expires_at may be up to 100
//     years ahead.
//   - Enumerations (auth_method, severity, access_type, export_format,
//     result status and the sealer's enums) match exactly, in lower case
//     (invalid_enum).
//   - pool.modified changes and audit.log_read filters: a JSON object of
//     depth at most 4 (too_deep) and at most 4 KiB once canonical
//     (too_large); its keys and strings follow the string rules (they may
//     be empty). audit.sealer_started settings: at most 64 string entries
//     (too_many).
//   - Type: unknown_type, sealer_type_not_allowed. CheckCanonical adds
//     not_canonical; Encode and Validate add nil_event.
//
// # Canonical form
//
// Encode writes compact JSON: "type" first, then "timestamp", then the
// fields in EVENTS.md order (nested shapes in the order shown above);
// absent optional fields are omitted, never null. Timestamps are written
// as time.RFC3339Nano in UTC (fraction without trailing zeros, "Z").
// Strings are escaped minimally: only \" \\ \t and \n (valid strings hold
// no other control characters); "<", ">", "&", "/" and all non-ASCII
// characters are written as they are (no HTML escaping, no \u escapes).
// Numbers are plain decimal integers. IP addresses are written as
// netip.Addr.String does. Free-form objects (changes, filters, settings)
// are compact with object keys sorted by their UTF-8 bytes; numbers inside
// them are kept exactly as written (no float rounding). Arrays keep their
// order; a nil Go slice or map is written as [] or {}.
//
// For every accepted input x, Encode(Decode(x)) is accepted by
// CheckCanonical, and decoding and re-encoding it gives the same bytes.
// CheckCanonical accepts exactly the bytes that Encode would write: it is a
// single pass over the input that follows the type's field list and
// allocates nothing; only for refused input does it decode the event to
// explain why.
//
// # Events built in Go
//
// Fill the struct and call Encode, AppendEncode or Validate. An optional
// string is absent when "", an optional IP when it is the zero netip.Addr,
// an optional time when it is the zero time, optional numbers and results
// when their pointer is nil (see Optional). Build results with Success,
// Failure and PartialSuccess. Times may be in any location; they are
// encoded in UTC.
package event
