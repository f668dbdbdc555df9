// Package store is the seam between hetuflow and its database (the seed's
// ModelManager and DbBmc). [Store] is a pool; [Executor] runs every query, on
// the pool or inside a [Tx], so the generator can insert tasks and advance a
// schedule's cursor in one transaction.
//
// Two drivers implement it: pgstore (PostgreSQL on pgx) and litestore
// (SQLite on modernc). Both are thin translators around sqlc-generated
// queries whose names equal the methods here; storetest runs one conformance
// suite against both.
//
// # Naming
//
// Methods are entity, verb, qualifier, Many: JobGetByID, TaskClaimDue,
// TaskInstanceFinishMany. Every method takes ctx and a *<Method>Params and
// returns a model pointer, a slice of them, or an int count. Guarded writes
// end in If or document their guard; a guard that does not hold is not an
// error, it changes nothing and reports zero rows.
//
// # Promises kept here (DESIGN.md §2)
//
//  1. Exactly one task per planned fire: the unique key (schedule_id,
//     scheduled_at) with TaskInsertMany skipping conflicts, and
//     ScheduleAdvanceCursorMany guarded by the schedule's revision.
//  2. At most one live attempt: instance writes are guarded by owner and
//     live status, task writes by attempt and status.
//  5. Nothing half-written: callers group related writes with [InTx].
//
// # Time
//
// Params with a Namespaces field restrict the call to those namespaces; nil
// means all.
//
// Params with a Now field use the database clock when Now is nil (for
// SQLite, the process clock). Times are returned in UTC.
package store
