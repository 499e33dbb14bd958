// Package migrate applies the fleet collector's PostgreSQL schema: versioned
// SQL files embedded in the binary (sql/NNNN_name.sql), applied in order in
// one transaction when a collector starts, and recorded in the table
// schema_migrations. Applying is idempotent, and safe when several
// replicas start at once: the transaction first takes the advisory lock
// (LockClass, 0), so one replica applies and the others then find nothing
// to do.
//
// A migration, once released, is never edited: its SHA-256 is recorded, and
// a database whose recorded digest differs from the embedded file, or that
// records a version this binary does not know (a newer collector migrated
// it), is refused with ErrMismatch or ErrUnknownVersion, and nothing is
// applied.
package migrate

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// LockClass is the first key of every advisory lock the fleet takes
// (pg_advisory_xact_lock(LockClass, n)), so they cannot collide with other
// users of the database: n = 0 is the migration lock, n = nodes.id the lock
// of one node.
const LockClass int32 = 0x61756469 // "audi"

//go:embed sql/*.sql
var embedded embed.FS

// Migration is one schema version.
type Migration struct {
	Version int    // from the file name, 1, 2, ... without gaps
	Name    string // the file name
	SQL     string
	Digest  string // hex SHA-256 of SQL
}

// Errors of Load and Apply; test with errors.Is.
var (
	// ErrBadFile: a migration file is misnamed, out of sequence or empty.
	ErrBadFile = errors.New("migrate: bad migration file")
	// ErrUnknownVersion: the database records a version this binary does
	// not have.
	ErrUnknownVersion = errors.New("migrate: database has a schema version this binary does not know")
	// ErrMismatch: an applied migration's recorded digest differs from
	// this binary's file of the same version.
	ErrMismatch = errors.New("migrate: applied migration differs from this binary's")
)

var fileName = regexp.MustCompile(`^([0-9]{4})_[a-z0-9_]+\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	return Load(embedded, "sql")
}

// Load reads the migrations in directory dir of fsys: files named
// NNNN_name.sql, numbered 0001, 0002, ... without gaps or duplicates, none
// empty. Any other file is an error, so a misnamed migration is never
// silently skipped.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading %s: %w", dir, err)
	}
	var ms []Migration
	for _, e := range entries { // fs.ReadDir sorts by name
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil || !e.Type().IsRegular() {
			return nil, fmt.Errorf("%w: %s is not a regular file named NNNN_name.sql", ErrBadFile, e.Name())
		}
		version, _ := strconv.Atoi(m[1])
		if version != len(ms)+1 {
			return nil, fmt.Errorf("%w: %s: expected version %04d next", ErrBadFile, e.Name(), len(ms)+1)
		}
		data, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migrate: reading %s: %w", e.Name(), err)
		}
		if len(data) == 0 {
			return nil, fmt.Errorf("%w: %s is empty", ErrBadFile, e.Name())
		}
		sum := sha256.Sum256(data)
		ms = append(ms, Migration{Version: version, Name: e.Name(), SQL: string(data), Digest: hex.EncodeToString(sum[:])})
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: no migrations in %s", ErrBadFile, dir)
	}
	return ms, nil
}

// Beginner starts a transaction: a *pgx.Conn or a *pgxpool.Pool.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Apply brings the database up to date with the embedded migrations and
// returns the versions it applied (none when it was up to date).
func Apply(ctx context.Context, db Beginner) ([]int, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	return ApplyMigrations(ctx, db, ms)
}

// ApplyMigrations applies those of ms (in version order, from Load) that
// the database has not recorded, all in one transaction: either every one
// is applied and recorded, or none is.
func ApplyMigrations(ctx context.Context, db Beginner, ms []Migration) (applied []int, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(ctx)
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, LockClass); err != nil {
		return nil, fmt.Errorf("migrate: taking the migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		sha256     text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: creating schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version, sha256 FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("migrate: reading schema_migrations: %w", err)
	}
	done := map[int]string{}
	var version int
	var digest string
	_, err = pgx.ForEachRow(rows, []any{&version, &digest}, func() error {
		done[version] = digest
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: reading schema_migrations: %w", err)
	}
	known := map[int]Migration{}
	for _, m := range ms {
		known[m.Version] = m
	}
	for v, d := range done {
		m, ok := known[v]
		if !ok {
			return nil, fmt.Errorf("%w: version %d", ErrUnknownVersion, v)
		}
		if m.Digest != d {
			return nil, fmt.Errorf("%w: %s (sha256 %s recorded, %s here)", ErrMismatch, m.Name, d, m.Digest)
		}
	}
	for _, m := range ms {
		if _, ok := done[m.Version]; ok {
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return nil, fmt.Errorf("migrate: applying %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)`,
			m.Version, m.Name, m.Digest); err != nil {
			return nil, fmt.Errorf("migrate: recording %s: %w", m.Name, err)
		}
		applied = append(applied, m.Version)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("migrate: commit: %w", err)
	}
	return applied, nil
}
