package wire

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAppendReplyMatchesEncodingJSON: the hand-written replies are byte for
// byte what encoding/json writes.
func TestAppendReplyMatchesEncodingJSON(t *testing.T) {
	seq := uint64(1234)
	long := strings.Repeat("i", MaxID+1)
	for _, r := range []*Reply{
		{ID: "7", OK: true, Accepted: true},
		{OK: true, Accepted: true},
		{ID: "x", OK: true, Seq: &seq, AuditID: "3f9a1c0d5e6b7a81-1234", Durable: true},
		{OK: true, Seq: &seq, AuditID: "3f9a1c0d5e6b7a81-1234", Durable: true},
		{ID: "needs \"escaping\" <", OK: true, Accepted: true},
		{ID: "s", OK: true, Seq: &seq, AuditID: "a-1", Durable: true, Sealed: true},
		{ID: long, OK: true, Accepted: true},
		{ID: "\xff\u2028é&", OK: true, Seq: &seq, AuditID: "a<b", Durable: true},
		{ID: "t", OK: true, Accepted: true, Time: "2026-11-27T10:00:00Z"},
		{ID: "n", Seq: &seq, AuditID: "a-1", Durable: true, Error: &Error{Code: CodeNotSealed, Message: "m"}},
		{ID: "e", OK: true, Seq: &seq, Durable: true},
	} {
		want, _ := json.Marshal(r)
		want = append(want, '\n')
		if got := AppendReply(nil, r); string(got) != string(want) {
			t.Errorf("AppendReply = %s, encoding/json = %s", got, want)
		}
	}
}

// TestAppendRequest: the request appenders write the lines the Go client
// sends, and encoding/json reads them as the same Request.
func TestAppendRequest(t *testing.T) {
	ev := []byte(`{"type":"seal.verified","timestamp":"2026-11-27T10:00:00Z","shard_id":"s","worker_id":"w"}`)
	for _, c := range []struct {
		line string
		want string
		req  Request
	}{
		{string(AppendEmit(nil, 7, "", false, ev)), `{"op":"emit","id":"7","event":` + string(ev) + "}\n",
			Request{Op: OpEmit, ID: ptr("7"), Event: ev}},
		{string(AppendEmit(nil, 8, "svc-a", true, ev)), `{"op":"emit","id":"8","service":"svc-a","durable":true,"event":` + string(ev) + "}\n",
			Request{Op: OpEmit, ID: ptr("8"), Service: "svc-a", Durable: true, Event: ev}},
		{string(AppendEmit(nil, 0, "a<\"b\"", true, ev)), `{"op":"emit","service":"a\u003c\"b\"","durable":true,"event":` + string(ev) + "}\n",
			Request{Op: OpEmit, Service: "a<\"b\"", Durable: true, Event: ev}},
		{string(AppendEmit(nil, 0, "", false, ev)), `{"op":"emit","event":` + string(ev) + "}\n", Request{Op: OpEmit, Event: ev}},
		{string(AppendFlush(nil, 18446744073709551615)), `{"op":"flush","id":"18446744073709551615"}` + "\n",
			Request{Op: OpFlush, ID: ptr("18446744073709551615")}},
		{string(AppendFlush(nil, 0)), `{"op":"flush"}` + "\n", Request{Op: OpFlush}},
		{string(AppendReportDropped(nil, 3, 17, "buffer_full")), `{"op":"report_dropped","id":"3","count":17,"reason":"buffer_full"}` + "\n",
			Request{Op: OpReportDropped, ID: ptr("3"), Count: 17, Reason: "buffer_full"}},
	} {
		if c.line != c.want {
			t.Errorf("appended %s, want %s", c.line, c.want)
		}
		got, err := ParseRequest([]byte(strings.TrimSuffix(c.line, "\n")))
		if err != nil {
			t.Fatalf("ParseRequest(%s): %v", c.line, err)
		}
		gb, _ := json.Marshal(got)
		wb, _ := json.Marshal(c.req)
		if string(gb) != string(wb) {
			t.Errorf("%s parses as %s, want %s", c.line, gb, wb)
		}
	}
}

func ptr[T any](v T) *T { return &v }

// BenchmarkAppendEmit appends a durable emit of a typical ~500-byte event
// into a reused buffer, as the client and the benchmark's load generator do.
func BenchmarkAppendEmit(b *testing.B) {
	ev := []byte(benchEvent)
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(ev)))
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		buf = AppendEmit(buf[:0], i, "queen-rbee", true, ev)
	}
}

// BenchmarkAppendReply appends the two replies written by hand.
func BenchmarkAppendReply(b *testing.B) {
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for i := uint64(1); b.Loop(); i++ {
		buf = AppendAccepted(buf[:0], "12345")
		buf = AppendDurable(buf, "12346", i, "3f9a1c0d5e6b7a81-1234")
	}
}

// FuzzAppendString: strings are written byte for byte as encoding/json
// writes them, so that the hand-written lines equal encoding/json's for
// any id, service, reason or audit_id.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "queen-rbee", "a\"b\\c", "<&>", "\x00\x1f\b\f\n\r\t\x7f", "é\u2028\u2029\U0001F600", "\xff\xc3(", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendString([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("appendString(%q) = %s, encoding/json = %s", s, got[1:], want)
		}
	})
}
