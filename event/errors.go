package event

import (
	"errors"
	"strconv"
)

// MaxEncodedSize is the largest accepted event, in bytes, both on input to
// Decode and for the canonical encoding.
const MaxEncodedSize = 64 << 10

// ErrInvalid is the sentinel every validation error wraps: errors.Is(err,
// ErrInvalid) holds for any event that is refused.
var ErrInvalid = errors.New("event: invalid event")

// Rule codes carried by ValidationError.Rule. They are short, stable and safe
// to use as metric labels.
const (
	RuleInvalidJSON          = "invalid_json"
	RuleInvalidUTF8          = "invalid_utf8"
	RuleTooLarge             = "too_large"
	RuleTooDeep              = "too_deep"
	RuleTooMany              = "too_many"
	RuleTrailingData         = "trailing_data"
	RuleDuplicateKey         = "duplicate_key"
	RuleUnknownType          = "unknown_type"
	RuleSealerTypeNotAllowed = "sealer_type_not_allowed"
	RuleUnknownField         = "unknown_field"
	RuleRequired             = "required"
	RuleEmpty                = "empty"
	RuleWrongType            = "wrong_type"
	RuleOutOfRange           = "out_of_range"
	RuleTooLong              = "too_long"
	RuleControlCharacter     = "control_character"
	RuleBidiControl          = "bidi_control"
	RuleCRNotAllowed         = "cr_not_allowed"
	RuleLFNotAllowed         = "lf_not_allowed"
	RulePathSeparator        = "path_separator"
	RuleNotHex64             = "not_hex64"
	RuleNotHex               = "not_hex"
	RuleNotBase64            = "not_base64"
	RuleNotFingerprint       = "not_fingerprint"
	RuleLooksLikeCredential  = "looks_like_credential"
	RuleInvalidIP            = "invalid_ip"
	RuleInvalidTimestamp     = "invalid_timestamp"
	RuleTimestampInFuture    = "timestamp_in_future"
	RuleTimestampTooOld      = "timestamp_too_old"
	RuleInvalidEnum          = "invalid_enum"
	RuleNotCanonical         = "not_canonical"
	RuleNilEvent             = "nil_event"
)

// ValidationError reports why an event was refused. It names the field and
// the rule but never contains any part of the refused value.
type ValidationError struct {
	// Field is a JSON path such as "actor.user_id" or "scope[2]"; empty when
	// the error concerns the whole event. Keys inside free-form objects
	// (changes, filters, settings) are never included: the path stops at the
	// object's own field name.
	Field string
	// Rule is one of the Rule* codes.
	Rule string
	// Detail is a fixed explanation for humans (for example "at most 256
	// bytes"); it never contains input data.
	Detail string
}

// Error returns a message such as
// `event: field "actor.user_id": too_long (at most 256 bytes)`.
func (e *ValidationError) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "event: "...)
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ": "...)
	}
	b = append(b, e.Rule...)
	if e.Detail != "" {
		b = append(b, " ("...)
		b = append(b, e.Detail...)
		b = append(b, ')')
	}
	return string(b)
}

// Unwrap returns ErrInvalid, so that errors.Is(err, ErrInvalid) holds.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

func invalid(field, rule, detail string) *ValidationError {
	return &ValidationError{Field: field, Rule: rule, Detail: detail}
}

// joinPath builds "parent.name" (or "name" at the top level).
func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// indexPath builds "name[i]".
func indexPath(name string, i int) string {
	return name + "[" + strconv.Itoa(i) + "]"
}

// safeKeyForPath reports whether an unknown key may be named in an error
// path: short, lower-case snake_case and not credential-shaped. Anything else
// is left out so that errors never echo attacker-controlled text.
func safeKeyForPath(key []byte) bool {
	if len(key) == 0 || len(key) > 64 {
		return false
	}
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return !looksLikeCredential(key)
}
