// Package model holds the domain types shared by the server, the agent and the
// client: jobs, schedules, tasks, task instances, agents and servers, their
// status enums, and the error types that name a failing field.
//
// Numeric status values follow the Rust original so its users recognise them
// (see DESIGN.md §3). The package imports only the standard library and uuid.
package model
