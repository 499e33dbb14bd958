package export

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/audit-sealer/audit-sealer/event"
)

// MappingsMarkdown returns docs/export-mappings.md: for every event type,
// its human-readable name (CEF Name), its OCSF class and activity, and its
// ECS event.kind, event.category and event.type. TestMappingsDoc keeps the
// file equal to it.
func MappingsMarkdown() []byte {
	var b bytes.Buffer
	b.WriteString(`# How audit-sealer export maps event types

<!-- Generated from package export (mapping.go); TestMappingsDoc checks it. Regenerate with: go test ./export -run TestMappingsDoc -update-mappings -->

` + "`audit-sealer export`" + ` (README, "Exporting to a SIEM") writes every record
in one of four formats. This table says, for each event type of
EVENTS.md, what the three classifying formats call it:

- **CEF**: Device Event Class ID is the type, Name the name below.
- **OCSF ` + OCSFVersion + `**: class (class_uid) and activity (activity_id). Where the
  activity is "by action", authz.* events take it from the action's verb:
  create, add, post, submit: Create (1); read, get, list, view, download,
  inspect: Read (2); write, update, modify, patch, put, edit: Update (3);
  delete, remove, destroy: Delete (4); any other verb: Other (99) with the
  action as activity_name. authz.permission_changed is Assign Privileges
  (1) when permissions were only added, Revoke Privileges (2) when they were
  only removed, else Other (99) "Change Privileges". Events with an
  outcome carry status_id Success (1), Failure (2) or Other (99, "Partial
  Success"); Detection Findings carry none (their status is the finding's
  own workflow state, which the log does not know).
- **ECS ` + ECSVersion + `**: event.kind, event.category and event.type.

| type | name | OCSF class | OCSF activity | ECS kind | ECS category | ECS type |
|---|---|---|---|---|---|---|
`)
	for _, typ := range append(event.Types(), event.SealerTypes()...) {
		mp := mappings[typ]
		if mp == nil {
			fmt.Fprintf(&b, "| `%s` | (not mapped) | | | | | |\n", typ)
			continue
		}
		activity := "by action"
		switch {
		case typ == "authz.permission_changed":
			activity = "by permissions"
		case typ != "authz.granted" && typ != "authz.denied":
			activity = fmt.Sprintf("%s (%d)", mp.class.activityName(mp.activity, mp.other), mp.activity)
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s (%d) | %s | %s | %s | %s |\n", typ, mp.name, mp.class.name, mp.class.uid, activity,
			mp.ecsKind, mp.ecsCategory, strings.Join(mp.ecsType, ", "))
	}
	return b.Bytes()
}
