package alert

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"time"

	"github.com/hetuflow/hetuflow/internal/model"
)

// Headers of a webhook delivery.
const (
	SignatureHeader = "X-Hetuflow-Signature"
	EventHeader     = "X-Hetuflow-Event"
	DeliveryHeader  = "X-Hetuflow-Delivery"
)

// Sign returns the signature header value of body under secret:
// "sha256=" and the hex HMAC-SHA256. Receivers recompute it over the raw
// body and compare in constant time.
func Sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// SMTPConfig is the mail server alert mail goes through.
type SMTPConfig struct {
	Addr     string
	From     string
	Username string
	Password string
}

// sender delivers one payload to one rule's target.
type sender struct {
	client  *http.Client
	timeout time.Duration
	smtp    SMTPConfig
}

// send makes one attempt. The error says what failed in words a person
// can act on.
func (s *sender) send(ctx context.Context, rule *model.AlertRule, deliveryID string, event model.AlertEvent, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	switch rule.Channel {
	case model.AlertWebhook:
		return s.webhook(ctx, rule, deliveryID, event, body)
	case model.AlertEmail:
		return s.email(ctx, rule, event, body)
	default:
		return fmt.Errorf("unknown channel %q", rule.Channel)
	}
}

func (s *sender) webhook(ctx context.Context, rule *model.AlertRule, deliveryID string, event model.AlertEvent, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rule.Target, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hetuflow-alert")
	req.Header.Set(EventHeader, string(event))
	req.Header.Set(DeliveryHeader, deliveryID)
	if rule.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(rule.Secret, body))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("webhook answered HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	}
	return nil
}

// email sends body to the rule's addresses over SMTP, with STARTTLS when
// the server offers it.
func (s *sender) email(ctx context.Context, rule *model.AlertRule, event model.AlertEvent, body []byte) error {
	if s.smtp.Addr == "" {
		return fmt.Errorf("email: alert.smtp_addr is not set")
	}
	var to []string
	for _, a := range strings.Split(rule.Target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			to = append(to, a)
		}
	}
	if len(to) == 0 {
		return fmt.Errorf("email: the rule names no address")
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.smtp.Addr)
	if err != nil {
		return fmt.Errorf("email: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	host, _, _ := net.SplitHostPort(s.smtp.Addr)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return fmt.Errorf("email: greeting: %w", err)
	}
	defer c.Close()
	if err := c.Hello("hetuflow"); err != nil {
		return fmt.Errorf("email: hello: %w", err)
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}); err != nil {
			return fmt.Errorf("email: starttls: %w", err)
		}
	}
	if s.smtp.Username != "" {
		// PlainAuth refuses to send the password unencrypted except to
		// localhost.
		if err := c.Auth(smtp.PlainAuth("", s.smtp.Username, s.smtp.Password, host)); err != nil {
			return fmt.Errorf("email: auth: %w", err)
		}
	}
	if err := c.Mail(s.smtp.From); err != nil {
		return fmt.Errorf("email: mail from: %w", err)
	}
	for _, a := range to {
		if err := c.Rcpt(a); err != nil {
			return fmt.Errorf("email: rcpt %s: %w", a, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("email: data: %w", err)
	}
	if _, err := w.Write(mailMessage(s.smtp.From, to, rule, event, body)); err != nil {
		return fmt.Errorf("email: write: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("email: end of data: %w", err)
	}
	return c.Quit()
}

// mailMessage is the RFC 5322 message: a subject naming the event and
// rule, and the JSON payload as the body.
func mailMessage(from string, to []string, rule *model.AlertRule, event model.AlertEvent, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: %s\r\n", strings.Join(to, ", "))
	fmt.Fprintf(&b, "Subject: [hetuflow] %s (%s, rule %s)\r\n", event, rule.Namespace, oneLine(rule.Name))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().UTC().Format(time.RFC1123Z))
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n")
	fmt.Fprintf(&b, "hetuflow alert: %s\r\n\r\n", event)
	b.WriteString(strings.ReplaceAll(string(body), "\n", "\r\n"))
	b.WriteString("\r\n")
	return b.Bytes()
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
