package agentauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLoadJWE reads the key in both PEM forms the original accepts and
// verifies a token encrypted to it.
func TestLoadJWE(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	sec1, _ := x509.MarshalECPrivateKey(key)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	now := time.Unix(1_800_000_000, 0)
	tok, err := IssueJWE(&key.PublicKey, map[string]any{"sub": "a1", "exp": now.Unix() + 10})
	if err != nil {
		t.Fatal(err)
	}
	for name, block := range map[string]*pem.Block{"sec1": {Type: "EC PRIVATE KEY", Bytes: sec1}, "pkcs8": {Type: "PRIVATE KEY", Bytes: pkcs8}} {
		path := filepath.Join(dir, name+".pem")
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		j, err := LoadJWE(path)
		if err != nil {
			t.Fatalf("LoadJWE(%s): %v", name, err)
		}
		if id, err := j.Verify(tok, now); err != nil || id != "a1" {
			t.Errorf("%s: Verify = %q, %v", name, id, err)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewJWE(p384); err == nil {
		t.Error("P-384 key accepted")
	}
	if _, err := LoadJWE(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing key file accepted")
	}
}

// FuzzJWEVerify checks that no input makes the verifier panic or accept a
// token naming another agent (a mutated token must not decrypt; base64
// variants of the same bytes may).
func FuzzJWEVerify(f *testing.F) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	j, _ := NewJWE(key)
	good, _ := IssueJWE(&key.PublicKey, map[string]any{"sub": "a", "exp": 1_900_000_000})
	f.Add(good)
	f.Add("a.b.c.d.e")
	f.Add("eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTI1NkdDTSJ9....")
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := j.Verify(tok, now)
		if err == nil && id != "a" {
			t.Fatalf("Verify accepted a token it did not issue: %q -> %q", tok, id)
		}
	})
}
