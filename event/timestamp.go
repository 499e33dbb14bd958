package event

import "time"

// minUnix is 2000-01-01T00:00:00Z: no accepted timestamp is older.
const minUnix = 946684800

// clock holds the reference time that timestamps are checked against.
type clock struct {
	now          time.Time
	eventMaxSec  int64 // now + 24h
	eventMaxNsec int32
}

func newClock(now time.Time) clock {
	if now.IsZero() {
		now = time.Now()
	}
	ev := now.Add(24 * time.Hour)
	return clock{now: now, eventMaxSec: ev.Unix(), eventMaxNsec: int32(ev.Nanosecond())}
}

// checkTime returns the rule violated by the instant (sec, nsec), or "".
func (c *clock) checkTime(sec int64, nsec int32, r timeRule) (rule, detail string) {
	if sec < minUnix {
		return RuleTimestampTooOld, "before 2000-01-01"
	}
	maxSec, maxNsec := c.eventMaxSec, c.eventMaxNsec
	if r == timeExpiry {
		ex := c.now.AddDate(100, 0, 0) // rare: computed only when needed
		maxSec, maxNsec = ex.Unix(), int32(ex.Nanosecond())
	}
	if sec > maxSec || sec == maxSec && nsec > maxNsec {
		if r == timeExpiry {
			return RuleTimestampInFuture, "more than 100 years ahead of the reference clock"
		}
		return RuleTimestampInFuture, "more than 24 hours ahead of the reference clock"
	}
	return "", ""
}

const detailTimestamp = "RFC 3339 in UTC (Z or +00:00), at most 9 fraction digits"

// parseTimestamp parses the accepted RFC 3339 subset
// YYYY-MM-DDTHH:MM:SS[.F{1,9}](Z|+00:00). canonical reports whether s is
// exactly what appendTimestamp writes for the same instant: "Z" and no
// trailing zero in the fraction.
func parseTimestamp[T ~string | ~[]byte](s T) (sec int64, nsec int32, canonical, ok bool) {
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' {
		return 0, 0, false, false
	}
	year, ok1 := digits(s, 0, 4)
	month, ok2 := digits(s, 5, 2)
	day, ok3 := digits(s, 8, 2)
	hour, ok4 := digits(s, 11, 2)
	minute, ok5 := digits(s, 14, 2)
	second, ok6 := digits(s, 17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, 0, false, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 59 {
		return 0, 0, false, false
	}
	i := 19
	canonical = true
	if s[i] == '.' {
		i++
		start := i
		var frac int32
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			frac = frac*10 + int32(s[i]-'0')
			i++
		}
		n := i - start
		if n == 0 || n > 9 {
			return 0, 0, false, false
		}
		if s[i-1] == '0' {
			canonical = false
		}
		for k := n; k < 9; k++ {
			frac *= 10
		}
		nsec = frac
	}
	switch {
	case i+1 == len(s) && s[i] == 'Z':
	case i+6 == len(s) && equalText(s[i:], "+00:00"):
		canonical = false
	default:
		return 0, 0, false, false
	}
	days := daysFromCivil(int64(year), month, day)
	sec = days*86400 + int64(hour)*3600 + int64(minute)*60 + int64(second)
	return sec, nsec, canonical, true
}

func digits[T ~string | ~[]byte](s T, at, n int) (int, bool) {
	v := 0
	for i := at; i < at+n; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(year, month int) int {
	switch month {
	case 2:
		if isLeap(year) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns the days since 1970-01-01 of a proleptic Gregorian
// date (Howard Hinnant's algorithm).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := int64((m + 9) % 12)
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y int64, m, d int) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendTimestamp appends the canonical form of (sec, nsec): the same text
// as time.RFC3339Nano in UTC, that is YYYY-MM-DDTHH:MM:SS, then a fraction
// without trailing zeros when nsec is not zero, then "Z". The year must be
// in 0..9999 (validation guarantees 2000.. now+100y).
func appendTimestamp(b []byte, sec int64, nsec int32) []byte {
	days := sec / 86400
	rem := sec % 86400
	if rem < 0 {
		rem += 86400
		days--
	}
	y, m, d := civilFromDays(days)
	b = append4(b, int(y))
	b = append(b, '-')
	b = append2(b, m)
	b = append(b, '-')
	b = append2(b, d)
	b = append(b, 'T')
	b = append2(b, int(rem/3600))
	b = append(b, ':')
	b = append2(b, int(rem/60%60))
	b = append(b, ':')
	b = append2(b, int(rem%60))
	if nsec != 0 {
		var frac [9]byte
		v := nsec
		for i := 8; i >= 0; i-- {
			frac[i] = byte('0' + v%10)
			v /= 10
		}
		n := 9
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

func append2(b []byte, v int) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10))
}

func append4(b []byte, v int) []byte {
	return append(b, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}

// timeParts splits t into Unix seconds and nanoseconds.
func timeParts(t time.Time) (int64, int32) {
	return t.Unix(), int32(t.Nanosecond())
}
