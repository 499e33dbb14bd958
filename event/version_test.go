package event

import (
	"strings"
	"testing"
)

// TestSealerStartedVersions: every version string a build of the sealer
// records in audit.sealer_started (package buildinfo: devel, a release
// version, and the pseudo-versions Go derives from VCS, "+dirty" included)
// encodes and decodes as the version field, and the field bounds a version
// at 1,024 bytes.
func TestSealerStartedVersions(t *testing.T) {
	sealerOpts := testOpts
	sealerOpts.AllowSealerEvents = true
	for _, v := range []string{
		"devel",
		"v1.2.0",
		"v1.2.0-rc.1",
		"v0.0.0-20261207211823-abcdef012345",
		"v0.0.0-20261207211823-abcdef012345+dirty",
		"v1.2.1-0.20261207211823-abcdef012345+dirty",
		"v2.0.0-rc.1.0.20261207211823-abcdef012345+incompatible",
		"v1.2.0+" + strings.Repeat("a", 1024-len("v1.2.0+")),
	} {
		e := &SealerStarted{Timestamp: testNow, Version: v, Mode: ModeDev, KeyID: "k", KeyKind: KeySoftware, Algorithm: AlgEd25519}
		out, err := AppendEncode(nil, e, testNow)
		if err != nil {
			t.Errorf("%q: %v", v, err)
			continue
		}
		back, err := Decode(out, sealerOpts)
		if err != nil {
			t.Errorf("%q: decoding %s: %v", v, out, err)
			continue
		}
		if got := back.(*SealerStarted).Version; got != v {
			t.Errorf("decoded version %q, want %q", got, v)
		}
	}
	long := &SealerStarted{Timestamp: testNow, Version: "v1.2.0+" + strings.Repeat("a", 1024), Mode: ModeDev, KeyID: "k", KeyKind: KeySoftware, Algorithm: AlgEd25519}
	if _, err := AppendEncode(nil, long, testNow); err == nil {
		t.Error("a version of more than 1,024 bytes was accepted")
	}
}
