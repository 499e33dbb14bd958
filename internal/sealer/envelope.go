package sealer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// envelopeError says why a request line is not a well-formed request.
type envelopeError struct {
	code    string // bad_json, bad_request or invalid_event (too deep)
	message string
	id      string // the request's id, when it could be read
}

// parseRequest splits a request line into its fields in one pass: scalar
// fields are decoded with encoding/json, the event is kept as raw bytes
// (event.Decode validates it completely). It refuses what PROTOCOL.md
// refuses: anything but one JSON object, unknown or repeated fields, fields
// of the wrong type, and nesting deeper than maxRequestDepth.
func parseRequest(line []byte) (wireRequest, *envelopeError) {
	var w wireRequest
	p := &scanner{b: line}
	fail := func(code, format string, args ...any) (wireRequest, *envelopeError) {
		e := &envelopeError{code: code, message: "sealer: " + fmt.Sprintf(format, args...)}
		if w.ID != nil && len(*w.ID) <= 64 {
			e.id = *w.ID
		}
		return w, e
	}
	p.space()
	if !p.eat('{') {
		return fail("bad_json", "request is not a JSON object")
	}
	seen := map[string]bool{}
	p.space()
	if p.eat('}') {
		return fail("bad_request", "request has no op")
	}
	for {
		p.space()
		kstart := p.i
		if err := p.skipString(); err != nil {
			return fail("bad_json", "request is not a JSON object: %v", err)
		}
		var key string
		if err := decodeString(line[kstart:p.i], &key); err != nil {
			return fail("bad_json", "request is not a JSON object: bad key")
		}
		p.space()
		if !p.eat(':') {
			return fail("bad_json", "request is not a JSON object: missing ':'")
		}
		p.space()
		vstart := p.i
		if err := p.skipValue(0); err != nil {
			if errors.Is(err, errTooDeep) && key == "event" {
				return fail("invalid_event", "event: nested too deeply")
			}
			return fail("bad_json", "request is not a JSON object: %v", err)
		}
		raw := line[vstart:p.i]
		if seen[key] {
			return fail("bad_request", "field %q appears twice", key)
		}
		seen[key] = true
		var err error
		switch key {
		case "op":
			err = decodeString(raw, &w.Op)
		case "id":
			w.ID = new(string)
			err = decodeString(raw, w.ID)
			if err != nil {
				w.ID = nil
			}
		case "durable":
			switch string(raw) {
			case "true":
				w.Durable = true
			case "false":
				w.Durable = false
			default:
				err = json.Unmarshal(raw, &w.Durable)
			}
		case "service":
			err = decodeString(raw, &w.Service)
		case "event":
			w.Event = raw
		case "count":
			err = json.Unmarshal(raw, &w.Count)
		case "reason":
			err = json.Unmarshal(raw, &w.Reason)
		case "filter":
			w.Filter = raw
		case "limit":
			err = json.Unmarshal(raw, &w.Limit)
		default:
			return fail("bad_request", "unknown field %q", key)
		}
		if err != nil || (key != "event" && string(raw) == "null") {
			return fail("bad_request", "field %q has the wrong type", key)
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return fail("bad_json", "request is not a JSON object: expected ',' or '}'")
	}
	p.space()
	if p.i != len(line) {
		return fail("bad_json", "more than one JSON value on a line")
	}
	return w, nil
}

// maxRequestDepth is far beyond the nesting of any valid request (an event
// nests at most 16 levels).
const maxRequestDepth = 64

var errTooDeep = errors.New("nested too deeply")

// scanner finds the extent of JSON values without decoding them. It checks
// structure (brackets, strings, separators); the decoders that get the
// values check the rest.
type scanner struct {
	b []byte
	i int
}

func (p *scanner) space() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *scanner) eat(c byte) bool {
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *scanner) skipString() error {
	if !p.eat('"') {
		return errors.New("expected a string")
	}
	for p.i < len(p.b) {
		// Jump to the next quote or backslash (IndexAny is vectorised for
		// short sets); control characters are left to the decoders that
		// get the value (encoding/json for scalars, event.Decode for events).
		j := bytes.IndexAny(p.b[p.i:], "\"\\")
		if j < 0 {
			break
		}
		p.i += j
		if p.b[p.i] == '"' {
			p.i++
			return nil
		}
		p.i += 2 // a backslash and the byte it escapes
	}
	return errors.New("unterminated string")
}

// plainString returns the contents of a JSON string that has no escapes and
// no control characters, without decoding it.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	for _, c := range raw[1 : len(raw)-1] {
		if c == '\\' || c < 0x20 {
			return "", false
		}
	}
	return string(raw[1 : len(raw)-1]), true
}

// decodeString decodes a JSON string value, taking the fast path for plain
// strings.
func decodeString(raw []byte, dst *string) error {
	if s, ok := plainString(raw); ok {
		*dst = s
		return nil
	}
	return json.Unmarshal(raw, dst)
}

func (p *scanner) skipValue(depth int) error {
	if depth > maxRequestDepth {
		return errTooDeep
	}
	if p.i >= len(p.b) {
		return errors.New("missing value")
	}
	switch p.b[p.i] {
	case '"':
		return p.skipString()
	case '{', '[':
		open := p.b[p.i]
		closer := byte('}')
		if open == '[' {
			closer = ']'
		}
		p.i++
		p.space()
		if p.eat(closer) {
			return nil
		}
		for {
			p.space()
			if open == '{' {
				if err := p.skipString(); err != nil {
					return err
				}
				p.space()
				if !p.eat(':') {
					return errors.New("missing ':'")
				}
				p.space()
			}
			if err := p.skipValue(depth + 1); err != nil {
				return err
			}
			p.space()
			if p.eat(',') {
				continue
			}
			if p.eat(closer) {
				return nil
			}
			return errors.New("expected ',' or a closing bracket")
		}
	default:
		start := p.i
		for p.i < len(p.b) {
			c := p.b[p.i]
			if c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r' {
				break
			}
			p.i++
		}
		if p.i == start {
			return errors.New("missing value")
		}
		return nil
	}
}
