package wire

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
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
		"{\"op\":\"\xe1\"}",                   // invalid UTF-8: refused before parsing
		`{"event":[[[[{"":[{"0":"\0"}]}]]]]}`, // an event that is not valid JSON: left to event.Decode
		`{"op":"emit","event":{"a":"\\\"}"}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		if !utf8.Valid(line) {
			return // the sealer refuses such a line before it is parsed
		}
		w, err := ParseRequest(line)
		if err != nil {
			return
		}
		var std Request
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

// benchEvent is a typical ~500-byte event.
const benchEvent = `{"type":"data.inference_executed","timestamp":"2026-11-27T10:00:00.123456789Z","actor":{"user_id":"admin@example.com","ip":"203.0.113.7","auth_method":"bearer_token","session_id":"sess-0123456789abcdef"},"customer_id":"cust-000042","job_id":"job-7f3a9c1e","model_ref":"llama-3.1-8b-instruct@sha256:9c1e7f3a","tokens_in":1234,"tokens_out":567,"pool_id":"pool-eu-1","worker_id":"worker-gpu-0","gpu_device":0,"duration_ms":842,"result":"success"}`

// BenchmarkParseRequest splits a durable emit of benchEvent.
func BenchmarkParseRequest(b *testing.B) {
	line := []byte(`{"op":"emit","id":"12345","durable":true,"event":` + benchEvent + `}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseRequest(line); err != nil {
			b.Fatal(err)
		}
	}
}
