package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/teststore"
)

func TestKeyring(t *testing.T) {
	t.Parallel()
	oldKey, newKey := GenerateKey(), GenerateKey()
	old, err := ParseKeys(oldKey)
	if err != nil {
		t.Fatalf("ParseKeys: %v", err)
	}
	id, nonce, ct := old.Seal("ns", "db", []byte("pa55"))
	if bytes.Contains(ct, []byte("pa55")) {
		t.Fatal("ciphertext holds the value")
	}
	if v, err := old.Open("ns", "db", id, nonce, ct); err != nil || string(v) != "pa55" {
		t.Fatalf("Open = %q, %v", v, err)
	}
	// Bound to its place: moved to another name or namespace, it fails.
	if _, err := old.Open("ns", "other", id, nonce, ct); err == nil {
		t.Error("ciphertext opened under another name")
	}
	if _, err := old.Open("ns2", "db", id, nonce, ct); err == nil {
		t.Error("ciphertext opened in another namespace")
	}
	// Rotation: the new key writes, the old one still reads.
	rotated, err := ParseKeys(newKey + "\n# previous\n" + oldKey + "\n")
	if err != nil {
		t.Fatalf("ParseKeys(rotated): %v", err)
	}
	if rotated.CurrentID() == id {
		t.Fatal("rotated ring writes with the old key")
	}
	if v, err := rotated.Open("ns", "db", id, nonce, ct); err != nil || string(v) != "pa55" {
		t.Fatalf("rotated Open(old) = %q, %v", v, err)
	}
	// A ring without the key cannot read, and says which key it needs.
	other, _ := ParseKeys(newKey)
	if _, err := other.Open("ns", "db", id, nonce, ct); err == nil || !strings.Contains(err.Error(), id) {
		t.Fatalf("Open without the key = %v, want an error naming key %s", err, id)
	}
	for _, bad := range []string{"", "not base64!", "c2hvcnQ="} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
	dir := t.TempDir()
	path, err := LoadOrCreateKeyFile(dir)
	if err != nil {
		t.Fatalf("LoadOrCreateKeyFile: %v", err)
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(path) != dir {
		t.Fatalf("key file %s: %v %v", path, st.Mode(), err)
	}
	if _, err := LoadKeys("", path); err != nil {
		t.Fatalf("LoadKeys(file): %v", err)
	}
	if k, err := LoadKeys("", ""); k != nil || err != nil {
		t.Fatalf("LoadKeys(none) = %v, %v", k, err)
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	st := teststore.SQLite(t)
	keys, _ := ParseKeys(GenerateKey())
	s := New(st, keys)

	meta, err := s.Put(ctx, "ns", "db-password", []byte("correct horse"))
	if err != nil {
		t.Fatalf("Put: %v", err)
	}
	if meta.KeyID != keys.CurrentID() || bytes.Contains(meta.Ciphertext, []byte("horse")) {
		t.Fatalf("Put = %+v", meta)
	}
	if _, err := s.Put(ctx, "ns", "bad name!", []byte("x")); err == nil {
		t.Error("bad name accepted")
	}
	if _, err := New(st, nil).Put(ctx, "ns", "x", []byte("x")); !errors.Is(err, ErrNoKey) {
		t.Errorf("Put without a key = %v, want ErrNoKey", err)
	}

	env := map[string]string{"DB_PASSWORD": "${secret:db-password}", "DSN": "postgres://u:${secret:db-password}@h/db", "PLAIN": "x"}
	got, vals, err := s.Resolve(ctx, "ns", env)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if got["DB_PASSWORD"] != "correct horse" || got["DSN"] != "postgres://u:correct horse@h/db" || got["PLAIN"] != "x" {
		t.Errorf("Resolve = %v", got)
	}
	if len(vals) != 1 || vals[0] != "correct horse" {
		t.Errorf("values = %q", vals)
	}
	if env["DB_PASSWORD"] != "${secret:db-password}" {
		t.Error("Resolve changed its input")
	}
	if _, _, err := s.Resolve(ctx, "other-ns", env); err == nil || !strings.Contains(err.Error(), `"db-password" does not exist in namespace "other-ns"`) {
		t.Errorf("Resolve in another namespace = %v", err)
	}

	ok := &protocol.DispatchedInstance{InstanceID: uuid.New(), Namespace: "ns", Config: model.JobConfig{Script: "true", Env: env}}
	missing := &protocol.DispatchedInstance{InstanceID: uuid.New(), Namespace: "ns", Config: model.JobConfig{Script: "true", Env: map[string]string{"A": "${secret:nope}"}}}
	none := &protocol.DispatchedInstance{InstanceID: uuid.New(), Namespace: "ns", Config: model.JobConfig{Script: "true", Env: map[string]string{"A": "b"}}}
	s.Prepare(ctx, []*protocol.DispatchedInstance{ok, missing, none})
	if ok.Config.Env["DB_PASSWORD"] != "correct horse" || len(ok.Redact) != 1 || ok.SecretError != "" {
		t.Errorf("Prepare(ok) = %+v", ok)
	}
	if missing.SecretError == "" || missing.Config.Env != nil {
		t.Errorf("Prepare(missing) = %+v", missing)
	}
	if none.Redact != nil || none.SecretError != "" || none.Config.Env["A"] != "b" {
		t.Errorf("Prepare(none) = %+v", none)
	}

	if err := s.Delete(ctx, "ns", "db-password"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(ctx, "ns", "db-password"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get(deleted) = %v", err)
	}
}
