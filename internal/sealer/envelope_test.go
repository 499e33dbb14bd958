package sealer

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequest: the request splitter never panics, and whatever it
// accepts, encoding/json also accepts as the same request, except for an
// event value that is not valid JSON: the splitter leaves events to
// event.Decode, which refuses them.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"op":"ping","id":"1"}`,
		`{"op":"emit","durable":true,"event":{"type":"seal.verified","timestamp":"2026-11-27T10:00:00Z","shard_id":"s","worker_id":"w"}}`,
		`{"op":"report_dropped","count":3,"reason":"buffer_full","service":"x"}`,
		`{"op":"emit","event":[[[[{"a":[1,2,{"b":"\"}"}]}]]]]}`,
		` { "op" : "flush" } `,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		w, err := parseRequest(line)
		if err != nil {
			return
		}
		var std wireRequest
		if e := json.Unmarshal(line, &std); e != nil {
			if w.Event != nil && !json.Valid(w.Event) {
				return // event.Decode refuses it (invalid_json)
			}
			t.Fatalf("accepted %q, which encoding/json refuses: %v", line, e)
		}
		if std.Op != w.Op || std.Durable != w.Durable || std.Service != w.Service || std.Count != w.Count || std.Reason != w.Reason {
			t.Fatalf("fields differ from encoding/json's for %q", line)
		}
		if (std.ID == nil) != (w.ID == nil) || (std.ID != nil && *std.ID != *w.ID) {
			t.Fatalf("id differs for %q", line)
		}
	})
}
