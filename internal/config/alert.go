package config

import (
	"net"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Alert configures alert delivery (rules themselves live in the database).
// Every key here can change with a live reload.
type Alert struct {
	// SendInterval is the longest pause between passes of the alert sender;
	// new alerts wake it sooner. Default "1s".
	SendInterval model.Duration `toml:"send_interval" env:"SEND_INTERVAL"`
	// Timeout bounds one delivery attempt (a webhook request or an SMTP
	// dialogue). Default "10s".
	Timeout model.Duration `toml:"timeout" env:"TIMEOUT"`
	// MaxAttempts is how many times a delivery is tried before it is
	// recorded as failed. Default 5.
	MaxAttempts int `toml:"max_attempts" env:"MAX_ATTEMPTS"`
	// RetryBackoff is the pause after the first failed attempt; it doubles
	// after each further one, up to an hour. Default "5s".
	RetryBackoff model.Duration `toml:"retry_backoff" env:"RETRY_BACKOFF"`
	// SMTPAddr is the mail server (host:port) for email rules. Empty means
	// email rules fail with a clear error.
	SMTPAddr string `toml:"smtp_addr" env:"SMTP_ADDR"`
	// SMTPFrom is the sender address of alert mail. Default
	// "hetuflow@localhost".
	SMTPFrom string `toml:"smtp_from" env:"SMTP_FROM"`
	// SMTPUsername and SMTPPassword authenticate (PLAIN, only over TLS or
	// to localhost). Empty means no authentication.
	SMTPUsername string `toml:"smtp_username" env:"SMTP_USERNAME"`
	SMTPPassword string `toml:"smtp_password" env:"SMTP_PASSWORD"`
}

// DefaultAlert returns the alert section's defaults.
func DefaultAlert() Alert {
	return Alert{
		SendInterval: model.Duration(time.Second),
		Timeout:      model.Duration(10 * time.Second),
		MaxAttempts:  5,
		RetryBackoff: model.Duration(5 * time.Second),
		SMTPFrom:     "hetuflow@localhost",
	}
}

// Validate checks the alert section and names the first bad key.
func (a Alert) Validate() error {
	switch {
	case a.SendInterval <= 0:
		return model.Errorf("alert.send_interval", "must be positive")
	case a.Timeout <= 0:
		return model.Errorf("alert.timeout", "must be positive")
	case a.MaxAttempts < 1 || a.MaxAttempts > 100:
		return model.Errorf("alert.max_attempts", "must be between 1 and 100")
	case a.RetryBackoff <= 0:
		return model.Errorf("alert.retry_backoff", "must be positive")
	}
	if a.SMTPAddr != "" {
		if _, _, err := net.SplitHostPort(a.SMTPAddr); err != nil {
			return model.Errorf("alert.smtp_addr", "must be host:port: %v", err)
		}
	}
	return nil
}
