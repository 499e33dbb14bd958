package wire

import (
	"encoding/json"
	"strconv"
)

// The appenders write the lines that most traffic consists of without
// encoding/json: the request lines the client and the benchmark send, and the
// replies most emits get. Each appends one line, newline included. A reply
// is byte for byte what encoding/json writes for the same Reply. A request
// line reads, with ParseRequest or encoding/json, as the same Request; its
// event is written as given, and an emit's service comes before durable.

// AppendEmitHead appends the start of an emit request line, up to and
// including the event's key: the id (written as a decimal string) unless it
// is 0, the service unless it is "", and durable when it is true. The caller
// appends the event's JSON and then AppendEmitEnd; AppendEmit does all
// three.
func AppendEmitHead(dst []byte, id uint64, service string, durable bool) []byte {
	dst = append(dst, `{"op":"emit"`...)
	dst = appendNumericID(dst, id)
	if service != "" {
		dst = append(dst, `,"service":`...)
		dst = appendString(dst, service)
	}
	if durable {
		dst = append(dst, `,"durable":true`...)
	}
	return append(dst, `,"event":`...)
}

// AppendEmitEnd ends an emit request line begun with AppendEmitHead, after
// its event.
func AppendEmitEnd(dst []byte) []byte { return append(dst, "}\n"...) }

// AppendEmit appends an emit request line (see AppendEmitHead) whose event
// is event, appended as it is: it must be one JSON object on one line, such
// as event.Encode writes.
func AppendEmit(dst []byte, id uint64, service string, durable bool, event []byte) []byte {
	dst = AppendEmitHead(dst, id, service, durable)
	dst = append(dst, event...)
	return AppendEmitEnd(dst)
}

// AppendFlush appends a flush request line, with the id unless it is 0.
func AppendFlush(dst []byte, id uint64) []byte {
	dst = append(dst, `{"op":"flush"`...)
	dst = appendNumericID(dst, id)
	return append(dst, "}\n"...)
}

// AppendReportDropped appends a report_dropped request line, with the id
// unless it is 0.
func AppendReportDropped(dst []byte, id, count uint64, reason string) []byte {
	dst = append(dst, `{"op":"report_dropped"`...)
	dst = appendNumericID(dst, id)
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendUint(dst, count, 10)
	dst = append(dst, `,"reason":`...)
	dst = appendString(dst, reason)
	return append(dst, "}\n"...)
}

// appendNumericID appends `,"id":"<id>"`, or nothing for id 0.
func appendNumericID(dst []byte, id uint64) []byte {
	if id == 0 {
		return dst
	}
	dst = append(dst, `,"id":"`...)
	dst = strconv.AppendUint(dst, id, 10)
	return append(dst, '"')
}

// AppendReply appends r's line. The replies most emits get (accepted, and a
// durable emit's seq and audit_id) are written by hand; every other reply
// goes through encoding/json.
func AppendReply(dst []byte, r *Reply) []byte {
	if r.OK && !r.Sealed && r.CheckpointSize == nil && r.Time == "" && r.Status == nil && r.Matches == nil &&
		r.More == nil && r.Next == nil && r.Error == nil && r.Hello == nil && r.Key == nil && !r.Done && r.Report == nil {
		switch {
		case r.Accepted && r.Seq == nil && r.AuditID == "" && !r.Durable:
			return AppendAccepted(dst, r.ID)
		case !r.Accepted && r.Seq != nil && r.AuditID != "" && r.Durable:
			return AppendDurable(dst, r.ID, *r.Seq, r.AuditID)
		}
	}
	b, _ := json.Marshal(r)
	return append(append(dst, b...), '\n')
}

// AppendAccepted appends the reply to an emit acknowledged on acceptance:
// {"id":…,"ok":true,"accepted":true}.
func AppendAccepted(dst []byte, id string) []byte {
	dst = appendIDField(append(dst, '{'), id)
	return append(dst, `"ok":true,"accepted":true}`+"\n"...)
}

// AppendDurable appends the reply to an emit whose record is durable and not
// yet sealed: {"id":…,"ok":true,"seq":…,"audit_id":…,"durable":true}.
// auditID is not empty (encoding/json would leave an empty one out).
func AppendDurable(dst []byte, id string, seq uint64, auditID string) []byte {
	dst = appendIDField(append(dst, '{'), id)
	dst = append(dst, `"ok":true,"seq":`...)
	dst = strconv.AppendUint(dst, seq, 10)
	dst = append(dst, `,"audit_id":`...)
	dst = appendString(dst, auditID)
	return append(dst, `,"durable":true}`+"\n"...)
}

// appendIDField appends a reply's `"id":…,`, or nothing for an empty id.
func appendIDField(dst []byte, id string) []byte {
	if id == "" {
		return dst
	}
	dst = append(dst, `"id":`...)
	return append(appendString(dst, id), ',')
}

// appendString appends s as a JSON string, byte for byte as encoding/json
// writes it: a plain string by hand, any other through encoding/json (which
// escapes quotes, backslashes, control and HTML characters, and U+2028 and
// U+2029, and replaces invalid UTF-8).
func appendString(dst []byte, s string) []byte {
	if isPlain(s) {
		dst = append(dst, '"')
		dst = append(dst, s...)
		return append(dst, '"')
	}
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

// isPlain reports whether s needs no escaping in JSON: printable ASCII
// without quotes, backslashes or the HTML characters encoding/json escapes.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
