package main

import (
	"os"

	"github.com/spf13/cobra"

	hf "github.com/hetuflow/hetuflow/client"
	"github.com/hetuflow/hetuflow/internal/model"
)

// defaultServer is where API commands go without --server, HETUFLOW_SERVER
// or a context: a dev server on this machine.
const defaultServer = "http://127.0.0.1:9500"

// apiFlags are the flags of commands that call a server's HTTP API. Empty
// flags fall back to HETUFLOW_SERVER and HETUFLOW_TOKEN, then to the current
// context of the context file, at run time, so the token never shows as a
// default in --help.
type apiFlags struct {
	server  string
	token   string
	context string
}

func (f *apiFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.server, "server", "", "server URL, http://HOST:9500 (default $HETUFLOW_SERVER, the context's, else "+defaultServer+")")
	cmd.Flags().StringVar(&f.token, "token", "", "API token (default $HETUFLOW_TOKEN, else the context's)")
	cmd.Flags().StringVar(&f.context, "context", "", "context of the context file to use (default its current one; $HETUFLOW_CONTEXT)")
}

// client returns a client for the server the flags name. A missing token
// or a bad URL is a *model.FieldError naming the flag.
func (f *apiFlags) client() (*hf.Client, error) {
	var ctxServer, ctxToken string
	cf, err := loadContextFile()
	if err != nil {
		return nil, err
	}
	name := firstNonEmpty(f.context, os.Getenv("HETUFLOW_CONTEXT"), cf.Current)
	if name != "" {
		c, ok := cf.Contexts[name]
		if !ok && (f.context != "" || os.Getenv("HETUFLOW_CONTEXT") != "") {
			return nil, &model.FieldError{Field: "--context", Reason: "no context " + name + " in " + contextPath()}
		}
		ctxServer, ctxToken = c.Server, c.Token
	}
	server := firstNonEmpty(f.server, os.Getenv("HETUFLOW_SERVER"), ctxServer, defaultServer)
	token := firstNonEmpty(f.token, os.Getenv("HETUFLOW_TOKEN"), ctxToken)
	if token == "" {
		return nil, &model.FieldError{Field: "--token", Reason: "a token is required: --token, HETUFLOW_TOKEN or hetuflow context set"}
	}
	c, err := hf.New(server, hf.WithToken(token))
	if err != nil {
		return nil, &model.FieldError{Field: "--server", Reason: err.Error()}
	}
	return c, nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
