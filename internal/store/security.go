package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// SecurityExecutor holds the queries of users, grants, sessions, access
// tokens and the audit log. Methods are in alphabetical order.
type SecurityExecutor interface {
	// AccessTokenConsume deletes and returns an unexpired, unrevoked token
	// of Kind with Hash, or ErrNotFound: a one-time token works once.
	AccessTokenConsume(ctx context.Context, params *AccessTokenConsumeParams) (*model.AccessToken, error)
	// AccessTokenCount counts tokens of a kind, revoked ones included.
	AccessTokenCount(ctx context.Context, params *AccessTokenCountParams) (int, error)
	// AccessTokenGetByHash returns the token with the hash, or ErrNotFound.
	AccessTokenGetByHash(ctx context.Context, params *AccessTokenGetByHashParams) (*model.AccessToken, error)
	// AccessTokenInsert stores a token; a duplicate id or hash is
	// ErrConflict.
	AccessTokenInsert(ctx context.Context, params *AccessTokenInsertParams) (*model.AccessToken, error)
	// AccessTokenList lists the tokens of a kind, newest first.
	AccessTokenList(ctx context.Context, params *AccessTokenListParams) ([]*model.AccessToken, error)
	// AccessTokenRevoke marks a token revoked and returns it, or
	// ErrNotFound; revoking twice keeps the first time.
	AccessTokenRevoke(ctx context.Context, params *AccessTokenRevokeParams) (*model.AccessToken, error)
	// AccessTokenTouch records that a token was used. It returns the number
	// of rows changed.
	AccessTokenTouch(ctx context.Context, params *AccessTokenTouchParams) (int, error)

	// AuditDeleteBefore deletes entries older than Before and returns how
	// many.
	AuditDeleteBefore(ctx context.Context, params *AuditDeleteBeforeParams) (int, error)
	// AuditInsert records an entry and returns it with its id.
	AuditInsert(ctx context.Context, params *AuditInsertParams) (*model.AuditEntry, error)
	// AuditList lists entries matching the filter, newest first, one page.
	AuditList(ctx context.Context, params *AuditListParams) ([]*model.AuditEntry, error)

	// GrantDelete removes a user's grant in a namespace and returns the
	// number of rows deleted.
	GrantDelete(ctx context.Context, params *GrantDeleteParams) (int, error)
	// GrantList lists a user's grants by namespace.
	GrantList(ctx context.Context, params *GrantListParams) ([]*model.Grant, error)
	// GrantSet gives a user a role in a namespace, replacing the one held.
	GrantSet(ctx context.Context, params *GrantSetParams) (*model.Grant, error)

	// SessionDelete deletes a session and returns the number deleted.
	SessionDelete(ctx context.Context, params *SessionDeleteParams) (int, error)
	// SessionDeleteExpired deletes sessions past their absolute expiry or
	// idle since before IdleBefore, and returns how many.
	SessionDeleteExpired(ctx context.Context, params *SessionDeleteExpiredParams) (int, error)
	// SessionGet returns a session by the hash of its id, or ErrNotFound.
	SessionGet(ctx context.Context, params *SessionGetParams) (*model.Session, error)
	// SessionInsert stores a new session.
	SessionInsert(ctx context.Context, params *SessionInsertParams) (*model.Session, error)
	// SessionTouch moves a session's last-seen time to Now.
	SessionTouch(ctx context.Context, params *SessionTouchParams) (int, error)

	// UserCount counts users.
	UserCount(ctx context.Context) (int, error)
	// UserGetByID returns a user or ErrNotFound.
	UserGetByID(ctx context.Context, params *UserGetByIDParams) (*model.User, error)
	// UserGetByName returns a user or ErrNotFound.
	UserGetByName(ctx context.Context, params *UserGetByNameParams) (*model.User, error)
	// UserInsert stores a new user; a duplicate name is ErrConflict.
	UserInsert(ctx context.Context, params *UserInsertParams) (*model.User, error)
	// UserList lists every user by name.
	UserList(ctx context.Context) ([]*model.User, error)
	// UserSetPassword replaces a user's password hash and returns the user,
	// or ErrNotFound.
	UserSetPassword(ctx context.Context, params *UserSetPasswordParams) (*model.User, error)
}

// AccessTokenConsumeParams are the parameters of AccessTokenConsume.
type AccessTokenConsumeParams struct {
	Hash []byte
	Kind model.AccessTokenKind
	Now  *time.Time
}

// AccessTokenCountParams are the parameters of AccessTokenCount.
type AccessTokenCountParams struct {
	Kind model.AccessTokenKind
}

// AccessTokenGetByHashParams are the parameters of AccessTokenGetByHash.
type AccessTokenGetByHashParams struct {
	Hash []byte
}

// AccessTokenInsertParams are the parameters of AccessTokenInsert.
type AccessTokenInsertParams struct {
	ID         string
	Name       string
	Kind       model.AccessTokenKind
	Hash       []byte
	Namespaces []string
	Role       model.Role
	UserID     string
	CreatedBy  string
	ExpiresAt  *time.Time
	Now        *time.Time
}

// AccessTokenListParams are the parameters of AccessTokenList.
type AccessTokenListParams struct {
	Kind model.AccessTokenKind
}

// AccessTokenRevokeParams are the parameters of AccessTokenRevoke.
type AccessTokenRevokeParams struct {
	ID  string
	Now *time.Time
}

// AccessTokenTouchParams are the parameters of AccessTokenTouch.
type AccessTokenTouchParams struct {
	ID  string
	Now *time.Time
}

// AuditDeleteBeforeParams are the parameters of AuditDeleteBefore.
type AuditDeleteBeforeParams struct {
	Before time.Time
}

// AuditInsertParams are the parameters of AuditInsert. Diff is JSON or
// empty.
type AuditInsertParams struct {
	At         *time.Time
	Actor      string
	ActorKind  string
	Action     string
	ObjectType string
	ObjectID   string
	Namespace  string
	RemoteAddr string
	RequestID  string
	Diff       []byte
}

// AuditListParams filter AuditList; empty fields do not filter. Entries
// are returned newest first, from Offset, at most Limit.
type AuditListParams struct {
	From      *time.Time
	To        *time.Time
	Actor     string
	Action    string
	Namespace string
	Limit     int
	Offset    int
}

// GrantDeleteParams are the parameters of GrantDelete.
type GrantDeleteParams struct {
	UserID    string
	Namespace string
}

// GrantListParams are the parameters of GrantList.
type GrantListParams struct {
	UserID string
}

// GrantSetParams are the parameters of GrantSet.
type GrantSetParams struct {
	UserID    string
	Namespace string
	Role      model.Role
}

// SessionDeleteParams are the parameters of SessionDelete.
type SessionDeleteParams struct {
	Hash []byte
}

// SessionDeleteExpiredParams are the parameters of SessionDeleteExpired.
type SessionDeleteExpiredParams struct {
	IdleBefore time.Time
	Now        *time.Time
}

// SessionGetParams are the parameters of SessionGet.
type SessionGetParams struct {
	Hash []byte
}

// SessionInsertParams are the parameters of SessionInsert.
type SessionInsertParams struct {
	Hash      []byte
	UserID    string
	CSRF      string
	ExpiresAt time.Time
	Now       *time.Time
}

// SessionTouchParams are the parameters of SessionTouch.
type SessionTouchParams struct {
	Hash []byte
	Now  *time.Time
}

// UserGetByIDParams are the parameters of UserGetByID.
type UserGetByIDParams struct {
	ID string
}

// UserGetByNameParams are the parameters of UserGetByName.
type UserGetByNameParams struct {
	Name string
}

// UserInsertParams are the parameters of UserInsert.
type UserInsertParams struct {
	ID           string
	Name         string
	PasswordHash string
	Now          *time.Time
}

// UserSetPasswordParams are the parameters of UserSetPassword.
type UserSetPasswordParams struct {
	ID           string
	PasswordHash string
	Now          *time.Time
}

// MaxAuditPage bounds one page of AuditList.
const MaxAuditPage = 1000

// AuditLimit returns the page size AuditList uses for limit: 100 when it
// is not positive, at most MaxAuditPage.
func AuditLimit(limit int) int {
	if limit <= 0 {
		return 100
	}
	return min(limit, MaxAuditPage+1) // one more, to tell whether a page follows
}

// EncodeNamespaces is how drivers store a token's namespaces: a JSON array.
func EncodeNamespaces(ns []string) string {
	if len(ns) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(ns) // a []string always marshals
	return string(b)
}

// DecodeNamespaces reads what EncodeNamespaces wrote; anything unreadable
// is no namespace at all, which grants nothing.
func DecodeNamespaces(s string) []string {
	var ns []string
	if err := json.Unmarshal([]byte(s), &ns); err != nil || ns == nil {
		return []string{}
	}
	return ns
}
