package export

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/audit-sealer/audit-sealer/event"
	"github.com/audit-sealer/audit-sealer/query"
)

// The CEF escapers, built once (a Replacer is safe for concurrent use):
// building them per field cost more than the rest of a CEF line.
var (
	cefHeaderEscaper = strings.NewReplacer(`\`, `\\`, `|`, `\|`)
	cefValueEscaper  = strings.NewReplacer(`\`, `\\`, `=`, `\=`, "\r", `\r`, "\n", `\n`)
)

// cefHeader escapes a CEF header field: backslash and pipe.
func cefHeader(s string) string { return cefHeaderEscaper.Replace(s) }

// cefValue escapes a CEF extension value: backslash, equals sign, newlines.
func cefValue(s string) string { return cefValueEscaper.Replace(s) }

// cef returns the CEF:0 line of a record. Header: vendor and product
// audit-sealer, the build's version, the type as Device Event Class ID,
// the human-readable name, the severity. Extension (dictionary keys of
// CEF v25): rt (the sealer's receive time), externalId (audit_id), cn1
// (seq), cs1 (the service identity), cat (the type's category), dvchost,
// suser (the actor), duser (the user acted on: auth.failure's attempted
// user, a permission change's subject), src or c6a2 (the source address),
// request (the request path), act (the action asked for or taken),
// outcome (success or failure), reason, and msg (the event's JSON).
func (x *Formatter) cef(m *query.Match, f *eventFields) ([]byte, error) {
	mp := mappingOf(m)
	sev, _ := severity(m, f)
	var b strings.Builder
	b.Grow(256 + len(m.Event))
	b.WriteString("CEF:0|audit-sealer|audit-sealer|")
	b.WriteString(cefHeader(x.opts.Version))
	b.WriteByte('|')
	b.WriteString(cefHeader(m.Type))
	b.WriteByte('|')
	b.WriteString(cefHeader(mp.name))
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(sev))
	b.WriteByte('|')
	n := 0
	add := func(k, v string) {
		if v == "" {
			return
		}
		if n > 0 {
			b.WriteByte(' ')
		}
		n++
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(cefValue(v))
	}
	add("rt", strconv.FormatInt(m.Received.UnixMilli(), 10))
	add("externalId", m.AuditID)
	add("cn1Label", "seq")
	add("cn1", strconv.FormatUint(m.Seq, 10))
	add("cs1Label", "service")
	add("cs1", m.Service)
	add("cat", event.Category(m.Type))
	add("dvchost", x.opts.Host)
	add("suser", f.Actor.UserID)
	add("duser", firstNonEmpty(f.AttemptedUser, f.Subject))
	if ip, err := netip.ParseAddr(f.sourceIP()); err == nil {
		// CEF's src is an IPv4 address; an IPv6 source goes in the
		// custom IPv6 field the spec names for it.
		if ip.Unmap().Is4() {
			add("src", ip.Unmap().String())
		} else {
			add("c6a2Label", "Source IPv6 Address")
			add("c6a2", ip.String())
		}
	}
	add("request", f.requestPath())
	add("act", firstNonEmpty(f.Action, f.ActionTaken))
	switch outcomeOf(m, f) {
	case outcomeSuccess:
		add("outcome", "success")
	case outcomeFailure:
		add("outcome", "failure")
	case outcomePartial:
		add("outcome", "partial_success")
	}
	add("reason", f.reason())
	add("msg", string(m.Event))
	return []byte(b.String()), nil
}
