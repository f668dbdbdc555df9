package model

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"text/template"
)

// DefaultParams returns the declared parameters' defaults, or nil when the
// job declares none.
func DefaultParams(specs []ParamSpec) map[string]string {
	if len(specs) == 0 {
		return nil
	}
	out := make(map[string]string, len(specs))
	for _, p := range specs {
		out[p.Name] = p.Default
	}
	return out
}

// ResolveParams merges a run's parameters over the job's defaults. When the
// job declares parameters, a name it does not declare and a missing required
// one are errors naming the parameter; a job that declares none takes any.
func ResolveParams(specs []ParamSpec, given map[string]string) (map[string]string, error) {
	if len(specs) == 0 {
		return given, nil
	}
	out := DefaultParams(specs)
	declared := make(map[string]ParamSpec, len(specs))
	for _, p := range specs {
		declared[p.Name] = p
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if _, ok := declared[k]; !ok {
			return nil, Errorf("parameters."+k, "the job declares no such parameter")
		}
		out[k] = given[k]
	}
	for _, p := range specs {
		if _, ok := given[p.Name]; p.Required && !ok {
			return nil, Errorf("parameters."+p.Name, "is required")
		}
	}
	return out, nil
}

// RenderConfig returns c with {{.Params.name}} in its args, script, HTTP URL,
// headers and body replaced from params. A reference to a parameter that is
// not in params is an error naming the field.
func RenderConfig(c JobConfig, params map[string]string) (JobConfig, error) {
	data := struct{ Params map[string]string }{Params: params}
	if data.Params == nil {
		data.Params = map[string]string{}
	}
	render := func(field, s string) (string, error) {
		if !strings.Contains(s, "{{") {
			return s, nil
		}
		t, err := template.New(field).Option("missingkey=error").Parse(s)
		if err != nil {
			return "", Errorf(field, "bad template: %v", err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, data); err != nil {
			return "", Errorf(field, "template: %v", err)
		}
		return b.String(), nil
	}
	var err error
	if len(c.Args) > 0 {
		args := make([]string, len(c.Args))
		for i, a := range c.Args {
			if args[i], err = render(fmt.Sprintf("args[%d]", i), a); err != nil {
				return c, err
			}
		}
		c.Args = args
	}
	if c.Script, err = render("script", c.Script); err != nil {
		return c, err
	}
	if c.HTTP != nil {
		h := *c.HTTP
		if h.URL, err = render("http.url", h.URL); err != nil {
			return c, err
		}
		if h.Body, err = render("http.body", h.Body); err != nil {
			return c, err
		}
		if len(h.Headers) > 0 {
			headers := make(map[string]string, len(h.Headers))
			for k, v := range h.Headers {
				if headers[k], err = render("http.headers."+k, v); err != nil {
					return c, err
				}
			}
			h.Headers = headers
		}
		c.HTTP = &h
	}
	return c, nil
}
