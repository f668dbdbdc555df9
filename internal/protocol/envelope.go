package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Major is the protocol major version this build speaks. A peer with another
// major version is refused.
const Major = 1

// Version is the full protocol version sent in hello.
const Version = "1.0"

// MaxFrameBytes is the largest frame either side accepts.
const MaxFrameBytes = 4 << 20

// Kind names a message type.
type Kind string

// Agent → server kinds.
const (
	KindHello       Kind = "hello"
	KindHeartbeat   Kind = "heartbeat"
	KindTaskRunning Kind = "task.running"
	KindTaskLog     Kind = "task.log"
	KindTaskDone    Kind = "task.done"
)

// Server → agent kinds.
const (
	KindWelcome  Kind = "welcome"
	KindDispatch Kind = "dispatch"
	KindCancel   Kind = "cancel"
	KindDrain    Kind = "drain"
	// KindRefused tells the agent a message of its was refused, and why.
	KindRefused Kind = "refused"
)

// KindAck acknowledges sequence numbers, in either direction.
const KindAck Kind = "ack"

var agentKinds = map[Kind]bool{KindHello: true, KindHeartbeat: true, KindTaskRunning: true, KindTaskLog: true, KindTaskDone: true, KindAck: true}
var serverKinds = map[Kind]bool{KindWelcome: true, KindDispatch: true, KindCancel: true, KindDrain: true, KindRefused: true, KindAck: true}

// Sequenced reports whether messages of kind k carry a sequence number and are
// resent until acknowledged.
func (k Kind) Sequenced() bool {
	switch k {
	case KindTaskRunning, KindTaskLog, KindTaskDone, KindDispatch, KindCancel, KindDrain:
		return true
	}
	return false
}

// Head is the envelope header.
type Head struct {
	ID   string `json:"id"`
	TS   int64  `json:"ts"` // sender's clock, unix milliseconds
	Kind Kind   `json:"kind"`
	Seq  uint64 `json:"seq,omitempty"`
	Ack  uint64 `json:"ack,omitempty"`
}

// Envelope is one frame. Payload is decoded by kind with [Envelope.Decode].
type Envelope struct {
	Head    Head            `json:"head"`
	Payload json.RawMessage `json:"payload"`
}

// Error codes in [Refused] and in errors returned by the decoders.
const (
	CodeBadFrame    = "bad_frame"
	CodeUnknownKind = "unknown_kind"
	CodeBadPayload  = "bad_payload"
	CodeVersion     = "unsupported_version"
	CodeNotOwner    = "not_owner"
)

// Error is a refused frame or payload: a code from the Code constants and a
// reason a person can read.
type Error struct {
	Code   string
	Reason string
}

// Error implements error.
func (e *Error) Error() string { return "protocol: " + e.Code + ": " + e.Reason }

// IsProtocolError reports whether err is an *Error.
func IsProtocolError(err error) bool {
	var pe *Error
	return errors.As(err, &pe)
}

// New builds an envelope for kind with payload, stamped with a fresh id and
// the current time. seq and ack are filled by the sender.
func New(kind Kind, payload any) (*Envelope, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", kind, err)
	}
	return &Envelope{Head: Head{ID: uuid.NewString(), TS: time.Now().UnixMilli(), Kind: kind}, Payload: raw}, nil
}

// Encode returns the frame bytes of e.
func (e *Envelope) Encode() ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return b, nil
}

// DecodeFromAgent parses a frame sent by an agent. It refuses frames that are
// not an envelope, that are too large, or whose kind an agent may not send.
func DecodeFromAgent(b []byte) (*Envelope, error) { return decode(b, agentKinds) }

// DecodeFromServer parses a frame sent by a server.
func DecodeFromServer(b []byte) (*Envelope, error) { return decode(b, serverKinds) }

func decode(b []byte, allowed map[Kind]bool) (*Envelope, error) {
	if len(b) > MaxFrameBytes {
		return nil, &Error{Code: CodeBadFrame, Reason: fmt.Sprintf("frame of %d bytes exceeds %d", len(b), MaxFrameBytes)}
	}
	var e Envelope
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&e); err != nil {
		return nil, &Error{Code: CodeBadFrame, Reason: "not a JSON envelope: " + err.Error()}
	}
	if dec.More() {
		return nil, &Error{Code: CodeBadFrame, Reason: "trailing data after the envelope"}
	}
	if e.Head.Kind == "" {
		return nil, &Error{Code: CodeBadFrame, Reason: "head.kind is missing"}
	}
	if !allowed[e.Head.Kind] {
		return nil, &Error{Code: CodeUnknownKind, Reason: fmt.Sprintf("kind %q is not accepted here", e.Head.Kind)}
	}
	if e.Head.Kind.Sequenced() && e.Head.Seq == 0 {
		return nil, &Error{Code: CodeBadFrame, Reason: fmt.Sprintf("kind %q needs head.seq", e.Head.Kind)}
	}
	return &e, nil
}

// Decode unmarshals the payload into v, which should be the payload type of
// e's kind. A payload that does not fit is an *Error with CodeBadPayload.
func (e *Envelope) Decode(v any) error {
	if len(e.Payload) == 0 {
		return &Error{Code: CodeBadPayload, Reason: fmt.Sprintf("%s payload is missing", e.Head.Kind)}
	}
	if err := json.Unmarshal(e.Payload, v); err != nil {
		return &Error{Code: CodeBadPayload, Reason: fmt.Sprintf("%s payload: %v", e.Head.Kind, err)}
	}
	if c, ok := v.(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return &Error{Code: CodeBadPayload, Reason: fmt.Sprintf("%s payload: %v", e.Head.Kind, err)}
		}
	}
	return nil
}
