package agent

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
)

// redactAll runs input through a redactor cut at the given points.
func redactAll(r *redactor, input string, cuts []int) string {
	var out bytes.Buffer
	prev := 0
	for _, c := range cuts {
		out.Write(r.push([]byte(input[prev:c])))
		prev = c
	}
	out.Write(r.push([]byte(input[prev:])))
	out.Write(r.flush())
	return out.String()
}

func TestRedactor(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter2", "hunt", "s3cr3t-value", "x"}
	for _, tc := range []struct{ in, want string }{
		{"password is hunter2.", "password is ***."},
		{"hunter", "***er"},
		{"hunt hunter2 hunte", "*** *** ***e"},
		{"s3cr3t-values3cr3t-value", "******"},
		{"s3cr3t-valu", "s3cr3t-valu"},
		{"xx", "******"},
		{"", ""},
		{"plain text only", "plain te***t only"},
	} {
		for cut := 0; cut <= len(tc.in); cut++ {
			r := newRedactor(secrets)
			if got := redactAll(r, tc.in, []int{cut}); got != tc.want {
				t.Errorf("redact(%q) cut at %d = %q, want %q", tc.in, cut, got, tc.want)
			}
		}
	}
	if newRedactor(nil) != nil || newRedactor([]string{""}) != nil {
		t.Error("redactor without secrets is not nil")
	}
}

// TestRedactorRandomSplits checks that no way of cutting the stream lets
// a secret through, and that the cuts do not change the result.
func TestRedactorRandomSplits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	secrets := []string{"abcab", "bca", "zz-top-secret"}
	alphabet := "abcz-top sec"
	for range 2000 {
		var b strings.Builder
		for range rng.IntN(60) {
			if rng.IntN(8) == 0 {
				b.WriteString(secrets[rng.IntN(len(secrets))])
			} else {
				b.WriteByte(alphabet[rng.IntN(len(alphabet))])
			}
		}
		in := b.String()
		want := redactAll(newRedactor(secrets), in, nil)
		var cuts []int
		for c := 0; c <= len(in); c++ {
			if rng.IntN(3) == 0 {
				cuts = append(cuts, c)
			}
		}
		got := redactAll(newRedactor(secrets), in, cuts)
		if got != want {
			t.Fatalf("redact(%q) with cuts %v = %q, whole = %q", in, cuts, got, want)
		}
		for _, s := range secrets {
			if strings.Contains(strings.ReplaceAll(got, "***", "\x00"), s) {
				t.Fatalf("redact(%q) = %q still holds %q", in, got, s)
			}
		}
	}
}

// TestRedactingPipe reads a secret written in two pieces through a pipe.
func TestRedactingPipe(t *testing.T) {
	t.Parallel()
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	p := &redactingPipe{f: rd, r: newRedactor([]string{"top-secret"})}
	go func() {
		_, _ = wr.Write([]byte("value=top-"))
		_, _ = wr.Write([]byte("secret; end\n"))
		wr.Close()
	}()
	got, err := io.ReadAll(p)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != "value=***; end\n" {
		t.Fatalf("read %q", got)
	}
}

// FuzzRedactor checks that where the stream is cut never changes the
// result, and no secret survives it.
func FuzzRedactor(f *testing.F) {
	f.Add("password hunter2 and hunt", 3, 9)
	f.Add("aaaaab", 1, 2)
	f.Fuzz(func(t *testing.T, in string, c1, c2 int) {
		secrets := []string{"hunter2", "hunt", "aab", "ab"}
		cuts := []int{}
		for _, c := range []int{c1, c2} {
			if c >= 0 && c <= len(in) && (len(cuts) == 0 || c >= cuts[len(cuts)-1]) {
				cuts = append(cuts, c)
			}
		}
		whole := redactAll(newRedactor(secrets), in, nil)
		if got := redactAll(newRedactor(secrets), in, cuts); got != whole {
			t.Fatalf("redact(%q) cut at %v = %q, whole = %q", in, cuts, got, whole)
		}
		for _, s := range secrets {
			if strings.Contains(strings.ReplaceAll(whole, "***", "\x00"), s) {
				t.Fatalf("redact(%q) = %q holds %q", in, whole, s)
			}
		}
	})
}
