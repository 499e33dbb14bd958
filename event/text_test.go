package event

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestQuickFilterIsSound checks on random strings that the branch-free
// filter never lets through a string that the exact scan refuses, and that
// the string and []byte instantiations agree.
func TestQuickFilterIsSound(t *testing.T) {
	pieces := []string{
		"a", "b", "B", "e", "E", "y", "s", "k", "g", "h", "i", "l", "x", "o", "A", "K", "S", "J", "_", "1",
		" ", "\t", "\n", "\r", ":", "=", "\"", "'", ",", ";", "(", "[", "{", "<", ".", "-", "/", "\\",
		"Bearer ", "basic ", "eyJ", "sk-", "sk_live_", "ghp_", "github_pat_", "glpat-", "xoxb-", "AKIA",
		"-----BEGIN", "token:", "abcdef0123456789", "ABCDEFGHIJKLMNOP", "é", "\u202e", "\x00", "\x7f", "\xff",
	}
	rules := []*textRule{&ruleText, &ruleDetails, &ruleIdent, &ruleUserRef, &ruleAttempted, &ruleFileName, &ruleFree}
	rng := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		var b strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			p := pieces[rng.IntN(len(pieces))]
			if rng.IntN(4) == 0 {
				p = strings.Repeat(p, 1+rng.IntN(30))
			}
			b.WriteString(p)
		}
		s := b.String()
		for _, pathFree := range []bool{false, true} {
			if quickTextOK(s, pathFree) {
				for _, r := range rules {
					ident := r.class == classIdent || r.class == classUserRef
					pf := ident || r.class == classFileName
					if pf != pathFree {
						continue
					}
					if rule, _ := scanText(s, r, false, ident, pf); rule != "" {
						t.Fatalf("quick filter passed %q, exact scan says %s", s, rule)
					}
				}
			}
		}
		for _, r := range rules {
			r1, d1 := checkText(s, r)
			r2, d2 := checkText([]byte(s), r)
			if r1 != r2 || d1 != d2 {
				t.Fatalf("string and []byte disagree on %q: %s vs %s", s, r1, r2)
			}
		}
	}
}

func TestCredentialShapes(t *testing.T) {
	refused := []string{
		"Bearer abcdefgh12345678",
		"bearer abcdefgh",
		"Authorization: Bearer abc.def.ghi",
		"BASIC dXNlcjpwYXNzd29yZA==",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
		"jwt=eyJhbGciOiJIUzI1NiJ9.",
		"sk-proj-abcdefghij0123456789",
		"sk-abcdefghijklmnop0123",
		"sk_live_abcdefghijklmnop",
		"sk_test_abcdefghijklmnop",
		"ghp_abcdefghijklmnopqrstuvwxyz",
		"gho_ABCDEFGHIJKLMNOPQRST",
		"github_pat_11ABCDEFGHIJKLMNOPQRST",
		"glpat-abcdefghijklmnopqrst",
		"xoxb-1234567890-abc",
		"xoxp-1234567890",
		"AKIAIOSFODNN7EXAMPLE",
		"key ASIAIOSFODNN7EXAMPLE used",
		"-----BEGIN PRIVATE KEY-----",
		"x-----BEGIN CERTIFICATE",
	}
	accepted := []string{
		"bearer token expired",
		"Bearer",
		"Bearer short",
		"basic auth failed",
		"eyJ",
		"eyJhbGciOiJIUzI1NiJ9",
		"keyJhbGciOiJIUzI1NiJ9.x",
		"sk-east-1",
		"sk-abcdefghijklmnopqrstuvwxyz",
		"task-abcdefghij0123456789",
		"ghp_short",
		"ghx_abcdefghijklmnopqrstuvwxyz",
		"xoxo-friends",
		"AKIA123",
		"AKIAIOSFODNN7EXAMPLEX",
		"-----END",
		"pool-1--2",
	}
	for _, s := range refused {
		if !looksLikeCredential(s) {
			t.Errorf("looksLikeCredential(%q) = false", s)
		}
		if rule, _ := checkText(s, &ruleDetails); rule != RuleLooksLikeCredential {
			t.Errorf("checkText(%q) = %q, want looks_like_credential", s, rule)
		}
	}
	for _, s := range accepted {
		if looksLikeCredential(s) {
			t.Errorf("looksLikeCredential(%q) = true", s)
		}
		if rule, _ := checkText(s, &ruleDetails); rule != "" {
			t.Errorf("checkText(%q) = %q, want accepted", s, rule)
		}
	}
}

func TestBase64(t *testing.T) {
	for s, want := range map[string]bool{
		"AAAA": true, "AA==": true, "AAA=": true, "AB==": false, "AAB=": false,
		"A===": false, "AAAAA": false, "AA=A": false, "": false, "////": true, "-_==": false,
	} {
		if got := isCanonicalBase64(s); got != want {
			t.Errorf("isCanonicalBase64(%q) = %v", s, got)
		}
	}
}

func TestDeepNestingDoesNotRecurseUnbounded(t *testing.T) {
	deep := strings.Repeat("[", 200000) + strings.Repeat("]", 200000)
	for _, tc := range []struct{ in, field, rule string }{
		{`{"x":` + deep + `,"type":"authz.denied"}`, "x", RuleTooDeep},
		{`{"type":"authz.denied","x":` + deep + `}`, "x", RuleUnknownField},
		{rep(baseMod, `{"replicas":{"new":4,"old":2}}`, `{"a":`+deep+`}`), "changes", RuleTooDeep},
		{rep(baseDenied, `"write"`, deep), "action", RuleWrongType},
	} {
		if len(tc.in) > MaxEncodedSize {
			tc.in = strings.Replace(tc.in, deep, strings.Repeat("[", 30000)+strings.Repeat("]", 30000), 1)
		}
		_, err := Decode([]byte(tc.in), testOpts)
		assertRule(t, err, tc.field, tc.rule)
	}
}
