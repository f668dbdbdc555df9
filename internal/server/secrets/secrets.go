package secrets

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/store"
)

// MaxValueBytes bounds a secret's value.
const MaxValueBytes = 64 << 10

// refPattern matches a reference to a secret in a job's env value:
// ${secret:NAME}.
var refPattern = regexp.MustCompile(`\$\{secret:([A-Za-z0-9_.-]{1,128})\}`)

// namePattern is what a secret's name may be.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,128}$`)

// Service stores secrets and resolves references to them.
type Service struct {
	store store.Store
	keys  *Keyring // nil: secrets cannot be stored or resolved
}

// New returns a Service; keys may be nil, and then every use that needs
// the key fails with ErrNoKey.
func New(st store.Store, keys *Keyring) *Service {
	return &Service{store: st, keys: keys}
}

// HasRefs reports whether env refers to any secret.
func HasRefs(env map[string]string) bool {
	for _, v := range env {
		if strings.Contains(v, "${secret:") {
			return true
		}
	}
	return false
}

// Put creates or replaces a secret.
func (s *Service) Put(ctx context.Context, namespace, name string, value []byte) (*model.Secret, error) {
	if s.keys == nil {
		return nil, ErrNoKey
	}
	if !namePattern.MatchString(name) {
		return nil, model.Errorf("name", "must be 1 to 128 letters, digits, '_', '.' or '-'")
	}
	if namespace == "" || len(namespace) > 128 {
		return nil, model.Errorf("namespace", "must be 1 to 128 characters")
	}
	if len(value) == 0 || len(value) > MaxValueBytes {
		return nil, model.Errorf("value", "must be 1 to %d bytes", MaxValueBytes)
	}
	keyID, nonce, ct := s.keys.Seal(namespace, name, value)
	now := time.Now().UTC()
	return s.store.SecretUpsert(ctx, &store.SecretUpsertParams{Namespace: namespace, Name: name, KeyID: keyID, Nonce: nonce, Ciphertext: ct, Now: &now})
}

// List returns a namespace's secrets, metadata only.
func (s *Service) List(ctx context.Context, namespace string) ([]*model.Secret, error) {
	return s.store.SecretList(ctx, &store.SecretListParams{Namespace: namespace})
}

// Get returns a secret's metadata.
func (s *Service) Get(ctx context.Context, namespace, name string) (*model.Secret, error) {
	return s.store.SecretGet(ctx, &store.SecretGetParams{Namespace: namespace, Name: name})
}

// Delete removes a secret; jobs that refer to it then fail to start.
func (s *Service) Delete(ctx context.Context, namespace, name string) error {
	return s.store.SecretDelete(ctx, &store.SecretDeleteParams{Namespace: namespace, Name: name})
}

// Resolve replaces the secret references in env with the secrets' values
// and returns the new env and the values used, for redaction. env is not
// changed. A missing secret or a server without a key is an error naming
// it.
func (s *Service) Resolve(ctx context.Context, namespace string, env map[string]string) (map[string]string, []string, error) {
	if !HasRefs(env) {
		return env, nil, nil
	}
	if s.keys == nil {
		return nil, nil, ErrNoKey
	}
	values := map[string]string{}
	var errs []error
	out := maps.Clone(env)
	for k, v := range env {
		out[k] = refPattern.ReplaceAllStringFunc(v, func(ref string) string {
			name := refPattern.FindStringSubmatch(ref)[1]
			if val, ok := values[name]; ok {
				return val
			}
			sec, err := s.store.SecretGet(ctx, &store.SecretGetParams{Namespace: namespace, Name: name})
			if errors.Is(err, store.ErrNotFound) {
				errs = append(errs, fmt.Errorf("env %s: secret %q does not exist in namespace %q", k, name, namespace))
				return ""
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("env %s: secret %q: %w", k, name, err))
				return ""
			}
			plain, err := s.keys.Open(namespace, name, sec.KeyID, sec.Nonce, sec.Ciphertext)
			if err != nil {
				errs = append(errs, err)
				return ""
			}
			values[name] = string(plain)
			return string(plain)
		})
	}
	if len(errs) > 0 {
		return nil, nil, errors.Join(errs...)
	}
	vals := slices.Collect(maps.Values(values))
	slices.Sort(vals)
	return out, vals, nil
}

// Prepare resolves the secrets of instances about to be sent to an agent,
// in place: each gets its resolved env and the values to redact, or, when
// a secret cannot be resolved, SecretError, which makes the agent fail the
// run without starting it. The task's stored config keeps the references.
func (s *Service) Prepare(ctx context.Context, insts []*protocol.DispatchedInstance) {
	for _, in := range insts {
		if !HasRefs(in.Config.Env) {
			continue
		}
		env, vals, err := s.Resolve(ctx, in.Namespace, in.Config.Env)
		if err != nil {
			in.SecretError = err.Error()
			in.Config.Env = nil
			continue
		}
		in.Config.Env, in.Redact = env, vals
	}
}
