package event

// ValidExampleJSON returns the examples of examples_test.go, name and JSON,
// to the external tests (schema_test.go).
func ValidExampleJSON() [][2]string {
	out := make([][2]string, len(validExamples))
	for i, ex := range validExamples {
		out[i] = [2]string{ex.name, ex.json}
	}
	return out
}

// TestNow is the reference clock of the examples.
var TestNow = testNow
