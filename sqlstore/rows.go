package sqlstore

import (
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// rows on PostgreSQL unnests one array per column: the query's text is the
// same however many rows there are, so it is parsed and planned once per
// connection and stays in the statement cache, where a VALUES list of n
// rows is a new statement for every n (the sequencer's batches have any
// size from 1 to sequenceBatch). cols are []int64, []string or [][]byte
// (a nil []byte is NULL), all of one length, at least one.
func (postgres) rows(cols ...any) (string, []any) {
	parts := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		switch c := c.(type) {
		case []int64:
			parts[i], args[i] = "?::bigint[]", pq.Int64Array(c)
		case []string:
			parts[i], args[i] = "?::text[]", pq.StringArray(c)
		case [][]byte:
			parts[i], args[i] = "?::bytea[]", byteaArray(c)
		default:
			panic(fmt.Sprintf("sqlstore: rows of %T", c))
		}
	}
	return "SELECT * FROM unnest(" + strings.Join(parts, ", ") + ")", args
}

// rows on SQLite is a VALUES list: SQLite plans in process, cheaply.
func (sqliteDialect) rows(cols ...any) (string, []any) {
	n := 0
	if len(cols) > 0 {
		n = colLen(cols[0])
	}
	args := make([]any, 0, n*len(cols))
	for i := range n {
		for _, c := range cols {
			switch c := c.(type) {
			case []int64:
				args = append(args, c[i])
			case []string:
				args = append(args, c[i])
			case [][]byte:
				args = append(args, c[i])
			default:
				panic(fmt.Sprintf("sqlstore: rows of %T", c))
			}
		}
	}
	row := "(?" + strings.Repeat(",?", len(cols)-1) + ")"
	return "VALUES " + row + strings.Repeat(","+row, n-1), args
}

func colLen(c any) int {
	switch c := c.(type) {
	case []int64:
		return len(c)
	case []string:
		return len(c)
	case [][]byte:
		return len(c)
	}
	panic(fmt.Sprintf("sqlstore: rows of %T", c))
}

// byteaArray is a PostgreSQL bytea[] whose nil elements are NULL
// (pq.ByteaArray writes them as empty values).
type byteaArray [][]byte

func (a byteaArray) Value() (driver.Value, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, x := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		if x == nil {
			b.WriteString("NULL")
			continue
		}
		b.WriteString(`"\\x`)
		b.WriteString(hex.EncodeToString(x))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}
