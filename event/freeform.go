package event

import (
	"bytes"
	"slices"
)

// Free-form objects (pool.modified changes, audit.log_read filters) hold any
// JSON object up to depth 4 and 4 KiB. Their canonical form is compact, with
// object keys sorted by their UTF-8 bytes, strings escaped like every other
// string, and numbers kept exactly as written. Every key and string value
// obeys the text rules (it may be empty).

// canonicalValue appends the canonical form of the JSON value at the read
// position; depth is the nesting depth of that value (the free-form object
// itself is depth 1).
func (d *decoder) canonicalValue(dst []byte, depth int, path string) ([]byte, error) {
	switch c := d.peek(); c {
	case '{':
		return d.canonicalObject(dst, depth, path)
	case '[':
		if depth > maxObjectDepth {
			return nil, invalid(path, RuleTooDeep, "nested more than 4 levels")
		}
		d.pos++
		start := len(dst)
		dst = append(dst, '[')
		if d.peek() == ']' {
			d.pos++
			return append(dst, ']'), nil
		}
		for {
			var err error
			if dst, err = d.canonicalValue(dst, depth+1, path); err != nil {
				return nil, err
			}
			if len(dst)-start > maxObjectSize {
				return nil, invalid(path, RuleTooLarge, "at most 4 KiB once canonical")
			}
			switch d.peek() {
			case ',':
				d.pos++
				dst = append(dst, ',')
			case ']':
				d.pos++
				return append(dst, ']'), nil
			default:
				return nil, errSyntax(path)
			}
		}
	case '"':
		s, err := d.readText(&ruleFree, path)
		if err != nil {
			return nil, err
		}
		return appendString(dst, s), nil
	case 't', 'f', 'n':
		start := d.pos
		if err := d.skipLiteral(path); err != nil {
			return nil, err
		}
		return append(dst, d.data[start:d.pos]...), nil
	default:
		start, end, err := d.scanNumber(path)
		if err != nil {
			return nil, err
		}
		return append(dst, d.data[start:end]...), nil
	}
}

type freeMember struct {
	key string
	val []byte
}

// canonicalObject appends the canonical form of the JSON object at the read
// position.
func (d *decoder) canonicalObject(dst []byte, depth int, path string) ([]byte, error) {
	if depth > maxObjectDepth {
		return nil, invalid(path, RuleTooDeep, "nested more than 4 levels")
	}
	if err := d.expect('{', path); err != nil {
		return nil, err
	}
	var members []freeMember
	size := 2 // the braces
	if d.peek() == '}' {
		d.pos++
	} else {
		for {
			if d.peek() != '"' {
				return nil, errSyntax(path)
			}
			k, err := d.readText(&ruleFree, path)
			if err != nil {
				return nil, err
			}
			if err := d.expect(':', path); err != nil {
				return nil, err
			}
			v, err := d.canonicalValue(nil, depth+1, path)
			if err != nil {
				return nil, err
			}
			members = append(members, freeMember{k, v})
			// Stop early: the canonical object is at least this long.
			if size += len(k) + 4 + len(v); size > maxObjectSize {
				return nil, invalid(path, RuleTooLarge, "at most 4 KiB once canonical")
			}
			if c := d.peek(); c == ',' {
				d.pos++
			} else if c == '}' {
				d.pos++
				break
			} else {
				return nil, errSyntax(path)
			}
		}
	}
	slices.SortFunc(members, func(a, b freeMember) int {
		switch {
		case a.key < b.key:
			return -1
		case a.key > b.key:
			return 1
		}
		return 0
	})
	dst = append(dst, '{')
	for i, m := range members {
		if i > 0 {
			if members[i-1].key == m.key {
				return nil, invalid(path, RuleDuplicateKey, "a key appears twice")
			}
			dst = append(dst, ',')
		}
		dst = appendString(dst, m.key)
		dst = append(dst, ':')
		dst = append(dst, m.val...)
	}
	return append(dst, '}'), nil
}

// canonicalFreeObject validates a free-form object given in Go and returns
// its canonical form (raw itself when it is already canonical).
func canonicalFreeObject(raw []byte, path string) ([]byte, error) {
	if len(raw) == 0 {
		return nil, invalid(path, RuleRequired, "must be a JSON object")
	}
	if len(raw) <= maxObjectSize {
		c := checker{data: raw}
		if c.freeObject(1) && c.pos == len(raw) {
			return raw, nil
		}
	}
	if len(raw) > MaxEncodedSize {
		return nil, invalid(path, RuleTooLarge, "at most 4 KiB once canonical")
	}
	d := decoder{data: raw}
	if d.isNull() {
		return nil, invalid(path, RuleRequired, "must be a JSON object")
	}
	if c := d.peek(); c != '{' {
		if c != 0 && !validJSONStart(c) {
			return nil, errSyntax(path)
		}
		return nil, invalid(path, RuleWrongType, "must be a JSON object")
	}
	out, err := d.canonicalObject(nil, 1, path)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(raw) {
		return nil, invalid(path, RuleTrailingData, "only whitespace may follow the object")
	}
	if len(out) > maxObjectSize {
		return nil, invalid(path, RuleTooLarge, "at most 4 KiB once canonical")
	}
	return out, nil
}

// compareDecoded compares two canonical raw string contents by their
// decoded bytes. Canonical contents use only the escapes \" \\ \t \n.
func compareDecoded(a, b []byte) int {
	if bytes.IndexByte(a, '\\') < 0 && bytes.IndexByte(b, '\\') < 0 {
		return bytes.Compare(a, b)
	}
	for {
		if len(a) == 0 || len(b) == 0 {
			return len(a) - len(b)
		}
		ca, na := decodedByte(a)
		cb, nb := decodedByte(b)
		if ca != cb {
			return int(ca) - int(cb)
		}
		a, b = a[na:], b[nb:]
	}
}

func decodedByte(s []byte) (byte, int) {
	if s[0] != '\\' || len(s) < 2 {
		return s[0], 1
	}
	switch s[1] {
	case 't':
		return '\t', 2
	case 'n':
		return '\n', 2
	}
	return s[1], 2
}
