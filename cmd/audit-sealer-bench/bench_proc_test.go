package main

import (
	"slices"
	"testing"
)

// The benchmark's small parsers; no timing is measured or asserted.

func TestHistQuantile(t *testing.T) {
	const h = "x_seconds"
	m0 := map[string]float64{h + `_bucket{le="0.001"}`: 10, h + `_bucket{le="0.002"}`: 10, h + `_bucket{le="0.004"}`: 10, h + `_bucket{le="+Inf"}`: 10, h + "_count": 10}
	m1 := map[string]float64{h + `_bucket{le="0.001"}`: 60, h + `_bucket{le="0.002"}`: 108, h + `_bucket{le="0.004"}`: 109, h + `_bucket{le="+Inf"}`: 110, h + "_count": 110}
	for _, c := range []struct {
		q      float64
		le     float64
		beyond bool
	}{{0.5, 0.001, false}, {0.98, 0.002, false}, {0.99, 0.004, false}, {1, 0.004, true}} {
		le, beyond := histQuantile(m0, m1, h, c.q)
		if le != c.le || beyond != c.beyond {
			t.Errorf("q %v: got %v %v, want %v %v", c.q, le, beyond, c.le, c.beyond)
		}
	}
	if le, _ := histQuantile(m1, m1, h, 0.99); le != 0 {
		t.Errorf("no observations: got %v", le)
	}
}

func TestParseExports(t *testing.T) {
	out := "export A='/tmp/x y'\nexport B='it'\\''s'\n\nexport C=plain\n"
	got, err := parseExports([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"A=/tmp/x y", "B=it's", "C=plain"}; !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := parseExports([]byte("setup done\n")); err == nil {
		t.Fatal("a line that is not an export was accepted")
	}
}

func TestErrorCode(t *testing.T) {
	if c := errorCode([]byte(`{"id":"1","ok":false,"error":{"code":"shed","message":"m"}}`)); c != "shed" {
		t.Fatalf("got %q", c)
	}
	if c := errorCode([]byte(`{"ok":false}`)); c != "unknown" {
		t.Fatalf("got %q", c)
	}
}
