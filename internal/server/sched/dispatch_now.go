package sched

import (
	"context"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// DispatchNow places tasks just created in ex's transaction (a run now) on
// this server's agents as a pass would, and writes their instances in that
// transaction, so the run needs no pass of its own: no claim, no second
// transaction. On PostgreSQL that is three round trips off a run-now's
// path, most of what it waited for between the request and the agent.
//
// It returns done, to call once the transaction has ended: committed, it
// pushes the instances to their agents; otherwise it gives their slots
// back. placed counts the tasks it placed; the caller wakes the dispatchers
// for the others, which stay Pending for a pass. It leaves to a pass every
// task when the last pass left due work waiting for a slot (so a run now
// does not overtake a backlog; work that fell due since that pass is not
// looked for), or when the dispatcher is not running; and any task not due
// yet, not Pending, or of a job with an overlap policy or a concurrency cap
// (a pass knows that job's runs). On PostgreSQL the instances are written
// with the commit (store.AtCommit), so later reads in the transaction do not
// see them.
func (d *Dispatcher) DispatchNow(ctx context.Context, ex store.Executor, tasks []*model.Task) (done func(committed bool), placed int, err error) {
	done = func(bool) {}
	if !d.running.Load() || d.backlog.Load() {
		return done, 0, nil
	}
	p := d.newPass()
	if p == nil {
		return done, 0, nil
	}
	p.ex = ex
	for _, t := range tasks {
		if p.free == 0 {
			break
		}
		if t.Status != model.TaskPending || t.RunAt.After(p.now) || constrained(t) {
			continue
		}
		if p.place(t) {
			placed++
		}
	}
	if err := p.write(ctx); err != nil {
		p.release()
		return done, 0, err
	}
	return func(committed bool) {
		if !committed {
			p.release()
			return
		}
		// The request may end now; its runs are committed and go out,
		// within the bound of a pass.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), passTimeout)
		defer cancel()
		if n := p.push(pctx); n > 0 {
			d.TestSignals.Dispatched.Signal(n)
		}
	}, placed, nil
}
