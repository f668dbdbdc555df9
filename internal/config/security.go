package config

import (
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Security is the [security] section: passwords, sessions, sign-in and
// request limits, and the audit log (docs/security.md).
type Security struct {
	// Argon2MemoryKiB, Argon2Time and Argon2Threads are the argon2id cost
	// of new password hashes. Default 19456 KiB, 2 passes, 1 thread.
	Argon2MemoryKiB uint32 `toml:"argon2_memory_kib" env:"ARGON2_MEMORY_KIB"`
	Argon2Time      uint32 `toml:"argon2_time" env:"ARGON2_TIME"`
	Argon2Threads   uint8  `toml:"argon2_threads" env:"ARGON2_THREADS"`
	// SessionIdleTimeout ends a browser session unused this long. Default 2h.
	SessionIdleTimeout model.Duration `toml:"session_idle_timeout" env:"SESSION_IDLE_TIMEOUT"`
	// SessionMaxAge ends a session this long after sign-in. Default 24h.
	SessionMaxAge model.Duration `toml:"session_max_age" env:"SESSION_MAX_AGE"`
	// LoginPerUserPerMinute and LoginPerAddressPerMinute limit sign-in
	// attempts. Default 5 and 20.
	LoginPerUserPerMinute    int `toml:"login_per_user_per_minute" env:"LOGIN_PER_USER_PER_MINUTE"`
	LoginPerAddressPerMinute int `toml:"login_per_address_per_minute" env:"LOGIN_PER_ADDRESS_PER_MINUTE"`
	// RequestsPerSecond and RequestBurst limit API requests per credential
	// (token, user); 0 turns the limit off. Default 50 and 100.
	RequestsPerSecond float64 `toml:"requests_per_second" env:"REQUESTS_PER_SECOND"`
	RequestBurst      int     `toml:"request_burst" env:"REQUEST_BURST"`
	// SetupLinkTTL is how long the first-start setup link works. Default 24h.
	SetupLinkTTL model.Duration `toml:"setup_link_ttl" env:"SETUP_LINK_TTL"`
	// AuditTTL is how long audit entries are kept; 0 keeps them. Default
	// 2160h (90 days).
	AuditTTL model.Duration `toml:"audit_ttl" env:"AUDIT_TTL"`
}

func defaultSecurity() Security {
	return Security{
		Argon2MemoryKiB: 19 * 1024, Argon2Time: 2, Argon2Threads: 1,
		SessionIdleTimeout: model.Duration(2 * time.Hour), SessionMaxAge: model.Duration(24 * time.Hour),
		LoginPerUserPerMinute: 5, LoginPerAddressPerMinute: 20,
		RequestsPerSecond: 50, RequestBurst: 100,
		SetupLinkTTL: model.Duration(24 * time.Hour), AuditTTL: model.Duration(2160 * time.Hour),
	}
}
