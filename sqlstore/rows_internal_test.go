package sqlstore

import (
	"database/sql/driver"
	"slices"
	"testing"
)

// TestRows: on PostgreSQL the query of any number of rows has one text (so
// the sequencer's batch stays one prepared statement), with one array per
// column and NULL for a nil []byte; on SQLite it is a VALUES list, row by row.
func TestRows(t *testing.T) {
	one, _ := postgres{}.rows([]int64{1}, []string{"a"}, [][]byte{{1}})
	many, args := postgres{}.rows([]int64{1, 2}, []string{"a", `"b\`}, [][]byte{{0xab}, nil})
	if one != many {
		t.Fatalf("the PostgreSQL text depends on the rows:\n%s\n%s", one, many)
	}
	if len(args) != 3 {
		t.Fatalf("%d arguments, want one array per column", len(args))
	}
	var got []string
	for _, a := range args {
		v, err := a.(driver.Valuer).Value()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.(string))
	}
	if want := []string{`{1,2}`, `{"a","\"b\\"}`, `{"\\xab",NULL}`}; !slices.Equal(got, want) {
		t.Fatalf("arrays %q, want %q", got, want)
	}

	q, args := sqliteDialect{}.rows([]int64{1, 2}, []string{"a", "b"}, [][]byte{{0xab}, nil})
	if want := "VALUES (?,?,?),(?,?,?)"; q != want {
		t.Fatalf("SQLite query %q, want %q", q, want)
	}
	if len(args) != 6 || args[0] != int64(1) || args[1] != "a" || args[3] != int64(2) || args[5].([]byte) != nil {
		t.Fatalf("SQLite arguments %v, not row by row", args)
	}
}
