package event

import (
	"bytes"
	"net/netip"
)

// CheckCanonical is the verifier's check of stored bytes: it reports whether
// data is a valid event and exactly its canonical encoding, and returns the
// event type. Stored records pass a single allocation-free scan; anything
// else is decoded to explain the failure: a *ValidationError with the rule
// that failed, or rule not_canonical when data is a valid event in another
// spelling.
//
// opts.Now bounds timestamps as in Decode; since the bound only grows with
// time, a record that was valid when it was written stays valid when the
// verifier passes a later clock (or the zero time, meaning time.Now()).
func CheckCanonical(data []byte, opts DecodeOptions) (string, error) {
	clk := newClock(opts.Now)
	if ti := checkCanonicalFast(data, &clk, opts.AllowSealerEvents); ti != nil {
		return ti.name, nil
	}
	e, err := decodeEvent(data, opts.AllowSealerEvents, &clk)
	if err != nil {
		return "", err
	}
	enc, err := appendEncode(nil, e, &clk)
	if err != nil {
		return "", err
	}
	if !bytes.Equal(enc, data) {
		return "", invalid("", RuleNotCanonical, "a valid event, but not its canonical encoding")
	}
	return e.EventType(), nil
}

// checkCanonicalFast returns the type of data when data is a valid event in
// canonical form, and nil otherwise (without saying why). It follows the
// schema field by field, so it accepts exactly what Encode writes.
func checkCanonicalFast(data []byte, clk *clock, allowSealer bool) *typeInfo {
	const head = `{"type":"`
	if len(data) > MaxEncodedSize || !bytes.HasPrefix(data, []byte(head)) {
		return nil
	}
	end := bytes.IndexByte(data[len(head):], '"')
	if end < 0 {
		return nil
	}
	ti := typesByName[string(data[len(head):len(head)+end])]
	if ti == nil || ti.sealer && !allowSealer {
		return nil
	}
	c := checker{data: data, pos: len(head) + end + 1, clk: *clk}
	if _, ok := c.fields(&ti.schema, false); !ok {
		return nil
	}
	if !c.lit("}") || c.pos != len(data) {
		return nil
	}
	return ti
}

// checker scans canonical bytes.
type checker struct {
	data []byte
	pos  int
	clk  clock
}

// lit consumes s if the input continues with it.
func (c *checker) lit(s string) bool {
	if len(c.data)-c.pos >= len(s) && string(c.data[c.pos:c.pos+len(s)]) == s {
		c.pos += len(s)
		return true
	}
	return false
}

func (c *checker) next() byte {
	if c.pos < len(c.data) {
		return c.data[c.pos]
	}
	return 0
}

// fields checks the members of one object in schema order and returns the
// bit set of present fields. first reports that no member precedes them.
func (c *checker) fields(sch *schema, first bool) (present uint32, ok bool) {
	for i := range sch.fields {
		f := &sch.fields[i]
		key := f.sepKey
		if first {
			key = f.key
		}
		if !c.lit(key) {
			if !f.optional {
				return 0, false
			}
			continue
		}
		first = false
		if !c.value(f) {
			return 0, false
		}
		present |= 1 << i
	}
	return present, true
}

func (c *checker) value(f *fieldSpec) bool {
	switch f.kind {
	case kindString:
		_, ok := c.text(f.text)
		return ok
	case kindTime:
		return c.timestamp(f.time)
	case kindU32, kindU64, kindOptU64:
		return c.uint(f.max)
	case kindIP:
		return c.ip()
	case kindActor, kindResource, kindResult, kindOptResult:
		if !c.lit("{") {
			return false
		}
		start := c.pos
		present, ok := c.fields(f.sub, true)
		if !ok || !c.lit("}") {
			return false
		}
		if f.sub == &resultSchema {
			// The first member is `"status":"<enum>"`; enum values need no
			// escapes, so the raw bytes are the value.
			rest := c.data[start+len(`"status":"`):]
			status := ResultStatus(rest[:bytes.IndexByte(rest, '"')])
			return checkResultShape("", status, present&2 != 0, present&4 != 0) == nil
		}
		return true
	case kindStrings:
		if !c.lit("[") {
			return false
		}
		if c.lit("]") {
			return true
		}
		for {
			if _, ok := c.text(f.text); !ok {
				return false
			}
			if c.lit("]") {
				return true
			}
			if !c.lit(",") {
				return false
			}
		}
	case kindU32s:
		if !c.lit("[") {
			return false
		}
		if c.lit("]") {
			return true
		}
		for {
			if !c.uint(f.max) {
				return false
			}
			if c.lit("]") {
				return true
			}
			if !c.lit(",") {
				return false
			}
		}
	case kindObject:
		start := c.pos
		return c.freeObject(1) && c.pos-start <= maxObjectSize
	case kindStringMap:
		return c.stringMap()
	}
	return false
}

// rawString consumes a string in canonical spelling and returns its raw
// content (between the quotes). Canonical content uses only the escapes
// \" \\ \t and \n; when escaped is false it may still hold raw control
// bytes, which the caller must refuse.
func (c *checker) rawString() (raw []byte, escaped, ok bool) {
	if !c.lit(`"`) {
		return nil, false, false
	}
	start := c.pos
	data := c.data
	if q := bytes.IndexByte(data[start:], '"'); q >= 0 && bytes.IndexByte(data[start:start+q], '\\') < 0 {
		c.pos = start + q + 1
		return data[start : start+q], false, true
	}
	i := start
	for ; i < len(data); i++ {
		ch := data[i]
		if ch == '"' {
			break
		}
		if ch == '\\' {
			i++
			if i >= len(data) {
				return nil, false, false
			}
			switch data[i] {
			case '"', '\\', 't', 'n':
			default:
				return nil, false, false
			}
			continue
		}
		if ch < 0x20 {
			return nil, false, false
		}
	}
	if i >= len(data) {
		return nil, false, false
	}
	c.pos = i + 1
	return data[start:i], true, true
}

// text consumes a canonical string that satisfies r and returns its raw
// content.
func (c *checker) text(r *textRule) ([]byte, bool) {
	raw, escaped, ok := c.rawString()
	if !ok {
		return nil, false
	}
	if !escaped {
		rule, _ := checkTextMode(raw, r, true)
		return raw, rule == ""
	}
	var buf [maxTextLen]byte // no valid string decodes to more
	n := 0
	for k := 0; k < len(raw); k++ {
		ch := raw[k]
		if ch == '\\' {
			ch, _ = decodedByte(raw[k:])
			k++
		}
		if n >= len(buf) {
			return nil, false
		}
		buf[n] = ch
		n++
	}
	rule, _ := checkTextMode(buf[:n], r, false)
	return raw, rule == ""
}

// uint consumes an unsigned integer in canonical form (no sign, no leading
// zero, no fraction or exponent) not above max.
func (c *checker) uint(max uint64) bool {
	data := c.data
	i := c.pos
	if i >= len(data) || data[i] < '0' || data[i] > '9' {
		return false
	}
	if data[i] == '0' {
		c.pos = i + 1
		return c.numberEnds()
	}
	var v uint64
	for ; i < len(data) && data[i] >= '0' && data[i] <= '9'; i++ {
		d := uint64(data[i] - '0')
		if v > (max-d)/10 {
			return false
		}
		v = v*10 + d
	}
	c.pos = i
	return c.numberEnds()
}

// numberEnds reports whether an integer ended at a delimiter (so that "01",
// "1.5" and "1e3" are refused).
func (c *checker) numberEnds() bool {
	switch c.next() {
	case ',', '}', ']':
		return true
	}
	return false
}

func (c *checker) timestamp(r timeRule) bool {
	s, escaped, ok := c.rawString()
	if !ok || escaped {
		return false
	}
	sec, nsec, canonical, ok := parseTimestamp(s)
	if !ok || !canonical {
		return false
	}
	rule, _ := c.clk.checkTime(sec, nsec, r)
	return rule == ""
}

func (c *checker) ip() bool {
	raw, escaped, ok := c.rawString()
	if !ok || escaped || len(raw) > 45 || len(raw) < 2 {
		return false
	}
	if isCanonicalIPv4(raw) {
		return true // dotted quad without leading zeros: netip's own spelling
	}
	var s [45]byte
	n := copy(s[:], raw)
	a, err := netip.ParseAddr(string(s[:n]))
	if err != nil || a.Zone() != "" {
		return false
	}
	var out [64]byte
	return string(a.AppendTo(out[:0])) == string(raw)
}

// isCanonicalIPv4 reports whether s is a dotted-quad IPv4 address without
// leading zeros.
func isCanonicalIPv4(s []byte) bool {
	part := 0
	for i := 0; i < len(s); {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
		v := 0
		start := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			v = v*10 + int(s[i]-'0')
			i++
			if i-start > 3 {
				return false
			}
		}
		if v > 255 || i-start > 1 && s[start] == '0' || part > 3 {
			return false
		}
		part++
		if i < len(s) {
			if s[i] != '.' || i+1 == len(s) {
				return false
			}
			i++
		}
	}
	return part == 4
}

// freeObject consumes a canonical free-form object at nesting depth depth.
func (c *checker) freeObject(depth int) bool {
	if depth > maxObjectDepth || !c.lit("{") {
		return false
	}
	if c.lit("}") {
		return true
	}
	var prev []byte
	for i := 0; ; i++ {
		key, ok := c.text(&ruleFree)
		if !ok {
			return false
		}
		if i > 0 && compareDecoded(prev, key) >= 0 {
			return false
		}
		prev = key
		if !c.lit(":") || !c.freeValue(depth+1) {
			return false
		}
		if c.lit("}") {
			return true
		}
		if !c.lit(",") {
			return false
		}
	}
}

func (c *checker) freeValue(depth int) bool {
	switch c.next() {
	case '{':
		return c.freeObject(depth)
	case '[':
		if depth > maxObjectDepth {
			return false
		}
		c.pos++
		if c.lit("]") {
			return true
		}
		for {
			if !c.freeValue(depth + 1) {
				return false
			}
			if c.lit("]") {
				return true
			}
			if !c.lit(",") {
				return false
			}
		}
	case '"':
		_, ok := c.text(&ruleFree)
		return ok
	case 't':
		return c.lit("true")
	case 'f':
		return c.lit("false")
	case 'n':
		return c.lit("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
	default:
		return false
	}
	d := decoder{data: c.data, pos: c.pos}
	if _, _, err := d.scanNumber(""); err != nil {
		return false
	}
	c.pos = d.pos
	return true
}

func (c *checker) stringMap() bool {
	if !c.lit("{") {
		return false
	}
	if c.lit("}") {
		return true
	}
	var prev []byte
	for i := 0; ; i++ {
		if i >= maxSettings {
			return false
		}
		key, ok := c.text(&ruleText)
		if !ok {
			return false
		}
		if i > 0 && compareDecoded(prev, key) >= 0 {
			return false
		}
		prev = key
		if !c.lit(":") {
			return false
		}
		if _, ok := c.text(&ruleFree); !ok {
			return false
		}
		if c.lit("}") {
			return true
		}
		if !c.lit(",") {
			return false
		}
	}
}
