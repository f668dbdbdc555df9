package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

func exerciseTaskLogChunk(t *testing.T, open func(t *testing.T) store.Store) {
	chunk := func(id uuid.UUID, stream model.LogStream, off int64, data string) *model.TaskLogChunk {
		return &model.TaskLogChunk{InstanceID: id, Stream: stream, Offset: off, Data: []byte(data)}
	}
	insert := func(ctx context.Context, t *testing.T, exec store.Executor, items ...*model.TaskLogChunk) map[uuid.UUID]*model.TaskLog {
		t.Helper()
		logs, err := exec.TaskLogChunkInsertMany(ctx, &store.TaskLogChunkInsertManyParams{Items: items})
		if err != nil {
			t.Fatalf("TaskLogChunkInsertMany: %v", err)
		}
		byID := map[uuid.UUID]*model.TaskLog{}
		for _, l := range logs {
			if byID[l.InstanceID] != nil {
				t.Errorf("TaskLogChunkInsertMany returned %s twice", l.InstanceID)
			}
			byID[l.InstanceID] = l
		}
		return byID
	}
	// list returns the chunks from off as "offset:data" strings.
	list := func(ctx context.Context, t *testing.T, exec store.Executor, p *store.TaskLogChunkListParams) []string {
		t.Helper()
		chunks, err := exec.TaskLogChunkList(ctx, p)
		if err != nil {
			t.Fatalf("TaskLogChunkList: %v", err)
		}
		out := []string{}
		for _, c := range chunks {
			if c.InstanceID != p.InstanceID || c.Stream != p.Stream {
				t.Errorf("TaskLogChunkList returned a chunk of %s %s, want %s %s", c.InstanceID, c.Stream, p.InstanceID, p.Stream)
			}
			out = append(out, fmt.Sprintf("%d:%s", c.Offset, c.Data))
		}
		return out
	}
	checkList := func(t *testing.T, what string, got []string, want ...string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	checkSizes := func(t *testing.T, what string, l *model.TaskLog, stdout, stderr int64) {
		t.Helper()
		if l == nil {
			t.Errorf("%s: no log metadata", what)
			return
		}
		if l.StdoutBytes != stdout || l.StderrBytes != stderr {
			t.Errorf("%s sizes = %d, %d; want %d, %d", what, l.StdoutBytes, l.StderrBytes, stdout, stderr)
		}
	}

	t.Run("InsertManyStoresChunksAndRaisesSizes", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		a := TaskInstance(ctx, t, bundle.exec, nil)
		b := TaskInstance(ctx, t, bundle.exec, nil)
		logs := insert(ctx, t, bundle.exec,
			chunk(a.ID, model.Stdout, 6, "world\n"), // before the chunk it follows
			chunk(a.ID, model.Stdout, 0, "hello "),
			chunk(a.ID, model.Stderr, 0, "oops\n"),
			chunk(b.ID, model.Stdout, 0, "b"))
		checkSizes(t, "a", logs[a.ID], 12, 5)
		checkSizes(t, "b", logs[b.ID], 1, 0)
		if len(logs) != 2 {
			t.Errorf("TaskLogChunkInsertMany returned %d logs, want 2", len(logs))
		}
		checkList(t, "stdout of a", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: a.ID, Stream: model.Stdout}), "0:hello ", "6:world\n")
		checkList(t, "stderr of a", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: a.ID, Stream: model.Stderr}), "0:oops\n")
		got, err := bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: a.ID})
		if err != nil {
			t.Fatalf("TaskLogGetByInstanceID: %v", err)
		}
		checkSizes(t, "TaskLogGetByInstanceID", got, 12, 5)
		if got.FinishedAt != nil {
			t.Errorf("FinishedAt = %v before any finish, want nil", got.FinishedAt)
		}
		// Sizes only grow: a chunk early in the stream keeps the size.
		logs = insert(ctx, t, bundle.exec, chunk(a.ID, model.Stdout, 1, "e"))
		checkSizes(t, "after an early chunk", logs[a.ID], 12, 5)
	})

	t.Run("InsertManyKeepsTheLongestChunkAtAnOffset", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "hel"), chunk(ti.ID, model.Stdout, 3, "lo"))
		// Resent: the same chunk, then one split differently, then a
		// shorter one; twice in one call, too.
		logs := insert(ctx, t, bundle.exec,
			chunk(ti.ID, model.Stdout, 0, "hel"),
			chunk(ti.ID, model.Stdout, 0, "hello w"),
			chunk(ti.ID, model.Stdout, 0, "hello"),
			chunk(ti.ID, model.Stdout, 0, "he"))
		checkSizes(t, "after resends", logs[ti.ID], 7, 0)
		checkList(t, "chunks", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}), "0:hello w", "3:lo")
	})

	t.Run("InsertManySkipsFinishedAndMissingInstances", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "done\n"))
		if _, err := bundle.exec.TaskLogFinishMany(ctx, &store.TaskLogFinishManyParams{InstanceIDs: []uuid.UUID{ti.ID}, Now: &bundle.now}); err != nil {
			t.Fatalf("TaskLogFinishMany: %v", err)
		}
		missing := newID()
		logs := insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 5, "late\n"), chunk(ti.ID, model.Stdout, 0, "done\nmore"), chunk(missing, model.Stdout, 0, "x"))
		checkSizes(t, "finished log", logs[ti.ID], 5, 0)
		if l := logs[ti.ID]; l == nil || !sameTimePtr(l.FinishedAt, &bundle.now) {
			t.Errorf("finished log = %+v, want FinishedAt %v", l, bundle.now)
		}
		if logs[missing] != nil {
			t.Errorf("TaskLogChunkInsertMany returned a log for a missing instance")
		}
		checkList(t, "finished log's chunks", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}), "0:done\n")
		checkList(t, "missing instance's chunks", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: missing, Stream: model.Stdout}))
	})

	t.Run("InsertManyFinishesLogsAfterItsChunks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		done := TaskInstance(ctx, t, bundle.exec, nil)
		silent := TaskInstance(ctx, t, bundle.exec, nil)
		other := TaskInstance(ctx, t, bundle.exec, nil)
		logs, err := bundle.exec.TaskLogChunkInsertMany(ctx, &store.TaskLogChunkInsertManyParams{
			Items:             []*model.TaskLogChunk{chunk(done.ID, model.Stdout, 0, "last words\n"), chunk(other.ID, model.Stderr, 0, "still going")},
			FinishInstanceIDs: []uuid.UUID{done.ID, silent.ID, newID()},
			Now:               &bundle.now,
		})
		if err != nil {
			t.Fatalf("TaskLogChunkInsertMany: %v", err)
		}
		byID := map[uuid.UUID]*model.TaskLog{}
		for _, l := range logs {
			byID[l.InstanceID] = l
		}
		if len(logs) != 3 {
			t.Errorf("TaskLogChunkInsertMany returned %d logs, want 3", len(logs))
		}
		checkSizes(t, "finished with its chunk", byID[done.ID], 11, 0)
		checkSizes(t, "finished without output", byID[silent.ID], 0, 0)
		checkSizes(t, "not finished", byID[other.ID], 0, 11)
		for _, c := range []struct {
			id       uuid.UUID
			finished bool
		}{{done.ID, true}, {silent.ID, true}, {other.ID, false}} {
			if l := byID[c.id]; l != nil && (l.FinishedAt != nil) != c.finished {
				t.Errorf("FinishedAt of %s = %s, want set %v", c.id, fmtTime(l.FinishedAt), c.finished)
			}
		}
		checkList(t, "finished log's chunks", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: done.ID, Stream: model.Stdout}), "0:last words\n")
		// Marked once: a later finish keeps the first time.
		byID = insert(ctx, t, bundle.exec, chunk(done.ID, model.Stdout, 11, "late"))
		if l := byID[done.ID]; l == nil || l.StdoutBytes != 11 || !sameTimePtr(l.FinishedAt, &bundle.now) {
			t.Errorf("after a late chunk = %+v, want 11 bytes, finished at %v", l, bundle.now)
		}
	})

	t.Run("InsertManyRefusesBadChunks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		for _, c := range []*model.TaskLogChunk{
			chunk(ti.ID, "stdin", 0, "x"),
			chunk(ti.ID, model.Stdout, -1, "x"),
			{InstanceID: ti.ID, Stream: model.Stdout, Data: make([]byte, store.MaxTaskLogChunkBytes+1)},
		} {
			if _, err := bundle.exec.TaskLogChunkInsertMany(ctx, &store.TaskLogChunkInsertManyParams{Items: []*model.TaskLogChunk{c}}); err == nil {
				t.Errorf("TaskLogChunkInsertMany(%s at %d, %d bytes) = nil error, want one", c.Stream, c.Offset, len(c.Data))
			}
		}
		if logs := insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "")); len(logs) != 0 {
			t.Errorf("TaskLogChunkInsertMany(empty chunk) = %v, want nothing", logs)
		}
	})

	t.Run("ListFromAnOffsetWithinLimits", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "aaaa"), chunk(ti.ID, model.Stdout, 4, "bbbb"), chunk(ti.ID, model.Stdout, 8, "cccc"))
		p := func(from int64, limit int, maxBytes int64) *store.TaskLogChunkListParams {
			return &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout, FromOffset: from, Limit: limit, MaxBytes: maxBytes}
		}
		checkList(t, "from 0", list(ctx, t, bundle.exec, p(0, 0, 0)), "0:aaaa", "4:bbbb", "8:cccc")
		checkList(t, "from 5", list(ctx, t, bundle.exec, p(5, 0, 0)), "4:bbbb", "8:cccc")
		checkList(t, "from 4", list(ctx, t, bundle.exec, p(4, 0, 0)), "4:bbbb", "8:cccc")
		checkList(t, "from 11", list(ctx, t, bundle.exec, p(11, 0, 0)), "8:cccc")
		checkList(t, "from the end", list(ctx, t, bundle.exec, p(12, 0, 0)))
		checkList(t, "limit 1", list(ctx, t, bundle.exec, p(0, 1, 0)), "0:aaaa")
		checkList(t, "4 bytes", list(ctx, t, bundle.exec, p(0, 0, 4)), "0:aaaa")
		checkList(t, "5 bytes", list(ctx, t, bundle.exec, p(0, 0, 5)), "0:aaaa", "4:bbbb")
		checkList(t, "1 byte", list(ctx, t, bundle.exec, p(1, 0, 1)), "0:aaaa")
		checkList(t, "stderr", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stderr}))
	})

	t.Run("ListHandlesOverlapsAndHoles", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		// [0,10) resent whole after [2,4) and [12,14) were stored: [2,4)
		// is nested, and [10,12) is a hole.
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 2, "cd"), chunk(ti.ID, model.Stdout, 0, "abcdefghij"), chunk(ti.ID, model.Stdout, 12, "mn"))
		p := func(from int64) *store.TaskLogChunkListParams {
			return &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout, FromOffset: from}
		}
		checkList(t, "from 0", list(ctx, t, bundle.exec, p(0)), "0:abcdefghij", "2:cd", "12:mn")
		checkList(t, "from 3 (in the nested chunk)", list(ctx, t, bundle.exec, p(3)), "2:cd", "12:mn")
		checkList(t, "from 5 (past the nested chunk)", list(ctx, t, bundle.exec, p(5)), "0:abcdefghij", "12:mn")
		checkList(t, "from 10 (in the hole)", list(ctx, t, bundle.exec, p(10)), "12:mn")
	})

	t.Run("ReplaceMergesChunks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "ab"), chunk(ti.ID, model.Stdout, 2, "cd"), chunk(ti.ID, model.Stdout, 4, "ef"), chunk(ti.ID, model.Stdout, 6, "gh"), chunk(ti.ID, model.Stderr, 2, "x"))
		replace := func(from int64, data string) int {
			t.Helper()
			n, err := bundle.exec.TaskLogChunkReplace(ctx, &store.TaskLogChunkReplaceParams{InstanceID: ti.ID, Stream: model.Stdout, FromOffset: from, Data: []byte(data)})
			if err != nil {
				t.Fatalf("TaskLogChunkReplace: %v", err)
			}
			return n
		}
		checkCount(t, "TaskLogChunkReplace", replace(0, "abcdef"), 1)
		checkList(t, "stdout", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}), "0:abcdef", "6:gh")
		checkList(t, "stderr", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stderr}), "2:x")
		// A chunk reaching past the new one stays, and so does a longer
		// chunk at its offset.
		replace(5, "fg")
		replace(0, "abc")
		checkList(t, "stdout after partial replaces", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}), "0:abcdef", "5:fg", "6:gh")
		n, err := bundle.exec.TaskLogChunkReplace(ctx, &store.TaskLogChunkReplaceParams{InstanceID: newID(), Stream: model.Stdout, Data: []byte("x")})
		if err != nil {
			t.Fatalf("TaskLogChunkReplace(missing instance): %v", err)
		}
		checkCount(t, "TaskLogChunkReplace(missing instance)", n, 0)
	})

	t.Run("FinishManyMarksOnce", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		withOutput := TaskInstance(ctx, t, bundle.exec, nil)
		silent := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(withOutput.ID, model.Stderr, 0, "x"))
		logs, err := bundle.exec.TaskLogFinishMany(ctx, &store.TaskLogFinishManyParams{InstanceIDs: []uuid.UUID{withOutput.ID, silent.ID, newID()}, Now: &bundle.now})
		if err != nil {
			t.Fatalf("TaskLogFinishMany: %v", err)
		}
		if len(logs) != 2 {
			t.Fatalf("TaskLogFinishMany returned %d logs, want 2", len(logs))
		}
		for _, l := range logs {
			checkUTC(t, "TaskLogFinishMany", l.FinishedAt)
			if !sameTimePtr(l.FinishedAt, &bundle.now) {
				t.Errorf("FinishedAt of %s = %s, want %v", l.InstanceID, fmtTime(l.FinishedAt), bundle.now)
			}
		}
		logs, err = bundle.exec.TaskLogFinishMany(ctx, &store.TaskLogFinishManyParams{InstanceIDs: []uuid.UUID{withOutput.ID, silent.ID}, Now: bundle.at(1)})
		if err != nil {
			t.Fatalf("TaskLogFinishMany(again): %v", err)
		}
		checkCount(t, "TaskLogFinishMany(again)", len(logs), 0)
		// Sizes recorded later leave the mark alone.
		if _, err := bundle.exec.TaskLogUpsertMany(ctx, &store.TaskLogUpsertManyParams{Items: []*store.TaskLogUpsert{{InstanceID: withOutput.ID, StderrBytes: 1}}}); err != nil {
			t.Fatalf("TaskLogUpsertMany: %v", err)
		}
		for _, id := range []uuid.UUID{withOutput.ID, silent.ID} {
			got, err := bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: id})
			if err != nil {
				t.Fatalf("TaskLogGetByInstanceID: %v", err)
			}
			if !sameTimePtr(got.FinishedAt, &bundle.now) {
				t.Errorf("FinishedAt of %s = %s, want %v", id, fmtTime(got.FinishedAt), bundle.now)
			}
		}
	})

	t.Run("DeleteManyRemovesChunksAndMetadata", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		gone := TaskInstance(ctx, t, bundle.exec, nil)
		kept := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(gone.ID, model.Stdout, 0, "x"), chunk(gone.ID, model.Stderr, 0, "y"), chunk(kept.ID, model.Stdout, 0, "z"))
		n, err := bundle.exec.TaskLogDeleteMany(ctx, &store.TaskLogDeleteManyParams{InstanceIDs: []uuid.UUID{gone.ID}})
		if err != nil {
			t.Fatalf("TaskLogDeleteMany: %v", err)
		}
		checkCount(t, "TaskLogDeleteMany", n, 1)
		checkList(t, "deleted stdout", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: gone.ID, Stream: model.Stdout}))
		checkList(t, "deleted stderr", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: gone.ID, Stream: model.Stderr}))
		_, err = bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: gone.ID})
		checkErrIs(t, "TaskLogGetByInstanceID after delete", err, store.ErrNotFound)
		checkList(t, "kept stdout", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: kept.ID, Stream: model.Stdout}), "0:z")
	})

	t.Run("TaskDeleteCascadesToChunks", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		insert(ctx, t, bundle.exec, chunk(ti.ID, model.Stdout, 0, "x"))
		if _, err := bundle.exec.TaskDeleteMany(ctx, &store.TaskDeleteManyParams{IDs: []uuid.UUID{ti.TaskID}}); err != nil {
			t.Fatalf("TaskDeleteMany: %v", err)
		}
		checkList(t, "chunks after the task's delete", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}))
	})

	t.Run("InsertManyInTxRollsBack", func(t *testing.T) {
		t.Parallel()
		ctx, bundle := setup(t, open)
		ti := TaskInstance(ctx, t, bundle.exec, nil)
		errRollback := fmt.Errorf("roll back")
		err := store.InTx(ctx, bundle.exec, func(ex store.Executor) error {
			insert(ctx, t, ex, chunk(ti.ID, model.Stdout, 0, "x"))
			if _, err := ex.TaskLogFinishMany(ctx, &store.TaskLogFinishManyParams{InstanceIDs: []uuid.UUID{ti.ID}}); err != nil {
				return err
			}
			checkList(t, "chunks in the transaction", list(ctx, t, ex, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}), "0:x")
			return errRollback
		})
		checkErrIs(t, "InTx", err, errRollback)
		checkList(t, "chunks after rollback", list(ctx, t, bundle.exec, &store.TaskLogChunkListParams{InstanceID: ti.ID, Stream: model.Stdout}))
		_, err = bundle.exec.TaskLogGetByInstanceID(ctx, &store.TaskLogGetByInstanceIDParams{InstanceID: ti.ID})
		checkErrIs(t, "TaskLogGetByInstanceID after rollback", err, store.ErrNotFound)
	})
}
