package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hetuflow/hetuflow/internal/model"
)

// defaultServer is where API commands go without --server or
// HETUFLOW_SERVER: a dev server on this machine.
const defaultServer = "http://127.0.0.1:9500"

// apiFlags are the flags of commands that call a server's HTTP API. Empty
// flags fall back to HETUFLOW_SERVER and HETUFLOW_TOKEN at run time, so the
// token never shows as a default in --help.
type apiFlags struct {
	server string
	token  string
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "server URL, http://HOST:9500 (default $HETUFLOW_SERVER, else "+defaultServer+")")
	cmd.Flags().StringVar(&f.token, "token", "", "API token (default $HETUFLOW_TOKEN)")
}

// client returns a client for the server the flags name. A missing token
// or a bad URL is a *model.FieldError naming the flag.
func (f *apiFlags) client() (*apiClient, error) {
	server := firstNonEmpty(f.server, os.Getenv("HETUFLOW_SERVER"), defaultServer)
	token := firstNonEmpty(f.token, os.Getenv("HETUFLOW_TOKEN"))
	if token == "" {
		return nil, &model.FieldError{Field: "--token", Reason: "a token is required: --token or HETUFLOW_TOKEN"}
	}
	base, err := apiBase(server)
	if err != nil {
		return nil, &model.FieldError{Field: "--server", Reason: err.Error()}
	}
	return &apiClient{base: base, token: token, http: &http.Client{}}, nil
}

// apiBase turns what a user may type (host:port, http://…, or the ws://…
// an agent is given) into the API's base URL.
func apiBase(server string) (string, error) {
	if !strings.Contains(server, "://") {
		server = "http://" + server
	}
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%q is not a server URL such as http://127.0.0.1:9500", server)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return "", fmt.Errorf("%q: use http:// or https://", server)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.Path, "/") + "/api/v1", nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// apiClient is a thin client of the HTTP API, for the CLI.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

// apiError is a response with an error status.
type apiError struct {
	Status int
	Detail string
}

func (e *apiError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	}
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Detail)
}

// do sends a request; a status of 300 or more is returned as *apiError,
// with the body closed. The caller closes the body of a success.
func (c *apiClient) do(ctx context.Context, method, path string, body any, header http.Header) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("new request: %w", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var p struct {
			Detail string `json:"detail"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		_ = json.Unmarshal(raw, &p)
		return nil, &apiError{Status: resp.StatusCode, Detail: p.Detail}
	}
	return resp, nil
}

// call sends a request and decodes a JSON answer into out, if not nil.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	resp, err := c.do(ctx, method, path, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s %s: %w", method, path, err)
	}
	return nil
}
