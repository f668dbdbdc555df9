package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hetuflow/hetuflow/internal/model"
	"github.com/hetuflow/hetuflow/internal/store"
	"github.com/hetuflow/hetuflow/internal/store/pgstore/dbsqlc"
)

// AccessTokenConsume implements [store.Executor].
func (e *executor) AccessTokenConsume(ctx context.Context, params *store.AccessTokenConsumeParams) (*model.AccessToken, error) {
	row, err := e.q.AccessTokenConsume(ctx, e.db, &dbsqlc.AccessTokenConsumeParams{Hash: params.Hash, Kind: string(params.Kind), Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("consume %s token: %w", params.Kind, interpretError(err))
	}
	return accessTokenFromRow(row), nil
}

// AccessTokenCount implements [store.Executor].
func (e *executor) AccessTokenCount(ctx context.Context, params *store.AccessTokenCountParams) (int, error) {
	n, err := e.q.AccessTokenCount(ctx, e.db, &dbsqlc.AccessTokenCountParams{Kind: string(params.Kind)})
	if err != nil {
		return 0, fmt.Errorf("count %s tokens: %w", params.Kind, interpretError(err))
	}
	return int(n), nil
}

// AccessTokenGetByHash implements [store.Executor].
func (e *executor) AccessTokenGetByHash(ctx context.Context, params *store.AccessTokenGetByHashParams) (*model.AccessToken, error) {
	row, err := e.q.AccessTokenGetByHash(ctx, e.db, &dbsqlc.AccessTokenGetByHashParams{Hash: params.Hash})
	if err != nil {
		return nil, fmt.Errorf("get access token by hash: %w", interpretError(err))
	}
	return accessTokenFromRow(row), nil
}

// AccessTokenInsert implements [store.Executor].
func (e *executor) AccessTokenInsert(ctx context.Context, params *store.AccessTokenInsertParams) (*model.AccessToken, error) {
	row, err := e.q.AccessTokenInsert(ctx, e.db, &dbsqlc.AccessTokenInsertParams{
		ID: params.ID, Name: params.Name, Kind: string(params.Kind), Hash: params.Hash,
		Namespaces: store.EncodeNamespaces(params.Namespaces), Role: string(params.Role), UserID: params.UserID,
		CreatedBy: params.CreatedBy, ExpiresAt: params.ExpiresAt, Now: params.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("insert access token: %w", interpretError(err))
	}
	return accessTokenFromRow(row), nil
}

// AccessTokenList implements [store.Executor].
func (e *executor) AccessTokenList(ctx context.Context, params *store.AccessTokenListParams) ([]*model.AccessToken, error) {
	rows, err := e.q.AccessTokenList(ctx, e.db, &dbsqlc.AccessTokenListParams{Kind: string(params.Kind)})
	if err != nil {
		return nil, fmt.Errorf("list %s tokens: %w", params.Kind, interpretError(err))
	}
	return fromRows(rows, infallible(accessTokenFromRow))
}

// AccessTokenRevoke implements [store.Executor].
func (e *executor) AccessTokenRevoke(ctx context.Context, params *store.AccessTokenRevokeParams) (*model.AccessToken, error) {
	row, err := e.q.AccessTokenRevoke(ctx, e.db, &dbsqlc.AccessTokenRevokeParams{ID: params.ID, Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("revoke token %s: %w", params.ID, interpretError(err))
	}
	return accessTokenFromRow(row), nil
}

// AccessTokenTouch implements [store.Executor].
func (e *executor) AccessTokenTouch(ctx context.Context, params *store.AccessTokenTouchParams) (int, error) {
	n, err := e.q.AccessTokenTouch(ctx, e.db, &dbsqlc.AccessTokenTouchParams{ID: params.ID, Now: params.Now})
	if err != nil {
		return 0, fmt.Errorf("touch token %s: %w", params.ID, interpretError(err))
	}
	return int(n), nil
}

// AuditDeleteBefore implements [store.Executor].
func (e *executor) AuditDeleteBefore(ctx context.Context, params *store.AuditDeleteBeforeParams) (int, error) {
	n, err := e.q.AuditDeleteBefore(ctx, e.db, &dbsqlc.AuditDeleteBeforeParams{Before: params.Before})
	if err != nil {
		return 0, fmt.Errorf("purge audit log: %w", interpretError(err))
	}
	return int(n), nil
}

// AuditInsert implements [store.Executor].
func (e *executor) AuditInsert(ctx context.Context, params *store.AuditInsertParams) (*model.AuditEntry, error) {
	row, err := e.q.AuditInsert(ctx, e.db, &dbsqlc.AuditInsertParams{
		At: params.At, Actor: params.Actor, ActorKind: params.ActorKind, Action: params.Action, ObjectType: params.ObjectType,
		ObjectID: params.ObjectID, Namespace: params.Namespace, RemoteAddr: params.RemoteAddr, RequestID: params.RequestID, Diff: string(params.Diff),
	})
	if err != nil {
		return nil, fmt.Errorf("insert audit entry: %w", interpretError(err))
	}
	return auditFromRow(row), nil
}

// AuditList implements [store.Executor].
func (e *executor) AuditList(ctx context.Context, params *store.AuditListParams) ([]*model.AuditEntry, error) {
	rows, err := e.q.AuditList(ctx, e.db, &dbsqlc.AuditListParams{
		FromAt: params.From, ToAt: params.To, Actor: params.Actor, Action: params.Action, Namespace: params.Namespace,
		MaxRows: int32(store.AuditLimit(params.Limit)), SkipRows: int32(max(params.Offset, 0)),
	})
	if err != nil {
		return nil, fmt.Errorf("list audit entries: %w", interpretError(err))
	}
	return fromRows(rows, infallible(auditFromRow))
}

// GrantDelete implements [store.Executor].
func (e *executor) GrantDelete(ctx context.Context, params *store.GrantDeleteParams) (int, error) {
	n, err := e.q.GrantDelete(ctx, e.db, &dbsqlc.GrantDeleteParams{UserID: params.UserID, Namespace: params.Namespace})
	if err != nil {
		return 0, fmt.Errorf("delete grant: %w", interpretError(err))
	}
	return int(n), nil
}

// GrantList implements [store.Executor].
func (e *executor) GrantList(ctx context.Context, params *store.GrantListParams) ([]*model.Grant, error) {
	rows, err := e.q.GrantList(ctx, e.db, &dbsqlc.GrantListParams{UserID: params.UserID})
	if err != nil {
		return nil, fmt.Errorf("list grants of %s: %w", params.UserID, interpretError(err))
	}
	return fromRows(rows, infallible(grantFromRow))
}

// GrantSet implements [store.Executor].
func (e *executor) GrantSet(ctx context.Context, params *store.GrantSetParams) (*model.Grant, error) {
	row, err := e.q.GrantSet(ctx, e.db, &dbsqlc.GrantSetParams{UserID: params.UserID, Namespace: params.Namespace, Role: string(params.Role)})
	if err != nil {
		return nil, fmt.Errorf("set grant: %w", interpretError(err))
	}
	return grantFromRow(row), nil
}

// SessionDelete implements [store.Executor].
func (e *executor) SessionDelete(ctx context.Context, params *store.SessionDeleteParams) (int, error) {
	n, err := e.q.SessionDelete(ctx, e.db, &dbsqlc.SessionDeleteParams{Hash: params.Hash})
	if err != nil {
		return 0, fmt.Errorf("delete session: %w", interpretError(err))
	}
	return int(n), nil
}

// SessionDeleteExpired implements [store.Executor].
func (e *executor) SessionDeleteExpired(ctx context.Context, params *store.SessionDeleteExpiredParams) (int, error) {
	n, err := e.q.SessionDeleteExpired(ctx, e.db, &dbsqlc.SessionDeleteExpiredParams{IdleBefore: params.IdleBefore, Now: params.Now})
	if err != nil {
		return 0, fmt.Errorf("delete expired sessions: %w", interpretError(err))
	}
	return int(n), nil
}

// SessionGet implements [store.Executor].
func (e *executor) SessionGet(ctx context.Context, params *store.SessionGetParams) (*model.Session, error) {
	row, err := e.q.SessionGet(ctx, e.db, &dbsqlc.SessionGetParams{Hash: params.Hash})
	if err != nil {
		return nil, fmt.Errorf("get session: %w", interpretError(err))
	}
	return sessionFromRow(row), nil
}

// SessionInsert implements [store.Executor].
func (e *executor) SessionInsert(ctx context.Context, params *store.SessionInsertParams) (*model.Session, error) {
	row, err := e.q.SessionInsert(ctx, e.db, &dbsqlc.SessionInsertParams{Hash: params.Hash, UserID: params.UserID, CSRF: params.CSRF, ExpiresAt: params.ExpiresAt, Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("insert session: %w", interpretError(err))
	}
	return sessionFromRow(row), nil
}

// SessionTouch implements [store.Executor].
func (e *executor) SessionTouch(ctx context.Context, params *store.SessionTouchParams) (int, error) {
	n, err := e.q.SessionTouch(ctx, e.db, &dbsqlc.SessionTouchParams{Hash: params.Hash, Now: params.Now})
	if err != nil {
		return 0, fmt.Errorf("touch session: %w", interpretError(err))
	}
	return int(n), nil
}

// UserCount implements [store.Executor].
func (e *executor) UserCount(ctx context.Context) (int, error) {
	n, err := e.q.UserCount(ctx, e.db)
	if err != nil {
		return 0, fmt.Errorf("count users: %w", interpretError(err))
	}
	return int(n), nil
}

// UserGetByID implements [store.Executor].
func (e *executor) UserGetByID(ctx context.Context, params *store.UserGetByIDParams) (*model.User, error) {
	row, err := e.q.UserGetByID(ctx, e.db, &dbsqlc.UserGetByIDParams{ID: params.ID})
	if err != nil {
		return nil, fmt.Errorf("get user %s: %w", params.ID, interpretError(err))
	}
	return userFromRow(row), nil
}

// UserGetByName implements [store.Executor].
func (e *executor) UserGetByName(ctx context.Context, params *store.UserGetByNameParams) (*model.User, error) {
	row, err := e.q.UserGetByName(ctx, e.db, &dbsqlc.UserGetByNameParams{Name: params.Name})
	if err != nil {
		return nil, fmt.Errorf("get user %q: %w", params.Name, interpretError(err))
	}
	return userFromRow(row), nil
}

// UserInsert implements [store.Executor].
func (e *executor) UserInsert(ctx context.Context, params *store.UserInsertParams) (*model.User, error) {
	row, err := e.q.UserInsert(ctx, e.db, &dbsqlc.UserInsertParams{ID: params.ID, Name: params.Name, PasswordHash: params.PasswordHash, Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("insert user %q: %w", params.Name, interpretError(err))
	}
	return userFromRow(row), nil
}

// UserList implements [store.Executor].
func (e *executor) UserList(ctx context.Context) ([]*model.User, error) {
	rows, err := e.q.UserList(ctx, e.db)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", interpretError(err))
	}
	return fromRows(rows, infallible(userFromRow))
}

// UserSetPassword implements [store.Executor].
func (e *executor) UserSetPassword(ctx context.Context, params *store.UserSetPasswordParams) (*model.User, error) {
	row, err := e.q.UserSetPassword(ctx, e.db, &dbsqlc.UserSetPasswordParams{ID: params.ID, PasswordHash: params.PasswordHash, Now: params.Now})
	if err != nil {
		return nil, fmt.Errorf("set password of %s: %w", params.ID, interpretError(err))
	}
	return userFromRow(row), nil
}

func accessTokenFromRow(r *dbsqlc.SecToken) *model.AccessToken {
	return &model.AccessToken{
		ID: r.ID, Name: r.Name, Kind: model.AccessTokenKind(r.Kind), Hash: r.Hash, Namespaces: store.DecodeNamespaces(r.Namespaces),
		Role: model.Role(r.Role), UserID: r.UserID, CreatedBy: r.CreatedBy, ExpiresAt: utcPtr(r.ExpiresAt), CreatedAt: r.CreatedAt.UTC(),
		LastUsedAt: utcPtr(r.LastUsedAt), RevokedAt: utcPtr(r.RevokedAt),
	}
}

func auditFromRow(r *dbsqlc.SecAudit) *model.AuditEntry {
	a := &model.AuditEntry{
		ID: r.ID, At: r.At.UTC(), Actor: r.Actor, ActorKind: r.ActorKind, Action: r.Action, ObjectType: r.ObjectType,
		ObjectID: r.ObjectID, Namespace: r.Namespace, RemoteAddr: r.RemoteAddr, RequestID: r.RequestID,
	}
	if r.Diff != "" {
		a.Diff = json.RawMessage(r.Diff)
	}
	return a
}

func grantFromRow(r *dbsqlc.SecGrant) *model.Grant {
	return &model.Grant{UserID: r.UserID, Namespace: r.Namespace, Role: model.Role(r.Role)}
}

func sessionFromRow(r *dbsqlc.SecSession) *model.Session {
	return &model.Session{Hash: r.Hash, UserID: r.UserID, CSRF: r.CSRF, CreatedAt: r.CreatedAt.UTC(), LastSeenAt: r.LastSeenAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
}

func userFromRow(r *dbsqlc.SecUser) *model.User {
	return &model.User{ID: r.ID, Name: r.Name, PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC()}
}
