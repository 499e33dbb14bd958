package index

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// identifiers is Identifiers without decoding the whole event into maps:
// it checks the JSON with json.Valid, then walks the top-level object once,
// decoding only the strings that can be identifiers. It follows
// json.Unmarshal into a map[string]any exactly, duplicate members included
// (the last one wins), which FuzzIdentifiers checks.
func identifiers(b []byte) (users, entities []string, ok bool) {
	if !json.Valid(b) {
		return nil, nil, false
	}
	s := scanner{b: b}
	s.space()
	if !s.eat('{') {
		return nil, nil, false // valid JSON, but not an object
	}
	var (
		userOf   = map[string]string{} // attempted_user, subject, requester
		entityOf = map[string]string{} // top-level *_id members
		actor    string
		hasActor bool
		resource map[string]string
	)
	s.members(func(key string) {
		switch {
		case key == "actor":
			m, isObj := s.object("user_id")
			actor, hasActor = m["user_id"], isObj && m != nil && hasKey(m, "user_id")
		case key == "resource":
			m, isObj := s.object("resource_id", "parent_id")
			if isObj {
				resource = m
			} else {
				resource = nil
			}
		case key == "attempted_user" || key == "subject" || key == "requester" || strings.HasSuffix(key, "_id"):
			into := entityOf
			if !strings.HasSuffix(key, "_id") {
				into = userOf
			}
			if v, isStr := s.stringValue(); isStr {
				into[key] = v
			} else {
				delete(into, key)
			}
		default:
			s.skip()
		}
	})
	if hasActor {
		users = append(users, actor)
	}
	for _, k := range []string{"attempted_user", "subject", "requester"} {
		if v, ok := userOf[k]; ok {
			users = append(users, v)
		}
	}
	for _, v := range entityOf {
		entities = append(entities, v)
	}
	for _, k := range []string{"resource_id", "parent_id"} {
		if v, ok := resource[k]; ok {
			entities = append(entities, v)
		}
	}
	return users, entities, true
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// scanner walks JSON that json.Valid accepted.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) && (s.b[s.i] == ' ' || s.b[s.i] == '\t' || s.b[s.i] == '\n' || s.b[s.i] == '\r') {
		s.i++
	}
}

func (s *scanner) eat(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// members calls fn for each member of the object whose '{' was just
// read, with the scanner at the member's value; fn must consume it.
func (s *scanner) members(fn func(key string)) {
	if s.eat('}') {
		return
	}
	for {
		s.space()
		key := s.str()
		s.eat(':')
		s.space()
		fn(key)
		if !s.eat(',') {
			s.eat('}')
			return
		}
	}
}

// object reads a value; if it is an object it returns its string members
// among keys (the last of duplicates wins; a later non-string removes an
// earlier string) and true.
func (s *scanner) object(keys ...string) (map[string]string, bool) {
	if !s.eat('{') {
		s.skip()
		return nil, false
	}
	m := map[string]string{}
	s.members(func(key string) {
		for _, k := range keys {
			if key == k {
				if v, ok := s.stringValue(); ok {
					m[k] = v
				} else {
					delete(m, k)
				}
				return
			}
		}
		s.skip()
	})
	return m, true
}

// stringValue reads a value and returns it if it is a string.
func (s *scanner) stringValue() (string, bool) {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == '"' {
		return s.str(), true
	}
	s.skip()
	return "", false
}

// str reads a string token and decodes it as json.Unmarshal does.
func (s *scanner) str() string {
	start := s.i
	s.i++ // the opening quote
	plain := true
	for s.b[s.i] != '"' {
		if s.b[s.i] == '\\' {
			plain = false
			s.i++
		}
		s.i++
	}
	s.i++
	raw := s.b[start:s.i]
	inner := raw[1 : len(raw)-1]
	if plain && utf8.Valid(inner) {
		return string(inner)
	}
	var v string
	json.Unmarshal(raw, &v) // valid: replaces bad UTF-8 as Unmarshal does
	return v
}

// skip reads any value.
func (s *scanner) skip() {
	s.space()
	switch c := s.b[s.i]; {
	case c == '"':
		s.str()
	case c == '{' || c == '[':
		depth := 0
		for {
			switch s.b[s.i] {
			case '"':
				s.str()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			s.i++
			if depth == 0 {
				return
			}
		}
	default: // number, true, false, null
		for s.i < len(s.b) && !bytes.ContainsRune([]byte(",}] \t\n\r"), rune(s.b[s.i])) {
			s.i++
		}
	}
}
