package integration

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/audit-sealer/audit-sealer/internal/fleet/migrate"
)

// The engines fleet mode is built on (docs/design/fleet.md), started by
// their scripts and driven with the clients the collector will use: what
// these tests show is what the collector relies on.

// startEngine runs scripts/NAME/start.sh dir and returns the variables it
// exports; stop.sh runs at cleanup. Exit status 3 means the engine cannot
// be had on this machine: the test skips, or fails under CI=true.
func startEngine(t *testing.T, name, dir string) map[string]string {
	t.Helper()
	cmd := exec.Command("bash", "../scripts/"+name+"/start.sh", dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 3 && os.Getenv("CI") != "true" {
		t.Skipf("scripts/%s/start.sh: %s is not available here; skipping:\n%s", name, name, stderr.String())
	}
	if err != nil {
		t.Fatalf("scripts/%s/start.sh: %v\n%s", name, err, stderr.String())
	}
	t.Cleanup(func() {
		if out, err := exec.Command("bash", "../scripts/"+name+"/stop.sh", dir).CombinedOutput(); err != nil {
			t.Errorf("scripts/%s/stop.sh: %v\n%s", name, err, out)
		}
	})
	env := map[string]string{}
	for _, kv := range parseExports(t, string(out)) {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// TestFleetObjectLock shows that versitygw, as scripts/versitygw/start.sh
// configures it, keeps what the collector writes: an object version under
// a COMPLIANCE retention cannot be deleted and its retention cannot be
// shortened (AccessDenied, for the root user too), while extending it
// works; the bucket's default retention locks an object put with none;
// and a delete without a version only hides the object behind a delete
// marker, its version still readable.
func TestFleetObjectLock(t *testing.T) {
	requireTool(t, "curl")
	env := startEngine(t, "versitygw", filepath.Join(t.TempDir(), "s3"))
	for _, k := range []string{"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_REGION", "AUDIT_SEALER_BUCKET"} {
		if env[k] == "" {
			t.Fatalf("start.sh printed no %s: %v", k, env)
		}
	}
	if !strings.HasPrefix(env["AWS_ENDPOINT_URL"], "http://127.0.0.1:") {
		t.Fatalf("AWS_ENDPOINT_URL=%s is not on loopback", env["AWS_ENDPOINT_URL"])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	client := s3.New(s3.Options{
		Region:       env["AWS_REGION"],
		BaseEndpoint: aws.String(env["AWS_ENDPOINT_URL"]),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]}, nil
		}),
	})
	bucket := env["AUDIT_SEALER_BUCKET"]

	lock, err := client.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: &bucket})
	if err != nil {
		t.Fatalf("GetObjectLockConfiguration: %v", err)
	}
	c := lock.ObjectLockConfiguration
	if c == nil || c.ObjectLockEnabled != s3types.ObjectLockEnabledEnabled || c.Rule == nil || c.Rule.DefaultRetention == nil ||
		c.Rule.DefaultRetention.Mode != s3types.ObjectLockRetentionModeCompliance || aws.ToInt32(c.Rule.DefaultRetention.Days) != 1 {
		t.Fatalf("the bucket's Object Lock configuration is %+v, want enabled with a COMPLIANCE default of 1 day", c)
	}

	key := "nodes/n1/entries/000/x000/000"
	body := []byte("a sealed range\n")
	until := time.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	put, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: bytes.NewReader(body),
		ObjectLockMode:            s3types.ObjectLockModeCompliance,
		ObjectLockRetainUntilDate: &until,
	})
	if err != nil {
		t.Fatalf("PutObject with a COMPLIANCE retention: %v", err)
	}
	version := aws.ToString(put.VersionId)
	if version == "" || version == "null" {
		t.Fatalf("PutObject returned version %q: the bucket is not versioned", version)
	}
	ret, err := client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil {
		t.Fatalf("GetObjectRetention: %v", err)
	}
	if ret.Retention.Mode != s3types.ObjectLockRetentionModeCompliance || !aws.ToTime(ret.Retention.RetainUntilDate).Equal(until) {
		t.Fatalf("retention is %s until %v, want COMPLIANCE until %v", ret.Retention.Mode, aws.ToTime(ret.Retention.RetainUntilDate), until)
	}

	accessDenied := func(what string, err error) {
		t.Helper()
		var api smithy.APIError
		if !errors.As(err, &api) || api.ErrorCode() != "AccessDenied" {
			t.Errorf("%s: got %v, want AccessDenied", what, err)
		} else {
			t.Logf("%s: refused: %s: %s", what, api.ErrorCode(), api.ErrorMessage())
		}
	}
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	accessDenied("DeleteObject of the locked version", err)
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key, VersionId: &version, BypassGovernanceRetention: aws.Bool(true)})
	accessDenied("DeleteObject of the locked version with x-amz-bypass-governance-retention", err)
	shorter := until.Add(-time.Hour)
	_, err = client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: &bucket, Key: &key, VersionId: &version,
		Retention: &s3types.ObjectLockRetention{Mode: s3types.ObjectLockRetentionModeCompliance, RetainUntilDate: &shorter},
	})
	accessDenied("PutObjectRetention shortening the retention", err)
	_, err = client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: &bucket, Key: &key, VersionId: &version,
		Retention: &s3types.ObjectLockRetention{Mode: s3types.ObjectLockRetentionModeGovernance, RetainUntilDate: &until},
	})
	accessDenied("PutObjectRetention weakening COMPLIANCE to GOVERNANCE", err)

	// Extending the retention is allowed: the refusals above are Object
	// Lock's, not a refusal of every retention change.
	longer := until.Add(time.Hour)
	if _, err := client.PutObjectRetention(ctx, &s3.PutObjectRetentionInput{
		Bucket: &bucket, Key: &key, VersionId: &version,
		Retention: &s3types.ObjectLockRetention{Mode: s3types.ObjectLockRetentionModeCompliance, RetainUntilDate: &longer},
	}); err != nil {
		t.Fatalf("PutObjectRetention extending the retention: %v", err)
	}
	ret, err = client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil || !aws.ToTime(ret.Retention.RetainUntilDate).Equal(longer) {
		t.Fatalf("after extending: retention %+v, %v; want until %v", ret, err, longer)
	}

	// A delete without a version adds a delete marker; the locked version
	// stays, byte for byte.
	del, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &key})
	if err != nil {
		t.Fatalf("DeleteObject without a version: %v", err)
	}
	if !aws.ToBool(del.DeleteMarker) {
		t.Errorf("DeleteObject without a version did not add a delete marker: %+v", del)
	}
	got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: &key, VersionId: &version})
	if err != nil {
		t.Fatalf("GetObject of the locked version after the delete marker: %v", err)
	}
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || !bytes.Equal(data, body) {
		t.Fatalf("the locked version reads %q, %v; want %q", data, err, body)
	}

	// An object put with no retention of its own is protected by the
	// bucket's default. versitygw v1.8.0 enforces the default without
	// stamping it on the object (AWS stamps object time + the default, and
	// GetObjectRetention shows it; versitygw counts from the time the
	// bucket's lock was configured and answers NoSuchObjectLockConfiguration),
	// which is why the collector sets an explicit retention on every PUT
	// (docs/design/fleet.md) and never relies on the default alone.
	plain := "nodes/n1/checkpoints/1"
	put, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &plain, Body: strings.NewReader("checkpoint\n")})
	if err != nil {
		t.Fatalf("PutObject without a retention: %v", err)
	}
	ret, err = client.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: &bucket, Key: &plain, VersionId: put.VersionId})
	if err == nil {
		if d := time.Until(aws.ToTime(ret.Retention.RetainUntilDate)); ret.Retention.Mode != s3types.ObjectLockRetentionModeCompliance || d < 23*time.Hour {
			t.Errorf("default retention stamped on the object: %s until %v, want COMPLIANCE for about a day", ret.Retention.Mode, aws.ToTime(ret.Retention.RetainUntilDate))
		}
	} else if api := smithy.APIError(nil); !errors.As(err, &api) || api.ErrorCode() != "NoSuchObjectLockConfiguration" {
		t.Errorf("GetObjectRetention of the object put without a retention: %v", err)
	} else {
		t.Logf("the object put without a retention has none of its own (%s); the bucket default protects it", api.ErrorCode())
	}
	_, err = client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: &plain, VersionId: put.VersionId})
	accessDenied("DeleteObject of a version under the default retention", err)
}

// TestFleetPostgres shows, on the PostgreSQL that scripts/postgres/start.sh
// starts, what the collector relies on: the embedded migrations apply once
// and record themselves, a second start applies nothing, a database that
// disagrees with the binary is refused with nothing applied, and the
// per-node advisory lock serializes two transactions on one node while
// leaving other nodes free.
func TestFleetPostgres(t *testing.T) {
	// PostgreSQL refuses to run as root; start.sh then runs it as the
	// postgres user, who must be able to reach the directory.
	dir, err := os.MkdirTemp("", "fleet-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	env := startEngine(t, "postgres", filepath.Join(dir, "pg"))
	url := env["DATABASE_URL"]
	if !strings.HasPrefix(url, "postgres://") {
		t.Fatalf("start.sh printed DATABASE_URL=%q", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	connect := func() *pgx.Conn {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatalf("connecting to %s: %v", url, err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		return conn
	}
	db := connect()

	ms, err := migrate.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	applied, err := migrate.Apply(ctx, db)
	if err != nil {
		t.Fatalf("first Apply: %v", err)
	}
	if len(applied) != len(ms) || applied[0] != 1 {
		t.Fatalf("first Apply applied %v, want every one of %d migrations", applied, len(ms))
	}
	applied, err = migrate.Apply(ctx, db)
	if err != nil || len(applied) != 0 {
		t.Fatalf("second Apply applied %v, %v; want nothing", applied, err)
	}
	var rows int
	var digest string
	if err := db.QueryRow(ctx, `SELECT count(*), min(sha256) FILTER (WHERE version = 1) FROM schema_migrations`).Scan(&rows, &digest); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) || digest != ms[0].Digest {
		t.Fatalf("schema_migrations has %d rows and digest %s for version 1, want %d and %s", rows, digest, len(ms), ms[0].Digest)
	}

	// A recorded digest that differs, or a version this binary does not
	// know: refused, and the database is left as it was.
	if _, err := db.Exec(ctx, `UPDATE schema_migrations SET sha256 = repeat('0', 64) WHERE version = 1`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, db); !errors.Is(err, migrate.ErrMismatch) {
		t.Errorf("Apply over an edited migration: %v, want ErrMismatch", err)
	}
	if _, err := db.Exec(ctx, `UPDATE schema_migrations SET sha256 = $1 WHERE version = 1`, ms[0].Digest); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO schema_migrations (version, name, sha256) VALUES (999, '0999_future.sql', repeat('0', 64))`); err != nil {
		t.Fatal(err)
	}
	if _, err := migrate.Apply(ctx, db); !errors.Is(err, migrate.ErrUnknownVersion) {
		t.Errorf("Apply on a database a newer binary migrated: %v, want ErrUnknownVersion", err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM schema_migrations WHERE version = 999`); err != nil {
		t.Fatal(err)
	}
	// A migration that fails rolls back the whole transaction: nothing of
	// it, and no record of it, remains.
	broken := append(append([]migrate.Migration(nil), ms...), migrate.Migration{
		Version: len(ms) + 1, Name: "broken.sql", Digest: strings.Repeat("1", 64),
		SQL: `CREATE TABLE half_done (x int); SELECT no_such_function();`,
	})
	if _, err := migrate.ApplyMigrations(ctx, db, broken); err == nil {
		t.Fatal("a failing migration applied without error")
	}
	var halfDone *string
	if err := db.QueryRow(ctx, `SELECT to_regclass('half_done')::text`).Scan(&halfDone); err != nil || halfDone != nil {
		t.Fatalf("after a failed migration, table half_done: %v, %v; want none", halfDone, err)
	}
	if err := db.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&rows); err != nil || rows != len(ms) {
		t.Fatalf("after a failed migration schema_migrations has %d rows, %v; want %d", rows, err, len(ms))
	}

	// Two registered nodes; the schema's checks refuse a bad origin.
	var node1, node2 int32
	origin := func(c byte) string { return "audit-sealer/" + strings.Repeat(string(c), 32) }
	if err := db.QueryRow(ctx, `INSERT INTO nodes (name, origin) VALUES ('gpu-1', $1) RETURNING id`, origin('a')).Scan(&node1); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `INSERT INTO nodes (name, origin) VALUES ('gpu-2', $1) RETURNING id`, origin('b')).Scan(&node2); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO nodes (name, origin) VALUES ('gpu-3', 'not an origin')`); err == nil {
		t.Error("the nodes table accepted a malformed origin")
	}

	// The per-node lock: A holds node 1's; B asks for it and waits (the
	// server shows B waiting on an advisory lock); C takes node 2's at
	// once; when A commits, B gets the lock and sees A's update.
	a, b, c := connect(), connect(), connect()
	lockNode := `SELECT pg_advisory_xact_lock($1, $2)`
	txA, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := txA.Exec(ctx, lockNode, migrate.LockClass, node1); err != nil {
		t.Fatal(err)
	}
	txB, err := b.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer txB.Rollback(context.Background())
	locked := make(chan error, 1)
	go func() {
		_, err := txB.Exec(ctx, lockNode, migrate.LockClass, node1)
		locked <- err
	}()
	waiting := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var n int
		if err := db.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock' AND wait_event = 'advisory'`,
			b.PgConn().PID()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			waiting = true
			break
		}
	}
	if !waiting {
		t.Fatal("B never waited for node 1's advisory lock")
	}
	select {
	case err := <-locked:
		t.Fatalf("B got node 1's lock while A held it (%v)", err)
	default:
	}
	txC, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	_, err = txC.Exec(cctx, lockNode, migrate.LockClass, node2)
	ccancel()
	if err != nil {
		t.Fatalf("C could not take node 2's lock while node 1's was held: %v", err)
	}
	if err := txC.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := txA.Exec(ctx, `UPDATE nodes SET size = 7 WHERE id = $1`, node1); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-locked:
		t.Fatalf("B got node 1's lock before A committed (%v)", err)
	default:
	}
	if err := txA.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-locked:
		if err != nil {
			t.Fatalf("B's lock: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("B did not get node 1's lock after A committed")
	}
	var size int64
	if err := txB.QueryRow(ctx, `SELECT size FROM nodes WHERE id = $1`, node1).Scan(&size); err != nil || size != 7 {
		t.Fatalf("B reads node 1's size %d, %v; want A's 7", size, err)
	}
	if err := txB.Commit(ctx); err != nil {
		t.Fatal(err)
	}
}
