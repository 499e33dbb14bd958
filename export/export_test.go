package export_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/export"
	"github.com/audit-sealer/audit-sealer/query"
)

func sample() *query.Match {
	return &query.Match{Seq: 42, AuditID: "3f9a1c0d5e6b7a81-42", Service: "queen-rbee", Type: "auth.failure",
		Received: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC), Critical: true,
		Event: json.RawMessage(`{"type":"auth.failure","timestamp":"2026-11-27T10:00:00Z","attempted_user":"token:a3f2c1","reason":"bad|pipe=eq\\back","ip":"203.0.113.9","path":"/v2/tasks","service_id":"queen-rbee"}`)}
}

func TestJSONL(t *testing.T) {
	var b bytes.Buffer
	if err := export.NewWriter(&b, export.JSONL, "1.0").Write(sample()); err != nil {
		t.Fatal(err)
	}
	var back query.Match
	if err := json.Unmarshal(b.Bytes(), &back); err != nil || back.Seq != 42 || back.AuditID != sample().AuditID || !bytes.Equal(back.Event, sample().Event) {
		t.Fatalf("jsonl round trip: %v %+v", err, back)
	}
	if bytes.Count(b.Bytes(), []byte("\n")) != 1 {
		t.Fatal("not one line")
	}
}

func TestCEF(t *testing.T) {
	var b bytes.Buffer
	if err := export.NewWriter(&b, export.CEF, "1.0|x").Write(sample()); err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSuffix(b.String(), "\n")
	// Header: 7 unescaped pipes; the version's pipe is escaped.
	if !strings.HasPrefix(line, `CEF:0|audit-sealer|audit-sealer|1.0\|x|auth.failure|Authentication failed|9|`) {
		t.Fatalf("header: %s", line)
	}
	for _, want := range []string{"rt=1795773600000", "externalId=3f9a1c0d5e6b7a81-42", "cn1=42", "cs1=queen-rbee", "src=203.0.113.9", `reason=bad|pipe\=eq\\back`, "duser=token:a3f2c1", "outcome=failure", "request=/v2/tasks"} {
		if !strings.Contains(line, want) {
			t.Errorf("missing %q in %s", want, line)
		}
	}
	if strings.Contains(line, "\n") {
		t.Fatal("a newline inside the record")
	}
}

func TestOCSF(t *testing.T) {
	var b bytes.Buffer
	if err := export.NewWriter(&b, export.OCSF, "1.0").Write(sample()); err != nil {
		t.Fatal(err)
	}
	var o map[string]any
	if err := json.Unmarshal(b.Bytes(), &o); err != nil {
		t.Fatal(err)
	}
	if o["class_uid"] != 3002.0 || o["type_uid"] != 300201.0 || o["status_id"] != 2.0 || o["time"] != 1795773600000.0 || o["status_detail"] != `bad|pipe=eq\back` {
		t.Fatalf("ocsf: %v", o)
	}
	md := o["metadata"].(map[string]any)
	if md["uid"] != "3f9a1c0d5e6b7a81-42" || md["version"] != "1.3.0" || md["event_code"] != "auth.failure" || md["original_time"] != "2026-11-27T10:00:00Z" {
		t.Fatalf("metadata: %v", md)
	}
	if o["src_endpoint"].(map[string]any)["ip"] != "203.0.113.9" {
		t.Fatalf("src_endpoint: %v", o["src_endpoint"])
	}
	if hr, _ := o["http_request"].(map[string]any); hr == nil || hr["url"].(map[string]any)["path"] != "/v2/tasks" {
		t.Fatalf("http_request: %v", o["http_request"])
	}
	if _, err := export.ParseFormat("xml"); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}
