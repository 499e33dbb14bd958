// Package strictjson checks JSON documents strictly before encoding/json
// decodes them. encoding/json matches member names case-insensitively, keeps
// the last of two members with the same name and ignores unknown members
// unless asked, so one document can mean one thing to it and another to jq
// or Python. A document that passes [Unmarshal] means the same to all of
// them:
//
//   - it is one JSON value (RFC 8259) in valid UTF-8, with nothing but white
//     space after it, no lone surrogate escapes (\ud800), and at most
//     [MaxDepth] levels of nesting;
//   - no object, at any depth, has two members with the same name (names
//     compared after unescaping, so "a" and "\u0061" are the same);
//   - every object decoded into a Go struct has exactly the struct's member
//     names, compared case-sensitively: no unknown member, and every member
//     whose tag lacks omitempty (or omitzero) present;
//   - null appears only where the Go value can be nil (a pointer, slice, map
//     or interface), never for a string, number, bool, array or struct.
//
// Values whose type decodes itself (json.Unmarshaler, such as json.RawMessage
// or time.Time; encoding.TextUnmarshaler) and interfaces are checked by the
// first two rules only. The package is pure Go and imports only the
// standard library.
package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxDepth is the deepest nesting of arrays and objects Check accepts.
const MaxDepth = 512

var (
	// ErrSyntax is wrapped when the data is not one well-formed JSON value
	// in UTF-8 followed only by white space.
	ErrSyntax = errors.New("strictjson: malformed json")
	// ErrDuplicate is wrapped when an object has two members of one name.
	ErrDuplicate = errors.New("strictjson: duplicate member")
	// ErrUnknown is wrapped when an object has a member its Go struct does
	// not declare with exactly that name.
	ErrUnknown = errors.New("strictjson: unknown member")
	// ErrMissing is wrapped when an object lacks a required member.
	ErrMissing = errors.New("strictjson: missing member")
	// ErrNull is wrapped when null stands where the Go value cannot be nil.
	ErrNull = errors.New("strictjson: null not allowed")
)

// Check reports whether data is one well-formed JSON value with no
// duplicate member names at any depth and nothing but white space after it.
// Every error wraps ErrSyntax or ErrDuplicate.
func Check(data []byte) error {
	return check(data, nil)
}

// Unmarshal checks data against the type of v (a non-nil pointer) by every
// rule of the package, then decodes it into v with encoding/json. An error
// from a check wraps one of the package's sentinels; one from decoding (a
// value of the wrong type, or one the type's own decoder refuses) is
// encoding/json's.
func Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("strictjson: Unmarshal needs a non-nil pointer, not %T", v)
	}
	s, err := shapeOf(rv.Type().Elem())
	if err != nil {
		return err
	}
	if err := check(data, s); err != nil {
		return err
	}
	return json.Unmarshal(data, v)
}

func check(data []byte, s *shape) error {
	p := parser{data: data}
	p.space()
	if p.pos == len(data) {
		return fmt.Errorf("%w: no value", ErrSyntax)
	}
	if err := p.value(s, 0); err != nil {
		return err
	}
	p.space()
	if p.pos != len(data) {
		return p.syntax("data after the value")
	}
	return nil
}

// shape is what Unmarshal expects of the JSON value that decodes into a Go
// type.
type shape struct {
	nullable bool
	any      bool              // decodes itself, or is an interface: any value
	target   *shape            // pointer: what it points to
	fields   map[string]*field // struct: its members
	members  *shape            // map: every member's value
	items    *shape            // slice or array: every element
}

type field struct {
	shape    *shape
	required bool
}

var (
	shapes          sync.Map // reflect.Type → *shape
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

func shapeOf(t reflect.Type) (*shape, error) {
	if s, ok := shapes.Load(t); ok {
		return s.(*shape), nil
	}
	s, err := build(t, map[reflect.Type]*shape{})
	if err != nil {
		return nil, err
	}
	shapes.Store(t, s)
	return s, nil
}

// build returns the shape of t; building holds the shapes under
// construction, so that a recursive type refers to itself.
func build(t reflect.Type, building map[reflect.Type]*shape) (*shape, error) {
	if s := building[t]; s != nil {
		return s, nil
	}
	k := t.Kind()
	s := &shape{nullable: k == reflect.Pointer || k == reflect.Slice || k == reflect.Map || k == reflect.Interface}
	building[t] = s
	pt := reflect.PointerTo(t)
	if k == reflect.Interface || t.Implements(jsonUnmarshaler) || pt.Implements(jsonUnmarshaler) ||
		t.Implements(textUnmarshaler) || pt.Implements(textUnmarshaler) {
		s.any = true
		return s, nil
	}
	var err error
	switch k {
	case reflect.Pointer:
		s.target, err = build(t.Elem(), building)
	case reflect.Slice, reflect.Array:
		s.items, err = build(t.Elem(), building)
	case reflect.Map:
		s.members, err = build(t.Elem(), building)
	case reflect.Struct:
		s.fields = map[string]*field{}
		for i := range t.NumField() {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" || (!f.IsExported() && !f.Anonymous) {
				continue
			}
			if f.Anonymous {
				return nil, fmt.Errorf("strictjson: %s: embedded field %s is not supported", t, f.Name)
			}
			name, opts, _ := strings.Cut(tag, ",")
			if name == "" {
				name = f.Name
			}
			fd := &field{required: true}
			for o := range strings.SplitSeq(opts, ",") {
				switch o {
				case "omitempty", "omitzero":
					fd.required = false
				case "string":
					fd.shape = &shape{any: true}
				}
			}
			if fd.shape == nil {
				if fd.shape, err = build(f.Type, building); err != nil {
					return nil, err
				}
			}
			s.fields[name] = fd
		}
	}
	return s, err
}

// parser walks one document. path names the value being read, for errors.
type parser struct {
	data []byte
	pos  int
	path []string
}

func (p *parser) syntax(msg string) error {
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, msg, p.pos)
}

// where names the current value: "at the top level" or "in event.actor".
func (p *parser) where() string {
	if len(p.path) == 0 {
		return "at the top level"
	}
	var b strings.Builder
	for _, e := range p.path {
		if !strings.HasPrefix(e, "[") && b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(e)
	}
	return "in " + b.String()
}

func (p *parser) space() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// value reads one value that decodes into s (nil: anything).
func (p *parser) value(s *shape, depth int) error {
	for s != nil && s.target != nil {
		if p.literal("null") {
			return nil
		}
		s = s.target
	}
	nullable := s == nil || s.nullable
	if s != nil && s.any {
		s = nil
	}
	if p.pos == len(p.data) {
		return p.syntax("unexpected end")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		return p.object(s, depth+1)
	case c == '[':
		return p.array(s, depth+1)
	case c == '"':
		_, err := p.str(false)
		return err
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case p.literal("true") || p.literal("false"):
		return nil
	case p.literal("null"):
		if !nullable {
			return fmt.Errorf("%w %s", ErrNull, p.where())
		}
		return nil
	default:
		return p.syntax(fmt.Sprintf("unexpected %q", c))
	}
}

func (p *parser) literal(lit string) bool {
	if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
		p.pos += len(lit)
		return true
	}
	return false
}

func (p *parser) object(s *shape, depth int) error {
	if depth > MaxDepth {
		return p.syntax("nested too deeply")
	}
	p.pos++ // {
	var fields map[string]*field
	var members *shape
	if s != nil {
		fields, members = s.fields, s.members
	}
	seen := map[string]bool{}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		return p.missing(fields, seen)
	}
	for {
		p.space()
		if p.pos == len(p.data) || p.data[p.pos] != '"' {
			return p.syntax("want a member name")
		}
		name, err := p.str(true)
		if err != nil {
			return err
		}
		if seen[name] {
			return fmt.Errorf("%w %q %s", ErrDuplicate, name, p.where())
		}
		seen[name] = true
		vs := members
		if fields != nil {
			f := fields[name]
			if f == nil {
				return fmt.Errorf("%w %q %s", ErrUnknown, name, p.where())
			}
			vs = f.shape
		}
		p.space()
		if p.pos == len(p.data) || p.data[p.pos] != ':' {
			return p.syntax("want ':'")
		}
		p.pos++
		p.space()
		p.path = append(p.path, pathName(name))
		err = p.value(vs, depth)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return err
		}
		p.space()
		if p.pos == len(p.data) {
			return p.syntax("unexpected end")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return p.missing(fields, seen)
		default:
			return p.syntax("want ',' or '}'")
		}
	}
}

func (p *parser) missing(fields map[string]*field, seen map[string]bool) error {
	var absent []string
	for name, f := range fields {
		if f.required && !seen[name] {
			absent = append(absent, strconv.Quote(name))
		}
	}
	if len(absent) == 0 {
		return nil
	}
	slices.Sort(absent)
	return fmt.Errorf("%w %s %s", ErrMissing, strings.Join(absent, ", "), p.where())
}

func (p *parser) array(s *shape, depth int) error {
	if depth > MaxDepth {
		return p.syntax("nested too deeply")
	}
	p.pos++ // [
	var items *shape
	if s != nil {
		items = s.items
	}
	p.space()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		return nil
	}
	for i := 0; ; i++ {
		p.space()
		p.path = append(p.path, "["+strconv.Itoa(i)+"]")
		err := p.value(items, depth)
		p.path = p.path[:len(p.path)-1]
		if err != nil {
			return err
		}
		p.space()
		if p.pos == len(p.data) {
			return p.syntax("unexpected end")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		default:
			return p.syntax("want ',' or ']'")
		}
	}
}

// str reads a string; with decode it returns its value.
func (p *parser) str(decode bool) (string, error) {
	p.pos++ // "
	var b []byte
	start := p.pos
	for {
		if p.pos == len(p.data) {
			return "", p.syntax("unterminated string")
		}
		c := p.data[p.pos]
		switch {
		case c == '"':
			end := p.pos
			p.pos++
			switch {
			case !decode:
				return "", nil
			case b == nil:
				return string(p.data[start:end]), nil
			}
			return string(append(b, p.data[start:end]...)), nil
		case c < 0x20:
			return "", p.syntax("control character in a string")
		case c == '\\':
			if decode {
				b = append(b, p.data[start:p.pos]...)
			}
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			if decode {
				b = utf8.AppendRune(b, r)
			}
			start = p.pos
		case c < utf8.RuneSelf:
			p.pos++
		default:
			r, n := utf8.DecodeRune(p.data[p.pos:])
			if r == utf8.RuneError && n == 1 {
				return "", p.syntax("invalid utf-8")
			}
			p.pos += n
		}
	}
}

// escape reads one escape sequence (a surrogate pair is one) at the
// backslash and returns the rune it stands for.
func (p *parser) escape() (rune, error) {
	if p.pos+1 >= len(p.data) {
		return 0, p.syntax("unterminated string")
	}
	c := p.data[p.pos+1]
	p.pos += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), nil
	case 'b':
		return '\b', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'u':
		r, ok := p.hex4()
		if !ok {
			return 0, p.syntax(`bad \u escape`)
		}
		if !utf16.IsSurrogate(r) {
			return r, nil
		}
		if r < 0xdc00 && p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
			p.pos += 2
			if r2, ok := p.hex4(); ok {
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					return d, nil
				}
			}
		}
		return 0, p.syntax("lone surrogate escape")
	default:
		p.pos--
		return 0, p.syntax(fmt.Sprintf("bad escape %q", c))
	}
}

func (p *parser) hex4() (rune, bool) {
	if p.pos+4 > len(p.data) {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	p.pos += 4
	return r, true
}

// number reads a number by the grammar of RFC 8259 §6.
func (p *parser) number() error {
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if p.data[p.pos] == '-' {
		p.pos++
	}
	switch {
	case p.pos < len(p.data) && p.data[p.pos] == '0':
		p.pos++
	case digits() == 0:
		return p.syntax("bad number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return p.syntax("bad number")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return p.syntax("bad number")
		}
	}
	return nil
}

// pathName is how a member name appears in an error's path.
func pathName(name string) string {
	if name == "" {
		return `""`
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return strconv.Quote(name)
		}
	}
	return name
}
