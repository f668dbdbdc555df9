package agentauth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// JWE verifies the Rust original's agent tokens: compact JWE, ECDH-ES key
// agreement on P-256 with A256GCM, encrypted to the server's own key. Unlike
// the original, exp is required (its "never expires" default is refused),
// nbf is honoured, and the agent id comes from sub.
type JWE struct {
	key *ecdsa.PrivateKey
}

// jweClaims are the claims hetuflow reads; the original also sends iss, aud,
// jti, server_id and permissions, which are ignored as they were there.
type jweClaims struct {
	Sub string `json:"sub"`
	Exp *int64 `json:"exp"`
	Nbf *int64 `json:"nbf"`
}

// LoadJWE reads a P-256 private key (SEC1 "EC PRIVATE KEY" or PKCS#8 PEM).
func LoadJWE(path string) (*JWE, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("server.agent_jwe.private_key_file: %w", err)
	}
	key, err := parseECKey(raw)
	if err != nil {
		return nil, fmt.Errorf("server.agent_jwe.private_key_file %s: %w", path, err)
	}
	return NewJWE(key)
}

// NewJWE returns a verifier for tokens encrypted to key's public half.
func NewJWE(key *ecdsa.PrivateKey) (*JWE, error) {
	if key.Curve != elliptic.P256() {
		return nil, errors.New("the key must be on P-256")
	}
	return &JWE{key: key}, nil
}

func parseECKey(raw []byte) (*ecdsa.PrivateKey, error) {
	for {
		var block *pem.Block
		block, raw = pem.Decode(raw)
		if block == nil {
			return nil, errors.New("no EC PRIVATE KEY or PRIVATE KEY PEM block")
		}
		switch block.Type {
		case "EC PRIVATE KEY":
			return x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, err
			}
			ec, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("PKCS#8 key is %T, want an EC key", k)
			}
			return ec, nil
		}
	}
}

// looksLikeJWE reports whether token has the five parts of compact JWE.
func looksLikeJWE(token string) bool { return strings.Count(token, ".") == 4 }

// Verify decrypts token and returns the agent id in its sub claim. It
// refuses a token that does not decrypt with the key, lacks exp or sub, has
// expired at now or is not valid yet.
func (j *JWE) Verify(token string, now time.Time) (string, error) {
	obj, err := jose.ParseEncryptedCompact(token, []jose.KeyAlgorithm{jose.ECDH_ES}, []jose.ContentEncryption{jose.A256GCM})
	if err != nil {
		return "", fmt.Errorf("jwe: %w", err)
	}
	plain, err := obj.Decrypt(j.key)
	if err != nil {
		return "", fmt.Errorf("jwe: decrypt: %w", err)
	}
	var c jweClaims
	if err := json.Unmarshal(plain, &c); err != nil {
		return "", fmt.Errorf("jwe: claims: %w", err)
	}
	switch {
	case c.Exp == nil:
		return "", errors.New("jwe: exp is required")
	case now.Unix() >= *c.Exp:
		return "", errors.New("jwe: token expired")
	case c.Nbf != nil && now.Unix() < *c.Nbf:
		return "", errors.New("jwe: token not valid yet")
	case c.Sub == "" || len(c.Sub) > 128:
		return "", errors.New("jwe: sub must name the agent")
	}
	return c.Sub, nil
}

// IssueJWE encrypts claims to pub the way the Rust original does. Tests and
// migration tooling use it; hetuflow itself issues credentials instead.
func IssueJWE(pub *ecdsa.PublicKey, claims map[string]any) (string, error) {
	enc, err := jose.NewEncrypter(jose.A256GCM, jose.Recipient{Algorithm: jose.ECDH_ES, Key: pub}, (&jose.EncrypterOptions{}).WithType("JWE"))
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	obj, err := enc.Encrypt(b)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}
