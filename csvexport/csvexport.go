// Package csvexport writes the reports' CSV files so that they are safe to
// open in a spreadsheet: a cell that starts with =, +, -, @, a tab or a
// carriage return would be read as a formula (CSV injection), so it is
// prefixed with a single quote, as OWASP recommends. Amounts are written
// by the caller as decimal strings; a negative amount ("-2.42") is a number,
// not a formula, and is left as it is.
package csvexport

import (
	"encoding/csv"
	"io"
	"regexp"
	"strings"
)

// Writer is a csv.Writer that neutralises formula-like cells.
type Writer struct {
	w *csv.Writer
}

// NewWriter returns a Writer on w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: csv.NewWriter(w)} }

// number is a plain decimal number, which no spreadsheet reads as a formula.
var number = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Safe returns the cell as a spreadsheet should show it: prefixed with a
// quote when it would otherwise start a formula.
func Safe(cell string) string {
	if cell == "" || number.MatchString(cell) {
		return cell
	}
	if strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
		return "'" + cell
	}
	return cell
}

// Write writes one record, each cell made Safe.
func (w *Writer) Write(record []string) error {
	safe := make([]string, len(record))
	for i, c := range record {
		safe[i] = Safe(c)
	}
	return w.w.Write(safe)
}

// Flush writes any buffered data and returns the first error.
func (w *Writer) Flush() error {
	w.w.Flush()
	return w.w.Error()
}
