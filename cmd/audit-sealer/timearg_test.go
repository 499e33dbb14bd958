package main

import (
	"strings"
	"testing"
	"time"
)

// TestParseTimeArg: --from and --to take RFC 3339, dates (the whole day:
// its first instant as --from, its last as --to), local times, today,
// yesterday, now and times before now; anything else is refused with a
// message that says what is accepted and no Go layout string.
func TestParseTimeArg(t *testing.T) {
	loc := time.FixedZone("CET", 3600)
	now := time.Date(2026, 12, 7, 17, 23, 9, 135672095, time.UTC) // 18:23 in loc
	at := func(y int, m time.Month, d, h, min, s, ns int, l *time.Location) time.Time {
		return time.Date(y, m, d, h, min, s, ns, l)
	}
	endOf := func(y int, m time.Month, d int) time.Time {
		return at(y, m, d+1, 0, 0, 0, 0, loc).Add(-time.Nanosecond)
	}
	for _, c := range []struct {
		in       string
		from, to time.Time
	}{
		{"2026-12-01T09:00:00Z", at(2026, 12, 1, 9, 0, 0, 0, time.UTC), at(2026, 12, 1, 9, 0, 0, 0, time.UTC)},
		{"2026-12-01T09:00:00.5+02:00", at(2026, 12, 1, 7, 0, 0, 5e8, time.UTC), at(2026, 12, 1, 7, 0, 0, 5e8, time.UTC)},
		{"2026-12-01", at(2026, 12, 1, 0, 0, 0, 0, loc), endOf(2026, 12, 1)},
		{"2026-12-01 09:30", at(2026, 12, 1, 9, 30, 0, 0, loc), at(2026, 12, 1, 9, 30, 0, 0, loc)},
		{"2026-12-01T09:30:05", at(2026, 12, 1, 9, 30, 5, 0, loc), at(2026, 12, 1, 9, 30, 5, 0, loc)},
		{"today", at(2026, 12, 7, 0, 0, 0, 0, loc), endOf(2026, 12, 7)},
		{"Yesterday", at(2026, 12, 6, 0, 0, 0, 0, loc), endOf(2026, 12, 6)},
		{"now", now, now},
		{"-7d", now.Add(-7 * 24 * time.Hour), now.Add(-7 * 24 * time.Hour)},
		{"-2w", now.Add(-14 * 24 * time.Hour), now.Add(-14 * 24 * time.Hour)},
		{"-24h", now.Add(-24 * time.Hour), now.Add(-24 * time.Hour)},
		{"-1h30m", now.Add(-90 * time.Minute), now.Add(-90 * time.Minute)},
		{"3 hours ago", now.Add(-3 * time.Hour), now.Add(-3 * time.Hour)},
		{"1 hour ago", now.Add(-time.Hour), now.Add(-time.Hour)},
		{"10 min ago", now.Add(-10 * time.Minute), now.Add(-10 * time.Minute)},
		{"2 days ago", now.Add(-48 * time.Hour), now.Add(-48 * time.Hour)},
	} {
		from, err := parseTimeArg("--from", c.in, now, loc, false)
		if err != nil || !from.Equal(c.from) {
			t.Errorf("--from %q = %v, %v; want %v", c.in, from, err, c.from)
		}
		to, err := parseTimeArg("--to", c.in, now, loc, true)
		if err != nil || !to.Equal(c.to) {
			t.Errorf("--to %q = %v, %v; want %v", c.in, to, err, c.to)
		}
	}
	for _, in := range []string{"", "tomorrowish", "2026-13-01", "-0h", "7d", "-7y", "2026-12-01T09:00:00", "-99999999d", "ago", "3 fortnights ago"} {
		_, err := parseTimeArg("--from", in, now, loc, false)
		if in == "2026-12-01T09:00:00" {
			if err != nil { // a local time without a zone is accepted
				t.Errorf("%q: %v", in, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q accepted", in)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "--from") || !strings.Contains(msg, "yesterday") || strings.Contains(msg, "2006") {
			t.Errorf("%q: message %q", in, msg)
		}
	}
}
