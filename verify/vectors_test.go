package verify_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/audit-sealer/audit-sealer/internal/testkit"
	"github.com/audit-sealer/audit-sealer/signer"
	"github.com/audit-sealer/audit-sealer/verify"
)

var vectors []testkit.Vector

func TestMain(m *testing.M) {
	root, err := os.MkdirTemp("", "audit-sealer-vectors-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	vectors, err = testkit.Generate(root)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(root)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(root)
	largeLogs.remove()
	singleLogs.remove()
	os.Exit(code)
}

func vector(t testing.TB, name string) testkit.Vector {
	for _, v := range vectors {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("no vector %s", name)
	return testkit.Vector{}
}

func loadKey(t testing.TB, path string) signer.Verifiers {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	k, err := signer.ParsePublicKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return signer.Verifiers{k}
}

func optionsFor(t testing.TB, v testkit.Vector) verify.Options {
	opts := verify.Options{Keys: loadKey(t, v.KeyFile)}
	if v.TrustedFile != "" {
		data, err := os.ReadFile(v.TrustedFile)
		if err != nil {
			t.Fatal(err)
		}
		opts.Trusted = data
	}
	return opts
}

// TestVectors: every generated log verifies to exactly the verdict and reason
// its vector states, with one worker and with several.
func TestVectors(t *testing.T) {
	if len(vectors) < 20 {
		t.Fatalf("only %d vectors", len(vectors))
	}
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			for _, workers := range []int{1, 4} {
				opts := optionsFor(t, v)
				opts.Workers = workers
				rep, err := verify.Dir(context.Background(), v.Dir, opts)
				if err != nil {
					t.Fatalf("workers=%d: could not check: %v", workers, err)
				}
				if v.Expect == "" {
					if rep.Verdict != verify.Intact {
						t.Fatalf("workers=%d: verdict %s (%v), want intact", workers, rep.Verdict, rep.FirstFailure)
					}
					if rep.Records == 0 || rep.Checkpoints == 0 || rep.LastCheckpoint == nil {
						t.Fatalf("intact report counts nothing: %+v", rep)
					}
					continue
				}
				if rep.FirstFailure == nil {
					t.Fatalf("workers=%d: verdict %s with no failure, want %s", workers, rep.Verdict, v.Expect)
				}
				if got := string(rep.FirstFailure.Reason); got != v.Expect {
					t.Fatalf("workers=%d: reason %s (%s), want %s", workers, got, rep.FirstFailure, v.Expect)
				}
				if rep.Verdict == verify.Intact {
					t.Fatal("failure reported with verdict intact")
				}
				if rep.FirstFailure.Segment == "" || rep.FirstFailure.Detail == "" {
					t.Fatalf("failure does not say where: %+v", rep.FirstFailure)
				}
			}
		})
	}
}

// TestNoFalseAlarms: a copied, renamed directory with new file times and
// read-only files verifies the same.
func TestNoFalseAlarms(t *testing.T) {
	for _, name := range []string{"intact_multi", "intact_restarts", "intact_with_trusted"} {
		v := vector(t, name)
		dst := filepath.Join(t.TempDir(), "renamed copy of "+name)
		if err := testkit.CopyDir(v.Dir, dst); err != nil {
			t.Fatal(err)
		}
		later := time.Now().Add(48 * time.Hour)
		ents, _ := os.ReadDir(dst)
		for _, e := range ents {
			p := filepath.Join(dst, e.Name())
			os.Chtimes(p, later, later)
			os.Chmod(p, 0o444)
		}
		os.Chmod(dst, 0o755)
		rep, err := verify.Dir(context.Background(), dst, optionsFor(t, v))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != verify.Intact {
			t.Fatalf("%s: copied directory: %s %v", name, rep.Verdict, rep.FirstFailure)
		}
	}
}

// TestCannotCheck: problems that stop verification are errors (exit 2), not
// verdicts.
func TestCannotCheck(t *testing.T) {
	v := vector(t, "intact_single")
	keys := loadKey(t, v.KeyFile)
	if _, err := verify.Dir(context.Background(), filepath.Join(t.TempDir(), "absent"), verify.Options{Keys: keys}); err == nil {
		t.Error("a missing directory was checked")
	}
	if _, err := verify.Dir(context.Background(), t.TempDir(), verify.Options{Keys: keys}); err == nil {
		t.Error("an empty directory was checked")
	}
	if _, err := verify.Dir(context.Background(), v.Dir, verify.Options{}); err == nil {
		t.Error("checked with no key")
	}
	forged := vector(t, "forged_key")
	trusted, _ := os.ReadFile(filepath.Join(forged.Dir, "checkpoint"))
	if _, err := verify.Dir(context.Background(), v.Dir, verify.Options{Keys: keys, Trusted: trusted}); err == nil {
		t.Error("a trusted checkpoint signed by an unknown key was accepted as input")
	}
}

// TestTrustedCheckpointReported: the report says the log is consistent with
// the auditor's checkpoint.
func TestTrustedCheckpointReported(t *testing.T) {
	v := vector(t, "intact_with_trusted")
	rep, err := verify.Dir(context.Background(), v.Dir, optionsFor(t, v))
	if err != nil {
		t.Fatal(err)
	}
	if rep.TrustedCheckpoint == nil || !rep.TrustedCheckpoint.Consistent || rep.TrustedCheckpoint.Size >= rep.LastCheckpoint.Size {
		t.Fatalf("trusted checkpoint: %+v, last %+v", rep.TrustedCheckpoint, rep.LastCheckpoint)
	}
}
