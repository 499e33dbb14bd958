package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonObject is a JSON object that keeps its keys in the order they were
// set, so that the generated schemas are deterministic and list an event's
// fields in canonical order (encoding/json would sort a map's keys).
type jsonObject struct {
	keys []string
	vals []any
}

// object returns a jsonObject of the key, value pairs kv.
func object(kv ...any) *jsonObject {
	o := &jsonObject{}
	for i := 0; i+1 < len(kv); i += 2 {
		o.set(kv[i].(string), kv[i+1])
	}
	return o
}

// set adds or replaces key k.
func (o *jsonObject) set(k string, v any) *jsonObject {
	for i, key := range o.keys {
		if key == k {
			o.vals[i] = v
			return o
		}
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	return o
}

// MarshalJSON writes the members in the order they were set.
func (o *jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		if err := encodeJSON(&b, k); err != nil {
			return nil, err
		}
		b.WriteByte(':')
		if err := encodeJSON(&b, o.vals[i]); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// encodeJSON appends v compactly without HTML escaping.
func encodeJSON(b *bytes.Buffer, v any) error {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Truncate(b.Len() - 1) // the newline Encode adds
	return nil
}

// marshalDocument returns v as indented JSON ending in a newline, with every
// character outside printable ASCII written as a \u escape: the schemas
// hold patterns that list control and bidirectional characters, which must
// stay visible in the committed files.
func marshalDocument(v any) ([]byte, error) {
	var compact, indented bytes.Buffer
	if err := encodeJSON(&compact, v); err != nil {
		return nil, fmt.Errorf("event: schema: %w", err)
	}
	if err := json.Indent(&indented, compact.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("event: schema: %w", err)
	}
	out := make([]byte, 0, indented.Len()+64)
	for s := indented.Bytes(); len(s) > 0; {
		r, size := utf8.DecodeRune(s)
		switch {
		case r < 0x7f:
			out = append(out, byte(r))
		case r > 0xffff:
			hi, lo := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, hi, lo)
		default:
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		s = s[size:]
	}
	return append(out, '\n'), nil
}
