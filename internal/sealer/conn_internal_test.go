package sealer

import (
	"encoding/json"
	"testing"

	"github.com/audit-sealer/audit-sealer/internal/wire"
)

// TestAppendOutcomeMatchesReplyFor: the hand-written durable reply is byte
// for byte what replyFor and wire.AppendReply write for the same outcome, and
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
		want := wire.AppendReply(nil, replyFor(c.id, c.r, c.rep))
		if got := appendOutcome(nil, c.id, c.r, c.rep); string(got) != string(want) {
			t.Errorf("appendOutcome = %s, replyFor+wire.AppendReply = %s", got, want)
		}
		// The replies written by hand are byte for byte encoding/json's.
		js, _ := json.Marshal(replyFor(c.id, c.r, c.rep))
		if got := wire.AppendReply(nil, replyFor(c.id, c.r, c.rep)); string(got) != string(js)+"\n" {
			t.Errorf("wire.AppendReply = %s, encoding/json = %s", got, js)
		}
	}
}
