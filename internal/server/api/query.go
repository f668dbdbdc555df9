package api

import (
	"encoding/json"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
)

// QueryBody is the body of every POST /<resource>/query.
type QueryBody struct {
	Filter map[string]any `json:"filter,omitempty" doc:"Conditions by field, all of which must hold. A value means equality; an object holds operators: $eq $ne $in $nin $gt $gte $lt $lte $contains $startsWith $null. Status fields also take names (\"failed\")." example:"{\"status\":{\"$in\":[90,99]}}"`
	Page   store.Page     `json:"page,omitzero" doc:"Which page, and the order."`
}

// QueryInput wraps QueryBody for huma.
type QueryInput struct {
	Body QueryBody
}

// PageInfo describes the page returned by a query.
type PageInfo struct {
	Total   int  `json:"total" doc:"Rows matching the filter."`
	HasMore bool `json:"has_more" doc:"Whether later pages exist."`
}

// QueryResult is the body of every query response.
type QueryResult[T any] struct {
	Page   PageInfo `json:"page"`
	Result []T      `json:"result"`
}

// QueryOutput wraps QueryResult for huma.
type QueryOutput[T any] struct {
	Body QueryResult[T]
}

// query is a parsed QueryBody.
type query struct {
	filter store.Filter
	limit  int
	offset int
	order  []store.Order
}

func parseQuery(res *store.Resource, body QueryBody) (*query, error) {
	var raw json.RawMessage
	if body.Filter != nil {
		b, err := json.Marshal(body.Filter)
		if err != nil {
			return nil, fieldError("body.filter", "cannot be read")
		}
		raw = b
	}
	f, err := store.ParseFilter(res, raw)
	if err != nil {
		return nil, fieldErrorFrom(err)
	}
	limit, offset, order, err := store.ParsePage(res, body.Page)
	if err != nil {
		return nil, fieldErrorFrom(err)
	}
	return &query{filter: f, limit: limit, offset: offset, order: order}, nil
}

func fieldErrorFrom(err error) error {
	if fe, ok := err.(*model.FieldError); ok {
		return fieldError("body."+fe.Field, fe.Reason)
	}
	return huma.Error422UnprocessableEntity(err.Error())
}

func pageOf[T any](q *query, rows []T, total int) *QueryOutput[T] {
	if rows == nil {
		rows = []T{}
	}
	return &QueryOutput[T]{Body: QueryResult[T]{
		Page:   PageInfo{Total: total, HasMore: q.offset+len(rows) < total},
		Result: rows,
	}}
}

// IDInput is the path parameter of single-resource routes.
type IDInput struct {
	ID string `path:"id" doc:"The resource id (a UUID)."`
}

func parseID(s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, fieldError("path.id", "not a UUID")
	}
	return id, nil
}

// runQuery parses a query for res, then lists one page and counts every
// match.
func runQuery[T any](res *store.Resource, body QueryBody, list func(*query) ([]T, error), count func(store.Filter) (int, error)) (*QueryOutput[T], error) {
	q, err := parseQuery(res, body)
	if err != nil {
		return nil, err
	}
	rows, err := list(q)
	if err != nil {
		return nil, storeError(err, res.Name)
	}
	total, err := count(q.filter)
	if err != nil {
		return nil, storeError(err, res.Name)
	}
	return pageOf(q, rows, total), nil
}
