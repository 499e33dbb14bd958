package event

import (
	"encoding/json"
	"net/netip"
	"slices"
	"strconv"
	"time"
)

// Encode validates e against the current time and returns its canonical
// encoding.
func Encode(e Event) ([]byte, error) {
	clk := newClock(time.Time{})
	return appendEncode(make([]byte, 0, 1024), e, &clk)
}

// AppendEncode is Encode appending to dst, with now as the reference clock
// for the timestamp rules (the zero time means time.Now()). On error dst is
// returned unchanged.
func AppendEncode(dst []byte, e Event, now time.Time) ([]byte, error) {
	clk := newClock(now)
	return appendEncode(dst, e, &clk)
}

// Validate checks an event built in Go against every rule, with now as the
// reference clock (the zero time means time.Now()).
func Validate(e Event, now time.Time) error {
	clk := newClock(now)
	_, err := encodeEvent(nil, e, &clk, false)
	return err
}

func appendEncode(dst []byte, e Event, clk *clock) ([]byte, error) {
	out, err := encodeEvent(dst, e, clk, true)
	if err != nil {
		return dst, err
	}
	return out, nil
}

// encoder validates Go values and, when emit is set, appends their
// canonical encoding to buf.
type encoder struct {
	buf  []byte
	emit bool
	clk  clock
}

func encodeEvent(dst []byte, e Event, clk *clock, emit bool) ([]byte, error) {
	if isNilEvent(e) {
		return nil, invalid("", RuleNilEvent, "no event")
	}
	ti := typesByName[e.EventType()]
	if ti == nil {
		return nil, invalid("type", RuleUnknownType, "not an event type of EVENTS.md")
	}
	en := encoder{buf: dst, emit: emit, clk: *clk}
	start := len(dst)
	if emit {
		en.buf = append(en.buf, ti.prefix...)
	}
	b := binderPool.Get().(*binder)
	b.n = 0
	e.bind(b)
	err := en.fields(&ti.schema, b.ptrs[:b.n], "", nil, false)
	clear(b.ptrs[:b.n])
	binderPool.Put(b)
	if err != nil {
		return nil, err
	}
	if emit {
		en.buf = append(en.buf, '}')
		if len(en.buf)-start > MaxEncodedSize {
			return nil, invalid("", RuleTooLarge, "an event is at most 64 KiB")
		}
	}
	return en.buf, nil
}

// fields handles the fields of one object. path is the object's path and
// paths the paths of its fields (nil at the top level); first reports that
// no member has been written yet (so no comma precedes the first one).
func (en *encoder) fields(sch *schema, ptrs []any, path string, paths []string, first bool) error {
	for i := range sch.fields {
		f := &sch.fields[i]
		fpath := sch.fieldPath(i, paths)
		if !isPresent(f, ptrs[i]) {
			if !f.optional {
				return invalid(fpath, RuleRequired, "must be present and not null")
			}
			continue
		}
		if en.emit {
			if first {
				en.buf = append(en.buf, f.key...)
				first = false
			} else {
				en.buf = append(en.buf, f.sepKey...)
			}
		}
		if err := en.value(f, ptrs[i], fpath); err != nil {
			return err
		}
	}
	if sch == &resultSchema {
		r := ptrs[0].(*string)
		return checkResultShape(path, ResultStatus(*r), *ptrs[1].(*string) != "", *ptrs[2].(*string) != "")
	}
	return nil
}

// isPresent reports whether a field holds a value (as opposed to "none").
func isPresent(f *fieldSpec, p any) bool {
	switch f.kind {
	case kindString:
		return *p.(*string) != ""
	case kindTime:
		return !p.(*time.Time).IsZero()
	case kindOptU64:
		return *p.(**uint64) != nil
	case kindIP:
		return p.(*netip.Addr).IsValid()
	case kindOptResult:
		return *p.(**Result) != nil
	case kindObject:
		return len(*p.(*json.RawMessage)) != 0
	}
	return true
}

func (en *encoder) value(f *fieldSpec, p any, path string) error {
	switch f.kind {
	case kindString:
		s := *p.(*string)
		if rule, detail := checkText(s, f.text); rule != "" {
			return invalid(path, rule, detail)
		}
		if en.emit {
			en.buf = appendString(en.buf, s)
		}
	case kindTime:
		sec, nsec := timeParts(*p.(*time.Time))
		if rule, detail := en.clk.checkTime(sec, nsec, f.time); rule != "" {
			return invalid(path, rule, detail)
		}
		if en.emit {
			en.buf = append(en.buf, '"')
			en.buf = appendTimestamp(en.buf, sec, nsec)
			en.buf = append(en.buf, '"')
		}
	case kindU32:
		v := uint64(*p.(*uint32))
		if v > f.max {
			return outOfRange(path, f.max)
		}
		if en.emit {
			en.buf = strconv.AppendUint(en.buf, v, 10)
		}
	case kindU64:
		if en.emit {
			en.buf = strconv.AppendUint(en.buf, *p.(*uint64), 10)
		}
	case kindOptU64:
		if en.emit {
			en.buf = strconv.AppendUint(en.buf, **p.(**uint64), 10)
		}
	case kindIP:
		a := *p.(*netip.Addr)
		if a.Zone() != "" {
			return invalid(path, RuleInvalidIP, "an IPv4 or IPv6 address without zone")
		}
		if en.emit {
			en.buf = append(en.buf, '"')
			en.buf = a.AppendTo(en.buf)
			en.buf = append(en.buf, '"')
		}
	case kindActor:
		var b binder
		p.(*Actor).bind(&b)
		return en.object(f, b.ptrs[:b.n], path)
	case kindResource:
		var b binder
		p.(*Resource).bind(&b)
		return en.object(f, b.ptrs[:b.n], path)
	case kindResult:
		var b binder
		p.(*Result).bind(&b)
		return en.object(f, b.ptrs[:b.n], path)
	case kindOptResult:
		var b binder
		(*p.(**Result)).bind(&b)
		return en.object(f, b.ptrs[:b.n], path)
	case kindStrings:
		v := *p.(*[]string)
		if en.emit {
			en.buf = append(en.buf, '[')
		}
		for i, s := range v {
			if rule, detail := checkText(s, f.text); rule != "" {
				return invalid(indexPath(path, i), rule, detail)
			}
			if en.emit {
				if i > 0 {
					en.buf = append(en.buf, ',')
				}
				en.buf = appendString(en.buf, s)
			}
		}
		if en.emit {
			en.buf = append(en.buf, ']')
		}
	case kindU32s:
		if en.emit {
			en.buf = append(en.buf, '[')
			for i, v := range *p.(*[]uint32) {
				if i > 0 {
					en.buf = append(en.buf, ',')
				}
				en.buf = strconv.AppendUint(en.buf, uint64(v), 10)
			}
			en.buf = append(en.buf, ']')
		}
	case kindObject:
		v, err := canonicalFreeObject(*p.(*json.RawMessage), path)
		if err != nil {
			return err
		}
		if en.emit {
			en.buf = append(en.buf, v...)
		}
	case kindStringMap:
		return en.stringMap(*p.(*map[string]string), path)
	}
	return nil
}

// object handles a nested shape: f is the field that holds it.
func (en *encoder) object(f *fieldSpec, ptrs []any, path string) error {
	if en.emit {
		en.buf = append(en.buf, '{')
	}
	if err := en.fields(f.sub, ptrs, path, f.subPaths, true); err != nil {
		return err
	}
	if en.emit {
		en.buf = append(en.buf, '}')
	}
	return nil
}

func (en *encoder) stringMap(m map[string]string, path string) error {
	if len(m) > maxSettings {
		return invalid(path, RuleTooMany, "at most 64 entries")
	}
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if rule, detail := checkText(k, &ruleText); rule != "" {
			return invalid(path, rule, detail)
		}
		if rule, detail := checkText(v, &ruleFree); rule != "" {
			return invalid(path, rule, detail)
		}
		keys = append(keys, k)
	}
	if !en.emit {
		return nil
	}
	slices.Sort(keys)
	en.buf = append(en.buf, '{')
	for i, k := range keys {
		if i > 0 {
			en.buf = append(en.buf, ',')
		}
		en.buf = appendString(en.buf, k)
		en.buf = append(en.buf, ':')
		en.buf = appendString(en.buf, m[k])
	}
	en.buf = append(en.buf, '}')
	return nil
}

// appendString appends s as a JSON string. Valid strings contain no control
// characters other than tab and line feed, so the canonical escapes are
// exactly \" \\ \t and \n; everything else, including "<", ">", "&", "/" and
// all non-ASCII characters, is written as is. (Other control characters,
// which validation refuses, would be written as \u00XX.)
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\t':
			dst = append(dst, '\\', 't')
		case '\n':
			dst = append(dst, '\\', 'n')
		default:
			const hex = "0123456789abcdef"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
