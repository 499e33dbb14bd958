package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

// FuzzCheck: Check never panics, everything it accepts encoding/json
// accepts too, and decodes to a value that encodes (without HTML escaping)
// to a document Check accepts again; and Unmarshal into a struct never
// panics and reads back what encoding/json writes of what it accepted.
func FuzzCheck(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte(`{"a":1,"a":2}`))
	f.Add([]byte(`{"seq":1,"SEQ":2}`))
	f.Add([]byte(`{"event":{"k":"\ud83d\ude00 <>& \u2028"}}`))
	f.Add([]byte(`[1,-0.5e+3,true,null,"x"] `))
	f.Add([]byte(`{"\u0061":1,"a":2}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		err := Check(data)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrDuplicate) {
				t.Fatalf("Check error %v wraps no sentinel", err)
			}
		} else {
			if !json.Valid(data) {
				t.Fatalf("Check accepted what encoding/json refuses: %q", data)
			}
			var v any
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("encoding/json: %v", err)
			}
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
			if err := Check(buf.Bytes()); err != nil {
				t.Fatalf("Check(%q) = %v after a round trip of %q", buf.Bytes(), err, data)
			}
		}
		var d doc
		if err := Unmarshal(data, &d); err != nil {
			return
		}
		if Check(data) != nil {
			t.Fatalf("Unmarshal accepted what Check refuses: %q", data)
		}
		again, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := Unmarshal(again, new(doc)); err != nil {
			t.Fatalf("Unmarshal(%q) = %v after accepting %q", again, err, data)
		}
	})
}
