package event

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// checkQuick asserts, for one string, that quickTextOK is sound: when it
// passes s, scanText finds nothing under any rule of the same pathFree.
func checkQuick(t *testing.T, s []byte) (flagged bool) {
	t.Helper()
	if len(s) == 0 {
		return false
	}
	for _, pf := range []bool{false, true} {
		ok := quickTextOK(s, pf)
		rules := []struct {
			r     *textRule
			ident bool
		}{{&ruleText, false}, {&ruleDetails, false}, {&ruleFree, false}}
		if pf {
			rules = []struct {
				r     *textRule
				ident bool
			}{{&ruleIdent, true}, {&ruleUserRef, true}, {&ruleFileName, false}}
		}
		for _, rc := range rules {
			for _, raw := range []bool{false, true} {
				rule, _ := scanText(s, rc.r, raw, rc.ident, pf)
				if rule != "" {
					flagged = true
					if ok {
						t.Fatalf("quickTextOK(%q, %v) passes what scanText refuses (%s)", s, pf, rule)
					}
				}
			}
		}
	}
	return flagged
}

// quickTokens build strings that hold every credential shape, the words
// the pair classes were refined for, and the bytes the filter looks at.
var quickTokens = []string{
	"Bearer ", "bearer ", "BEARER ", "bEaReR ", "Basic ", "basic ", "BASIC ", "eyJ", "eyJhbGciOi.", "sk-", "sk_live_", "sk_test_",
	"ghp_", "gho_", "ghs_", "github_pat_", "glpat-", "xoxb-", "xoxp-", "AKIA", "ASIA", "-----BEGIN", "--", "..",
	"abcdefghij0123456789ABCDEFGHIJ", "0123456789", "ABCDEFGHIJKLMNOP", "before", "based", "best", "beast", "bass", "each", "as", "ease",
	"b", "B", "e", "E", "a", "A", "s", "S", "y", "k", "K", "g", "h", "x", "o", ".", "-", "_", "/", "\\",
	" ", "\t", "\n", "\"", "'", "=", ":", ",", ";", "(", "[", "{", "<", "\x00", "\x7f", "\xc3\xa9", "\xe2\x80\xae", "\xff",
}

func TestQuickTextOKSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 300000
	if testing.Short() {
		n = 20000
	}
	flagged := 0
	var b strings.Builder
	for range n {
		b.Reset()
		for k := 1 + rng.IntN(8); k > 0; k-- {
			b.WriteString(quickTokens[rng.IntN(len(quickTokens))])
		}
		if checkQuick(t, []byte(b.String())) {
			flagged++
		}
	}
	if flagged < n/20 {
		t.Fatalf("only %d of %d strings hold something scanText refuses: the test does not exercise the filter", flagged, n)
	}
	// Every string of one to three bytes over the bytes that matter.
	const alphabet = "BbeEaAsSyYkKghilxo.-/\\ \t\n\"'=:,;([{<z0_\x00\x7f\x80\xc3"
	for _, x := range []byte(alphabet) {
		checkQuick(t, []byte{x})
		for _, y := range []byte(alphabet) {
			checkQuick(t, []byte{x, y})
			for _, z := range []byte(alphabet) {
				checkQuick(t, []byte{x, y, z})
				checkQuick(t, []byte{' ', x, y, z})
			}
		}
	}
}

func FuzzQuickTextOK(f *testing.F) {
	for _, tok := range quickTokens {
		f.Add([]byte(tok))
	}
	f.Add([]byte("completed before the Bearer abcdefgh12345678 token"))
	f.Fuzz(func(t *testing.T, s []byte) {
		checkQuick(t, s)
	})
}

// benchText is the free text of the verifier benchmark's event: ordinary
// words, one of which ("before") the first filter sent to scanText.
const benchText = "completed with truncated output after max_tokens was reached; streaming client disconnected before the final chunk"

func BenchmarkQuickTextOK(b *testing.B) {
	s := []byte(benchText)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		quickTextOK(s, false)
	}
}

// BenchmarkCheckTextDetails is the whole check of that text as a details
// field: the filter, and scanText when the filter cannot decide.
func BenchmarkCheckTextDetails(b *testing.B) {
	s := []byte(benchText)
	if rule, _ := checkTextMode(s, &ruleDetails, true); rule != "" {
		b.Fatal(rule)
	}
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		checkTextMode(s, &ruleDetails, true)
	}
}
