package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
)

// TestBenchMix checks that every event the benchmark sends is valid, about
// 500 bytes, of the type it claims, and that the mix has the shape the
// benchmark reports (at least 8 types, the critical one at its permille).
// It measures no time.
func TestBenchMix(t *testing.T) {
	ts := time.Date(2026, 11, 27, 10, 0, 0, 123456789, time.UTC)
	critical := 0
	for _, tmpl := range benchTemplates {
		c := compileTemplate(tmpl)
		for _, n := range []int{0, 7, 12345678, 99_999_999} {
			b := c.appendEvent(nil, ts, n)
			if !json.Valid(b) {
				t.Fatalf("%s: not JSON: %s", tmpl.typ, b)
			}
			ev, err := event.Decode(b, event.DecodeOptions{Now: ts})
			if err != nil {
				t.Fatalf("%s (n=%d): %v\n%s", tmpl.typ, n, err, b)
			}
			if ev.EventType() != tmpl.typ {
				t.Fatalf("template %s decodes as %s", tmpl.typ, ev.EventType())
			}
			if len(b) < 400 || len(b) > 600 {
				t.Errorf("%s: %d bytes, want about 500", tmpl.typ, len(b))
			}
		}
		if event.IsCritical(tmpl.typ) != tmpl.critical {
			t.Errorf("%s: critical is %v in the template, %v in the registry", tmpl.typ, tmpl.critical, event.IsCritical(tmpl.typ))
		}
		if tmpl.critical {
			critical++
		}
	}
	if len(benchTemplates) < 8 || critical == 0 {
		t.Fatalf("%d types, %d critical: want at least 8 and one critical", len(benchTemplates), critical)
	}
	// The query phase's user and entity filters hit every benchUsers-th
	// event of the types that name a user or customer, on every client.
	for _, typ := range []string{"auth.success", "authz.denied", "auth.failure", "data.inference_executed"} {
		for _, tmpl := range benchTemplates {
			if tmpl.typ != typ {
				continue
			}
			c := compileTemplate(tmpl)
			for _, n := range []int{42, 42 + benchUsers, 3*10_000_000 + 5*benchUsers + 42} {
				if b := c.appendEvent(nil, ts, n); !strings.Contains(string(b), `"customer-00000042`) {
					t.Errorf("%s (n=%d) does not name customer-00000042: %s", typ, n, b)
				}
			}
			if b := c.appendEvent(nil, ts, 43); strings.Contains(string(b), `"customer-00000042`) {
				t.Errorf("%s (n=43) names customer-00000042: %s", typ, b)
			}
		}
	}
	for _, permille := range []int{0, 10, 37, 1000} {
		m := newBenchMix(permille)
		if len(m.slots) != mixSlots {
			t.Fatalf("permille %d: %d slots", permille, len(m.slots))
		}
		got := 0
		for i := 0; i < mixSlots; i++ {
			if m.pick(3, i).critical {
				got++
			}
		}
		if got != permille {
			t.Errorf("permille %d: %d critical events in %d", permille, got, mixSlots)
		}
	}
}
