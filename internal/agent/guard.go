package agent

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/protocol"
)

// reasonRefused is the code of a run the agent's guard refused.
const reasonRefused = "refused"

// Guard is the agent's own policy on what it runs, checked before every
// run whatever the server sent: a server, or whoever holds its admin token,
// cannot make the agent run something its operator did not allow. The zero
// Guard allows everything.
type Guard struct {
	// AllowedNamespaces, when not empty, are the only namespaces whose runs
	// the agent takes.
	AllowedNamespaces []string
	// AllowedCommands, when not empty, are the only command lines the agent
	// runs: a run's command line (program and arguments joined by spaces;
	// a script is "<interpreter…> <script>", e.g. "sh -c echo hi") must start
	// with one of them, ending at a word boundary. The program is checked
	// both as the job wrote it and as resolved in $PATH, cleaned, so
	// "/usr/bin/python3" allows a job's "python3". An http task's URL is
	// checked the same way, so an agent limited to commands makes no
	// requests unless a URL prefix is listed too.
	AllowedCommands []string
	// DenyRoot refuses every run while the agent runs as uid 0, and runs
	// whose job asks for uid 0.
	DenyRoot bool
}

// refusal is why the guard refused a run; its message names the rule.
type refusal struct{ rule, msg string }

func (r *refusal) Error() string {
	return "refused by the agent guard (" + r.rule + "): " + r.msg
}

// check returns nil if the guard lets d run on an agent whose effective
// uid is euid, or the refusal.
func (g *Guard) check(d *protocol.DispatchedInstance, euid int) *refusal {
	if len(g.AllowedNamespaces) > 0 && !slices.Contains(g.AllowedNamespaces, d.Namespace) {
		return &refusal{"agent.guard.allowed_namespaces", fmt.Sprintf("namespace %q is not allowed on this agent", d.Namespace)}
	}
	cfg := &d.Config
	if g.DenyRoot && cfg.Type != model.TaskHTTP {
		if euid == 0 && cfg.User == "" {
			return &refusal{"agent.guard.deny_root", "the agent runs as root (uid 0) and the job names no other user"}
		}
		if cfg.User != "" {
			if u, err := lookupRunUser(cfg.User); err == nil && u.uid == 0 {
				return &refusal{"agent.guard.deny_root", fmt.Sprintf("the job asks to run as user %q, which is uid 0", cfg.User)}
			}
		}
	}
	if len(g.AllowedCommands) == 0 {
		return nil
	}
	if cfg.Type == model.TaskHTTP {
		url := ""
		if cfg.HTTP != nil {
			url = cfg.HTTP.URL
		}
		if g.commandAllowed(url) {
			return nil
		}
		return &refusal{"agent.guard.allowed_commands", fmt.Sprintf("http request to %q matches no allowed prefix", url)}
	}
	var argv []string
	switch {
	case cfg.Command != "":
		argv = append([]string{cfg.Command}, cfg.Args...)
	case cfg.Script != "":
		prefix, ok := model.InterpreterArgv(cfg.Interpreter)
		if !ok {
			return nil // fails to start anyway, with its own reason
		}
		argv = append(slices.Clone(prefix), cfg.Script)
	default:
		return nil
	}
	if g.commandAllowed(joinArgv(filepath.Clean(argv[0]), argv[1:])) {
		return nil
	}
	if path, err := lookPath(argv[0]); err == nil {
		if abs, err := filepath.Abs(path); err == nil && g.commandAllowed(joinArgv(abs, argv[1:])) {
			return nil
		}
	}
	return &refusal{"agent.guard.allowed_commands", fmt.Sprintf("command %q matches no allowed prefix", truncate(strings.Join(argv, " "), 200))}
}

// commandAllowed reports whether line starts with an allowed prefix that
// ends at a word boundary: the prefix ends with a space or a slash, or
// line goes on with a space or ends there. So "/usr/bin/python3" does not
// allow "/usr/bin/python3-evil", and "/opt/jobs/" allows what lies under it.
func (g *Guard) commandAllowed(line string) bool {
	for _, p := range g.AllowedCommands {
		if p == "" || !strings.HasPrefix(line, p) {
			continue
		}
		if len(line) == len(p) || strings.HasSuffix(p, " ") || strings.HasSuffix(p, "/") || line[len(p)] == ' ' {
			return true
		}
	}
	return false
}

func joinArgv(prog string, args []string) string {
	return strings.Join(append([]string{prog}, args...), " ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// refuse returns res as a run the guard refused: Failed, never started.
func (r *run) refuse(res *protocol.TaskDone, why *refusal) *protocol.TaskDone {
	res.Status, res.Reason, res.Error, res.FinishedAt = model.InstanceFailed, reasonRefused, why.Error(), r.serverNow()
	return res
}
