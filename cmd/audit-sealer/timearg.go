package main

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// timeArgHelp says what --from and --to accept.
const timeArgHelp = `RFC 3339 (2026-12-01T09:00:00Z), a date (2026-12-01: from its
start, or with --to to its end, in the local time zone, TZ), a local
time (2026-12-01 09:00), today, yesterday, now, or a time before now
(-24h, -7d, -2w, -90m, "3 hours ago")`

// relativeTime matches a time before now: "-7d", "-1h30m", "3 hours ago".
var (
	minusDuration = regexp.MustCompile(`^-([0-9]+)([dw])$`)
	agoDuration   = regexp.MustCompile(`^([0-9]+) ?(s|secs?|seconds?|m|mins?|minutes?|h|hours?|d|days?|w|weeks?) ago$`)
)

// parseTimeArg reads the value of --from (end false) or --to (end true)
// as of now, in loc: a date or "today"/"yesterday" stands for the whole
// day, so it is its first instant for --from and its last for --to (the
// bounds are inclusive); everything else is one instant.
func parseTimeArg(flag, s string, now time.Time, loc *time.Location, end bool) (time.Time, error) {
	bad := func() (time.Time, error) {
		return time.Time{}, fmt.Errorf("%s %q: want %s", flag, s, strings.ReplaceAll(timeArgHelp, "\n", " "))
	}
	v := strings.ToLower(strings.TrimSpace(s))
	day := func(t time.Time) time.Time {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if end {
			return t.AddDate(0, 0, 1).Add(-time.Nanosecond)
		}
		return t
	}
	switch v {
	case "now":
		return now, nil
	case "today":
		return day(now.In(loc)), nil
	case "yesterday":
		return day(now.In(loc).AddDate(0, 0, -1)), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.ParseInLocation(time.DateOnly, v, loc); err == nil {
		return day(t), nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02 15:04:05", "2006-01-02t15:04", "2006-01-02t15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	var d time.Duration
	if m := minusDuration.FindStringSubmatch(v); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100*366 {
			return bad()
		}
		d = time.Duration(n) * 24 * time.Hour
		if m[2] == "w" {
			d *= 7
		}
	} else if m := agoDuration.FindStringSubmatch(v); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100*366*24*3600 {
			return bad()
		}
		unit := map[byte]time.Duration{'s': time.Second, 'm': time.Minute, 'h': time.Hour, 'd': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[m[2][0]]
		d = time.Duration(n) * unit
	} else if rest, ok := strings.CutPrefix(v, "-"); ok {
		var err error
		if d, err = time.ParseDuration(rest); err != nil || d <= 0 {
			return bad()
		}
	} else {
		return bad()
	}
	return now.Add(-d), nil
}

// timeRange reads --from and --to (either may be empty: open) as of now,
// in the local time zone; a bad value is a usage error (exit 2).
func timeRange(from, to string, now time.Time) (f, t time.Time, err error) {
	if from != "" {
		if f, err = parseTimeArg("--from", from, now, time.Local, false); err != nil {
			return f, t, &exitError{code: 2, err: err}
		}
	}
	if to != "" {
		if t, err = parseTimeArg("--to", to, now, time.Local, true); err != nil {
			return f, t, &exitError{code: 2, err: err}
		}
	}
	if !f.IsZero() && !t.IsZero() && t.Before(f) {
		return f, t, &exitError{code: 2, err: fmt.Errorf("--to %s is before --from %s", t.Format(time.RFC3339Nano), f.Format(time.RFC3339Nano))}
	}
	return f, t, nil
}
