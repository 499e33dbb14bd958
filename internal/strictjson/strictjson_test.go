package strictjson

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCheckAccepts(t *testing.T) {
	for _, doc := range []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `-12E+4`, `true`, `false`, `null`,
		" \t\r\n{\"a\":1} \n",
		`{"a":{"a":{"a":[{"a":1},{"a":2}]}}}`, // one name at different places
		`{"a":1,"A":2}`,                       // names differ in case: two members
		`{"":1,"b":[1,"x",null,true,{}]}`,
		`"<>&\u2028 é \"q\" \\ \/ \b\f\n\r\t \ud83d\ude00 ` + "\u2028😀" + `"`,
		`{"\ud83d\ude00":1,"😀x":2}`,
	} {
		if err := Check([]byte(doc)); err != nil {
			t.Errorf("Check(%q) = %v", doc, err)
		}
		if !json.Valid([]byte(doc)) {
			t.Errorf("the test case %q is not valid JSON", doc)
		}
	}
}

func TestCheckRejects(t *testing.T) {
	for _, tc := range []struct {
		doc  string
		want error
	}{
		{``, ErrSyntax},
		{`   `, ErrSyntax},
		{`{"a":1} x`, ErrSyntax},
		{`{"a":1}{}`, ErrSyntax},
		{`{"a":1},`, ErrSyntax},
		{`1 2`, ErrSyntax},
		{`{"a":1,}`, ErrSyntax},
		{`[1,]`, ErrSyntax},
		{`{a:1}`, ErrSyntax},
		{`{"a" 1}`, ErrSyntax},
		{`{"a":1`, ErrSyntax},
		{`[1`, ErrSyntax},
		{`"abc`, ErrSyntax},
		{`01`, ErrSyntax},
		{`1.`, ErrSyntax},
		{`.5`, ErrSyntax},
		{`1e`, ErrSyntax},
		{`+1`, ErrSyntax},
		{`-`, ErrSyntax},
		{`tru`, ErrSyntax},
		{`nul`, ErrSyntax},
		{`True`, ErrSyntax},
		{"\"a\tb\"", ErrSyntax},
		{`"\x"`, ErrSyntax},
		{`"\u12"`, ErrSyntax},
		{`"\ud800"`, ErrSyntax},
		{`"\udc00"`, ErrSyntax},
		{`"\ud800\u0041"`, ErrSyntax},
		{"\"\xff\"", ErrSyntax},
		{"\"\xed\xa0\x80\"", ErrSyntax}, // a surrogate in UTF-8
		{"\xef\xbb\xbf{}", ErrSyntax},   // byte order mark
		{"{}\x00", ErrSyntax},
		{"{}\f", ErrSyntax},
		{strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1), ErrSyntax},
		{`{"a":1,"a":1}`, ErrDuplicate},
		{`{"a":1,"b":2,"a":3}`, ErrDuplicate},
		{`{"a":1,"\u0061":2}`, ErrDuplicate},
		{`{"x":{"y":[{"z":1,"z":2}]}}`, ErrDuplicate},
		{`[{},{"k":null,"k":null}]`, ErrDuplicate},
	} {
		err := Check([]byte(tc.doc))
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "strictjson: ") {
			t.Errorf("Check(%q) = %v, want %v", tc.doc, err, tc.want)
		}
	}
	// Deep but within the limit is fine.
	if err := Check([]byte(strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth))); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
}

func TestDuplicateNamesItsPlace(t *testing.T) {
	err := Check([]byte(`{"event":{"actor":{"user_id":"a","user_id":"b"}}}`))
	if !errors.Is(err, ErrDuplicate) || err.Error() != `strictjson: duplicate member "user_id" in event.actor` {
		t.Errorf("err = %v", err)
	}
	err = Check([]byte(`{"list":[0,{"a b":{"x":1,"x":2}}]}`))
	if err == nil || err.Error() != `strictjson: duplicate member "x" in list[1]."a b"` {
		t.Errorf("err = %v", err)
	}
}

type inner struct {
	Name string `json:"name"`
	N    *int   `json:"n,omitempty"`
}

type doc struct {
	Seq      *uint64           `json:"seq"`
	Service  string            `json:"service"`
	Critical bool              `json:"critical"`
	Event    json.RawMessage   `json:"event"`
	When     time.Time         `json:"when"`
	Inner    inner             `json:"inner"`
	Ptr      *inner            `json:"ptr"`
	List     []inner           `json:"list"`
	Map      map[string]inner  `json:"map"`
	Any      any               `json:"any"`
	Opt      string            `json:"opt,omitempty"`
	Skip     string            `json:"-"`
	Untagged int               //
	Bytes    []byte            `json:"bytes"`
	Arr      [2]int            `json:"arr"`
	Free     map[string]string `json:"free,omitzero"`
	private  int
}

const good = `{"seq":3,"service":"svc","critical":true,"event":{"type":"x","nested":{"k":[1,2]}},` +
	`"when":"2026-11-02T09:00:00Z","inner":{"name":"i"},"ptr":null,"list":[{"name":"a","n":1}],` +
	`"map":{"Name":{"name":"m"}},"any":{"whatever":[null]},"Untagged":7,"bytes":"AQI=","arr":[1,2]}`

func TestUnmarshal(t *testing.T) {
	var d doc
	if err := Unmarshal([]byte(good), &d); err != nil {
		t.Fatal(err)
	}
	if *d.Seq != 3 || d.Service != "svc" || !d.Critical || string(d.Event) != `{"type":"x","nested":{"k":[1,2]}}` ||
		d.Inner.Name != "i" || d.Ptr != nil || d.List[0].Name != "a" || *d.List[0].N != 1 || d.Map["Name"].Name != "m" ||
		d.Untagged != 7 || string(d.Bytes) != "\x01\x02" || d.Arr != [2]int{1, 2} {
		t.Fatalf("%+v", d)
	}
	// What encoding/json writes, Unmarshal reads back.
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var d2 doc
	if err := Unmarshal(out, &d2); err != nil {
		t.Fatalf("Unmarshal(Marshal) = %v\n%s", err, out)
	}
	// Optional members may be there, and null where Go has nil.
	withOpt := strings.Replace(good, `"seq":3`, `"seq":null,"opt":"o","free":{"a":"b"}`, 1)
	withOpt = strings.Replace(withOpt, `"ptr":null`, `"ptr":{"name":"p"}`, 1)
	withOpt = strings.Replace(withOpt, `"list":[{"name":"a","n":1}]`, `"list":null`, 1)
	if err := Unmarshal([]byte(withOpt), new(doc)); err != nil {
		t.Fatalf("%v\n%s", err, withOpt)
	}
}

func TestUnmarshalRejects(t *testing.T) {
	edit := func(old, new string) string {
		if !strings.Contains(good, old) {
			t.Fatalf("%q is not in the document", old)
		}
		return strings.Replace(good, old, new, 1)
	}
	for _, tc := range []struct {
		name, doc string
		want      error
		msg       string
	}{
		{"case variant beside", edit(`"service":"svc"`, `"service":"svc","SERVICE":"forged"`), ErrUnknown, `strictjson: unknown member "SERVICE" at the top level`},
		{"case variant instead", edit(`"seq":3`, `"Seq":3`), ErrUnknown, `strictjson: unknown member "Seq" at the top level`},
		{"case variant nested", edit(`"inner":{"name":"i"}`, `"inner":{"Name":"i"}`), ErrUnknown, `strictjson: unknown member "Name" in inner`},
		{"case variant in a list", edit(`{"name":"a","n":1}`, `{"name":"a","N":1}`), ErrUnknown, `strictjson: unknown member "N" in list[0]`},
		{"case variant in a map value", edit(`{"name":"m"}`, `{"NAME":"m"}`), ErrUnknown, `strictjson: unknown member "NAME" in map.Name`},
		{"unknown", edit(`"seq":3`, `"seq":3,"comment":"x"`), ErrUnknown, `strictjson: unknown member "comment" at the top level`},
		{"skipped field by name", edit(`"seq":3`, `"seq":3,"Skip":"x"`), ErrUnknown, ``},
		{"private field by name", edit(`"seq":3`, `"seq":3,"private":1`), ErrUnknown, ``},
		{"tagged field by its Go name", edit(`"service":"svc"`, `"service":"svc","Service":"x"`), ErrUnknown, ``},
		{"missing", edit(`"service":"svc",`, ``), ErrMissing, `strictjson: missing member "service" at the top level`},
		{"missing nested", edit(`"inner":{"name":"i"}`, `"inner":{}`), ErrMissing, `strictjson: missing member "name" in inner`},
		{"duplicate", edit(`"seq":3`, `"seq":3,"seq":4`), ErrDuplicate, `strictjson: duplicate member "seq" at the top level`},
		{"duplicate escaped", edit(`"seq":3`, `"seq":3,"\u0073eq":4`), ErrDuplicate, ``},
		{"duplicate in event", edit(`{"type":"x",`, `{"type":"x","type":"y",`), ErrDuplicate, `strictjson: duplicate member "type" in event`},
		{"duplicate deep in event", edit(`{"k":[1,2]}`, `{"k":[1,2],"k":[]}`), ErrDuplicate, `strictjson: duplicate member "k" in event.nested`},
		{"duplicate in any", edit(`{"whatever":[null]}`, `{"whatever":[{"a":1,"a":1}]}`), ErrDuplicate, `strictjson: duplicate member "a" in any.whatever[0]`},
		{"duplicate map key", edit(`"map":{"Name":{"name":"m"}}`, `"map":{"Name":{"name":"m"},"Name":{"name":"n"}}`), ErrDuplicate, ``},
		{"null string", edit(`"service":"svc"`, `"service":null`), ErrNull, `strictjson: null not allowed in service`},
		{"null bool", edit(`"critical":true`, `"critical":null`), ErrNull, ``},
		{"null struct", edit(`"inner":{"name":"i"}`, `"inner":null`), ErrNull, ``},
		{"null time", edit(`"when":"2026-11-02T09:00:00Z"`, `"when":null`), ErrNull, ``},
		{"null array", edit(`"arr":[1,2]`, `"arr":null`), ErrNull, ``},
		{"null in a list of structs", edit(`[{"name":"a","n":1}]`, `[null]`), ErrNull, `strictjson: null not allowed in list[0]`},
		{"trailing garbage", good + `x`, ErrSyntax, ``},
		{"second document", good + `{}`, ErrSyntax, ``},
		{"null document", `null`, ErrNull, `strictjson: null not allowed at the top level`},
	} {
		err := Unmarshal([]byte(tc.doc), new(doc))
		if !errors.Is(err, tc.want) || (tc.msg != "" && err.Error() != tc.msg) {
			t.Errorf("%s: Unmarshal = %v, want %v %s", tc.name, err, tc.want, tc.msg)
		}
	}
	// Type errors are encoding/json's.
	if err := Unmarshal([]byte(strings.Replace(good, `"seq":3`, `"seq":"3"`, 1)), new(doc)); err == nil {
		t.Error("a string seq was accepted")
	}
}

func TestUnmarshalArguments(t *testing.T) {
	var d doc
	if err := Unmarshal([]byte(good), d); err == nil {
		t.Error("a non-pointer was accepted")
	}
	if err := Unmarshal([]byte(good), (*doc)(nil)); err == nil {
		t.Error("a nil pointer was accepted")
	}
	type embedded struct{ inner }
	if err := Unmarshal([]byte(`{}`), new(embedded)); err == nil || !strings.Contains(err.Error(), "embedded") {
		t.Errorf("embedded struct: %v", err)
	}
	// A recursive type.
	type node struct {
		Name string  `json:"name"`
		Next []*node `json:"next"`
	}
	if err := Unmarshal([]byte(`{"name":"a","next":[{"name":"b","next":null}]}`), new(node)); err != nil {
		t.Error(err)
	}
	if err := Unmarshal([]byte(`{"name":"a","next":[{"name":"b","next":null,"NEXT":[]}]}`), new(node)); !errors.Is(err, ErrUnknown) {
		t.Errorf("recursive type, unknown member: %v", err)
	}
	// A map and any take every name, but never twice.
	var m map[string]json.RawMessage
	if err := Unmarshal([]byte(`{"a":1,"A":2}`), &m); err != nil || len(m) != 2 {
		t.Errorf("map: %v %v", m, err)
	}
	if err := Unmarshal([]byte(`{"a":1,"a":2}`), &m); !errors.Is(err, ErrDuplicate) {
		t.Errorf("map with a duplicate: %v", err)
	}
}
