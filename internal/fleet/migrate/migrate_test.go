package migrate_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/audit-sealer/audit-sealer/internal/fleet/migrate"
)

func TestEmbeddedMigrations(t *testing.T) {
	ms, err := migrate.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		if m.Version != i+1 || m.SQL == "" || len(m.Digest) != 64 {
			t.Errorf("migration %d: %+v", i, m)
		}
	}
	if !strings.Contains(ms[0].SQL, "CREATE TABLE nodes") {
		t.Errorf("0001 does not create the nodes table")
	}
}

func TestLoadRefusesBadFiles(t *testing.T) {
	sql := &fstest.MapFile{Data: []byte("SELECT 1;")}
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": sql, "m/0003_c.sql": sql},
		"duplicate": {"m/0001_a.sql": sql, "m/0001_b.sql": sql},
		"misnamed":  {"m/0001_a.sql": sql, "m/2_b.sql": sql},
		"not sql":   {"m/0001_a.sql": sql, "m/README": sql},
		"empty":     {"m/0001_a.sql": {Data: nil}},
		"none":      {"m": {Mode: fs.ModeDir | 0o755}},
		"from two":  {"m/0002_b.sql": sql},
	} {
		if _, err := migrate.Load(fsys, "m"); !errors.Is(err, migrate.ErrBadFile) {
			t.Errorf("%s: got %v, want ErrBadFile", name, err)
		}
	}
	ms, err := migrate.Load(fstest.MapFS{"m/0001_a.sql": sql, "m/0002_b.sql": sql}, "m")
	if err != nil || len(ms) != 2 || ms[1].Name != "0002_b.sql" || ms[0].Digest != ms[1].Digest {
		t.Fatalf("good directory: %+v, %v", ms, err)
	}
}
