package event

import (
	"encoding/json"
	"math"
	"net/netip"
	"time"
)

// maxFields bounds the number of fields of one event or shared shape.
const maxFields = 16

// fieldKind is the JSON shape and Go type of a field.
type fieldKind uint8

const (
	kindTime      fieldKind = iota // time.Time, RFC 3339 UTC string
	kindString                     // string (also named string types: enums)
	kindU32                        // uint32
	kindU64                        // uint64
	kindOptU64                     // *uint64, always optional
	kindIP                         // netip.Addr
	kindActor                      // Actor
	kindResource                   // Resource
	kindResult                     // Result
	kindOptResult                  // *Result, always optional
	kindStrings                    // []string
	kindU32s                       // []uint32
	kindObject                     // json.RawMessage holding a JSON object (changes, filters)
	kindStringMap                  // map[string]string (settings)
)

// timeRule bounds a timestamp field.
type timeRule uint8

const (
	timeEvent  timeRule = iota // 2000-01-01 .. now + 24h
	timeExpiry                 // 2000-01-01 .. now + 100 years
)

// fieldSpec describes one field of an event or shared shape. Specs are
// recorded once, at package initialisation, by running each type's bind
// method on a zero value; the same bind method later yields the pointers to
// a value's fields in the same order, so field order, names and rules are
// written down exactly once per type.
type fieldSpec struct {
	name     string
	key      string // `"name":`
	sepKey   string // `,"name":`
	kind     fieldKind
	text     *textRule // kindString, kindStrings
	time     timeRule  // kindTime
	optional bool
	max      uint64   // kindU32, kindU64, kindOptU64, kindU32s: largest value
	sub      *schema  // kindActor, kindResource, kindResult, kindOptResult
	subPaths []string // with sub: the error path of each field of sub, "name.field"
}

// schema is the ordered list of fields of one event type or shared shape.
type schema struct {
	fields []fieldSpec
}

// index returns the position of the field named key, or -1.
func (s *schema) index(key []byte) int {
	for i := range s.fields {
		if string(key) == s.fields[i].name {
			return i
		}
	}
	return -1
}

// binder collects pointers to the fields of a value, in schema order. While
// recording is set it also records the field specs.
type binder struct {
	n         int
	ptrs      [maxFields]any
	recording bool
	specs     []fieldSpec
}

func (b *binder) add(p any) {
	b.ptrs[b.n] = p
	b.n++
}

func (b *binder) record(spec fieldSpec) {
	if len(b.specs) >= maxFields {
		panic("event: too many fields in one type")
	}
	spec.key = `"` + spec.name + `":`
	spec.sepKey = "," + spec.key
	b.specs = append(b.specs, spec)
}

// Field binders, one per kind. opt marks optional fields.

func (b *binder) time(name string, p *time.Time, r timeRule, opt bool) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindTime, time: r, optional: opt})
	}
}

func (b *binder) text(name string, p *string, r *textRule, opt bool) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindString, text: r, optional: opt})
	}
}

func (b *binder) u32(name string, p *uint32) {
	b.u32Max(name, p, math.MaxUint32)
}

// u32Max binds a uint32 that may not exceed max.
func (b *binder) u32Max(name string, p *uint32, max uint32) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindU32, max: uint64(max)})
	}
}

func (b *binder) u64(name string, p *uint64) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindU64, max: math.MaxUint64})
	}
}

func (b *binder) optU64(name string, p **uint64) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindOptU64, optional: true, max: math.MaxUint64})
	}
}

func (b *binder) ip(name string, p *netip.Addr, opt bool) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindIP, optional: opt})
	}
}

func (b *binder) actor(name string, p *Actor) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindActor, sub: &actorSchema})
	}
}

func (b *binder) resource(name string, p *Resource) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindResource, sub: &resourceSchema})
	}
}

func (b *binder) result(name string, p *Result) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindResult, sub: &resultSchema})
	}
}

func (b *binder) optResult(name string, p **Result) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindOptResult, sub: &resultSchema, optional: true})
	}
}

func (b *binder) texts(name string, p *[]string, r *textRule) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindStrings, text: r})
	}
}

func (b *binder) u32s(name string, p *[]uint32) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindU32s, max: math.MaxUint32})
	}
}

func (b *binder) object(name string, p *json.RawMessage) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindObject})
	}
}

func (b *binder) stringMap(name string, p *map[string]string) {
	b.add(p)
	if b.recording {
		b.record(fieldSpec{name: name, kind: kindStringMap})
	}
}

// Shared shapes bind like events.

func (a *Actor) bind(b *binder) {
	b.text("user_id", &a.UserID, &ruleUserRef, false)
	b.ip("ip", &a.IP, true)
	b.text("auth_method", (*string)(&a.AuthMethod), &ruleAuthMethod, false)
	b.text("session_id", &a.SessionID, &ruleIdent, true)
}

func (r *Resource) bind(b *binder) {
	b.text("resource_type", &r.ResourceType, &ruleText, false)
	b.text("resource_id", &r.ResourceID, &ruleIdent, false)
	b.text("parent_id", &r.ParentID, &ruleIdent, true)
}

// Result binds all three keys as optional; which of reason and details must
// be present depends on the status and is checked by checkResultShape.
func (r *Result) bind(b *binder) {
	b.text("status", (*string)(&r.Status), &ruleResultStatus, false)
	b.text("reason", &r.Reason, &ruleText, true)
	b.text("details", &r.Details, &ruleDetails, true)
}

var actorSchema, resourceSchema, resultSchema schema

func recordSchema(bind func(*binder)) schema {
	b := binder{recording: true}
	bind(&b)
	for i := range b.specs {
		f := &b.specs[i]
		if f.sub != nil {
			for _, sf := range f.sub.fields {
				f.subPaths = append(f.subPaths, f.name+"."+sf.name)
			}
		}
	}
	return schema{fields: b.specs}
}

// fieldPath returns the error path of field i; paths holds the precomputed
// paths of a nested object and is nil at the top level.
func (s *schema) fieldPath(i int, paths []string) string {
	if paths != nil {
		return paths[i]
	}
	return s.fields[i].name
}

func init() {
	actorSchema = recordSchema(new(Actor).bind)
	resourceSchema = recordSchema(new(Resource).bind)
	resultSchema = recordSchema(new(Result).bind)
	initRegistry()
}

// checkResultShape enforces "exactly those keys per status". status has
// already passed its enum check.
func checkResultShape(path string, status ResultStatus, hasReason, hasDetails bool) error {
	switch status {
	case StatusSuccess:
		if hasReason {
			return invalid(joinPath(path, "reason"), RuleUnknownField, "not allowed when status is success")
		}
		if hasDetails {
			return invalid(joinPath(path, "details"), RuleUnknownField, "not allowed when status is success")
		}
	case StatusFailure:
		if hasDetails {
			return invalid(joinPath(path, "details"), RuleUnknownField, "not allowed when status is failure")
		}
		if !hasReason {
			return invalid(joinPath(path, "reason"), RuleRequired, "required when status is failure")
		}
	case StatusPartialSuccess:
		if hasReason {
			return invalid(joinPath(path, "reason"), RuleUnknownField, "not allowed when status is partial_success")
		}
		if !hasDetails {
			return invalid(joinPath(path, "details"), RuleRequired, "required when status is partial_success")
		}
	}
	return nil
}
