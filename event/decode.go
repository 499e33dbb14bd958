package event

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"reflect"
	"sync"
	"time"
	"unicode/utf8"
)

// DecodeOptions controls Decode and CheckCanonical.
type DecodeOptions struct {
	// Now is the reference clock for the "not absurd" timestamp rule; the
	// zero value means time.Now().
	Now time.Time
	// AllowSealerEvents accepts the sealer's own audit.* types, which
	// clients may never send.
	AllowSealerEvents bool
}

// maxDepth bounds the JSON nesting of a whole event; valid events never
// exceed 6 (event, changes and four levels inside it).
const maxDepth = 16

// Limits of the free-form objects (changes, filters).
const (
	maxObjectDepth = 4
	maxObjectSize  = 4 << 10
)

// Decode decodes one event strictly and validates every rule of EVENTS.md.
// Any failure is a *ValidationError wrapping ErrInvalid.
func Decode(data []byte, opts DecodeOptions) (Event, error) {
	clk := newClock(opts.Now)
	return decodeEvent(data, opts.AllowSealerEvents, &clk)
}

func decodeEvent(data []byte, allowSealer bool, clk *clock) (Event, error) {
	if len(data) > MaxEncodedSize {
		return nil, invalid("", RuleTooLarge, "an event is at most 64 KiB")
	}
	d := decoder{data: data, clk: *clk}
	ti, err := d.findType(allowSealer)
	if err != nil {
		return nil, err
	}
	// All strings of the event share one copy of the input.
	d.src = string(data)
	e := ti.newEvent()
	b := binderPool.Get().(*binder)
	b.n = 0
	e.bind(b)
	err = d.decodeObject(&ti.schema, b.ptrs[:b.n], "", nil, true)
	clear(b.ptrs[:b.n])
	binderPool.Put(b)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, invalid("", RuleTrailingData, "only whitespace may follow the event object")
	}
	// The canonical form is never longer than the input, except that an
	// IPv4-mapped address may gain a few bytes; check the real size when the
	// input is close to the limit.
	if len(data) > MaxEncodedSize-256 {
		if _, err := appendEncode(nil, e, clk); err != nil {
			return nil, err
		}
	}
	return e, nil
}

var binderPool = sync.Pool{New: func() any { return new(binder) }}

// decoder is a strict, single-pass JSON reader for events.
type decoder struct {
	data []byte
	src  string // string(data); decoded strings without escapes are substrings of it
	pos  int
	clk  clock
	key  []byte // scratch for unescaped keys
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) && isSpace(d.data[d.pos]) {
		d.pos++
	}
}

// peek returns the next non-space byte without consuming it, or 0 at the end.
func (d *decoder) peek() byte {
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.data[d.pos]
	}
	return 0
}

func errSyntax(path string) error {
	return invalid(path, RuleInvalidJSON, "malformed JSON")
}

// expect consumes byte c after optional whitespace.
func (d *decoder) expect(c byte, path string) error {
	if d.peek() != c {
		return errSyntax(path)
	}
	d.pos++
	return nil
}

// isNull consumes a null literal if one is next.
func (d *decoder) isNull() bool {
	if d.peek() == 'n' && len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
		d.pos += 4
		return true
	}
	return false
}

// scanString reads a JSON string starting at the opening quote. It returns
// the raw content (between the quotes) and whether it contains escapes.
// With escapes it checks the escape syntax and refuses raw control bytes;
// without, raw control bytes are left to the caller (checkTextMode with
// rawJSON refuses them), so that the common case is two SIMD searches. It
// does not check UTF-8, which checkText does on the decoded value.
func (d *decoder) scanString(path string) (start, end int, escaped bool, err error) {
	if d.peek() != '"' {
		return 0, 0, false, invalid(path, RuleWrongType, "must be a string")
	}
	d.pos++
	start = d.pos
	data := d.data
	if q := bytes.IndexByte(data[start:], '"'); q >= 0 && bytes.IndexByte(data[start:start+q], '\\') < 0 {
		d.pos = start + q + 1
		return start, start + q, false, nil
	}
	for i := d.pos; i < len(data); i++ {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			return start, i, true, nil
		case c == '\\':
			i++
			if i >= len(data) {
				return 0, 0, false, errSyntax(path)
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(data) || !isHex4(data[i+1:i+5]) {
					return 0, 0, false, errSyntax(path)
				}
				i += 4
			default:
				return 0, 0, false, errSyntax(path)
			}
		case c < 0x20:
			return 0, 0, false, errSyntax(path)
		}
	}
	return 0, 0, false, errSyntax(path)
}

// hasControlByte reports whether raw JSON string content holds a byte that
// JSON requires to be escaped.
func hasControlByte(s []byte) bool {
	for _, c := range s {
		if c < 0x20 {
			return true
		}
	}
	return false
}

func isHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func hexValue(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c-'a') + 10
		default:
			r |= rune(c-'A') + 10
		}
	}
	return r
}

// unescape appends the decoded form of the raw string content s (already
// checked by scanString) to dst. A lone surrogate escape is invalid UTF-8.
func unescape(dst, s []byte, path string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			dst = append(dst, s[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := hexValue(s[i+1 : i+5])
			i += 4
			if r >= 0xd800 && r < 0xdc00 {
				// High surrogate: a low surrogate escape must follow.
				if i+6 < len(s) && s[i+1] == '\\' && s[i+2] == 'u' {
					r2 := hexValue(s[i+3 : i+7])
					if r2 >= 0xdc00 && r2 < 0xe000 {
						r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
						i += 6
						dst = utf8.AppendRune(dst, r)
						continue
					}
				}
				return nil, invalid(path, RuleInvalidUTF8, "unpaired surrogate escape")
			}
			if r >= 0xdc00 && r < 0xe000 {
				return nil, invalid(path, RuleInvalidUTF8, "unpaired surrogate escape")
			}
			dst = utf8.AppendRune(dst, r)
		}
	}
	return dst, nil
}

// readString reads a JSON string and returns its decoded value and whether
// it was written with escapes. Without escapes the value may still hold raw
// control bytes: use readText, or parse the value strictly.
func (d *decoder) readString(path string) (string, bool, error) {
	start, end, escaped, err := d.scanString(path)
	if err != nil {
		return "", false, err
	}
	if !escaped {
		if d.src != "" {
			return d.src[start:end], false, nil
		}
		return string(d.data[start:end]), false, nil
	}
	b, err := unescape(make([]byte, 0, end-start), d.data[start:end], path)
	if err != nil {
		return "", false, err
	}
	return string(b), true, nil
}

// readText reads a JSON string and applies rule r to its decoded value.
func (d *decoder) readText(r *textRule, path string) (string, error) {
	s, escaped, err := d.readString(path)
	if err != nil {
		return "", err
	}
	if rule, detail := checkTextMode(s, r, !escaped); rule != "" {
		return "", invalid(path, rule, detail)
	}
	return s, nil
}

// readKey reads an object key; the result is valid until the next call.
func (d *decoder) readKey(path string) ([]byte, error) {
	if d.peek() != '"' {
		return nil, errSyntax(path)
	}
	start, end, escaped, err := d.scanString(path)
	if err != nil {
		return nil, err
	}
	if !escaped {
		return d.data[start:end], nil
	}
	d.key, err = unescape(d.key[:0], d.data[start:end], path)
	return d.key, err
}

// keyPath names an unknown key in an error only when that is safe.
func keyPath(parent string, key []byte) string {
	if safeKeyForPath(key) {
		return joinPath(parent, string(key))
	}
	return parent
}

// findType locates the "type" member (normally the first), checks it and
// leaves the position at the start of the object.
func (d *decoder) findType(allowSealer bool) (*typeInfo, error) {
	switch d.peek() {
	case '{':
	case 0:
		return nil, invalid("", RuleInvalidJSON, "empty input")
	default:
		if !validJSONStart(d.data[d.pos]) {
			return nil, invalid("", RuleInvalidJSON, "malformed JSON")
		}
		return nil, invalid("", RuleWrongType, "an event must be a JSON object")
	}
	objStart := d.pos
	d.pos++
	if d.peek() == '}' {
		return nil, invalid("type", RuleRequired, "the event type is missing")
	}
	for {
		key, err := d.readKey("")
		if err != nil {
			return nil, err
		}
		isType := string(key) == "type"
		var path string
		if !isType {
			path = keyPath("", key)
		}
		if err := d.expect(':', path); err != nil {
			return nil, err
		}
		if isType {
			if d.isNull() {
				return nil, invalid("type", RuleRequired, "the event type is missing")
			}
			start, end, escaped, err := d.scanString("type")
			if err != nil {
				return nil, err
			}
			name := d.data[start:end]
			if escaped {
				if name, err = unescape(nil, name, "type"); err != nil {
					return nil, err
				}
			}
			ti := typesByName[string(name)]
			if ti == nil {
				return nil, invalid("type", RuleUnknownType, "not an event type of EVENTS.md")
			}
			if ti.sealer && !allowSealer {
				return nil, invalid("type", RuleSealerTypeNotAllowed, "audit.* events are written by the sealer only")
			}
			d.pos = objStart
			return ti, nil
		}
		if err := d.skipValue(2, path); err != nil {
			return nil, err
		}
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			return nil, invalid("type", RuleRequired, "the event type is missing")
		default:
			return nil, errSyntax("")
		}
	}
}

func validJSONStart(c byte) bool {
	switch c {
	case '[', '"', 't', 'f', 'n', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return true
	}
	return false
}

// skipValue checks and skips any JSON value at nesting depth depth.
func (d *decoder) skipValue(depth int, path string) error {
	switch c := d.peek(); {
	case c == '{' || c == '[':
		if depth > maxDepth {
			return invalid(path, RuleTooDeep, "JSON nested too deeply")
		}
		d.pos++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		if d.peek() == closing {
			d.pos++
			return nil
		}
		for {
			if c == '{' {
				if _, err := d.readKey(path); err != nil {
					return err
				}
				if err := d.expect(':', path); err != nil {
					return err
				}
			}
			if err := d.skipValue(depth+1, path); err != nil {
				return err
			}
			switch d.peek() {
			case ',':
				d.pos++
			case closing:
				d.pos++
				return nil
			default:
				return errSyntax(path)
			}
		}
	case c == '"':
		start, end, escaped, err := d.scanString(path)
		if err != nil {
			return err
		}
		s := d.data[start:end]
		if escaped {
			if s, err = unescape(nil, s, path); err != nil {
				return err
			}
		} else if hasControlByte(s) {
			return errSyntax(path)
		}
		if !utf8.Valid(s) {
			return invalid(path, RuleInvalidUTF8, "not valid UTF-8")
		}
		return nil
	case c == 't' || c == 'f' || c == 'n':
		return d.skipLiteral(path)
	default:
		_, _, err := d.scanNumber(path)
		return err
	}
}

func (d *decoder) skipLiteral(path string) error {
	rest := d.data[d.pos:]
	for _, lit := range [...]string{"true", "false", "null"} {
		if len(rest) >= len(lit) && string(rest[:len(lit)]) == lit {
			d.pos += len(lit)
			return nil
		}
	}
	return errSyntax(path)
}

// scanNumber checks the JSON number grammar and returns the number's span.
func (d *decoder) scanNumber(path string) (start, end int, err error) {
	d.skipSpace()
	data := d.data
	i := d.pos
	start = i
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return 0, 0, errSyntax(path)
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return 0, 0, errSyntax(path)
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || data[i] < '0' || data[i] > '9' {
			return 0, 0, errSyntax(path)
		}
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	d.pos = i
	return start, i, nil
}

// readUint reads an unsigned integer written as plain digits, at most max.
func (d *decoder) readUint(path string, max uint64) (uint64, error) {
	c := d.peek()
	if !(c == '-' || c >= '0' && c <= '9') {
		return 0, invalid(path, RuleWrongType, "must be a number")
	}
	start, end, err := d.scanNumber(path)
	if err != nil {
		return 0, err
	}
	var v uint64
	for _, c := range d.data[start:end] {
		if c < '0' || c > '9' {
			return 0, outOfRange(path, max)
		}
		if v > (max-uint64(c-'0'))/10 {
			return 0, outOfRange(path, max)
		}
		v = v*10 + uint64(c-'0')
	}
	return v, nil
}

func outOfRange(path string, max uint64) error {
	switch max {
	case 1<<32 - 1:
		return invalid(path, RuleOutOfRange, "an unsigned 32-bit integer written as plain digits")
	case 1<<64 - 1:
		return invalid(path, RuleOutOfRange, "an unsigned 64-bit integer written as plain digits")
	case 100:
		return invalid(path, RuleOutOfRange, "an integer from 0 to 100 written as plain digits")
	}
	return invalid(path, RuleOutOfRange, "an unsigned integer written as plain digits")
}

// decodeObject decodes a JSON object of the given schema into ptrs. path is
// the object's own path and paths the paths of its fields (nil at the top
// level); top marks the event object itself, whose "type" member findType
// has checked.
func (d *decoder) decodeObject(sch *schema, ptrs []any, path string, paths []string, top bool) error {
	if d.peek() != '{' {
		return invalid(path, RuleWrongType, "must be an object")
	}
	d.pos++
	var seen, present uint32
	typeSeen := false
	if d.peek() == '}' {
		d.pos++
	} else {
	members:
		for {
			key, err := d.readKey(path)
			if err != nil {
				return err
			}
			if top && string(key) == "type" {
				if typeSeen {
					return invalid("type", RuleDuplicateKey, "the key appears twice")
				}
				typeSeen = true
				if err := d.expect(':', "type"); err != nil {
					return err
				}
				if _, _, _, err := d.scanString("type"); err != nil {
					return err
				}
			} else {
				i := sch.index(key)
				if i < 0 {
					return invalid(keyPath(path, key), RuleUnknownField, "not a field of this event type")
				}
				f := &sch.fields[i]
				fpath := sch.fieldPath(i, paths)
				if seen&(1<<i) != 0 {
					return invalid(fpath, RuleDuplicateKey, "the key appears twice")
				}
				seen |= 1 << i
				if err := d.expect(':', fpath); err != nil {
					return err
				}
				if d.isNull() {
					if !f.optional {
						return invalid(fpath, RuleRequired, "must be present and not null")
					}
				} else {
					if err := d.decodeField(f, ptrs[i], fpath); err != nil {
						return err
					}
					present |= 1 << i
				}
			}
			switch d.peek() {
			case ',':
				d.pos++
			case '}':
				d.pos++
				break members
			default:
				return errSyntax(path)
			}
		}
	}
	for i := range sch.fields {
		if !sch.fields[i].optional && present&(1<<i) == 0 {
			return invalid(sch.fieldPath(i, paths), RuleRequired, "must be present and not null")
		}
	}
	if sch == &resultSchema {
		r := ptrs[0].(*string)
		return checkResultShape(path, ResultStatus(*r), present&2 != 0, present&4 != 0)
	}
	return nil
}

// decodeField decodes one non-null value into p.
func (d *decoder) decodeField(f *fieldSpec, p any, path string) error {
	switch f.kind {
	case kindString:
		s, err := d.readText(f.text, path)
		if err != nil {
			return err
		}
		*p.(*string) = s
	case kindTime:
		t, err := d.readTime(f.time, path)
		if err != nil {
			return err
		}
		*p.(*time.Time) = t
	case kindU32:
		v, err := d.readUint(path, f.max)
		if err != nil {
			return err
		}
		*p.(*uint32) = uint32(v)
	case kindU64:
		v, err := d.readUint(path, f.max)
		if err != nil {
			return err
		}
		*p.(*uint64) = v
	case kindOptU64:
		v, err := d.readUint(path, f.max)
		if err != nil {
			return err
		}
		*p.(**uint64) = &v
	case kindIP:
		s, _, err := d.readString(path)
		if err != nil {
			return err
		}
		a, err := parseIP(s, path)
		if err != nil {
			return err
		}
		*p.(*netip.Addr) = a
	case kindActor:
		var b binder
		p.(*Actor).bind(&b)
		return d.decodeObject(f.sub, b.ptrs[:b.n], path, f.subPaths, false)
	case kindResource:
		var b binder
		p.(*Resource).bind(&b)
		return d.decodeObject(f.sub, b.ptrs[:b.n], path, f.subPaths, false)
	case kindResult:
		var b binder
		p.(*Result).bind(&b)
		return d.decodeObject(f.sub, b.ptrs[:b.n], path, f.subPaths, false)
	case kindOptResult:
		r := new(Result)
		var b binder
		r.bind(&b)
		if err := d.decodeObject(f.sub, b.ptrs[:b.n], path, f.subPaths, false); err != nil {
			return err
		}
		*p.(**Result) = r
	case kindStrings:
		v, err := d.readTexts(f.text, path)
		if err != nil {
			return err
		}
		*p.(*[]string) = v
	case kindU32s:
		v, err := d.readUints(f.max, path)
		if err != nil {
			return err
		}
		*p.(*[]uint32) = v
	case kindObject:
		if d.peek() != '{' {
			return invalid(path, RuleWrongType, "must be an object")
		}
		v, err := d.canonicalObject(nil, 1, path)
		if err != nil {
			return err
		}
		if len(v) > maxObjectSize {
			return invalid(path, RuleTooLarge, "at most 4 KiB once canonical")
		}
		*p.(*json.RawMessage) = v
	case kindStringMap:
		v, err := d.readStringMap(path)
		if err != nil {
			return err
		}
		*p.(*map[string]string) = v
	}
	return nil
}

func (d *decoder) readTime(r timeRule, path string) (time.Time, error) {
	s, _, err := d.readString(path)
	if err != nil {
		return time.Time{}, err
	}
	sec, nsec, _, ok := parseTimestamp(s)
	if !ok {
		return time.Time{}, invalid(path, RuleInvalidTimestamp, detailTimestamp)
	}
	if rule, detail := d.clk.checkTime(sec, nsec, r); rule != "" {
		return time.Time{}, invalid(path, rule, detail)
	}
	return time.Unix(sec, int64(nsec)).UTC(), nil
}

// parseIP parses an IP address without a zone.
func parseIP(s string, path string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, invalid(path, RuleInvalidIP, "an IPv4 or IPv6 address without zone")
	}
	return a, nil
}

func (d *decoder) readTexts(r *textRule, path string) ([]string, error) {
	if d.peek() != '[' {
		return nil, invalid(path, RuleWrongType, "must be an array of strings")
	}
	d.pos++
	out := []string{}
	if d.peek() == ']' {
		d.pos++
		return out, nil
	}
	for {
		s, err := d.readText(r, "")
		if err != nil {
			return nil, atIndex(err, path, len(out))
		}
		out = append(out, s)
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return out, nil
		default:
			return nil, errSyntax(path)
		}
	}
}

func (d *decoder) readUints(max uint64, path string) ([]uint32, error) {
	if d.peek() != '[' {
		return nil, invalid(path, RuleWrongType, "must be an array of numbers")
	}
	d.pos++
	out := []uint32{}
	if d.peek() == ']' {
		d.pos++
		return out, nil
	}
	for {
		v, err := d.readUint("", max)
		if err != nil {
			return nil, atIndex(err, path, len(out))
		}
		out = append(out, uint32(v))
		switch d.peek() {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return out, nil
		default:
			return nil, errSyntax(path)
		}
	}
}

// atIndex sets the path of an array element's error, built only on failure.
func atIndex(err error, path string, i int) error {
	if ve, ok := err.(*ValidationError); ok {
		ve.Field = indexPath(path, i)
	}
	return err
}

// readStringMap reads the settings object: string keys to string values.
func (d *decoder) readStringMap(path string) (map[string]string, error) {
	if d.peek() != '{' {
		return nil, invalid(path, RuleWrongType, "must be an object of strings")
	}
	d.pos++
	out := map[string]string{}
	if d.peek() == '}' {
		d.pos++
		return out, nil
	}
	for {
		k, err := d.readText(&ruleText, path)
		if err != nil {
			return nil, err
		}
		if _, dup := out[k]; dup {
			return nil, invalid(path, RuleDuplicateKey, "a key appears twice")
		}
		if len(out) >= maxSettings {
			return nil, invalid(path, RuleTooMany, "at most 64 entries")
		}
		if err := d.expect(':', path); err != nil {
			return nil, err
		}
		if d.peek() != '"' {
			return nil, invalid(path, RuleWrongType, "values must be strings")
		}
		v, err := d.readText(&ruleFree, path)
		if err != nil {
			return nil, err
		}
		out[k] = v
		switch d.peek() {
		case ',':
			d.pos++
		case '}':
			d.pos++
			return out, nil
		default:
			return nil, errSyntax(path)
		}
	}
}

// isNilEvent reports whether e is nil or a nil pointer.
func isNilEvent(e Event) bool {
	if e == nil {
		return true
	}
	v := reflect.ValueOf(e)
	return v.Kind() == reflect.Pointer && v.IsNil()
}
