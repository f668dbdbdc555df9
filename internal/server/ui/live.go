package ui

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/hetuflow/hetuflow/internal/cron"
	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/server/api"
	"github.com/hetuflow/hetuflow/internal/store"
)

// live answers app.js's poll with the counts the header and the dashboard
// show, so they change without a reload.
func (u *UI) live(w http.ResponseWriter, r *http.Request, p *page) {
	ctx := r.Context()
	running, err := u.deps.Store.TaskInstanceCount(ctx, &store.TaskInstanceCountParams{Filter: store.Filter{
		{Field: "status", Op: store.OpIn, Value: []any{int64(model.InstanceDispatched), int64(model.InstanceAcked), int64(model.InstanceRunning)}},
	}, Namespaces: p.namespaces()})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	out := map[string]string{"running": strconv.Itoa(running)}
	if st, err := u.deps.API.Cluster(ctx); err == nil {
		out["online"] = strconv.Itoa(st.AgentsByStatus["online"])
		out["offline"] = strconv.Itoa(st.AgentsByStatus["offline"])
		out["queue"] = strconv.Itoa(st.QueueDepth)
	}
	writeJSON(w, out)
}

// previewOut is the cron preview app.js shows beside the field: fires
// formatted for the person, the reading in their language, or the error.
type previewOut struct {
	Fires       []string `json:"fires"`
	Description string   `json:"description"`
	Error       string   `json:"error,omitempty"`
}

func (u *UI) preview(w http.ResponseWriter, r *http.Request, p *page) {
	q := r.URL.Query()
	in := api.PreviewInput{Cron: q.Get("cron"), TimeZone: q.Get("tz"), Interval: q.Get("interval"), N: 10}
	out := previewOut{Fires: []string{}}
	pv, err := u.deps.API.PreviewSchedule(r.Context(), in)
	if err != nil {
		out.Error = p.T("preview.invalid")
		if em := api.ErrorModel(err); em != nil {
			for _, d := range em.Errors {
				out.Error += ": " + d.Message
			}
		}
		w.WriteHeader(http.StatusUnprocessableEntity)
		writeJSON(w, out)
		return
	}
	zone := p.Printer
	if loc, err := loadZone(pv.TimeZone); err == nil {
		zone.Zone = loc
	}
	for _, f := range pv.Fires {
		if t, err := parseRFC3339(f); err == nil {
			out.Fires = append(out.Fires, zone.Time(t))
		}
	}
	if in.Cron != "" {
		out.Description = cron.DescribeLang(in.Cron, string(p.Lang))
	}
	writeJSON(w, out)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
