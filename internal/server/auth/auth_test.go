package auth

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

var cheap = PasswordParams{Memory: 64, Time: 1, Threads: 1}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := HashPassword("correct horse battery", cheap)
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the parameters", h)
	}
	if h2 := HashPassword("correct horse battery", cheap); h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := VerifyPassword(pw, h)
		if err != nil || ok != want {
			t.Errorf("VerifyPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	// The default parameters are what a hash says when none are given.
	if h := HashPassword("x", PasswordParams{}); !strings.Contains(h, "$m=19456,t=2,p=1$") {
		t.Errorf("default hash %q", h)
	}
}

func TestVerifyRejectsMalformedHashes(t *testing.T) {
	good := HashPassword("pw", cheap)
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"", "plain", "$argon2i$v=19$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=18$m=64,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=99999999,t=1,p=1$" + parts[4] + "$" + parts[5], // a memory bomb
		"$argon2id$v=19$m=64,t=1000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=64,t=1,p=1,x=2$" + parts[4] + "$" + parts[5],
	} {
		if ok, err := VerifyPassword("pw", bad); ok || !errors.Is(err, ErrBadHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want ErrBadHash", bad, ok, err)
		}
	}
}

func TestLimiterRefills(t *testing.T) {
	now := time.Unix(1000, 0)
	l := PerMinute(2)
	l.now = func() time.Time { return now }
	for i := range 2 {
		if ok, _ := l.Allow("k"); !ok {
			t.Fatalf("attempt %d refused within the burst", i)
		}
	}
	ok, wait := l.Allow("k")
	if ok || wait < 29*time.Second || wait > 31*time.Second {
		t.Fatalf("third attempt = %v, retry after %s; want refused, about 30s", ok, wait)
	}
	if ok, _ := l.Allow("other"); !ok {
		t.Error("another key shares the bucket")
	}
	now = now.Add(30 * time.Second)
	if ok, _ := l.Allow("k"); !ok {
		t.Error("no token after the refill time")
	}
	l.Reset("k")
	if ok, _ := l.Allow("k"); !ok {
		t.Error("Reset did not refill")
	}
	if ok, _ := NewLimiter(0, 0).Allow("k"); !ok {
		t.Error("a zero rate limits")
	}
}

func TestPrincipalRoles(t *testing.T) {
	p := &Principal{Grants: map[string]model.Role{"a": model.RoleEditor, "*": model.RoleViewer}}
	if !p.Can(model.RoleEditor, "a") || p.Can(model.RoleEditor, "b") || !p.Can(model.RoleViewer, "b") || p.Can(model.RoleAdmin, "a") {
		t.Error("roles per namespace are wrong")
	}
	if ns := p.Namespaces(model.RoleViewer); ns != nil {
		t.Errorf("viewer on * sees %v, want all (nil)", ns)
	}
	if ns := p.Namespaces(model.RoleEditor); len(ns) != 1 || ns[0] != "a" {
		t.Errorf("editor namespaces %v, want [a]", ns)
	}
	var none *Principal
	if ns := none.Namespaces(model.RoleViewer); ns == nil || len(ns) != 0 {
		t.Errorf("anonymous sees %v, want none (empty, not nil)", ns)
	}
	if !p.Allows(PermEdit) || p.Allows(PermAdmin) || none.Allows(PermSignedIn) || !none.Allows(PermPublic) {
		t.Error("Allows is wrong")
	}
}

func TestParseBearer(t *testing.T) {
	for h, want := range map[string]string{
		"Bearer hf_abc": "hf_abc", "bearer hf_abc": "hf_abc", "Bearer  hf_abc ": "hf_abc",
		"Basic dXNlcg==": "", "Bearer": "", "Bearer ": "", "Bearer a b": "", "Bearer \x00": "",
		"Bearer " + strings.Repeat("a", MaxTokenLength+1): "",
	} {
		got, err := ParseBearer(h)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q", h, got, err, want)
		}
	}
}

// FuzzParseBearer: the token parser never panics, and what it accepts is a
// bounded run of printable ASCII that parses back to itself.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer hf_abc", "bearer x", "Basic x", "Bearer", "Bearer \t a", "Bearer hf_é", "BEARER " + Generate()} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, err := ParseBearer(h)
		if err != nil {
			if tok != "" {
				t.Fatalf("error with a token %q", tok)
			}
			return
		}
		if tok == "" || len(tok) > MaxTokenLength || strings.ContainsAny(tok, " \t\r\n") {
			t.Fatalf("accepted %q from %q", tok, h)
		}
		if again, err := ParseBearer("Bearer " + tok); err != nil || again != tok {
			t.Fatalf("%q does not parse back: %q, %v", tok, again, err)
		}
	})
}

// FuzzVerifyPassword: stored hashes come from the database, which an
// attacker may have written to; the PHC parser must refuse what it cannot
// verify without panicking or taking unbounded memory.
func FuzzVerifyPassword(f *testing.F) {
	f.Add(HashPassword("pw", cheap))
	f.Add("$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=1048577,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5")
	f.Fuzz(func(t *testing.T, encoded string) {
		p, _, _, err := parsePHC(encoded)
		if err == nil && (p.Memory > maxMemory || p.Time > maxTime || p.Memory > 1<<16) {
			return // valid, but too costly to verify in a fuzz run
		}
		_, _ = VerifyPassword("pw", encoded)
	})
}
