package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
)

// EnrollPath is the server's enrolment route.
const EnrollPath = "/api/v1/agents/enroll"

// CredentialFile is the name of the file in the agent's data directory that
// keeps its credential after enrolment.
const CredentialFile = "agent-credential.json"

// Credential is an enrolled agent's identity: the id the server gave it and
// the secret it opens the socket with.
type Credential struct {
	AgentID    string `json:"agent_id"`
	Credential string `json:"credential"`
}

// LoadCredential reads the credential kept in dataDir, or returns nil, nil
// when the agent has not enrolled.
func LoadCredential(dataDir string) (*Credential, error) {
	raw, err := os.ReadFile(filepath.Join(dataDir, CredentialFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read agent credential: %w", err)
	}
	var c Credential
	if err := json.Unmarshal(raw, &c); err != nil || c.AgentID == "" || c.Credential == "" {
		return nil, fmt.Errorf("agent credential %s is damaged; remove it and enrol again", filepath.Join(dataDir, CredentialFile))
	}
	return &c, nil
}

// saveCredential writes c into dataDir, readable by the agent's user only,
// replacing the file atomically.
func saveCredential(dataDir string, c *Credential) error {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dataDir, CredentialFile+".*")
	if err != nil {
		return fmt.Errorf("save agent credential: %w", err)
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.Write(raw)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dataDir, CredentialFile))
	}
	if err != nil {
		return fmt.Errorf("save agent credential: %w", err)
	}
	return nil
}

// EnrollParams are the inputs of Enroll.
type EnrollParams struct {
	// Servers are the agent's ws:// or wss:// server URLs; each is tried in
	// turn over the matching http:// or https://.
	Servers []string
	Token   string
	// Labels are the configured labels; the automatic ones are added.
	Labels  map[string]string
	Version string
	DataDir string
	// HTTPClient makes the request; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Enroll exchanges an enrolment token for a credential, once: a credential
// already in DataDir is returned as is. The new credential is saved in
// DataDir (mode 0600) before it is returned.
func Enroll(ctx context.Context, p EnrollParams) (*Credential, error) {
	if c, err := LoadCredential(p.DataDir); c != nil || err != nil {
		return c, err
	}
	client := p.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	body, err := json.Marshal(map[string]any{"token": p.Token, "labels": helloLabels(p.Labels, p.Version)})
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, s := range p.Servers {
		u, err := enrollURL(s)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := enrollAt(ctx, client, u, body)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", u, err))
			var refused *enrollRefused
			if errors.As(err, &refused) {
				break // the token is bad everywhere
			}
			continue
		}
		if err := saveCredential(p.DataDir, c); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, fmt.Errorf("enrol: %w", errors.Join(errs...))
}

// enrollRefused is a server's answer that the token or labels are not
// good; other servers would say the same.
type enrollRefused struct{ msg string }

func (e *enrollRefused) Error() string { return e.msg }

func enrollURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("server %q: %v", server, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("server %q must start with ws:// or wss://", server)
	}
	u.Path, u.RawQuery = EnrollPath, ""
	return u.String(), nil
}

func enrollAt(ctx context.Context, client *http.Client, u string, body []byte) (*Credential, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
		var problem struct {
			Detail string `json:"detail"`
		}
		msg := string(raw)
		if json.Unmarshal(raw, &problem) == nil && problem.Detail != "" {
			msg = problem.Detail
		}
		msg = fmt.Sprintf("server answered %s: %s", resp.Status, msg)
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, &enrollRefused{msg}
		}
		return nil, errors.New(msg)
	}
	var c Credential
	if err := json.Unmarshal(raw, &c); err != nil || c.AgentID == "" || c.Credential == "" {
		return nil, fmt.Errorf("bad enrolment answer: %s", raw)
	}
	return &c, nil
}
