package wire

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
)

// ParseError says why a request line is not a well-formed request.
type ParseError struct {
	// Code is CodeBadJSON, CodeBadRequest, or CodeInvalidEvent for an event
	// nested deeper than the parser follows.
	Code string
	// ID is the request's id if it was read before the fault and is at
	// most MaxID bytes long, else "".
	ID string
	// Message says what is wrong, without a prefix.
	Message string
}

// Error returns the message with the package prefix.
func (e *ParseError) Error() string { return "wire: " + e.Message }

// Request fields, as bits of ParseRequest's set of fields seen.
const (
	fieldOp = 1 << iota
	fieldID
	fieldDurable
	fieldService
	fieldEvent
	fieldCount
	fieldReason
	fieldFilter
	fieldLimit
	fieldKeyLabel
	fieldFollow
	fieldReport
	fieldFormat
	fieldCustomer
)

// fieldOf returns the bit of a request field named by name (the key's
// bytes without quotes, no escapes), or 0 for an unknown field. The switch
// on string(name) does not allocate.
func fieldOf(name []byte) int {
	switch string(name) {
	case "op":
		return fieldOp
	case "id":
		return fieldID
	case "durable":
		return fieldDurable
	case "service":
		return fieldService
	case "event":
		return fieldEvent
	case "count":
		return fieldCount
	case "reason":
		return fieldReason
	case "filter":
		return fieldFilter
	case "limit":
		return fieldLimit
	case "key_label":
		return fieldKeyLabel
	case "follow":
		return fieldFollow
	case "report":
		return fieldReport
	case "format":
		return fieldFormat
	case "customer":
		return fieldCustomer
	}
	return 0
}

// opOf returns the op of a raw JSON string value without allocating for
// the ops PROTOCOL.md defines; any other value is decoded.
func opOf(raw []byte, dst *string) error {
	switch string(raw) {
	case `"` + OpEmit + `"`:
		*dst = OpEmit
	case `"` + OpFlush + `"`:
		*dst = OpFlush
	case `"` + OpStatus + `"`:
		*dst = OpStatus
	case `"` + OpPing + `"`:
		*dst = OpPing
	case `"` + OpQuery + `"`:
		*dst = OpQuery
	case `"` + OpReportDropped + `"`:
		*dst = OpReportDropped
	default:
		s, err := decodeString(raw)
		*dst = s
		return err
	}
	return nil
}

// ParseRequest splits a request line (without its newline) into its fields
// in one pass: scalar fields are decoded (by hand for the common forms, else
// with encoding/json), the event and the filter are kept as raw bytes (the
// sealer validates an event completely with package event). It refuses what
// PROTOCOL.md refuses: anything but one JSON object, unknown or repeated
// fields, fields of the wrong type, and nesting deeper than maxRequestDepth.
// Its error is a *ParseError. It does not check that the line is valid
// UTF-8, nor what an op requires (an emit's event, an id's length): the
// sealer does. It allocates only for the id, the service and uncommon forms,
// since it runs once per request line.
func ParseRequest(line []byte) (Request, error) {
	var w Request
	p := &scanner{b: line}
	p.space()
	if !p.eat('{') {
		return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object")
	}
	seen := 0
	p.space()
	if p.eat('}') {
		return w, envFail(w.ID, CodeBadRequest, "request has no op")
	}
	for {
		p.space()
		kstart := p.i
		if err := p.skipString(); err != nil {
			return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object: %v", err)
		}
		rawKey := line[kstart:p.i]
		field := 0
		if bytes.IndexByte(rawKey, '\\') < 0 {
			field = fieldOf(rawKey[1 : len(rawKey)-1])
		}
		if field == 0 {
			// An escaped key ("o\u0070") names the same field as its
			// plain form, as encoding/json reads it; a key that does not
			// decode makes the line bad JSON.
			key, err := decodeString(rawKey)
			if err != nil {
				return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object: bad key")
			}
			field = fieldOf([]byte(key))
		}
		p.space()
		if !p.eat(':') {
			return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object: missing ':'")
		}
		p.space()
		vstart := p.i
		if err := p.skipValue(0); err != nil {
			if errors.Is(err, errTooDeep) && field == fieldEvent {
				return w, envFail(w.ID, CodeInvalidEvent, "event: nested too deeply")
			}
			return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object: %v", err)
		}
		raw := line[vstart:p.i]
		if field == 0 {
			return w, envFail(w.ID, CodeBadRequest, "unknown field %q", keyName(rawKey))
		}
		if seen&field != 0 {
			return w, envFail(w.ID, CodeBadRequest, "field %q appears twice", keyName(rawKey))
		}
		seen |= field
		var err error
		switch field {
		case fieldOp:
			err = opOf(raw, &w.Op)
		case fieldID:
			var id string
			if id, err = decodeString(raw); err == nil {
				w.ID = &id
			}
		case fieldDurable:
			switch string(raw) {
			case "true":
				w.Durable = true
			case "false":
				w.Durable = false
			default:
				w.Durable, err = decodeJSON[bool](raw)
			}
		case fieldService:
			w.Service, err = decodeString(raw)
		case fieldEvent:
			w.Event = raw
		case fieldCount:
			w.Count, err = decodeJSON[uint64](raw)
		case fieldReason:
			w.Reason, err = decodeJSON[string](raw)
		case fieldFilter:
			w.Filter = raw
		case fieldLimit:
			w.Limit, err = decodeJSON[int](raw)
		case fieldKeyLabel:
			w.KeyLabel, err = decodeString(raw)
		case fieldFollow:
			w.Follow, err = decodeJSON[bool](raw)
		case fieldReport:
			w.Report, err = decodeString(raw)
		case fieldFormat:
			w.Format, err = decodeString(raw)
		case fieldCustomer:
			w.Customer, err = decodeString(raw)
		}
		if err != nil || (field != fieldEvent && string(raw) == "null") {
			return w, envFail(w.ID, CodeBadRequest, "field %q has the wrong type", keyName(rawKey))
		}
		p.space()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			break
		}
		return w, envFail(w.ID, CodeBadJSON, "request is not a JSON object: expected ',' or '}'")
	}
	p.space()
	if p.i != len(line) {
		return w, envFail(w.ID, CodeBadJSON, "more than one JSON value on a line")
	}
	return w, nil
}

// envFail returns the error of a request that is not well formed, with the
// request's id if it was read and is not too long to echo.
func envFail(id *string, code, format string, args ...any) *ParseError {
	e := &ParseError{Code: code, Message: fmt.Sprintf(format, args...)}
	if id != nil && len(*id) <= MaxID {
		e.ID = *id
	}
	return e
}

// keyName decodes a raw JSON key for an error message.
func keyName(rawKey []byte) string {
	key, err := decodeString(rawKey)
	if err != nil {
		return string(rawKey)
	}
	return key
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

var (
	errNotString    = errors.New("expected a string")
	errUnterminated = errors.New("unterminated string")
)

// skipString moves past a JSON string. It looks at eight bytes at a time
// for a quote or a backslash (the strings of an event are mostly short and
// plain); control characters are left to the decoders that get the value
// (encoding/json for scalars, the event package for events).
func (p *scanner) skipString() error {
	b, i := p.b, p.i
	if i >= len(b) || b[i] != '"' {
		return errNotString
	}
	i++
	for {
		for i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if m := hasByte(x, '"') | hasByte(x, '\\'); m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(b) && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			p.i = i
			return errUnterminated
		}
		if b[i] == '"' {
			p.i = i + 1
			return nil
		}
		i += 2 // a backslash and the byte it escapes
	}
}

// hasByte returns a word whose lowest set bit is the high bit of the first
// byte of x equal to c, or 0 if none is (the classic "has zero byte" test
// on x XOR c; bits above the first match may be spurious).
func hasByte(x uint64, c byte) uint64 {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	y := x ^ (lo * uint64(c))
	return (y - lo) &^ y & hi
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
func decodeString(raw []byte) (string, error) {
	if s, ok := plainString(raw); ok {
		return s, nil
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// decodeJSON decodes raw into a new T (json.Unmarshal into a field would
// move the whole request to the heap).
func decodeJSON[T any](raw []byte) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
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
