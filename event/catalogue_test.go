package event

import "testing"

// TestEveryTypeDescribed: every registered type has a one-line description
// and a category title for EVENTS.md, and no description names a type that
// is not registered.
func TestEveryTypeDescribed(t *testing.T) {
	for _, ti := range registry {
		if typeDocs[ti.name] == "" {
			t.Errorf("%s: no description in typeDocs", ti.name)
		}
		if categoryTitles[ti.category] == "" {
			t.Errorf("%s: category %q has no title in categoryTitles", ti.name, ti.category)
		}
	}
	for name := range typeDocs {
		if typesByName[name] == nil {
			t.Errorf("typeDocs describes %q, which is not a registered type", name)
		}
	}
}
