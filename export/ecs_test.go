package export_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/export"
)

// ECS 8.11.0's categorization fields (schemas/event.yml of
// github.com/elastic/ecs at tag v8.11.0, "allowed_values"): event.kind's
// values, and for each event.category value the event.type values it
// expects.
var (
	ecsKinds      = []string{"alert", "asset", "enrichment", "event", "metric", "state", "pipeline_error", "signal"}
	ecsCategories = map[string][]string{
		"api":                 {"access", "admin", "allowed", "change", "creation", "deletion", "denied", "end", "info", "start", "user"},
		"authentication":      {"start", "end", "info"},
		"configuration":       {"access", "change", "creation", "deletion", "info"},
		"database":            {"access", "change", "info", "error"},
		"driver":              {"change", "end", "info", "start"},
		"email":               {"info"},
		"file":                {"access", "change", "creation", "deletion", "info"},
		"host":                {"access", "change", "end", "info", "start"},
		"iam":                 {"admin", "change", "creation", "deletion", "group", "info", "user"},
		"intrusion_detection": {"allowed", "denied", "info"},
		"library":             {"start"},
		"malware":             {"info"},
		"network":             {"access", "allowed", "connection", "denied", "end", "info", "protocol", "start"},
		"package":             {"access", "change", "deletion", "info", "installation", "start"},
		"process":             {"access", "change", "end", "info", "start"},
		"registry":            {"access", "change", "creation", "deletion"},
		"session":             {"start", "end", "info"},
		"threat":              {"indicator"},
		"vulnerability":       {"info"},
		"web":                 {"access", "error", "info"},
	}
	ecsOutcomes = []string{"failure", "success", "unknown"}
)

// ecsLine is what checkECS reads of an ECS line.
type ecsLine struct {
	Timestamp string `json:"@timestamp"`
	Message   string `json:"message"`
	Event     struct {
		Kind     string   `json:"kind"`
		Category []string `json:"category"`
		Type     []string `json:"type"`
		Action   string   `json:"action"`
		Outcome  string   `json:"outcome"`
		ID       string   `json:"id"`
		Sequence uint64   `json:"sequence"`
		Created  string   `json:"created"`
	} `json:"event"`
	User *struct {
		Name   string `json:"name"`
		Target *struct {
			Name string `json:"name"`
		} `json:"target"`
	} `json:"user"`
	Source *struct {
		IP string `json:"ip"`
	} `json:"source"`
	URL *struct {
		Path string `json:"path"`
	} `json:"url"`
	Host *struct {
		Name string `json:"name"`
	} `json:"host"`
	Service struct {
		Name string `json:"name"`
	} `json:"service"`
	Observer struct {
		Version string `json:"version"`
	} `json:"observer"`
	ECS struct {
		Version string `json:"version"`
	} `json:"ecs"`
	Sealer struct {
		Seq     uint64          `json:"seq"`
		AuditID string          `json:"audit_id"`
		Event   json.RawMessage `json:"event"`
	} `json:"audit_sealer"`
}

// checkECS checks an ECS line against ECS 8.11's rules for the fields the
// export writes: @timestamp and event.created are dates (RFC 3339),
// event.kind, event.category (with event.type values that category
// expects) and event.outcome take allowed values, source.ip is an IP
// address, ecs.version is 8.11.0, message and event.action are set.
func checkECS(line []byte) (*ecsLine, error) {
	var d ecsLine
	if err := json.Unmarshal(line, &d); err != nil {
		return nil, err
	}
	for name, v := range map[string]string{"@timestamp": d.Timestamp, "event.created": d.Event.Created} {
		if _, err := time.Parse(time.RFC3339Nano, v); err != nil {
			return nil, fmt.Errorf("%s %q: not a date", name, v)
		}
	}
	if !slices.Contains(ecsKinds, d.Event.Kind) {
		return nil, fmt.Errorf("event.kind %q", d.Event.Kind)
	}
	if len(d.Event.Category) == 0 || len(d.Event.Type) == 0 {
		return nil, fmt.Errorf("event.category %v, event.type %v: both are needed", d.Event.Category, d.Event.Type)
	}
	for _, c := range d.Event.Category {
		expected, ok := ecsCategories[c]
		if !ok {
			return nil, fmt.Errorf("event.category %q is not an allowed value", c)
		}
		for _, ty := range d.Event.Type {
			if !slices.Contains(expected, ty) {
				return nil, fmt.Errorf("event.type %q is not one category %s expects (%v)", ty, c, expected)
			}
		}
	}
	if !slices.Contains(ecsOutcomes, d.Event.Outcome) {
		return nil, fmt.Errorf("event.outcome %q", d.Event.Outcome)
	}
	if d.Source != nil {
		if _, err := netip.ParseAddr(d.Source.IP); err != nil {
			return nil, fmt.Errorf("source.ip %q", d.Source.IP)
		}
	}
	if d.ECS.Version != "8.11.0" || d.Message == "" || d.Event.Action == "" {
		return nil, fmt.Errorf("ecs.version %q, message %q, event.action %q", d.ECS.Version, d.Message, d.Event.Action)
	}
	return &d, nil
}

// TestECSConformance: every type's ECS line uses ECS field names with
// allowed values, and carries the event's time, action, users, address,
// path, host, outcome and the record itself.
func TestECSConformance(t *testing.T) {
	cases := examples(t)
	typesCovered(t, cases)
	for _, m := range cases {
		line, err := export.NewFormatter(export.ECS, export.Options{Version: "9.9.9", Host: "sealer-1.example"}).Format(m)
		if err != nil {
			t.Fatal(err)
		}
		d, err := checkECS(line)
		if err != nil {
			t.Fatalf("%s: %v\n%s", m.Type, err, line)
		}
		var ev struct {
			Timestamp     string `json:"timestamp"`
			AttemptedUser string `json:"attempted_user"`
			Subject       string `json:"subject"`
			Path          string `json:"path"`
			Endpoint      string `json:"endpoint"`
			IP            string `json:"ip"`
			Actor         struct {
				UserID string `json:"user_id"`
				IP     string `json:"ip"`
			} `json:"actor"`
		}
		json.Unmarshal(m.Event, &ev)
		ts, _ := time.Parse(time.RFC3339Nano, ev.Timestamp)
		if at, _ := time.Parse(time.RFC3339Nano, d.Timestamp); !at.Equal(ts) {
			t.Errorf("%s: @timestamp %s, want the emitter's %s", m.Type, d.Timestamp, ev.Timestamp)
		}
		if cr, _ := time.Parse(time.RFC3339Nano, d.Event.Created); !cr.Equal(m.Received) {
			t.Errorf("%s: event.created %s, want the sealer's receive time", m.Type, d.Event.Created)
		}
		if d.Event.Action != m.Type || d.Event.ID != m.AuditID || d.Event.Sequence != m.Seq || d.Service.Name != m.Service ||
			d.Host == nil || d.Host.Name != "sealer-1.example" || d.Observer.Version != "9.9.9" {
			t.Errorf("%s: %s", m.Type, line)
		}
		if d.Sealer.Seq != m.Seq || d.Sealer.AuditID != m.AuditID || string(d.Sealer.Event) != string(m.Event) {
			t.Errorf("%s: audit_sealer %+v", m.Type, d.Sealer)
		}
		if u := ev.Actor.UserID + ev.AttemptedUser; u != "" && (d.User == nil || d.User.Name != u) {
			t.Errorf("%s: user.name, want %q: %s", m.Type, u, line)
		}
		if ev.Subject != "" && (d.User == nil || d.User.Target == nil || d.User.Target.Name != ev.Subject) {
			t.Errorf("%s: user.target.name, want %q", m.Type, ev.Subject)
		}
		if ip := ev.Actor.IP + ev.IP; ip != "" && (d.Source == nil || d.Source.IP != ip) {
			t.Errorf("%s: source.ip, want %q", m.Type, ip)
		}
		if p := ev.Path + ev.Endpoint; p != "" && (d.URL == nil || d.URL.Path != p) {
			t.Errorf("%s: url.path, want %q", m.Type, p)
		}
		want := map[string]string{"auth.success": "success", "authz.granted": "success", "auth.failure": "failure", "authz.denied": "failure"}[m.Type]
		if want != "" && d.Event.Outcome != want {
			t.Errorf("%s: event.outcome %q, want %q", m.Type, d.Event.Outcome, want)
		}
	}
	for name, bad := range map[string]string{
		"type the category does not expect": `{"@timestamp":"2026-11-27T10:00:00Z","message":"m","event":{"kind":"event","category":["authentication"],"type":["creation"],"action":"a","outcome":"success","created":"2026-11-27T10:00:00Z"},"ecs":{"version":"8.11.0"}}`,
		"unknown category":                  `{"@timestamp":"2026-11-27T10:00:00Z","message":"m","event":{"kind":"event","category":["audit"],"type":["info"],"action":"a","outcome":"success","created":"2026-11-27T10:00:00Z"},"ecs":{"version":"8.11.0"}}`,
		"outcome":                           `{"@timestamp":"2026-11-27T10:00:00Z","message":"m","event":{"kind":"event","category":["api"],"type":["info"],"action":"a","outcome":"partial","created":"2026-11-27T10:00:00Z"},"ecs":{"version":"8.11.0"}}`,
		"timestamp":                         `{"@timestamp":"1795773600","message":"m","event":{"kind":"event","category":["api"],"type":["info"],"action":"a","outcome":"success","created":"2026-11-27T10:00:00Z"},"ecs":{"version":"8.11.0"}}`,
	} {
		if _, err := checkECS([]byte(bad)); err == nil {
			t.Errorf("checkECS accepted a line with a bad %s", name)
		}
	}
}
