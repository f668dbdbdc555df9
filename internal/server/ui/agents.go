package ui

import (
	"net/http"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// agentsData is what the agents page shows.
type agentsData struct {
	Agents []*model.Agent
	Pager  pager
	Status string
}

// Agents are shared by every namespace, so any signed-in identity sees
// them; draining one takes an admin.
func (u *UI) agentList(w http.ResponseWriter, r *http.Request, p *page) {
	p.Title = "title.agents"
	d := &agentsData{Pager: pager{Offset: pageOffset(r), Size: pageSize}, Status: r.URL.Query().Get("status")}
	var f store.Filter
	if n, ok := enumValue(store.AgentResource(), "status", d.Status); ok {
		f = append(f, store.Cond{Field: "status", Op: store.OpEq, Value: n})
	}
	var err error
	d.Agents, err = u.deps.Store.AgentList(r.Context(), &store.AgentListParams{Filter: f, Limit: pageSize + 1, Offset: d.Pager.Offset, OrderBy: []store.Order{{Field: "status", Desc: true}, {Field: "id"}}})
	d.Agents = trim(&d.Pager, d.Agents)
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	d.Pager.Query = pageQuery("status", d.Status)
	p.Data = d
	u.render(w, r, http.StatusOK, "agents", p)
}

func (u *UI) agentDrain(w http.ResponseWriter, r *http.Request, p *page) {
	id := r.PathValue("id")
	if !p.Ident.Admin {
		flash(w, "error", "flash.forbidden")
		back(w, r, "/agents")
		return
	}
	if !u.confirmed(w, r, p, p.T("confirm.drain", id)) {
		return
	}
	if _, err := u.deps.API.DrainAgent(r.Context(), id); err != nil {
		u.actionError(w, r, err)
	} else {
		flash(w, "ok", "flash.agent_draining", id)
	}
	back(w, r, "/agents")
}

func (u *UI) cluster(w http.ResponseWriter, r *http.Request, p *page) {
	st, err := u.deps.API.Cluster(r.Context())
	if err != nil {
		u.fail(w, r, p, err)
		return
	}
	p.Title = "title.cluster"
	p.Data = st
	u.render(w, r, http.StatusOK, "cluster", p)
}
