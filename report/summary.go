package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// maxSummary bounds a summary, in bytes.
const maxSummary = 300

// summaryFirst are the members a summary names first, in this order: who,
// on what, what, why, from where.
var summaryFirst = []string{"actor", "attempted_user", "subject", "requester", "customer_id", "action", "resource", "reason",
	"severity", "ip", "path", "endpoint", "method"}

// Summarize says in one line what an event's JSON holds, for a reader:
// "user alice@example.com (api_key, 203.0.113.7); action delete; resource
// pool pool-7; reason insufficient_permissions". The members the type
// and timestamp say nothing more, and hashes and free-form objects are
// left out; a summary is at most 300 bytes (cut with "…"). The event
// itself stays in the report beside it.
func Summarize(eventJSON []byte) string {
	dec := json.NewDecoder(bytes.NewReader(eventJSON))
	dec.UseNumber()
	var m map[string]any
	if dec.Decode(&m) != nil {
		return ""
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		for i, f := range summaryFirst {
			if f == k {
				return i
			}
		}
		return len(summaryFirst)
	}
	sort.Slice(keys, func(i, j int) bool {
		if ri, rj := rank(keys[i]), rank(keys[j]); ri != rj {
			return ri < rj
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		v := m[k]
		switch k {
		case "type", "timestamp", "changes", "filters", "settings":
			continue
		case "actor":
			a, _ := v.(map[string]any)
			s := fmt.Sprintf("user %v", a["user_id"])
			var how []string
			for _, f := range []string{"auth_method", "ip", "session_id"} {
				if x, ok := a[f]; ok && x != nil {
					how = append(how, fmt.Sprint(x))
				}
			}
			if len(how) > 0 {
				s += " (" + strings.Join(how, ", ") + ")"
			}
			parts = append(parts, s)
			continue
		case "resource":
			r, _ := v.(map[string]any)
			parts = append(parts, fmt.Sprintf("resource %v %v", r["resource_type"], r["resource_id"]))
			continue
		case "result":
			r, _ := v.(map[string]any)
			s := fmt.Sprintf("result %v", r["status"])
			if x, ok := r["reason"]; ok {
				s += fmt.Sprintf(" (%v)", x)
			}
			parts = append(parts, s)
			continue
		}
		if strings.HasSuffix(k, "_hash") || strings.HasSuffix(k, "_digest") || k == "digest" || k == "prompt_hash" || k == "public_key" {
			continue
		}
		switch x := v.(type) {
		case nil, map[string]any:
			continue
		case []any:
			var items []string
			for _, it := range x {
				items = append(items, fmt.Sprint(it))
			}
			parts = append(parts, fmt.Sprintf("%s %s", strings.ReplaceAll(k, "_", " "), strings.Join(items, ", ")))
		default:
			parts = append(parts, fmt.Sprintf("%s %v", strings.ReplaceAll(k, "_", " "), x))
		}
	}
	s := strings.Join(parts, "; ")
	if len(s) > maxSummary {
		cut := maxSummary
		for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}
