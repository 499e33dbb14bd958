package event

import (
	"math/rand/v2"
	"testing"
)

// quickTextOKRef is quickTextOK as it was first written, kept as the
// reference for the differential tests below.
func quickTextOKRef(s []byte, pathFree bool) bool {
	mask := uint32(qCtl | qHigh)
	if pathFree {
		mask |= qSep
	}
	ctx := uint32(0xff)
	prev := quickTable[s[0]]
	acc, hit := prev, uint32(0)
	for i := 1; i < len(s); i++ {
		v := quickTable[s[i]]
		acc |= v
		hit |= prev >> 8 & (v >> 16) & ctx
		ctx = prev >> 24
		prev = v
	}
	return acc&mask == 0 && hit == 0
}

// quickAlphabet holds every byte that matters to the filter, and a few
// that do not, so that random strings hit every pair.
const quickAlphabet = "BbeEsgxAaykhilKSo.-/\\ \t\n\"'=:,;([{<z0_\x00\x7f\x80\xc3"

func TestQuickTextOKMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 300000
	if testing.Short() {
		n = 20000
	}
	for range n {
		s := make([]byte, 1+rng.IntN(12))
		for i := range s {
			if rng.IntN(8) == 0 {
				s[i] = byte(rng.IntN(256))
			} else {
				s[i] = quickAlphabet[rng.IntN(len(quickAlphabet))]
			}
		}
		for _, pf := range []bool{false, true} {
			if got, want := quickTextOK(s, pf), quickTextOKRef(s, pf); got != want {
				t.Fatalf("quickTextOK(%q, %v) = %v, reference %v", s, pf, got, want)
			}
		}
	}
	// Every pair and triple of the alphabet, exhaustively.
	for _, a := range []byte(quickAlphabet) {
		for _, b := range []byte(quickAlphabet) {
			for _, c := range []byte(quickAlphabet + "") {
				for _, s := range [][]byte{{a, b}, {a, b, c}, {'x', a, b, c}} {
					for _, pf := range []bool{false, true} {
						if got, want := quickTextOK(s, pf), quickTextOKRef(s, pf); got != want {
							t.Fatalf("quickTextOK(%q, %v) = %v, reference %v", s, pf, got, want)
						}
					}
				}
			}
		}
	}
}

func FuzzQuickTextOK(f *testing.F) {
	f.Add([]byte("before the Bearer token"), false)
	f.Add([]byte("a..b"), true)
	f.Fuzz(func(t *testing.T, s []byte, pf bool) {
		if len(s) == 0 {
			return
		}
		if got, want := quickTextOK(s, pf), quickTextOKRef(s, pf); got != want {
			t.Fatalf("quickTextOK(%q, %v) = %v, reference %v", s, pf, got, want)
		}
	})
}

func BenchmarkQuickTextOK(b *testing.B) {
	s := []byte("completed with truncated output after max_tokens was reached; streaming client disconnected before the final chunk")
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		quickTextOK(s, false)
	}
}

func BenchmarkQuickTextOKRef(b *testing.B) {
	s := []byte("completed with truncated output after max_tokens was reached; streaming client disconnected before the final chunk")
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		quickTextOKRef(s, false)
	}
}
