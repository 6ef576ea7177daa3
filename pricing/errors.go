package pricing

import "errors"

// ErrInvalidInput is matched by errors.Is for every validation error of this
// package, so the HTTP layer can turn it into a 400.
var ErrInvalidInput = errors.New("invalid pricing input")

// FieldError is one problem with one field of a rate or of an Input.
type FieldError struct {
	// Field is the path of the field, such as "Percent" for a rate's own
	// Validate, or "DefaultPayout.Percent" and "Custom[id=17].Revenue.Type"
	// from Price.
	Field   string
	Problem string
}

func fieldError(field, problem string) *FieldError {
	return &FieldError{Field: field, Problem: problem}
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Is reports whether target is ErrInvalidInput.
func (e *FieldError) Is(target error) bool { return target == ErrInvalidInput }
