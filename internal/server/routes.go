package server

import (
	"html/template"
	"net/http"
	"sort"
	"strings"

	"github.com/hetuflow/hetuflow/internal/server/ui"
)

// routes is the server's top-level mux: the agent socket, the API, and
// the API reference and the web console.
func (a *App) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/api/v1/agents/ws", a.gateway)
	mux.Handle("/api/v1/", a.api.Handler())
	mux.HandleFunc("GET /docs", a.docs)
	a.ops.routes(mux)
	mux.HandleFunc("GET /docs.css", docsCSS)
	a.pageRoutes(mux)
	// The web console serves / and its pages (internal/server/ui); the
	// sign-in pages above are the server's own.
	console := a.webUI()
	for _, p := range ui.Paths() {
		if p != "/login" && p != "/logout" {
			mux.Handle(p, console)
		}
	}
	return a.ops.middleware(mux)
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>hetuflow API</title>
<link rel="stylesheet" href="/docs.css"></head>
<body><h1>hetuflow API {{.Version}}</h1>
<p>Routes need <code>Authorization: Bearer &lt;token&gt;</code> or a signed-in session (<a href="/login">sign in</a>); each route's permission is in docs/authorization.md.
The machine-readable document is <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
<table>{{range .Ops}}<tr><td class="m"><code>{{.Method}}</code></td><td><code>{{.Path}}</code></td><td>{{.Summary}}</td></tr>{{end}}</table>
</body></html>`))

type docOp struct{ Method, Path, Summary string }

// docs lists the API's operations from its OpenAPI document, rendered here
// so the page needs no third-party script.
func (a *App) docs(w http.ResponseWriter, _ *http.Request) {
	doc := a.api.OpenAPI()
	var ops []docOp
	for path, item := range doc.Paths {
		if item.Get != nil {
			ops = append(ops, docOp{"GET", path, item.Get.Summary})
		}
		if item.Post != nil {
			ops = append(ops, docOp{"POST", path, item.Post.Summary})
		}
		if item.Put != nil {
			ops = append(ops, docOp{"PUT", path, item.Put.Summary})
		}
		if item.Delete != nil {
			ops = append(ops, docOp{"DELETE", path, item.Delete.Summary})
		}
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return strings.Compare(ops[i].Method, ops[j].Method) < 0
	})
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = docsPage.Execute(w, struct {
		Version string
		Ops     []docOp
	}{a.opts.Version, ops})
}

// docsCSS styles the docs and sign-in pages from a file: the CSP allows no
// inline style.
func docsCSS(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write([]byte(`body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code{font-family:ui-monospace,monospace}
td{padding:.2rem .8rem .2rem 0;vertical-align:top}.m{font-weight:600}
form{max-width:24rem}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1rem;padding:.4rem 1rem}.err{color:#b00020}
`))
}
