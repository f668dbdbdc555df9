package pgstore

import (
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Not parallel: it counts allocations.
func TestUUIDCodec(t *testing.T) {
	ids := make([]uuid.UUID, 1000)
	for i := range ids {
		ids[i] = uuid.New()
	}
	plain := pgtype.NewMap()
	m := pgtype.NewMap()
	registerUUIDTypes(m)

	for _, format := range []int16{pgtype.BinaryFormatCode, pgtype.TextFormatCode} {
		buf, err := m.Encode(pgtype.UUIDArrayOID, format, ids, nil)
		if err != nil {
			t.Fatalf("encode (format %d): %v", format, err)
		}
		// Both maps read what the other wrote: the wire form is unchanged.
		want, err := plain.Encode(pgtype.UUIDArrayOID, format, ids, nil)
		if err != nil || !slices.Equal(buf, want) {
			t.Errorf("format %d: encoded differently from pgx's own codec (%v)", format, err)
		}
		var got []uuid.UUID
		if err := m.Scan(pgtype.UUIDArrayOID, format, buf, &got); err != nil || !slices.Equal(got, ids) {
			t.Errorf("format %d: scanned %d ids (%v), want the %d encoded", format, len(got), err, len(ids))
		}
	}
	one := uuid.New()
	if err := m.Scan(pgtype.UUIDOID, pgtype.BinaryFormatCode, nil, &one); err != nil || one != (uuid.UUID{}) {
		t.Errorf("NULL scanned as %v, %v; want the zero UUID as uuid.UUID.Scan gives", one, err)
	}

	// The point of the codec: no text round trip or failed plan per id.
	buf := make([]byte, 0, 64<<10)
	allocs := func(m *pgtype.Map) float64 {
		return testing.AllocsPerRun(20, func() {
			if _, err := m.Encode(pgtype.UUIDArrayOID, pgtype.BinaryFormatCode, ids, buf[:0]); err != nil {
				t.Fatal(err)
			}
		})
	}
	with, without := allocs(m), allocs(plain)
	t.Logf("allocations encoding %d ids: %.0f, with pgx's own codec %.0f", len(ids), with, without)
	if with > without/3 {
		t.Errorf("encoding %d ids allocates %.0f times, pgx's own codec %.0f; want under a third", len(ids), with, without)
	}
}
