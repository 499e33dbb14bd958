package export

import (
	"encoding/json"
	"strconv"
	"time"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/query"
)

// ECSVersion is the Elastic Common Schema version of the ecs format.
const ECSVersion = "8.11.0"

// The ECS document of a record, as structs (field order as written).
type (
	ecsDoc struct {
		Timestamp string       `json:"@timestamp"`
		Message   string       `json:"message"`
		Event     ecsEvent     `json:"event"`
		User      *ecsUser     `json:"user,omitempty"`
		Source    *ecsSource   `json:"source,omitempty"`
		URL       *ecsURL      `json:"url,omitempty"`
		Host      *ecsHost     `json:"host,omitempty"`
		Service   ecsService   `json:"service"`
		Observer  ecsObserver  `json:"observer"`
		Related   *ecsRelated  `json:"related,omitempty"`
		ECS       ecsVersion   `json:"ecs"`
		Sealer    ecsSealerDoc `json:"audit_sealer"`
	}
	ecsEvent struct {
		Kind     string   `json:"kind"`
		Category []string `json:"category"`
		Type     []string `json:"type"`
		Action   string   `json:"action"`
		Outcome  string   `json:"outcome"`
		Severity int      `json:"severity"`
		ID       string   `json:"id"`
		Sequence uint64   `json:"sequence"`
		Created  string   `json:"created"`
		Dataset  string   `json:"dataset"`
		Module   string   `json:"module"`
		Reason   string   `json:"reason,omitempty"`
	}
	ecsUser struct {
		Name   string      `json:"name,omitempty"`
		ID     string      `json:"id,omitempty"`
		Target *ecsUserRef `json:"target,omitempty"`
	}
	ecsUserRef struct {
		Name string `json:"name"`
	}
	ecsSource struct {
		IP string `json:"ip"`
	}
	ecsURL struct {
		Path string `json:"path"`
	}
	ecsHost struct {
		Name string `json:"name"`
	}
	ecsService struct {
		Name string `json:"name"`
	}
	ecsObserver struct {
		Vendor   string `json:"vendor"`
		Product  string `json:"product"`
		Version  string `json:"version,omitempty"`
		Type     string `json:"type"`
		Hostname string `json:"hostname,omitempty"`
	}
	ecsRelated struct {
		User []string `json:"user,omitempty"`
		IP   []string `json:"ip,omitempty"`
	}
	ecsVersion struct {
		Version string `json:"version"`
	}
	// ecsSealerDoc is the record as the sealer holds it, under the
	// product's own field set (ECS custom fields go under a name of their
	// own).
	ecsSealerDoc struct {
		Seq      uint64          `json:"seq"`
		AuditID  string          `json:"audit_id"`
		Service  string          `json:"service"`
		Type     string          `json:"type"`
		Category string          `json:"category"`
		Critical bool            `json:"critical"`
		Received string          `json:"received"`
		Event    json.RawMessage `json:"event"`
	}
)

// ecs returns the ECS JSON document of a record: @timestamp is the
// emitter's timestamp, event.created the sealer's receive time, event.id
// the audit_id, event.sequence the seq, event.action the type;
// event.kind, event.category and event.type by type (mapping.go);
// event.outcome success, failure or unknown; user.name the actor (or the
// user an authentication failure named), user.target.name the user acted
// on; source.ip, url.path, host.name (Options.Host), service.name (the
// service identity); the record itself under audit_sealer.
func (x *Formatter) ecs(m *query.Match, f *eventFields) ([]byte, error) {
	mp := mappingOf(m)
	sev, _ := severity(m, f)
	d := &ecsDoc{
		Timestamp: eventTime(m, f).Format(time.RFC3339Nano),
		Message:   mp.name,
		Event: ecsEvent{Kind: mp.ecsKind, Category: []string{mp.ecsCategory}, Type: mp.ecsType, Action: m.Type,
			Outcome: "unknown", Severity: sev, ID: m.AuditID, Sequence: m.Seq, Created: m.Received.UTC().Format(time.RFC3339Nano),
			Dataset: "audit_sealer.log", Module: "audit_sealer", Reason: f.reason()},
		Service:  ecsService{Name: m.Service},
		Observer: ecsObserver{Vendor: "audit-sealer", Product: "audit-sealer", Version: x.opts.Version, Type: "audit", Hostname: x.opts.Host},
		ECS:      ecsVersion{Version: ECSVersion},
		Sealer: ecsSealerDoc{Seq: m.Seq, AuditID: m.AuditID, Service: m.Service, Type: m.Type, Category: event.Category(m.Type),
			Critical: m.Critical, Received: m.Received.UTC().Format(time.RFC3339Nano), Event: m.Event},
	}
	if r := d.Event.Reason; r != "" {
		d.Message += ": " + r
	}
	switch outcomeOf(m, f) {
	case outcomeSuccess:
		d.Event.Outcome = "success"
	case outcomeFailure:
		d.Event.Outcome = "failure"
	}
	var related ecsRelated
	user := firstNonEmpty(f.Actor.UserID, f.AttemptedUser)
	if user != "" {
		d.User = &ecsUser{Name: user}
		related.User = append(related.User, user)
	} else if m.Type == "audit.log_read" && f.UID != nil {
		d.User = &ecsUser{ID: strconv.FormatUint(*f.UID, 10)}
	}
	if t := f.Subject; t != "" {
		if d.User == nil {
			d.User = &ecsUser{}
		}
		d.User.Target = &ecsUserRef{Name: t}
		related.User = append(related.User, t)
	}
	if ip := f.sourceIP(); ip != "" {
		d.Source = &ecsSource{IP: ip}
		related.IP = append(related.IP, ip)
	}
	if p := f.requestPath(); p != "" {
		d.URL = &ecsURL{Path: p}
	}
	if h := x.opts.Host; h != "" {
		d.Host = &ecsHost{Name: h}
	}
	if len(related.User)+len(related.IP) > 0 {
		d.Related = &related
	}
	return marshal(d)
}
