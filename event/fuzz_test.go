package event

import (
	"bytes"
	"errors"
	"testing"
)

// checkProperties asserts the contract between Decode, Encode and
// CheckCanonical for one input.
func checkProperties(t *testing.T, data []byte) {
	t.Helper()
	clk := newClock(testNow)
	fast := checkCanonicalFast(data, &clk, true) != nil
	typ, cerr := CheckCanonical(data, testOpts)
	e, err := Decode(data, testOpts)
	if err != nil {
		var ve *ValidationError
		if !errors.Is(err, ErrInvalid) || !errors.As(err, &ve) || ve.Rule == "" {
			t.Fatalf("Decode error %v is not a proper validation error", err)
		}
		if e != nil {
			t.Fatal("Decode returned both an event and an error")
		}
		if fast || cerr == nil {
			t.Fatalf("CheckCanonical accepted what Decode refuses (%v)", err)
		}
		return
	}
	if err := Validate(e, testNow); err != nil {
		t.Fatalf("Validate refuses a decoded event: %v", err)
	}
	enc, err := AppendEncode(nil, e, testNow)
	if err != nil {
		t.Fatalf("Encode refuses a decoded event: %v", err)
	}
	e2, err := Decode(enc, testOpts)
	if err != nil {
		t.Fatalf("Decode refuses the canonical form %q: %v", enc, err)
	}
	enc2, err := AppendEncode(nil, e2, testNow)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("re-encoding is not idempotent:\n%s\n%s (%v)", enc, enc2, err)
	}
	if typ2, err := CheckCanonical(enc, testOpts); err != nil || typ2 != e.EventType() {
		t.Fatalf("CheckCanonical refuses the canonical form %q: %v", enc, err)
	}
	if checkCanonicalFast(enc, &clk, true) == nil {
		t.Fatalf("fast canonical check refuses the canonical form %q", enc)
	}
	canonical := bytes.Equal(data, enc)
	if fast != canonical {
		t.Fatalf("fast canonical check = %v, but input canonical = %v\n in %q\nenc %q", fast, canonical, data, enc)
	}
	if (cerr == nil) != canonical {
		t.Fatalf("CheckCanonical = %v, but input canonical = %v", cerr, canonical)
	}
	if cerr == nil && typ != e.EventType() {
		t.Fatalf("CheckCanonical type %q, want %q", typ, e.EventType())
	}
}

func FuzzDecode(f *testing.F) {
	for _, ex := range validExamples {
		f.Add([]byte(ex.json))
	}
	for _, tc := range acceptCases {
		f.Add([]byte(tc.in))
	}
	for _, tc := range rejectCases {
		if len(tc.in) < 8<<10 {
			f.Add([]byte(tc.in))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkProperties(t, data)
	})
}

// TestSingleByteMutations runs the fuzz properties on every single-byte
// deletion, duplication and replacement of every valid example, which
// exercises each branch of the canonical fast path deterministically.
func TestSingleByteMutations(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	replacements := []byte{' ', '"', '\\', '0', '1', '9', 'a', 'Z', '.', ',', '}', ']', '{', '[', ':', '-', 'n', 0x00, 0xff, 'e'}
	for _, ex := range validExamples {
		in := []byte(ex.json)
		for i := range in {
			checkProperties(t, append(append([]byte{}, in[:i]...), in[i+1:]...))
			checkProperties(t, append(append([]byte{}, in[:i+1]...), in[i:]...))
			for _, r := range replacements {
				if in[i] == r {
					continue
				}
				m := append([]byte{}, in...)
				m[i] = r
				checkProperties(t, m)
			}
		}
	}
}

// TestConcurrentUse runs Decode, Encode and CheckCanonical from several
// goroutines at once (meaningful under -race).
func TestConcurrentUse(t *testing.T) {
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			var err error
			for i := 0; i < 50 && err == nil; i++ {
				for _, ex := range validExamples {
					var e Event
					if e, err = Decode([]byte(ex.json), testOpts); err != nil {
						break
					}
					var out []byte
					if out, err = AppendEncode(nil, e, testNow); err != nil {
						break
					}
					if string(out) != ex.json {
						err = errors.New("mismatch for " + ex.name)
						break
					}
					if _, err = CheckCanonical(out, testOpts); err != nil {
						break
					}
				}
			}
			done <- err
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
