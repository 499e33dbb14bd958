package index

import (
	"encoding/binary"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth is the deepest nesting of arrays and objects encoding/json
// accepts (its scanner's maxNestingDepth): a deeper document is invalid.
const maxDepth = 10000

// identifiers is Identifiers, through a scan of its own.
func identifiers(b []byte) (users, entities []string, ok bool) {
	var s idScan
	if !s.scan(b) {
		return nil, nil, false
	}
	for _, u := range s.users {
		users = append(users, string(u))
	}
	for _, e := range s.entities {
		entities = append(entities, string(e))
	}
	return users, entities, true
}

// idScan finds the identifiers of an event in one pass over its JSON,
// without json.Valid and without decoding the event into maps: the pass
// checks the JSON grammar itself, so that it refuses exactly what
// decoding into a map[string]any with json.Number numbers refuses (a
// number's value is never checked, only its syntax), and decodes only the
// strings that can be identifiers or their members' names, as
// json.Unmarshal decodes them (the last of duplicate members wins).
// FuzzIdentifiers checks that it agrees with that map-based reading on any
// input. An idScan is reused from event to event (Build): once its buffers
// have grown, a scan allocates nothing.
type idScan struct {
	b     []byte // the event
	i     int    // position in b
	arena []byte // decoded strings whose JSON text is not their value

	actor     strVal    // actor.user_id
	userSlots [3]strVal // userKeys
	resource  [2]strVal // resource.resource_id, resource.parent_id
	ents      []member  // top-level members whose name ends in "_id", in order

	// The result of the last successful scan, valid until the next one:
	// users in the order actor.user_id, attempted_user, subject,
	// requester, and entities (each as many times as it occurs).
	users    [][]byte
	entities [][]byte
}

// span is a decoded string: bytes [start, end) of the event, or of the
// arena when inArena (the arena may grow, so a span holds no slice).
type span struct {
	start, end int
	inArena    bool
}

// strVal is a member's value when it is a string (set).
type strVal struct {
	v   span
	set bool
}

// member is a top-level member whose name ends in "_id".
type member struct {
	name span
	val  strVal
}

// userKeys are the top-level members that name a user, in result order.
var userKeys = [3]string{"attempted_user", "subject", "requester"}

// bytes returns the bytes of sp.
func (s *idScan) bytes(sp span) []byte {
	if sp.inArena {
		return s.arena[sp.start:sp.end]
	}
	return s.b[sp.start:sp.end]
}

// scan reads the event b and reports whether it is a JSON object, in which
// case s.users and s.entities hold its identifiers.
func (s *idScan) scan(b []byte) bool {
	*s = idScan{b: b, arena: s.arena[:0], ents: s.ents[:0], users: s.users[:0], entities: s.entities[:0]}
	if !s.topObject() {
		return false
	}
	s.space()
	if s.i != len(s.b) {
		return false // more than one value
	}
	if s.actor.set {
		s.users = append(s.users, s.bytes(s.actor.v))
	}
	for _, u := range s.userSlots {
		if u.set {
			s.users = append(s.users, s.bytes(u.v))
		}
	}
	s.collectEntities()
	for _, r := range s.resource {
		if r.set {
			s.entities = append(s.entities, s.bytes(r.v))
		}
	}
	return true
}

// collectEntities appends to s.entities the string value of the last
// member of each name among s.ents: a later member of the same name,
// string or not, replaces an earlier one, as in a map.
func (s *idScan) collectEntities() {
	if len(s.ents) <= 16 {
	next:
		for i, m := range s.ents {
			if !m.val.set {
				continue
			}
			name := s.bytes(m.name)
			for _, later := range s.ents[i+1:] {
				if string(s.bytes(later.name)) == string(name) {
					continue next
				}
			}
			s.entities = append(s.entities, s.bytes(m.val.v))
		}
		return
	}
	// Many members: sort them by name, keeping their order within a name,
	// and take the last of each name.
	slices.SortStableFunc(s.ents, func(a, b member) int {
		return slices.Compare(s.bytes(a.name), s.bytes(b.name))
	})
	for i, m := range s.ents {
		if m.val.set && (i+1 == len(s.ents) || string(s.bytes(s.ents[i+1].name)) != string(s.bytes(m.name))) {
			s.entities = append(s.entities, s.bytes(m.val.v))
		}
	}
}

// topObject reads the top-level value, which must be an object, and
// records the members that hold identifiers.
func (s *idScan) topObject() bool {
	s.space()
	if !s.peek('{') {
		return false // not an object (or not JSON): Unmarshal into a map fails, or gives nil for null
	}
	s.i++
	s.space()
	if s.peek('}') {
		s.i++
		return true
	}
	for {
		s.space()
		name, ok := s.key()
		if !ok {
			return false
		}
		n := s.bytes(name)
		switch {
		case string(n) == "actor":
			var v [2]strVal
			isObj, ok := s.subObject(1, "user_id", "", &v)
			if !ok {
				return false
			}
			s.actor = strVal{}
			if isObj {
				s.actor = v[0]
			}
		case string(n) == "resource":
			var v [2]strVal
			isObj, ok := s.subObject(1, "resource_id", "parent_id", &v)
			if !ok {
				return false
			}
			s.resource = [2]strVal{}
			if isObj {
				s.resource = v
			}
		case string(n) == userKeys[0] || string(n) == userKeys[1] || string(n) == userKeys[2]:
			v, ok := s.stringValue(1)
			if !ok {
				return false
			}
			for i, k := range userKeys {
				if string(n) == k {
					s.userSlots[i] = v
				}
			}
		case len(n) >= 3 && string(n[len(n)-3:]) == "_id":
			v, ok := s.stringValue(1)
			if !ok {
				return false
			}
			s.ents = append(s.ents, member{name: name, val: v})
		default:
			if !s.skip(1) {
				return false
			}
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

// subObject reads a member value at depth (the number of containers
// around it). When it is an object, isObj is true and v holds the string
// values of its members k0 and k1 (an empty name matches none): the last
// member of each name wins, a later non-string one removes an earlier
// string.
func (s *idScan) subObject(depth int, k0, k1 string, v *[2]strVal) (isObj, ok bool) {
	s.space()
	if !s.peek('{') {
		return false, s.skip(depth)
	}
	if depth+1 > maxDepth {
		return false, false
	}
	s.i++
	s.space()
	if s.peek('}') {
		s.i++
		return true, true
	}
	for {
		s.space()
		name, ok := s.key()
		if !ok {
			return false, false
		}
		n := s.bytes(name)
		switch {
		case k0 != "" && string(n) == k0:
			v[0], ok = s.stringValue(depth + 1)
		case k1 != "" && string(n) == k1:
			v[1], ok = s.stringValue(depth + 1)
		default:
			ok = s.skip(depth + 1)
		}
		if !ok {
			return false, false
		}
		if more, ok := s.next('}'); !more {
			return ok, ok
		}
	}
}

// key reads a member's name and the ':' after it, with the scanner at a
// '"', and returns the name decoded.
func (s *idScan) key() (span, bool) {
	if !s.peek('"') {
		return span{}, false
	}
	name, ok := s.str(true)
	if !ok {
		return span{}, false
	}
	s.space()
	if !s.peek(':') {
		return span{}, false
	}
	s.i++
	return name, true
}

// next reads the ',' (more) or the closing byte that follows a member or
// an element.
func (s *idScan) next(closing byte) (more, ok bool) {
	s.space()
	if s.i < len(s.b) {
		switch s.b[s.i] {
		case ',':
			s.i++
			return true, true
		case closing:
			s.i++
			return false, true
		}
	}
	return false, false
}

// stringValue reads a value at depth and returns it decoded if it is a
// string.
func (s *idScan) stringValue(depth int) (strVal, bool) {
	s.space()
	if s.peek('"') {
		v, ok := s.str(true)
		return strVal{v: v, set: true}, ok
	}
	return strVal{}, s.skip(depth)
}

// skip reads any value at depth (the number of containers around it),
// checking its grammar and every number's range.
func (s *idScan) skip(depth int) bool {
	s.space()
	if s.i >= len(s.b) {
		return false
	}
	switch c := s.b[s.i]; c {
	case '"':
		_, ok := s.str(false)
		return ok
	case '{', '[':
		if depth+1 > maxDepth {
			return false
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.i++
		s.space()
		if s.peek(closing) {
			s.i++
			return true
		}
		for {
			if c == '{' {
				s.space()
				if _, ok := s.key(); !ok {
					return false
				}
			}
			if !s.skip(depth + 1) {
				return false
			}
			if more, ok := s.next(closing); !more {
				return ok
			}
		}
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		return s.number()
	}
}

// literal reads the literal lit.
func (s *idScan) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// number reads a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *idScan) number() bool {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		if i+1 >= len(b) || b[i+1] < '0' || b[i+1] > '9' {
			return false
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || b[i] < '0' || b[i] > '9' {
			return false
		}
		i = digits(b, i)
	}
	s.i = i
	return true
}

// digits returns the position after the decimal digits of b from i.
func digits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// strClass marks the bytes a string's fast loop stops at: '"', '\\',
// control characters (invalid in a string) and non-ASCII bytes (which may
// be invalid UTF-8, decoded as U+FFFD).
var strClass = func() (t [256]bool) {
	for c := range 256 {
		t[c] = c == '"' || c == '\\' || c < 0x20 || c >= utf8.RuneSelf
	}
	return t
}()

// str reads a string token, with the scanner at its '"', and checks it.
// If decode, it returns the string's value as json.Unmarshal decodes it:
// the bytes of the token when they are that value, else a copy in the
// arena with escapes decoded and bad UTF-8 replaced.
func (s *idScan) str(decode bool) (span, bool) {
	b := s.b
	start := s.i + 1
	i := start
	plain := true // no escapes and valid UTF-8 so far
	for {
		for i+8 <= len(b) && !mayStop(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && !strClass[b[i]] {
			i++
		}
		if i >= len(b) {
			return span{}, false
		}
		switch c := b[i]; {
		case c == '"':
			s.i = i + 1
			if plain || !decode {
				return span{start: start, end: i}, true
			}
			return s.unquote(b[start:i]), true
		case c == '\\':
			plain = false
			if i+1 >= len(b) {
				return span{}, false
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) || !isHex(b[i+5]) {
					return span{}, false
				}
				i += 6
			default:
				return span{}, false
			}
		case c < 0x20:
			return span{}, false
		default: // non-ASCII
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				plain = false
			}
			i += n
		}
	}
}

// mayStop reports whether one of the 8 bytes of x may be one that str
// stops at (strClass), 8 bytes at a time: the high bit of a byte of
// x-0x20… is set when the byte is below 0x20 (or a lower byte borrowed,
// which only a byte below 0x20 does), of (x^0x22…)-0x01… when it is '"',
// of (x^0x5c…)-0x01… when it is '\\', and of x when it is not ASCII.
func mayStop(x uint64) bool {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	return ((x-0x20*ones)|((x^'"'*ones)-ones)|((x^'\\'*ones)-ones)|x)&high != 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// hexValue returns the value of the 4 hex digits of b, or -1 when b does
// not start with `\u` and 4 hex digits.
func hexValue(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r*16 + rune(c)
	}
	return r
}

// unquote decodes the contents q of a checked string token into the arena
// as encoding/json does: escapes decoded, a surrogate pair joined, a lone
// surrogate and every byte of bad UTF-8 replaced by U+FFFD.
func (s *idScan) unquote(q []byte) span {
	start := len(s.arena)
	a := s.arena
	for i := 0; i < len(q); {
		switch c := q[i]; {
		case c == '\\':
			switch q[i+1] {
			case 'b':
				a = append(a, '\b')
			case 'f':
				a = append(a, '\f')
			case 'n':
				a = append(a, '\n')
			case 'r':
				a = append(a, '\r')
			case 't':
				a = append(a, '\t')
			case 'u':
				r := hexValue(q[i:])
				i += 6
				if utf16.IsSurrogate(r) {
					if d := utf16.DecodeRune(r, hexValue(q[i:])); d != utf8.RuneError {
						a = utf8.AppendRune(a, d)
						i += 6
						continue
					}
					r = utf8.RuneError
				}
				a = utf8.AppendRune(a, r)
				continue
			default: // '"', '\\', '/'
				a = append(a, q[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			a = append(a, c)
			i++
		default:
			r, n := utf8.DecodeRune(q[i:])
			a = utf8.AppendRune(a, r)
			i += n
		}
	}
	s.arena = a
	return span{start: start, end: len(a), inArena: true}
}

// space skips JSON whitespace.
func (s *idScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek reports whether the next byte is c.
func (s *idScan) peek(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }
