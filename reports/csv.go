package reports

import (
	"encoding/csv"
	"io"
	"regexp"
)

// CSVWriter writes CSV whose cells a spreadsheet shows as text: a cell
// starting with =, +, -, @, a tab or a carriage return would be run as a
// formula (CSV injection), so it gets a leading apostrophe, unless it is a
// plain number.
type CSVWriter struct {
	w *csv.Writer
}

// NewCSVWriter returns a writer to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: csv.NewWriter(w)}
}

var plainNumber = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// Neutralise returns cell as a spreadsheet should show it.
func Neutralise(cell string) string {
	if cell == "" || plainNumber.MatchString(cell) {
		return cell
	}
	switch cell[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + cell
	}
	return cell
}

// Write writes one row.
func (c *CSVWriter) Write(row []string) error {
	safe := make([]string, len(row))
	for i, cell := range row {
		safe[i] = Neutralise(cell)
	}
	return c.w.Write(safe)
}

// Flush writes what is buffered and returns the first error of any write.
func (c *CSVWriter) Flush() error {
	c.w.Flush()
	return c.w.Error()
}
