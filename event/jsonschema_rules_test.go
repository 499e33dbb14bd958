package event

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaLaxRules are the rules a text schema cannot state (the catalogue's
// $comment lists them): the schema may accept a string that checkText
// refuses for one of these, and for no other rule.
var schemaLaxRules = map[string]bool{
	RuleTooLong:             true, // bytes, not characters
	RuleLooksLikeCredential: true,
	RuleNotFingerprint:      true, // a "token:" user reference that is not a fingerprint
}

// catalogueDef compiles $defs/name of the generated catalogue, formats
// asserted.
func catalogueDef(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	doc, err := CatalogueSchema()
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	url := SchemaBaseURI + "events.schema.json"
	if err := c.AddResource(url, inst); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(url + "#/$defs/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTextSchemasMatchRules compares each text rule's schema ($defs/text,
// $defs/identifier, …) with checkText on random strings built from the
// pieces the rules look at: the schema accepts every string checkText
// accepts, and refuses every string checkText refuses for a rule JSON
// Schema can state.
func TestTextSchemasMatchRules(t *testing.T) {
	pieces := append([]string{"token:", "abc123", "0f", "deadbeef", "0123456789abcdef", "AAAA", "QQ==", "QUI=", "Qg==", "QUJ=", "+/9z", "=", "/", "é", "\u2028", "\u0085", "\u202e", "\ufeff", "\r",
		strings.Repeat("x", 250), strings.Repeat("é", 200)}, quickTokens...)
	// Hex rules get pieces that add up to their lengths.
	hexPieces := []string{"token:", "0123456789abcdef", "0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", "a", "A", "g", " "}
	rng := rand.New(rand.NewPCG(3, 4))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for _, d := range textDefs {
		s := catalogueDef(t, d.name)
		from := pieces
		if exactPatterns[d.rule.class] != "" {
			from = hexPieces
		}
		var b strings.Builder
		accepted, refused := 0, 0
		for range n {
			b.Reset()
			for k := rng.IntN(7); k > 0; k-- {
				b.WriteString(from[rng.IntN(len(from))])
			}
			str := b.String()
			if !utf8.ValidString(str) {
				continue // not a JSON string
			}
			rule, _ := checkText(str, d.rule)
			schemaErr := s.Validate(str)
			switch {
			case rule == "" && schemaErr != nil:
				t.Fatalf("$defs/%s refuses %q, which checkText accepts: %v", d.name, str, schemaErr)
			case rule != "" && schemaErr == nil && !schemaLaxRules[rule]:
				t.Fatalf("$defs/%s accepts %q, which checkText refuses (%s)", d.name, str, rule)
			case rule != "":
				refused++
			default:
				accepted++
			}
		}
		if refused < n/20 || accepted < n/100 {
			t.Errorf("$defs/%s: %d of %d strings accepted, %d refused; the test does not exercise the rule", d.name, accepted, n, refused)
		}
	}
}

// TestTimestampSchemaMatchesRule compares $defs/timestamp (pattern and
// format date-time, asserted) with parseTimestamp and the 2000-01-01 bound
// on every combination of the parts that matter. The bound ahead of the
// sealer's clock is left out: no schema can state it.
func TestTimestampSchemaMatchesRule(t *testing.T) {
	s := catalogueDef(t, "timestamp")
	accepted := 0
	for _, date := range []string{"1999-12-31", "2000-01-01", "2024-02-29", "2026-02-29", "2026-02-30", "2026-04-31", "2026-00-10", "2026-13-01", "2026-12-32", "26-11-27", "3000-01-01"} {
		for _, sep := range []string{"T", "t", " "} {
			for _, clock := range []string{"00:00:00", "23:59:59", "24:00:00", "12:60:00", "12:00:60", "9:00:00"} {
				for _, frac := range []string{"", ".", ".5", ".123456789", ".1234567890", ".50"} {
					for _, zone := range []string{"Z", "z", "+00:00", "-00:00", "+01:00", "", "+0000"} {
						ts := date + sep + clock + frac + zone
						sec, _, _, ok := parseTimestamp(ts)
						want := ok && sec >= minUnix
						if got := s.Validate(ts) == nil; got != want {
							t.Errorf("$defs/timestamp valid(%q) = %v, the event package: %v", ts, got, want)
						} else if want {
							accepted++
						}
					}
				}
			}
		}
	}
	if accepted < 40 {
		t.Errorf("only %d timestamps accepted; the test does not exercise the rule", accepted)
	}
}
