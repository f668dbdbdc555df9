package gateway

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/protocol"
	"github.com/hetuflow/hetuflow/internal/server/balance"
)

// This file holds what the dispatcher and the API ask of a session: its
// slots, and the dispatch, cancel and drain messages sent to its agent.

// candidate returns the agent as a dispatch candidate, or nil.
func (s *session) candidate() *balance.Candidate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready || s.draining {
		return nil
	}
	return &balance.Candidate{ID: s.agentID, Name: s.hello.Name, Labels: s.hello.Labels, Free: s.freeLocked(), Load: s.load}
}

// freeLocked is the number of slots neither held, running nor reserved.
func (s *session) freeLocked() int {
	return max(0, s.hello.Capacity-len(s.live)-s.reserved)
}

// reserve takes a free slot for a dispatch being written.
func (s *session) reserve() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready || s.draining || s.freeLocked() == 0 {
		return false
	}
	s.reserved++
	return true
}

// release gives back n reserved slots.
func (s *session) release(n int) {
	s.mu.Lock()
	s.reserved = max(0, s.reserved-n)
	s.mu.Unlock()
}

func (s *session) dispatch(ctx context.Context, insts []*protocol.DispatchedInstance) error {
	if s.g.cfg.Prepare != nil {
		s.g.cfg.Prepare(ctx, insts)
	}
	env, err := protocol.New(protocol.KindDispatch, &protocol.Dispatch{Instances: insts})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.ready {
		s.mu.Unlock()
		return ErrNotConnected
	}
	s.seq++
	env.Head.Seq = s.seq
	ids := make([]uuid.UUID, len(insts))
	for i, in := range insts {
		ids[i] = in.InstanceID
		s.live[in.InstanceID] = struct{}{}
	}
	s.pending[s.seq] = ids
	s.sentAt[s.seq] = time.Now()
	s.reserved = max(0, s.reserved-len(insts))
	s.mu.Unlock()
	return s.enqueue(ctx, env)
}

func (s *session) cancel(id uuid.UUID, reason string) {
	s.mu.Lock()
	if !s.ready {
		// Before welcome nothing may be sent; reconciliation will cancel it.
		s.mu.Unlock()
		return
	}
	delete(s.live, id)
	s.seq++
	seq := s.seq
	s.mu.Unlock()
	env, err := protocol.New(protocol.KindCancel, &protocol.Cancel{InstanceID: id, Reason: reason})
	if err != nil {
		return
	}
	env.Head.Seq = seq
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.enqueue(ctx, env)
	s.g.onWork()
}

// drain sends the agent a drain that ends in its exit, and stops offering
// it to the dispatcher.
func (s *session) drain(ctx context.Context, reason string) error {
	env, err := protocol.New(protocol.KindDrain, &protocol.Drain{Reason: reason, Exit: true})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if !s.ready {
		s.mu.Unlock()
		return ErrNotConnected
	}
	s.draining, s.exitAsked = true, true
	s.seq++
	env.Head.Seq = s.seq
	s.mu.Unlock()
	return s.enqueue(ctx, env)
}

// liveIDs returns the instances the agent holds or runs, as this session
// knows them.
func (s *session) liveIDs() []uuid.UUID {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ready {
		return nil
	}
	ids := make([]uuid.UUID, 0, len(s.live))
	for id := range s.live {
		ids = append(ids, id)
	}
	return ids
}
