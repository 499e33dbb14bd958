package event

// Raw credentials must never reach the log. The checks below are a
// deliberately narrow heuristic: they look, at the start of each word, for
// the shapes of well-known secrets, with enough following characters that
// ordinary words ("bearer token expired", "sk-east-1") are not mistaken for
// one. A PEM block ("-----BEGIN") is refused anywhere.

// looksLikeCredential reports whether s contains a credential-shaped word.
func looksLikeCredential[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '-' && hasPrefixText(s[i:], "-----BEGIN") {
			return true
		}
		if (i == 0 || wordBreak[s[i-1]]) && credentialAt(s[i:]) {
			return true
		}
	}
	return false
}

// credentialAt reports whether s starts with a credential-shaped word.
func credentialAt[T ~string | ~[]byte](s T) bool {
	if len(s) < 8 {
		return false
	}
	switch s[0] {
	case 'B', 'b':
		// HTTP authorization values: "Bearer <token68>", "Basic <token68>".
		if hasPrefixFold(s, "bearer ") {
			return runLen(s[len("bearer "):], isToken68) >= 8 && atWordEnd(s, len("bearer ")+runLen(s[len("bearer "):], isToken68))
		}
		if hasPrefixFold(s, "basic ") {
			return runLen(s[len("basic "):], isToken68) >= 8 && atWordEnd(s, len("basic ")+runLen(s[len("basic "):], isToken68))
		}
	case 'e':
		// A JWT: base64url JSON header "eyJ..." followed by a dot.
		if hasPrefixText(s, "eyJ") {
			n := runLen(s[3:], isBase64URL)
			return n >= 8 && 3+n < len(s) && s[3+n] == '.'
		}
	case 's':
		// OpenAI-style "sk-..." and Stripe "sk_live_..." / "sk_test_..." keys.
		if hasPrefixText(s, "sk-") {
			return isSecretRun(s[3:], 20)
		}
		if hasPrefixText(s, "sk_live_") || hasPrefixText(s, "sk_test_") {
			return runLen(s[8:], isBase64URL) >= 16
		}
	case 'g':
		// GitHub tokens and GitLab personal access tokens.
		if len(s) > 4 && s[1] == 'h' && s[3] == '_' && (s[2] == 'p' || s[2] == 'o' || s[2] == 'u' || s[2] == 's' || s[2] == 'r') && s[0] == 'g' {
			return runLen(s[4:], isAlnum) >= 20
		}
		if hasPrefixText(s, "github_pat_") {
			return runLen(s[11:], isBase64URL) >= 20
		}
		if hasPrefixText(s, "glpat-") {
			return runLen(s[6:], isBase64URL) >= 20
		}
	case 'x':
		// Slack tokens.
		if len(s) > 5 && hasPrefixText(s, "xox") && s[4] == '-' && (s[3] == 'a' || s[3] == 'b' || s[3] == 'p' || s[3] == 'r' || s[3] == 's') {
			return runLen(s[5:], isBase64URL) >= 10
		}
	case 'A':
		// AWS access key ids.
		if hasPrefixText(s, "AKIA") || hasPrefixText(s, "ASIA") {
			n := runLen(s[4:], isUpperAlnum)
			return n == 16 && atWordEnd(s, 4+n)
		}
	}
	return false
}

// isSecretRun reports whether s starts with a run of at least min key
// characters that mixes letters and digits.
func isSecretRun[T ~string | ~[]byte](s T, min int) bool {
	n := runLen(s, isBase64URL)
	if n < min {
		return false
	}
	letters, digits := false, false
	for i := 0; i < n; i++ {
		c := s[i]
		letters = letters || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		digits = digits || c >= '0' && c <= '9'
	}
	return letters && digits
}

// atWordEnd reports whether position i of s is the end of s or a space.
func atWordEnd[T ~string | ~[]byte](s T, i int) bool {
	return i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '"' || s[i] == '\'' || s[i] == ',' || s[i] == ';'
}

func runLen[T ~string | ~[]byte](s T, ok func(byte) bool) int {
	i := 0
	for i < len(s) && ok(s[i]) {
		i++
	}
	return i
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isUpperAlnum(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func isBase64URL(c byte) bool {
	return isAlnum(c) || c == '-' || c == '_'
}

func isToken68(c byte) bool {
	return isAlnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '='
}
