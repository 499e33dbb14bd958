package event

import "strconv"

// textClass selects the content rule of a string field.
type textClass uint8

const (
	classText        textClass = iota // free text, at most 1024 bytes
	classIdent                        // identifier: at most 256 bytes, no "..", "/" or "\"
	classUserRef                      // identifier; a "token:" value must be a fingerprint
	classAttempted                    // free text; a "token:" value must be a fingerprint
	classHex64                        // exactly 64 lower-case hex digits
	classFingerprint                  // "token:" + 6..64 lower-case hex digits
	classEnum                         // one of a fixed set of values
	classFileName                     // a file name: at most 256 bytes, no "/" or "\", not "." or ".."
	classHex                          // 8..128 lower-case hex digits (key ids)
	classBase64                       // standard base64 with padding, canonical
)

// Length limits, in bytes.
const (
	maxTextLen  = 1024
	maxIdentLen = 256
	// maxCertificateLen bounds a base64 certificate: 8 KiB of DER.
	maxCertificateLen = 12 << 10
)

// textRule is the content rule of a string field.
type textRule struct {
	class      textClass
	allowLF    bool // only free-text "details" fields
	allowEmpty bool // only strings inside free-form objects
	maxLen     int  // classBase64: the longest value; 0 = maxTextLen
	enum       []string
	enumDetail string
}

func enumRule(values ...string) textRule {
	d := "one of"
	for i, v := range values {
		if i > 0 {
			d += ","
		}
		d += " " + v
	}
	return textRule{class: classEnum, enum: values, enumDetail: d}
}

// The rules used by the event types.
var (
	ruleText        = textRule{class: classText}
	ruleDetails     = textRule{class: classText, allowLF: true}
	ruleIdent       = textRule{class: classIdent}
	ruleUserRef     = textRule{class: classUserRef}
	ruleAttempted   = textRule{class: classAttempted}
	ruleHex64       = textRule{class: classHex64}
	ruleFingerprint = textRule{class: classFingerprint}
	ruleFileName    = textRule{class: classFileName}
	ruleHex         = textRule{class: classHex}
	ruleBase64      = textRule{class: classBase64}
	// ruleCertificate is a DER certificate in base64: an endorsement key
	// certificate is 1 to 2 KiB, more than maxTextLen.
	ruleCertificate = textRule{class: classBase64, maxLen: maxCertificateLen}
	// ruleFree applies to keys and string values inside changes, filters
	// and settings: free text that may be empty.
	ruleFree = textRule{class: classText, allowEmpty: true}

	ruleAuthMethod   = enumRule(string(AuthBearerToken), string(AuthAPIKey), string(AuthMTLS), string(AuthInternal))
	ruleSeverity     = enumRule(string(SeverityCritical), string(SeverityHigh), string(SeverityMedium), string(SeverityLow))
	ruleResultStatus = enumRule(string(StatusSuccess), string(StatusFailure), string(StatusPartialSuccess))
	ruleAccessType   = enumRule(string(AccessInference), string(AccessDownload), string(AccessInspect))
	ruleExportFormat = enumRule(string(ExportJSON), string(ExportCSV))
	ruleSealerMode   = enumRule(string(ModeProduction), string(ModeDev))
	ruleKeyKind      = enumRule(string(KeySoftware), string(KeyPKCS11))
	ruleAlgorithm    = enumRule(string(AlgEd25519), string(AlgECDSAP256))
	ruleAnchorStatus = enumRule(string(AnchorProvisioned), string(AnchorContinuation), string(AnchorCrashRecovered),
		string(AnchorRollbackOverride), string(AnchorReset), string(AnchorDisabled), string(AnchorIncrementIntent))
	ruleLogOperation    = enumRule(string(OpQuery), string(OpExport), string(OpProve), string(OpReport))
	ruleDiscardDecision = enumRule(string(DiscardCrash), string(DiscardOperator))
	ruleFIPSMode        = enumRule(string(FIPSOff), string(FIPSOn), string(FIPSOnly))
	ruleHSMFIPS         = enumRule(string(HSMValidated), string(HSMNotValidated), string(HSMUnreported))
)

var (
	detailTooLongText  = "at most " + strconv.Itoa(maxTextLen) + " bytes"
	detailTooLongIdent = "at most " + strconv.Itoa(maxIdentLen) + " bytes"
)

// checkText applies rule r to the decoded string s. It returns the rule code
// and detail of the first violation, or "" when s is acceptable. It works on
// both strings and byte slices so that the canonical checker can run it on
// raw input without copying.
func checkText[T ~string | ~[]byte](s T, r *textRule) (rule, detail string) {
	return checkTextMode(s, r, false)
}

// Byte classes for the text scan; 0 means "nothing to check".
const (
	tfCtl   = 1 << iota // C0 control or DEL
	tfSep               // '/' or '\'
	tfDot               // '.'
	tfDash              // '-'
	tfBreak             // a word break: a credential may start after it
	tfHigh              // start of a multi-byte sequence
)

var (
	textFlags [256]uint8
	wordBreak [256]bool
	credStart [256]bool // bytes that may start a credential
)

func init() {
	for c := 0; c < 256; c++ {
		switch {
		case c < 0x20 || c == 0x7f:
			textFlags[c] = tfCtl
		case c >= 0x80:
			textFlags[c] = tfHigh
		}
		wordBreak[c] = isWordBreak(byte(c))
	}
	textFlags['/'], textFlags['\\'] = tfSep, tfSep
	textFlags['.'] = tfDot
	textFlags['-'] = tfDash
	for c := 0x20; c < 0x7f; c++ {
		if wordBreak[c] {
			textFlags[c] = tfBreak
		}
	}
	for _, c := range "BbesgxA" {
		credStart[c] = true
	}
}

// checkTextMode is checkText; with rawJSON set it also refuses every byte
// below 0x20, as found in canonical JSON string content without escapes
// (where tab and line feed must be escaped).
func checkTextMode[T ~string | ~[]byte](s T, r *textRule, rawJSON bool) (rule, detail string) {
	n := len(s)
	if n == 0 {
		if r.allowEmpty {
			return "", ""
		}
		return RuleEmpty, "must not be empty; omit an optional field instead"
	}
	switch r.class {
	case classHex64:
		if n != 64 || !isLowerHex(s) {
			return RuleNotHex64, "exactly 64 lower-case hex digits"
		}
		return "", ""
	case classFingerprint:
		if !isFingerprint(s) {
			return RuleNotFingerprint, "token: followed by 6 to 64 lower-case hex digits"
		}
		return "", ""
	case classHex:
		if n < 8 || n > 128 || !isLowerHex(s) {
			return RuleNotHex, "8 to 128 lower-case hex digits"
		}
		return "", ""
	case classEnum:
		for _, v := range r.enum {
			if equalText(s, v) {
				return "", ""
			}
		}
		return RuleInvalidEnum, r.enumDetail
	case classBase64:
		if r.maxLen > 0 {
			if n > r.maxLen || !isCanonicalBase64(s) {
				return RuleNotBase64, "canonical standard base64 with padding, at most " + strconv.Itoa(r.maxLen) + " bytes"
			}
			return "", ""
		}
		if n > maxTextLen || !isCanonicalBase64(s) {
			return RuleNotBase64, "canonical standard base64 with padding, at most 1024 bytes"
		}
		return "", ""
	}

	ident := r.class == classIdent || r.class == classUserRef
	pathFree := ident || r.class == classFileName
	if pathFree {
		if n > maxIdentLen {
			return RuleTooLong, detailTooLongIdent
		}
	} else if n > maxTextLen {
		return RuleTooLong, detailTooLongText
	}

	if !quickTextOK(s, pathFree) {
		if rule, detail := scanText(s, r, rawJSON, ident, pathFree); rule != "" {
			return rule, detail
		}
	}

	switch r.class {
	case classUserRef, classAttempted:
		if hasPrefixText(s, "token:") && !isFingerprint(s) {
			return RuleNotFingerprint, "a token: value must be token: followed by 6 to 64 lower-case hex digits"
		}
	case classFileName:
		if n <= 2 && (equalText(s, ".") || equalText(s, "..")) {
			return RulePathSeparator, "a file name may not be \".\" or \"..\""
		}
	}
	return "", ""
}

// scanText checks every character of s and returns the first violation.
func scanText[T ~string | ~[]byte](s T, r *textRule, rawJSON, ident, pathFree bool) (rule, detail string) {
	n := len(s)
	if credStart[s[0]] && credentialAt(s) {
		return RuleLooksLikeCredential, "looks like a raw credential; log a fingerprint instead"
	}
	for i := 0; i < n; i++ {
		c := s[i]
		f := textFlags[c]
		if f == 0 {
			continue
		}
		if c == '\t' || c == '\n' {
			// Tab and line feed are also word breaks.
			if i+1 < n && credStart[s[i+1]] && credentialAt(s[i+1:]) {
				return RuleLooksLikeCredential, "looks like a raw credential; log a fingerprint instead"
			}
		}
		switch f {
		case tfHigh:
			rn, size := decodeRune(s[i:])
			if size == 0 {
				return RuleInvalidUTF8, "not valid UTF-8"
			}
			switch {
			case rn <= 0x9f: // C1 controls
				return RuleControlCharacter, "control characters other than tab are not allowed"
			case rn == 0x061c, rn == 0x200e, rn == 0x200f,
				rn >= 0x202a && rn <= 0x202e,
				rn >= 0x2066 && rn <= 0x2069,
				rn == 0xfeff:
				return RuleBidiControl, "bidirectional controls and U+FEFF are not allowed"
			}
			i += size - 1
		case tfCtl:
			if rawJSON {
				return RuleInvalidJSON, "raw control character in a JSON string"
			}
			switch c {
			case '\t':
			case '\n':
				if !r.allowLF {
					return RuleLFNotAllowed, "line feed is allowed only in details fields"
				}
			case '\r':
				return RuleCRNotAllowed, "carriage return is never allowed"
			default:
				return RuleControlCharacter, "control characters other than tab are not allowed"
			}
		case tfSep:
			if pathFree {
				return RulePathSeparator, "identifiers may not contain \"..\", \"/\" or \"\\\""
			}
		case tfDot:
			if ident && i+1 < n && s[i+1] == '.' {
				return RulePathSeparator, "identifiers may not contain \"..\", \"/\" or \"\\\""
			}
		case tfDash:
			if hasPrefixText(s[i:], "-----BEGIN") {
				return RuleLooksLikeCredential, "looks like a raw credential; log a fingerprint instead"
			}
		case tfBreak:
			if i+1 < n && credStart[s[i+1]] && credentialAt(s[i+1:]) {
				return RuleLooksLikeCredential, "looks like a raw credential; log a fingerprint instead"
			}
		}
	}
	return "", ""
}

// quickTable packs, per byte: bits 0-7 the flags that always need the
// exact scan (qCtl, qHigh) or only for identifiers (qSep); bits 8-15 the
// pair classes the byte opens; bits 16-23 the pair classes it closes; bits
// 24-31 the classes that may open after it (after a word break all but
// pBx, after b or B only pBx, dot and dash, elsewhere only dot and dash).
var quickTable [256]uint32

const (
	qCtl  = 1 << 0
	qHigh = 1 << 1
	qSep  = 1 << 2

	// Pair classes: two bytes of every credential shape, and the ".." and
	// "--" pairs. A class may open at more places than the shape can start
	// (pBx after any b, for one): the filter may send more strings to
	// scanText, never fewer.
	pBx   = 1 << 0 // "ea", "es", "aa", "as" in any case after a b or B (Bearer, Basic)
	pE    = 1 << 1 // "ey" (JWT)
	pS    = 1 << 2 // "sk"
	pG    = 1 << 3 // "gh", "gi", "gl"
	pX    = 1 << 4 // "xo"
	pA    = 1 << 5 // "AK", "AS"
	pDot  = 1 << 6 // ".."
	pDash = 1 << 7 // "--" ("-----BEGIN")

	// ctxBreak is the classes that may open after a word break, or at the
	// start of a string.
	ctxBreak = 0xff &^ pBx
)

func init() {
	opens := map[byte]uint32{'e': pE | pBx, 'E': pBx, 'a': pBx, 'A': pA | pBx, 's': pS, 'g': pG, 'x': pX, '.': pDot, '-': pDash}
	closes := map[byte]uint32{'a': pBx, 'A': pBx, 's': pBx, 'S': pBx | pA, 'y': pE, 'k': pS, 'h': pG, 'i': pG, 'l': pG,
		'o': pX, 'K': pA, '.': pDot, '-': pDash}
	for c := 0; c < 256; c++ {
		var v uint32
		switch {
		case c < 0x20 || c == 0x7f:
			v |= qCtl
		case c >= 0x80:
			v |= qHigh
		case c == '/' || c == '\\':
			v |= qSep
		}
		v |= opens[byte(c)] << 8
		v |= closes[byte(c)] << 16
		switch {
		case wordBreak[c]:
			v |= ctxBreak << 24
		case c == 'b' || c == 'B':
			v |= (pBx | pDot | pDash) << 24
		default:
			v |= (pDot | pDash) << 24
		}
		quickTable[c] = v
	}
}

// quickTextOK is a branch-free filter: when it returns true, scanText
// would find nothing in s. It returns false when s holds a control or
// non-ASCII byte, a path separator (for identifiers), "..", "--", or a word
// that starts like a credential; scanText then decides.
func quickTextOK[T ~string | ~[]byte](s T, pathFree bool) bool {
	mask := uint32(qCtl | qHigh)
	if pathFree {
		mask |= qSep
	}
	// For the pair (s[i-1], s[i]): open holds, in bits 16-23 (where
	// quickTable keeps the classes a byte closes), the classes that open at
	// s[i-1] and may open there given s[i-2] (those after a word break at
	// the start of s). Other bits of open and hit are noise, masked at the
	// end.
	prev := quickTable[s[0]]
	open := prev << 8 & (ctxBreak << 16)
	acc, hit := prev, uint32(0)
	for i := 1; i < len(s); i++ {
		v := quickTable[s[i]]
		acc |= v
		hit |= open & v
		open = v << 8 & (prev >> 8)
		prev = v
	}
	return acc&mask == 0 && hit&0xff0000 == 0
}

// decodeRune decodes one UTF-8 sequence at the start of s (which starts with
// a byte >= 0x80). size is 0 for an invalid or truncated sequence, an overlong
// form, a surrogate or a value above U+10FFFF.
func decodeRune[T ~string | ~[]byte](s T) (r rune, size int) {
	n := len(s)
	c0 := s[0]
	switch {
	case c0 < 0xc2:
		return 0, 0
	case c0 < 0xe0:
		if n < 2 || s[1]&0xc0 != 0x80 {
			return 0, 0
		}
		return rune(c0&0x1f)<<6 | rune(s[1]&0x3f), 2
	case c0 < 0xf0:
		if n < 3 || s[1]&0xc0 != 0x80 || s[2]&0xc0 != 0x80 {
			return 0, 0
		}
		if c0 == 0xe0 && s[1] < 0xa0 || c0 == 0xed && s[1] > 0x9f {
			return 0, 0 // overlong or surrogate
		}
		return rune(c0&0x0f)<<12 | rune(s[1]&0x3f)<<6 | rune(s[2]&0x3f), 3
	case c0 < 0xf5:
		if n < 4 || s[1]&0xc0 != 0x80 || s[2]&0xc0 != 0x80 || s[3]&0xc0 != 0x80 {
			return 0, 0
		}
		if c0 == 0xf0 && s[1] < 0x90 || c0 == 0xf4 && s[1] > 0x8f {
			return 0, 0 // overlong or above U+10FFFF
		}
		return rune(c0&0x07)<<18 | rune(s[1]&0x3f)<<12 | rune(s[2]&0x3f)<<6 | rune(s[3]&0x3f), 4
	}
	return 0, 0
}

func isLowerHex[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// isFingerprint reports whether s is "token:" followed by 6..64 lower-case
// hex digits.
func isFingerprint[T ~string | ~[]byte](s T) bool {
	const prefix = "token:"
	n := len(s) - len(prefix)
	return n >= 6 && n <= 64 && hasPrefixText(s, prefix) && isLowerHex(s[len(prefix):])
}

func equalText[T ~string | ~[]byte](s T, v string) bool {
	if len(s) != len(v) {
		return false
	}
	for i := 0; i < len(v); i++ {
		if s[i] != v[i] {
			return false
		}
	}
	return true
}

func hasPrefixText[T ~string | ~[]byte](s T, prefix string) bool {
	return len(s) >= len(prefix) && equalText(s[:len(prefix)], prefix)
}

// hasPrefixFold is hasPrefixText ignoring ASCII case; prefix must be lower case.
func hasPrefixFold[T ~string | ~[]byte](s T, prefix string) bool {
	if len(s) < len(prefix) {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != prefix[i] {
			return false
		}
	}
	return true
}

// isWordBreak reports whether a credential may start after byte c.
func isWordBreak(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '"', '\'', '=', ':', ',', ';', '(', '[', '{', '<':
		return true
	}
	return false
}

// isCanonicalBase64 reports whether s is standard base64 with padding whose
// unused trailing bits are zero (so it has exactly one spelling).
func isCanonicalBase64[T ~string | ~[]byte](s T) bool {
	n := len(s)
	if n == 0 || n%4 != 0 {
		return false
	}
	pad := 0
	if s[n-1] == '=' {
		pad++
		if s[n-2] == '=' {
			pad++
		}
	}
	for i := 0; i < n-pad; i++ {
		if base64Value(s[i]) < 0 {
			return false
		}
	}
	last := base64Value(s[n-pad-1])
	switch pad {
	case 1: // last symbol carries 2 bits of data
		return last&0x03 == 0
	case 2: // last symbol carries 4 bits of data
		return last&0x0f == 0
	}
	return true
}

func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
