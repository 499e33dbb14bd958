package sealer

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
			return // handle refuses such a line before it is parsed
		}
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

// TestAppendReplyMatchesEncodingJSON: the hand-written replies are byte for
// byte what encoding/json writes.
func TestAppendReplyMatchesEncodingJSON(t *testing.T) {
	seq := uint64(1234)
	for _, r := range []*wireReply{
		{ID: "7", OK: true, Accepted: true},
		{OK: true, Accepted: true},
		{ID: "x", OK: true, Seq: &seq, AuditID: "3f9a1c0d5e6b7a81-1234", Durable: true},
		{OK: true, Seq: &seq, AuditID: "3f9a1c0d5e6b7a81-1234", Durable: true},
		{ID: "needs \"escaping\" <", OK: true, Accepted: true},
		{ID: "s", OK: true, Seq: &seq, AuditID: "a-1", Durable: true, Sealed: true},
	} {
		want, _ := json.Marshal(r)
		want = append(want, '\n')
		if got := appendReply(nil, r); string(got) != string(want) {
			t.Errorf("appendReply = %s, encoding/json = %s", got, want)
		}
	}
}

// BenchmarkParseRequest splits a durable emit of a typical ~500-byte event.
func BenchmarkParseRequest(b *testing.B) {
	line := []byte(`{"op":"emit","id":"12345","durable":true,"event":{"type":"data.inference_executed","timestamp":"2026-11-27T10:00:00.123456789Z","actor":{"user_id":"admin@example.com","ip":"203.0.113.7","auth_method":"bearer_token","session_id":"sess-0123456789abcdef"},"customer_id":"cust-000042","job_id":"job-7f3a9c1e","model_ref":"llama-3.1-8b-instruct@sha256:9c1e7f3a","tokens_in":1234,"tokens_out":567,"pool_id":"pool-eu-1","worker_id":"worker-gpu-0","gpu_device":0,"duration_ms":842,"result":"success"}}`)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseRequest(line); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendOutcomeMatchesReplyFor: the hand-written durable reply is byte
// for byte what replyFor and appendReply write for the same outcome, and
// the other outcomes go through them unchanged.
func TestAppendOutcomeMatchesReplyFor(t *testing.T) {
	emit := &request{kind: reqEmit}
	flush := &request{kind: reqFlush}
	for _, c := range []struct {
		id  string
		r   *request
		rep reply
	}{
		{"7", emit, reply{seq: 1234, auditID: "3f9a1c0d5e6b7a81-1234", hasSeq: true}},
		{"", emit, reply{seq: 0, auditID: "3f9a1c0d5e6b7a81-0", hasSeq: true}},
		{"needs \"escaping\"", emit, reply{seq: 5, auditID: "3f9a1c0d5e6b7a81-5", hasSeq: true}},
		{"s", emit, reply{seq: 9, auditID: "3f9a1c0d5e6b7a81-9", hasSeq: true, sealed: true, checkpointSize: 10}},
		{"n", emit, reply{seq: 9, auditID: "3f9a1c0d5e6b7a81-9", hasSeq: true, err: ErrNotSealed}},
		{"u", emit, reply{err: ErrUnavailable}},
		{"f", flush, reply{checkpointSize: 44, sealed: true}},
		{"d", &request{kind: reqDropped, seq: 12}, reply{seq: 12, auditID: "3f9a1c0d5e6b7a81-12", hasSeq: true}},
		{"e", emit, reply{seq: 13, hasSeq: true}}, // no audit_id: not written by hand
	} {
		want := appendReply(nil, replyFor(c.id, c.r, c.rep))
		if got := appendOutcome(nil, c.id, c.r, c.rep); string(got) != string(want) {
			t.Errorf("appendOutcome = %s, replyFor+appendReply = %s", got, want)
		}
		// The replies written by hand are byte for byte encoding/json's.
		js, _ := json.Marshal(replyFor(c.id, c.r, c.rep))
		if got := appendReply(nil, replyFor(c.id, c.r, c.rep)); string(got) != string(js)+"\n" {
			t.Errorf("appendReply = %s, encoding/json = %s", got, js)
		}
	}
}
