package evidence

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Storage keeps photo files by the sha256 of their bytes: the same bytes are stored once,
// under one key, whoever uploads them.
type Storage interface {
	// Put stores data durably and returns its key (the hex sha256). When it returns, the
	// bytes survive a crash: a row may name the key.
	Put(ctx context.Context, data []byte) (key string, err error)
	// Open opens the file of key; a key that is not stored is an error satisfying
	// errors.Is(err, fs.ErrNotExist).
	Open(key string) (File, error)
	// Remove removes the file of key; one already gone is not an error.
	Remove(key string) error
	// List calls fn with every stored key and when it was last stored.
	List(ctx context.Context, fn func(key string, stored time.Time) error) error
}

// File is an open stored file.
type File interface {
	io.ReadSeekCloser
	Stat() (fs.FileInfo, error)
}

var keyPattern = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Key is the storage key of data: its sha256 in hex.
func Key(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// Dir is Storage in a directory on disk: each file at <dir>/<first two hex digits>/<key>,
// written to a temporary file in <dir>/tmp, fsynced, renamed into place and the directory
// fsynced, so a file is either whole under its name or not there.
type Dir struct {
	root string
}

// NewDir returns the storage in root; the directories (0750) are made by the first Put.
func NewDir(root string) *Dir { return &Dir{root: root} }

// Root is the storage's directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if d.root == "" {
		return "", errors.New("photo storage: no directory")
	}
	if !keyPattern.MatchString(key) {
		return "", fmt.Errorf("photo storage: bad key %q", key)
	}
	return filepath.Join(d.root, key[:2], key), nil
}

// Put implements Storage. A key already stored is not written again; its time is renewed,
// so a sweep running at the same moment leaves it (the sweep's grace period).
func (d *Dir) Put(ctx context.Context, data []byte) (string, error) {
	key := Key(data)
	p, err := d.path(key)
	if err != nil {
		return "", err
	}
	now := time.Now()
	if err := os.Chtimes(p, now, now); err == nil {
		return key, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(d.root, "tmp"), 0o750); err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Join(d.root, "tmp"), key[:8]+"-*")
	if err != nil {
		return "", err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", err
	}
	done = true
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return key, nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// Open implements Storage.
func (d *Dir) Open(key string) (File, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
	}
	return os.Open(p)
}

// Remove implements Storage.
func (d *Dir) Remove(key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// List implements Storage. Stray files (not named by a key) are left alone; temporary
// files older than a day, left by a crash mid-write, are removed on the way.
func (d *Dir) List(ctx context.Context, fn func(key string, stored time.Time) error) error {
	return filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		rel, _ := filepath.Rel(d.root, p)
		if strings.HasPrefix(rel, "tmp"+string(filepath.Separator)) {
			if time.Since(info.ModTime()) > 24*time.Hour {
				os.Remove(p)
			}
			return nil
		}
		name := e.Name()
		if !keyPattern.MatchString(name) || filepath.Base(filepath.Dir(p)) != name[:2] {
			return nil
		}
		return fn(name, info.ModTime())
	})
}

// Stored reports when key was last stored, for the sweep's last look before it removes.
func stored(s Storage, key string) (time.Time, bool) {
	f, err := s.Open(key)
	if err != nil {
		return time.Time{}, false
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return time.Time{}, false
	}
	return info.ModTime(), true
}
