package pgstore

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// registerUUID teaches a connection's type map that a uuid.UUID is the 16
// bytes of a PostgreSQL uuid. Left alone, pgx sees uuid.UUID as a
// driver.Valuer and a sql.Scanner and goes through its text form, after
// trying and failing a binary plan for every array element: a fifth of the
// server's CPU at 2500 runs/s, which sends ids by the thousand
// (bench/results/2026-11-27-3.md). It is an AfterConnect hook.
func registerUUID(_ context.Context, conn *pgx.Conn) error {
	registerUUIDTypes(conn.TypeMap())
	return nil
}

// registerUUIDTypes replaces m's uuid and uuid[] types.
func registerUUIDTypes(m *pgtype.Map) {
	elem := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(elem)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: elem}})
}

// uuidCodec is pgx's UUIDCodec with direct plans for uuid.UUID.
type uuidCodec struct{ pgtype.UUIDCodec }

// PlanEncode encodes a uuid.UUID as the [16]byte it is.
func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if _, ok := value.(uuid.UUID); ok {
		if next := c.UUIDCodec.PlanEncode(m, oid, format, pgtype.UUID{}); next != nil {
			return encodeUUIDPlan{next: next}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

// PlanScan scans into a *uuid.UUID through pgtype.UUID.
func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok {
		if next := c.UUIDCodec.PlanScan(m, oid, format, &pgtype.UUID{}); next != nil {
			return scanUUIDPlan{next: next}
		}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUIDPlan struct{ next pgtype.EncodePlan }

func (p encodeUUIDPlan) Encode(value any, buf []byte) ([]byte, error) {
	return p.next.Encode(pgtype.UUID{Bytes: value.(uuid.UUID), Valid: true}, buf)
}

type scanUUIDPlan struct{ next pgtype.ScanPlan }

func (p scanUUIDPlan) Scan(src []byte, dst any) error {
	if src == nil {
		// As uuid.UUID's own Scan does: NULL is the zero UUID.
		*dst.(*uuid.UUID) = uuid.UUID{}
		return nil
	}
	var u pgtype.UUID
	if err := p.next.Scan(src, &u); err != nil {
		return err
	}
	*dst.(*uuid.UUID) = u.Bytes
	return nil
}
