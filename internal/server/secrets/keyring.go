// Package secrets keeps per-namespace secrets encrypted at rest with
// AES-256-GCM under a server key, and resolves the references jobs make to
// them when a run is dispatched.
//
// A key is 32 random bytes, written base64. Its id is the first 12 hex
// digits of its SHA-256, stored with each secret, so a key can be rotated:
// configure the new key first and the old ones after it; secrets are then
// written under the new key and still read under the old ones.
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a key in bytes (AES-256).
const KeySize = 32

// ErrNoKey is returned when secrets are used on a server without a key.
var ErrNoKey = errors.New("secrets: this server has no secrets key; set [server] secrets_key or secrets_key_file")

// Keyring holds the current key and older ones still accepted for reading.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKeys returns a keyring from base64 keys, the current one first.
// Blank lines and lines starting with # are ignored.
func ParseKeys(text string) (*Keyring, error) {
	k := &Keyring{aeads: map[string]cipher.AEAD{}}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			raw, err = base64.RawURLEncoding.DecodeString(line)
		}
		if err != nil || len(raw) != KeySize {
			return nil, fmt.Errorf("secrets key on line %d: want %d bytes in base64", i+1, KeySize)
		}
		block, err := aes.NewCipher(raw)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		id := hex.EncodeToString(sum[:6])
		if k.current == "" {
			k.current = id
		}
		k.aeads[id] = aead
	}
	if k.current == "" {
		return nil, errors.New("secrets key: no key given")
	}
	return k, nil
}

// LoadKeys returns the keyring of the configured key or key file; both
// empty means no keyring (nil, nil).
func LoadKeys(key, keyFile string) (*Keyring, error) {
	switch {
	case key != "" && keyFile != "":
		return nil, errors.New("secrets: set secrets_key or secrets_key_file, not both")
	case key != "":
		return ParseKeys(key)
	case keyFile != "":
		raw, err := os.ReadFile(keyFile)
		if err != nil {
			return nil, fmt.Errorf("secrets_key_file: %w", err)
		}
		return ParseKeys(string(raw))
	}
	return nil, nil
}

// GenerateKey returns a new random key in base64.
func GenerateKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.StdEncoding.EncodeToString(b)
}

// LoadOrCreateKeyFile returns the path of a key file in dir, writing a new
// key (mode 0600) when there is none. hetuflow dev uses it.
func LoadOrCreateKeyFile(dir string) (string, error) {
	path := filepath.Join(dir, "secrets.key")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return path, nil
	}
	if err != nil {
		return "", fmt.Errorf("create secrets key: %w", err)
	}
	_, err = f.WriteString(GenerateKey() + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write secrets key: %w", err)
	}
	return path, nil
}

// CurrentID is the id of the key new secrets are written under.
func (k *Keyring) CurrentID() string { return k.current }

// aad binds a ciphertext to its secret's place, so a value cannot be moved
// to another namespace or name in the database and still decrypt.
func aad(namespace, name string) []byte { return []byte(namespace + "\x00" + name) }

// Seal encrypts value for the secret namespace/name under the current key.
func (k *Keyring) Seal(namespace, name string, value []byte) (keyID string, nonce, ciphertext []byte) {
	aead := k.aeads[k.current]
	nonce = make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return k.current, nonce, aead.Seal(nil, nonce, value, aad(namespace, name))
}

// Open decrypts a secret sealed by Seal under any key of the ring.
func (k *Keyring) Open(namespace, name, keyID string, nonce, ciphertext []byte) ([]byte, error) {
	aead, ok := k.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("secret %s/%s: encrypted with key %s, which this server does not have", namespace, name, keyID)
	}
	if len(nonce) != aead.NonceSize() {
		return nil, fmt.Errorf("secret %s/%s: bad nonce", namespace, name)
	}
	v, err := aead.Open(nil, nonce, ciphertext, aad(namespace, name))
	if err != nil {
		return nil, fmt.Errorf("secret %s/%s: cannot decrypt (wrong key or tampered): %w", namespace, name, err)
	}
	return v, nil
}
