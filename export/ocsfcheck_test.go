package export_test

// A validator of OCSF event objects against the schema excerpt of
// ocsf130_test.go. What it checks, for the event and for every object in
// it, recursively:
//
//   - every required attribute is present and not null;
//   - every attribute present is one the class or object defines (no
//     misspelled or invented names; profile attributes are not allowed, as
//     the export applies no profile);
//   - each value has its attribute's type: a string (an IP address for
//     ip_t), an integer, a boolean, a number, an object of the named
//     object (validated in turn) or a free-form object, and an array
//     exactly where the attribute is one;
//   - an integer attribute with an enumeration holds one of its values,
//     and an _id of 99 (Other) comes with its sibling caption (activity_id
//     99 with activity_name, status_id 99 with status, …), as the
//     enumerations' descriptions ask;
//   - the class's and objects' constraints: at_least_one and just_one;
//   - class_uid, category_uid and type_uid (class_uid*100 + activity_id)
//     are the class's, metadata.version is 1.3.0.
//
// It does not check what the schema leaves to descriptions (the format of
// strings other than IP addresses, that a caption matches its _id).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

type ocsfReq int

const (
	optional ocsfReq = iota
	recommended
	required
)

type ocsfAttr struct {
	typ     string
	req     ocsfReq
	array   bool
	enum    []int
	strEnum []string
}

type ocsfDef struct {
	uid, category       int
	atLeastOne, justOne []string
	attrs               map[string]ocsfAttr
}

// ocsfSiblings are the caption attributes of _id attributes whose value
// 99 (Other) the caption must explain.
var ocsfSiblings = map[string]string{
	"activity_id": "activity_name", "status_id": "status", "severity_id": "severity",
	"auth_protocol_id": "auth_protocol", "type_id": "type", "logon_type_id": "logon_type",
}

// validateOCSF checks one OCSF event object (one line of the ocsf format)
// and returns it decoded, numbers as json.Number.
func validateOCSF(line []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var o map[string]any
	if err := dec.Decode(&o); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("more than one JSON value")
	}
	uid, err := intOf(o["class_uid"])
	if err != nil {
		return nil, fmt.Errorf("class_uid: %w", err)
	}
	var def *ocsfDef
	var name string
	for k, d := range ocsf130 {
		if strings.HasPrefix(k, "class:") && d.uid == uid {
			def, name = d, k
		}
	}
	if def == nil {
		return nil, fmt.Errorf("class_uid %d: not a class of the schema excerpt", uid)
	}
	if err := checkOCSFObject(name, def, o); err != nil {
		return nil, err
	}
	cat, _ := intOf(o["category_uid"])
	act, _ := intOf(o["activity_id"])
	typ, _ := intOf(o["type_uid"])
	switch {
	case cat != def.category:
		return nil, fmt.Errorf("%s: category_uid %d, want %d", name, cat, def.category)
	case typ != uid*100+act:
		return nil, fmt.Errorf("%s: type_uid %d, want class_uid*100+activity_id = %d", name, typ, uid*100+act)
	}
	if v := o["metadata"].(map[string]any)["version"]; v != "1.3.0" {
		return nil, fmt.Errorf("metadata.version %v, want 1.3.0", v)
	}
	return o, nil
}

func intOf(v any) (int, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		return 0, fmt.Errorf("%v is not an integer", v)
	}
	return int(i), nil
}

func checkOCSFObject(path string, def *ocsfDef, o map[string]any) error {
	for k, a := range def.attrs {
		if a.req == required {
			if v, ok := o[k]; !ok || v == nil {
				return fmt.Errorf("%s: required attribute %s is missing", path, k)
			}
		}
	}
	present := func(names []string) int {
		n := 0
		for _, k := range names {
			if v, ok := o[k]; ok && v != nil {
				n++
			}
		}
		return n
	}
	if len(def.atLeastOne) > 0 && present(def.atLeastOne) == 0 {
		return fmt.Errorf("%s: none of %v (at_least_one)", path, def.atLeastOne)
	}
	if len(def.justOne) > 0 && present(def.justOne) != 1 {
		return fmt.Errorf("%s: not exactly one of %v (just_one)", path, def.justOne)
	}
	for k, v := range o {
		a, ok := def.attrs[k]
		if !ok {
			return fmt.Errorf("%s: %s is not an attribute of it in OCSF 1.3.0", path, k)
		}
		p := path + "." + k
		if a.array {
			arr, ok := v.([]any)
			if !ok {
				return fmt.Errorf("%s: want an array, got %T", p, v)
			}
			for i, e := range arr {
				if err := checkOCSFValue(fmt.Sprintf("%s[%d]", p, i), a, e); err != nil {
					return err
				}
			}
			continue
		}
		if err := checkOCSFValue(p, a, v); err != nil {
			return err
		}
		if sib, ok := ocsfSiblings[k]; ok && a.enum != nil {
			if n, _ := intOf(v); n == 99 {
				if s, _ := o[sib].(string); s == "" {
					return fmt.Errorf("%s is 99 (Other) without %s", p, sib)
				}
			}
		}
	}
	return nil
}

func checkOCSFValue(p string, a ocsfAttr, v any) error {
	switch {
	case a.typ == "s" || a.typ == "ip":
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: want a string, got %T", p, v)
		}
		if a.typ == "ip" {
			if _, err := netip.ParseAddr(s); err != nil {
				return fmt.Errorf("%s: %q is not an IP address", p, s)
			}
		}
		if a.strEnum != nil && !slices.Contains(a.strEnum, s) {
			return fmt.Errorf("%s: %q is not one of %v", p, s, a.strEnum)
		}
	case a.typ == "i":
		n, err := intOf(v)
		if err != nil {
			return fmt.Errorf("%s: want an integer: %w", p, err)
		}
		if a.enum != nil && !slices.Contains(a.enum, n) {
			return fmt.Errorf("%s: %d is not one of %v", p, n, a.enum)
		}
	case a.typ == "f":
		if _, ok := v.(json.Number); !ok {
			return fmt.Errorf("%s: want a number, got %T", p, v)
		}
	case a.typ == "b":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("%s: want a boolean, got %T", p, v)
		}
	case a.typ == "j":
	case a.typ == "object:object":
		if _, ok := v.(map[string]any); !ok {
			return fmt.Errorf("%s: want an object, got %T", p, v)
		}
	case strings.HasPrefix(a.typ, "object:"):
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: want a %s object, got %T", p, a.typ, v)
		}
		def := ocsf130[a.typ]
		if def == nil {
			return fmt.Errorf("%s: a %s, which the schema excerpt does not hold", p, a.typ)
		}
		return checkOCSFObject(p, def, obj)
	default:
		return fmt.Errorf("%s: unknown type %q in the excerpt", p, a.typ)
	}
	return nil
}
