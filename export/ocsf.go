package export

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/audit-sealer/audit-sealer/query"
)

// OCSFVersion is the OCSF schema version of the ocsf format.
const OCSFVersion = "1.3.0"

// The OCSF 1.3.0 objects the export writes, as structs: marshalling maps
// cost most of an OCSF line. Every attribute is one the schema defines for
// the class or object it is in (ocsf130_test.go checks each line against
// the schema).
type (
	ocsfEvent struct {
		ActivityID   int          `json:"activity_id"`
		ActivityName string       `json:"activity_name"`
		CategoryUID  int          `json:"category_uid"`
		CategoryName string       `json:"category_name"`
		ClassUID     int          `json:"class_uid"`
		ClassName    string       `json:"class_name"`
		TypeUID      int          `json:"type_uid"`
		TypeName     string       `json:"type_name"`
		SeverityID   int          `json:"severity_id"`
		Severity     string       `json:"severity"`
		Time         int64        `json:"time"`
		Message      string       `json:"message"`
		Metadata     ocsfMetadata `json:"metadata"`

		Actor        *ocsfActor       `json:"actor,omitempty"`
		User         *ocsfUser        `json:"user,omitempty"`
		Service      *ocsfName        `json:"service,omitempty"`
		AuthProtocol string           `json:"auth_protocol,omitempty"`
		AuthProtoID  int              `json:"auth_protocol_id,omitempty"`
		Privileges   *[]string        `json:"privileges,omitempty"`
		API          *ocsfAPI         `json:"api,omitempty"`
		Resources    []ocsfResource   `json:"resources,omitempty"`
		Entity       *ocsfEntity      `json:"entity,omitempty"`
		WebResources []ocsfResource   `json:"web_resources,omitempty"`
		App          *ocsfProduct     `json:"app,omitempty"`
		FindingInfo  *ocsfFinding     `json:"finding_info,omitempty"`
		Evidences    []ocsfEvidence   `json:"evidences,omitempty"`
		SrcEndpoint  *ocsfEndpoint    `json:"src_endpoint,omitempty"`
		HTTPRequest  *ocsfHTTPRequest `json:"http_request,omitempty"`
		Comment      string           `json:"comment,omitempty"`
		StatusID     int              `json:"status_id,omitempty"` // 0 (Unknown) is left out
		Status       string           `json:"status,omitempty"`
		StatusDetail string           `json:"status_detail,omitempty"`
		Unmapped     ocsfUnmapped     `json:"unmapped"`
	}
	ocsfMetadata struct {
		Version      string      `json:"version"`
		UID          string      `json:"uid"`
		Product      ocsfProduct `json:"product"`
		EventCode    string      `json:"event_code"`
		OriginalTime string      `json:"original_time"`
		LoggedTime   int64       `json:"logged_time"`
		Sequence     uint64      `json:"sequence"`
		Labels       []string    `json:"labels"`
	}
	ocsfProduct struct {
		Name       string `json:"name"`
		VendorName string `json:"vendor_name"`
		Version    string `json:"version,omitempty"`
	}
	ocsfUser struct {
		UID    string `json:"uid,omitempty"`
		Name   string `json:"name,omitempty"`
		TypeID *int   `json:"type_id,omitempty"`
		Type   string `json:"type,omitempty"`
	}
	ocsfSession struct {
		UID string `json:"uid"`
	}
	ocsfActor struct {
		User    *ocsfUser    `json:"user,omitempty"`
		Session *ocsfSession `json:"session,omitempty"`
		AppName string       `json:"app_name,omitempty"`
	}
	ocsfName struct {
		Name string `json:"name"`
	}
	ocsfAPI struct {
		Operation string   `json:"operation"`
		Service   ocsfName `json:"service"`
	}
	ocsfResource struct {
		Type string `json:"type,omitempty"`
		UID  string `json:"uid,omitempty"`
		Name string `json:"name,omitempty"`
	}
	ocsfEntity struct {
		Type string `json:"type"`
		UID  string `json:"uid,omitempty"`
		Name string `json:"name,omitempty"`
	}
	ocsfEndpoint struct {
		IP   string `json:"ip,omitempty"`
		Name string `json:"name,omitempty"`
	}
	ocsfURL struct {
		Path string `json:"path"`
	}
	ocsfHTTPRequest struct {
		URL ocsfURL `json:"url"`
	}
	ocsfFinding struct {
		UID   string   `json:"uid"`
		Title string   `json:"title"`
		Types []string `json:"types"`
		Desc  string   `json:"desc,omitempty"`
	}
	ocsfEvidence struct {
		Actor       *ocsfActor    `json:"actor,omitempty"`
		SrcEndpoint *ocsfEndpoint `json:"src_endpoint,omitempty"`
		URL         *ocsfURL      `json:"url,omitempty"`
	}
	ocsfUnmapped struct {
		Event   json.RawMessage `json:"event"`
		Service string          `json:"service"`
		Type    string          `json:"type"`
	}
)

// ocsfSeverities are the captions of severity_id.
var ocsfSeverities = map[int]string{0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal"}

func (x *Formatter) ocsf(m *query.Match, f *eventFields) ([]byte, error) {
	mp := mappingOf(m)
	c := mp.class
	activity, activityName := mp.activityOf(m, f)
	_, sev := severity(m, f)
	o := &ocsfEvent{ActivityID: activity, ActivityName: activityName, CategoryUID: c.category, CategoryName: c.categoryName,
		ClassUID: c.uid, ClassName: c.name, TypeUID: c.uid*100 + activity, TypeName: c.name + ": " + activityName,
		SeverityID: sev, Severity: ocsfSeverities[sev], Time: eventTime(m, f).UnixMilli(), Message: mp.name,
		Metadata: ocsfMetadata{Version: OCSFVersion, UID: m.AuditID, EventCode: m.Type, OriginalTime: f.Timestamp,
			LoggedTime: m.Received.UnixMilli(), Sequence: m.Seq,
			Product: ocsfProduct{Name: "audit-sealer", VendorName: "audit-sealer", Version: x.opts.Version},
			Labels:  []string{"service:" + m.Service}},
		Unmapped: ocsfUnmapped{Event: m.Event, Service: m.Service, Type: m.Type},
	}
	if r := f.reason(); r != "" && mp.class != ocsfDetectionFinding {
		o.Message += ": " + r
	}
	var actor *ocsfActor
	if u := f.Actor.UserID; u != "" {
		actor = &ocsfActor{User: &ocsfUser{UID: u}}
		if s := f.Actor.SessionID; s != "" {
			actor.Session = &ocsfSession{UID: s}
		}
	} else if m.Type == "audit.log_read" && f.UID != nil {
		actor = &ocsfActor{User: &ocsfUser{UID: strconv.FormatUint(*f.UID, 10)}}
	}
	var src *ocsfEndpoint
	if ip := f.sourceIP(); ip != "" {
		src = &ocsfEndpoint{IP: ip}
	}
	var httpReq *ocsfHTTPRequest
	if p := f.requestPath(); p != "" {
		httpReq = &ocsfHTTPRequest{URL: ocsfURL{Path: p}}
	}
	typ, uid, name := entityOf(mp, m, f)

	// Each class's attributes (OCSF 1.3.0), the required ones always.
	switch c {
	case ocsfAuthentication: // required: user; at least one of service, dst_endpoint
		// The user who authenticated, or the one an authentication
		// failure names (auth.failure may name none).
		o.User = &ocsfUser{Name: "unknown", TypeID: new(int)}
		if u := firstNonEmpty(f.Actor.UserID, f.AttemptedUser); u != "" {
			o.User = &ocsfUser{UID: u}
		}
		o.Actor = actor
		o.Service = &ocsfName{Name: firstNonEmpty(f.ServiceID, m.Service)}
		o.SrcEndpoint, o.HTTPRequest = src, httpReq
		if a := firstNonEmpty(f.Method, f.Actor.AuthMethod); a != "" {
			o.AuthProtocol, o.AuthProtoID = a, ocsfOther
		}
	case ocsfEntityManagement: // required: entity
		o.Entity = &ocsfEntity{Type: typ, UID: uid, Name: name}
		o.Actor = actorOrApp(actor, m)
		o.SrcEndpoint = src
		o.Comment = f.Reason
	case ocsfUserAccess: // required: user, privileges
		_, privileges := privilegeChange(f.OldPermissions, f.NewPermissions)
		o.User = &ocsfUser{UID: f.Subject}
		o.Privileges = &privileges
		o.SrcEndpoint = src
	case ocsfAPIActivity: // required: actor, api, src_endpoint
		o.Actor = actorOrApp(actor, m)
		o.API = &ocsfAPI{Operation: firstNonEmpty(f.Action, f.Operation, m.Type), Service: ocsfName{Name: m.Service}}
		o.SrcEndpoint = src
		if o.SrcEndpoint == nil {
			// The endpoint the activity was reported from: the worker,
			// or else the service.
			o.SrcEndpoint = &ocsfEndpoint{Name: firstNonEmpty(f.WorkerID, m.Service)}
		}
		o.HTTPRequest = httpReq
		if typ != "" {
			o.Resources = []ocsfResource{{Type: typ, UID: uid, Name: name}}
		}
	case ocsfWebResourcesActivity: // required: web_resources
		o.WebResources = []ocsfResource{{Type: typ, UID: uid, Name: name}}
		o.SrcEndpoint, o.HTTPRequest = src, httpReq
	case ocsfApplicationLifecycle: // required: app
		o.App = &ocsfProduct{Name: "audit-sealer", VendorName: "audit-sealer", Version: firstNonEmpty(f.Version, x.opts.Version)}
	case ocsfDetectionFinding: // required: finding_info
		o.FindingInfo = &ocsfFinding{UID: m.AuditID, Title: mp.name, Types: []string{m.Type},
			Desc: firstNonEmpty(f.Details, f.Violation, f.ValidationError, f.Reason, f.Error, f.ActivityType, f.Status)}
		if typ != "" {
			o.Resources = []ocsfResource{{Type: typ, UID: uid, Name: name}}
		}
		if actor != nil || src != nil || httpReq != nil {
			ev := ocsfEvidence{Actor: actor, SrcEndpoint: src}
			if httpReq != nil {
				ev.URL = &httpReq.URL
			}
			o.Evidences = []ocsfEvidence{ev}
		}
	}
	// status is an event's outcome; a finding's status_id is the
	// finding's own state (New, In Progress…), which a log does not know.
	if c != ocsfDetectionFinding {
		switch outcomeOf(m, f) {
		case outcomeSuccess:
			o.StatusID, o.Status = 1, "Success"
		case outcomeFailure:
			o.StatusID, o.Status = 2, "Failure"
			o.StatusDetail = f.reason()
		case outcomePartial:
			o.StatusID, o.Status = ocsfOther, "Partial Success"
			o.StatusDetail = f.Result.Details
		}
	}
	return marshal(o)
}

// actorOrApp returns actor, or when the event names no user the service
// that reported it (OCSF's actor.app_name).
func actorOrApp(actor *ocsfActor, m *query.Match) *ocsfActor {
	if actor != nil {
		return actor
	}
	return &ocsfActor{AppName: m.Service}
}

// entityOf returns the type, id and name of what a record acts on: the
// managed entity, resource or web resource of its OCSF class. For
// authz.* it is the event's resource, typed by its resource_type.
func entityOf(mp *mapping, m *query.Match, f *eventFields) (typ, uid, name string) {
	typ = mp.entity
	switch typ {
	case "resource":
		return f.Resource.Type, f.Resource.ID, ""
	case "token":
		uid = f.TokenFingerprint
	case "pool":
		uid = f.PoolID
	case "node":
		uid = f.NodeID
	case "task":
		uid = f.TaskID
	case "vram_shard":
		uid = f.ShardID
	case "vram":
		uid = f.WorkerID
	case "model":
		uid = f.ModelRef
	case "customer_data":
		uid = f.CustomerID
	case "signing_key":
		uid, name = f.KeyID, f.KeyName
	case "tpm":
		uid = f.AKName
	case "audit_log_segments":
		name = strings.Join(f.Segments, " ")
	case "audit_log":
		name = "audit log"
	case "checkpoint":
		name = "checkpoint cosigned by " + f.Witness
	case "":
		// Findings name the resource they are about, if any.
		switch {
		case f.ResourceID != "":
			return f.ResourceType, f.ResourceID, ""
		case f.ModelRef != "":
			return "model", f.ModelRef, ""
		}
	}
	if uid == "" && name == "" {
		name = m.Type // the schema wants a name or an id
	}
	return typ, uid, name
}
