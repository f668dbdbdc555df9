package agent

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// userCacheTTL bounds how long a looked-up user is reused: user databases
// change rarely, and a lookup parses /etc/passwd and /etc/group.
const userCacheTTL = time.Minute

// runUser is the identity a run switches to.
type runUser struct {
	cred *syscall.Credential // nil: the agent's own
	name string
	home string
	uid  int
	gid  int
}

// env returns the variables that name the user to the process.
func (u *runUser) env() []string {
	return []string{"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name}
}

// userCache remembers looked-up users for userCacheTTL.
type userCache struct {
	mu sync.Mutex
	m  map[string]userCacheEntry
}

type userCacheEntry struct {
	u       *runUser
	expires time.Time
}

// runUser resolves the job's user (a name or a uid). Only an agent running
// as root can switch users; any other agent runs only jobs whose user is
// the agent's own. An error names the user and says why.
func (a *Agent) runUser(name string) (*runUser, error) {
	if name == "" {
		return nil, nil
	}
	now := time.Now()
	a.users.mu.Lock()
	e, ok := a.users.m[name]
	a.users.mu.Unlock()
	if !ok || now.After(e.expires) {
		u, err := lookupRunUser(name)
		if err != nil {
			return nil, err
		}
		e = userCacheEntry{u: u, expires: now.Add(userCacheTTL)}
		a.users.mu.Lock()
		if a.users.m == nil {
			a.users.m = map[string]userCacheEntry{}
		}
		a.users.m[name] = e
		a.users.mu.Unlock()
	}
	u := e.u
	switch euid := a.euid; {
	case u.uid == euid:
		return &runUser{name: u.name, home: u.home, uid: u.uid, gid: u.gid}, nil // nothing to switch
	case euid != 0:
		return nil, fmt.Errorf("user %q: the agent runs as uid %d, not root, so it cannot run tasks as another user", name, euid)
	}
	return u, nil
}

// lookupRunUser finds a user by name or uid, with its primary and
// supplementary groups. A uid without an entry in the user database runs
// with the group of the same number and HOME=/.
func lookupRunUser(name string) (*runUser, error) {
	uid, numeric := strconv.Atoi(name)
	var u *user.User
	var err error
	if numeric == nil {
		u, err = user.LookupId(name)
		var unknown user.UnknownUserIdError
		if errors.As(err, &unknown) && uid >= 0 {
			return &runUser{
				cred: &syscall.Credential{Uid: uint32(uid), Gid: uint32(uid)},
				name: name, home: "/", uid: uid, gid: uid,
			}, nil
		}
	} else {
		u, err = user.Lookup(name)
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	ru := &runUser{name: u.Username, home: u.HomeDir}
	if ru.uid, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	if ru.gid, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	if ru.home == "" {
		ru.home = "/"
	}
	cred := &syscall.Credential{Uid: uint32(ru.uid), Gid: uint32(ru.gid)}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: groups: %w", name, err)
	}
	for _, g := range gids {
		n, err := strconv.ParseUint(g, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %q: group %q: %w", name, g, err)
		}
		cred.Groups = append(cred.Groups, uint32(n))
	}
	ru.cred = cred
	return ru, nil
}
