package export

import (
	"strings"

	"github.com/audit-sealer/audit-sealer/query"
)

// ocsfClass is an OCSF 1.3.0 event class the export writes: its uid
// (category_uid*1000 + the class's own uid), category, captions, and the
// captions of the activity_id values it defines (0 Unknown and 99 Other
// are the base event's).
type ocsfClass struct {
	uid, category      int
	name, categoryName string
	activities         map[int]string
}

// The classes, from the class files of github.com/ocsf/ocsf-schema at tag
// 1.3.0 (events/iam/authentication.json, entity_management.json,
// user_access.json; events/application/api.json,
// web_resources_activity.json, application_lifecycle.json;
// events/findings/detection_finding.json).
var (
	ocsfAuthentication = &ocsfClass{3002, 3, "Authentication", "Identity & Access Management",
		map[int]string{1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request", 5: "Service Ticket Renew", 6: "Preauth"}}
	ocsfEntityManagement = &ocsfClass{3004, 3, "Entity Management", "Identity & Access Management",
		map[int]string{1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Move", 6: "Enroll", 7: "Unenroll", 8: "Enable", 9: "Disable", 10: "Activate", 11: "Deactivate", 12: "Suspend", 13: "Resume"}}
	ocsfUserAccess = &ocsfClass{3005, 3, "User Access Management", "Identity & Access Management",
		map[int]string{1: "Assign Privileges", 2: "Revoke Privileges"}}
	ocsfAPIActivity = &ocsfClass{6003, 6, "API Activity", "Application Activity",
		map[int]string{1: "Create", 2: "Read", 3: "Update", 4: "Delete"}}
	ocsfWebResourcesActivity = &ocsfClass{6001, 6, "Web Resources Activity", "Application Activity",
		map[int]string{1: "Create", 2: "Read", 3: "Update", 4: "Delete", 5: "Search", 6: "Import", 7: "Export", 8: "Share"}}
	ocsfApplicationLifecycle = &ocsfClass{6002, 6, "Application Lifecycle", "Application Activity",
		map[int]string{1: "Install", 2: "Remove", 3: "Start", 4: "Stop", 5: "Restart", 6: "Enable", 7: "Disable", 8: "Update"}}
	ocsfDetectionFinding = &ocsfClass{2004, 2, "Detection Finding", "Findings",
		map[int]string{1: "Create", 2: "Update", 3: "Close"}}
)

// activityName returns the caption of activity a of class c, or other (the
// source's own name) for 99.
func (c *ocsfClass) activityName(a int, other string) string {
	switch a {
	case 0:
		return "Unknown"
	case 99:
		return other
	}
	return c.activities[a]
}

// OCSF activity ids of the base event.
const (
	ocsfUnknown = 0
	ocsfOther   = 99
)

// mapping is how one event type appears in the formats that classify
// events.
type mapping struct {
	// name is human-readable: CEF's Name, OCSF's message and a finding's
	// title, ECS's message.
	name string
	// class and activity are its OCSF class and activity_id; other names
	// the activity when it is 99 (Other). For authz.granted/denied the
	// activity comes from the action (activityOfAction), for
	// authz.permission_changed from the permissions (privilegeChange).
	class    *ocsfClass
	activity int
	other    string
	// entity is the type of the managed entity (Entity Management), the
	// resource (API Activity) or the web resource (Web Resources Activity)
	// the event acts on.
	entity string
	// ECS: event.kind, event.category and event.type.
	ecsKind     string
	ecsCategory string
	ecsType     []string
}

// mappings maps every event type (EVENTS.md) to the formats.
// TestEveryTypeMapped keeps it complete.
var mappings = map[string]*mapping{
	"auth.success": {name: "Authentication succeeded", class: ocsfAuthentication, activity: 1,
		ecsKind: "event", ecsCategory: "authentication", ecsType: []string{"start"}},
	"auth.failure": {name: "Authentication failed", class: ocsfAuthentication, activity: 1,
		ecsKind: "event", ecsCategory: "authentication", ecsType: []string{"start"}},
	"token.created": {name: "Token created", class: ocsfEntityManagement, activity: 1, entity: "token",
		ecsKind: "event", ecsCategory: "iam", ecsType: []string{"admin", "creation"}},
	"token.revoked": {name: "Token revoked", class: ocsfEntityManagement, activity: 9, entity: "token",
		ecsKind: "event", ecsCategory: "iam", ecsType: []string{"admin", "deletion"}},
	"authz.granted": {name: "Access granted", class: ocsfAPIActivity, entity: "resource",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access", "allowed"}},
	"authz.denied": {name: "Access denied", class: ocsfAPIActivity, entity: "resource",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access", "denied"}},
	"authz.permission_changed": {name: "Permissions changed", class: ocsfUserAccess, other: "Change Privileges",
		ecsKind: "event", ecsCategory: "iam", ecsType: []string{"user", "change"}},
	"pool.created": {name: "Pool created", class: ocsfEntityManagement, activity: 1, entity: "pool",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"creation"}},
	"pool.deleted": {name: "Pool deleted", class: ocsfEntityManagement, activity: 4, entity: "pool",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"deletion"}},
	"pool.modified": {name: "Pool modified", class: ocsfEntityManagement, activity: 3, entity: "pool",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"change"}},
	"node.registered": {name: "Node registered", class: ocsfEntityManagement, activity: 6, entity: "node",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"creation"}},
	"node.deregistered": {name: "Node deregistered", class: ocsfEntityManagement, activity: 7, entity: "node",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"deletion"}},
	"task.submitted": {name: "Task submitted", class: ocsfAPIActivity, activity: 1, entity: "task",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"creation"}},
	"task.completed": {name: "Task completed", class: ocsfAPIActivity, activity: 3, entity: "task",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"end"}},
	"task.canceled": {name: "Task canceled", class: ocsfAPIActivity, activity: 4, entity: "task",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"deletion"}},
	"vram.sealed": {name: "VRAM shard sealed", class: ocsfAPIActivity, activity: 3, entity: "vram_shard",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"change"}},
	"seal.verified": {name: "Sealed shard verified", class: ocsfAPIActivity, activity: 2, entity: "vram_shard",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"seal.verification_failed": {name: "Sealed shard failed verification", class: ocsfDetectionFinding, activity: 1, entity: "vram_shard",
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"vram.allocated": {name: "VRAM allocated", class: ocsfAPIActivity, activity: 1, entity: "vram",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"creation"}},
	"vram.allocation_failed": {name: "VRAM allocation failed", class: ocsfAPIActivity, activity: 1, entity: "vram",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"creation"}},
	"vram.deallocated": {name: "VRAM freed", class: ocsfAPIActivity, activity: 4, entity: "vram_shard",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"deletion"}},
	"security.rate_limit_exceeded": {name: "Rate limit exceeded", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"denied"}},
	"security.path_traversal_attempt": {name: "Path traversal attempt", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"security.invalid_token_used": {name: "Invalid token used", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"security.policy_violation": {name: "Security policy violated", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"security.suspicious_activity": {name: "Suspicious activity", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"security.integrity_violation": {name: "Integrity violation", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"security.malformed_model_rejected": {name: "Malformed model rejected", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"denied"}},
	"security.resource_limit_violation": {name: "Resource limit exceeded", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"data.inference_executed": {name: "Inference executed", class: ocsfAPIActivity, activity: ocsfOther, other: "Execute", entity: "model",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"data.model_accessed": {name: "Model accessed", class: ocsfAPIActivity, activity: 2, entity: "model",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"data.deleted": {name: "Customer data deleted", class: ocsfAPIActivity, activity: 4, entity: "customer_data",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"deletion"}},
	"compliance.gdpr_data_access_request": {name: "GDPR data access request", class: ocsfWebResourcesActivity, activity: 2, entity: "customer_data",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"compliance.gdpr_data_export": {name: "GDPR data export", class: ocsfWebResourcesActivity, activity: 7, entity: "customer_data",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"compliance.gdpr_right_to_erasure": {name: "GDPR erasure carried out", class: ocsfWebResourcesActivity, activity: 4, entity: "customer_data",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"deletion"}},

	"audit.sealer_started": {name: "Audit sealer started", class: ocsfApplicationLifecycle, activity: 3,
		ecsKind: "event", ecsCategory: "process", ecsType: []string{"start"}},
	"audit.sealer_stopped": {name: "Audit sealer stopped", class: ocsfApplicationLifecycle, activity: 4,
		ecsKind: "event", ecsCategory: "process", ecsType: []string{"end"}},
	"audit.config_reloaded": {name: "Audit sealer configuration reloaded", class: ocsfApplicationLifecycle, activity: ocsfOther, other: "Reload Configuration",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"change"}},
	"audit.events_shed": {name: "Audit events shed under load", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "host", ecsType: []string{"info"}},
	"audit.client_dropped": {name: "Audit events dropped by a client", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "host", ecsType: []string{"info"}},
	"audit.storage_recovered": {name: "Audit log storage failure recovered", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "host", ecsType: []string{"info"}},
	"audit.tail_discarded": {name: "Unauthenticated audit log tail discarded", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "host", ecsType: []string{"info"}},
	"audit.witness_alarm": {name: "Audit log split view (witness alarm)", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "alert", ecsCategory: "intrusion_detection", ecsType: []string{"info"}},
	"audit.anchor_state": {name: "TPM anchor state", class: ocsfDetectionFinding, activity: 1,
		ecsKind: "event", ecsCategory: "host", ecsType: []string{"info"}},
	"audit.key_introduced": {name: "Audit signing key introduced", class: ocsfEntityManagement, activity: 1, entity: "signing_key",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"creation"}},
	"audit.tpm_identity": {name: "Anchoring TPM enrolled", class: ocsfEntityManagement, activity: 6, entity: "tpm",
		ecsKind: "event", ecsCategory: "configuration", ecsType: []string{"creation"}},
	"audit.retention_pruned": {name: "Audit log segments pruned (retention)", class: ocsfEntityManagement, activity: 4, entity: "audit_log_segments",
		ecsKind: "event", ecsCategory: "file", ecsType: []string{"deletion"}},
	"audit.log_read": {name: "Audit log read", class: ocsfAPIActivity, activity: 2, entity: "audit_log",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"access"}},
	"audit.checkpoint_witnessed": {name: "Audit log checkpoint cosigned by a witness", class: ocsfAPIActivity, activity: ocsfOther, other: "Cosign", entity: "checkpoint",
		ecsKind: "event", ecsCategory: "api", ecsType: []string{"info"}},
}

// unknownMapping is the mapping of a type the table does not know (a
// later version's): API Activity, Other.
var unknownMapping = &mapping{class: ocsfAPIActivity, activity: ocsfOther, ecsKind: "event", ecsCategory: "api", ecsType: []string{"info"}}

// mappingOf returns the mapping of a record's type.
func mappingOf(m *query.Match) *mapping {
	if mp := mappings[m.Type]; mp != nil {
		return mp
	}
	u := *unknownMapping
	u.name, u.other = m.Type, m.Type
	return &u
}

// activityOf returns a record's OCSF activity_id and activity_name.
func (mp *mapping) activityOf(m *query.Match, f *eventFields) (int, string) {
	a, other := mp.activity, mp.other
	switch m.Type {
	case "authz.granted", "authz.denied":
		a = activityOfAction(f.Action)
		other = f.Action
	case "authz.permission_changed":
		a, _ = privilegeChange(f.OldPermissions, f.NewPermissions)
	}
	return a, mp.class.activityName(a, other)
}

// activityOfAction maps an authorization's action to an API Activity
// activity by its verb (the part before the first ':', '.', '/' or '_'):
// create/add/post/submit Create, read/get/list/view/download/inspect Read,
// write/update/modify/patch/put/edit Update, delete/remove/destroy Delete,
// any other Other (99, activity_name the action).
func activityOfAction(action string) int {
	verb := strings.ToLower(action)
	if i := strings.IndexAny(verb, ":./_ "); i >= 0 {
		verb = verb[:i]
	}
	switch verb {
	case "create", "add", "post", "submit":
		return 1
	case "read", "get", "list", "view", "download", "inspect":
		return 2
	case "write", "update", "modify", "patch", "put", "edit":
		return 3
	case "delete", "remove", "destroy":
		return 4
	}
	return ocsfOther
}

// privilegeChange returns the User Access Management activity of a
// permission change and the privileges it concerns: Assign Privileges and
// the ones added when only some were added, Revoke Privileges and the ones
// removed when only some were removed, else Other (99) and the new set.
func privilegeChange(old, new []string) (int, []string) {
	had := make(map[string]bool, len(old))
	for _, p := range old {
		had[p] = true
	}
	has := make(map[string]bool, len(new))
	var added, removed []string
	for _, p := range new {
		has[p] = true
		if !had[p] {
			added = append(added, p)
		}
	}
	for _, p := range old {
		if !has[p] {
			removed = append(removed, p)
		}
	}
	switch {
	case len(added) > 0 && len(removed) == 0:
		return 1, added
	case len(removed) > 0 && len(added) == 0:
		return 2, removed
	}
	return ocsfOther, append([]string{}, new...)
}
