package sqlstore

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
)

var driverBadConn = driver.ErrBadConn

// isNetError reports whether err means the connection to the database broke.
func isNetError(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}
